"""The syllabus tables: run times from a course report or the committed notebooks' own record,
exercise counts and difficulty from the notebooks, never typed by hand."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fmnist_utils import syllabus
from fmnist_utils.course import discover_notebooks

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = discover_notebooks(ROOT / "notebooks")


def _report(tmp_path: Path, profile: str = "default") -> Path:
    summary = {
        "profile": profile,
        "backend": "tensorflow",
        "started_at": "2026-11-28T01:02:03+00:00",
        "environment": {"cpu": "Test CPU 9000", "cpu_count": 2},
        "notebooks": [
            {"name": NOTEBOOKS[0].stem, "status": "passed", "seconds": 75.4},
            {"name": NOTEBOOKS[1].stem, "status": "failed", "seconds": 3.0},
        ],
    }
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(summary), encoding="utf-8")
    return path


def test_times_come_from_a_default_profile_report_with_its_machine(tmp_path: Path) -> None:
    times = syllabus.times_from_report(_report(tmp_path))
    assert times.seconds == {NOTEBOOKS[0].stem: 75.4}  # a failed notebook has no time
    assert "2026-11-28 01:02" in times.source and "Test CPU 9000, 2 CPUs" in times.source
    with pytest.raises(ValueError, match="'smoke'-profile run"):
        syllabus.times_from_report(_report(tmp_path, "smoke"))


def test_times_from_the_committed_notebooks_are_papermills_record() -> None:
    times = syllabus.times_from_notebooks(ROOT / "notebooks")
    assert set(times.seconds) == {p.stem for p in NOTEBOOKS}
    assert all(0 < s < 330 for s in times.seconds.values()), times.seconds  # the 5-minute goal
    assert "make notebooks" in times.source


def test_only_the_generated_columns_change(tmp_path: Path) -> None:
    text = (
        "intro\n\n| # | notebook | you learn | time (default) | exercises |\n"
        "| --- | --- | --- | ---: | --- |\n"
        f"| {NOTEBOOKS[0].name[:2]} | first | pixels | 9:99 | old |\n"
        f"| {NOTEBOOKS[1].name[:2]} | second | more | | |\n\n"
        f"{syllabus.SOURCE_START}stale{syllabus.SOURCE_END}\n"
        f"{syllabus.TABLE_START}\nstale table\n{syllabus.TABLE_END}\n"
    )
    times = syllabus.times_from_report(_report(tmp_path))
    new = syllabus.update_tables(text, NOTEBOOKS, times)
    lines = new.splitlines()
    first = syllabus.exercise_summary(NOTEBOOKS[0])
    assert lines[4] == f"| {NOTEBOOKS[0].name[:2]} | first | pixels | 1:15 | {first} |"
    assert lines[5].startswith(f"| {NOTEBOOKS[1].name[:2]} | second | more | not run | ")
    assert f"{syllabus.SOURCE_START}{times.source}{syllabus.SOURCE_END}" in new
    assert "stale" not in new and "| **all notebooks** | **1:15** |" in new
    assert syllabus.update_tables(new, NOTEBOOKS, times) == new


@pytest.mark.parametrize("name", syllabus.DOCUMENTS)
def test_committed_tables_are_in_step(name: str) -> None:
    text = (ROOT / name).read_text(encoding="utf-8")
    assert syllabus.SOURCE_START in text or syllabus.TABLE_START in text
    digest = ROOT / syllabus.TIMES_FILE
    if digest.exists():
        times = syllabus.times_from_report(digest)
        assert set(times.seconds) == {p.stem for p in NOTEBOOKS}, "a notebook has no time"
    else:
        times = syllabus.times_from_notebooks(ROOT / "notebooks")
    assert syllabus.update_tables(text, NOTEBOOKS, times) == text, (
        f"{name} is out of step: run `python -m fmnist_utils course syllabus`"
    )


def test_a_report_gives_the_times_and_its_digest_is_kept(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks",
                    ignore=shutil.ignore_patterns("data", "models"))
    (tmp_path / "docs").mkdir()
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    report = _report(tmp_path)
    assert syllabus.sync_syllabus(tmp_path, report, check_only=True) == [
        syllabus.TIMES_FILE, "README.md"
    ]
    assert not (tmp_path / syllabus.TIMES_FILE).exists()  # --check writes nothing
    syllabus.sync_syllabus(tmp_path, report)
    readme = (tmp_path / "README.md").read_text()
    assert f"| {NOTEBOOKS[0].name[:2]} |" in readme and "| 1:15 |" in readme
    assert "| not run |" in readme  # the failed notebook
    assert syllabus.sync_syllabus(tmp_path, check_only=True) == []  # the digest stands in
    report.unlink()
    assert syllabus.times_from_report(tmp_path / syllabus.TIMES_FILE).seconds == {
        NOTEBOOKS[0].stem: 75.4
    }


def test_command_check_finds_an_edited_time_and_the_command_fixes_it(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks",
                    ignore=shutil.ignore_patterns("data", "models"))
    (tmp_path / "docs").mkdir()
    for name in (*syllabus.DOCUMENTS, syllabus.TIMES_FILE):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, tmp_path / name)
    readme = tmp_path / "README.md"
    edited = re.sub(r"\| \d+:\d\d \|", "| 99:59 |", readme.read_text(), count=1)
    assert edited != readme.read_text()
    readme.write_text(edited)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "fmnist_utils", "course", "syllabus", "--root", str(tmp_path),
             *args],
            capture_output=True, text=True, check=False,
        )

    assert run("--check").returncode == 1
    assert run().returncode == 0
    assert run("--check").returncode == 0
    assert readme.read_text() == (ROOT / "README.md").read_text()
