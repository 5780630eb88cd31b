"""The previous / contents / next cells: written by the script, checked, never by hand.

That the committed notebooks are in step is checked in tests/test_notebooks.py.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from fmnist_utils import navigation
from fmnist_utils.course import discover_notebooks

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = discover_notebooks(ROOT / "notebooks")
LINK_RE = re.compile(r"\[([^\]]+)\]\(([^)]+)\)")


@pytest.fixture
def three(tmp_path: Path) -> Path:
    """Copies of notebooks 01, 02 and 03 with their navigation cells removed."""
    for path in NOTEBOOKS[:3]:
        notebook = nbformat.read(str(path), as_version=4)
        kept = [c for c in notebook.cells if navigation.TAG not in c.metadata.get("tags", [])]
        notebook.cells = kept
        nbformat.write(notebook, str(tmp_path / path.name))
    return tmp_path


def test_missing_cells_are_found_then_written_after_the_title_and_at_the_end(three: Path) -> None:
    problems = navigation.sync_navigation(three, check_only=True)
    assert len(problems) == 3 and all("no position" in p for p in problems)
    navigation.sync_navigation(three)
    assert navigation.sync_navigation(three, check_only=True) == []

    lines = []
    for path in sorted(three.glob("*.ipynb")):
        cells = nbformat.read(str(path), as_version=4).cells
        assert cells[0].source.startswith("# ")  # the title stays first
        assert cells[1].source == cells[-1].source
        assert all(navigation.TAG in c.metadata["tags"] for c in (cells[1], cells[-1]))
        lines.append(cells[1].source)
    first, middle, last = (dict(LINK_RE.findall(line)) for line in lines)
    assert not any(text.startswith("←") for text in first)  # no previous for the first
    assert middle == {
        "← 01 Data and pixels": "01_data_and_pixels.ipynb",
        "Contents": "../README.md#syllabus",
        "03 Preprocessing →": "03_preprocessing.ipynb",
    }
    # In this folder 03 is the last notebook: no next link.
    assert not any(text.endswith("→") for text in last)


def test_a_second_run_changes_nothing_and_keeps_outputs(three: Path) -> None:
    navigation.sync_navigation(three)
    before = {p: p.read_bytes() for p in three.glob("*.ipynb")}
    assert navigation.sync_navigation(three) == []
    assert {p: p.read_bytes() for p in three.glob("*.ipynb")} == before
    original = nbformat.read(str(NOTEBOOKS[1]), as_version=4)
    copy = nbformat.read(str(three / NOTEBOOKS[1].name), as_version=4)
    code = [(c.source, c.outputs) for c in original.cells if c.cell_type == "code"]
    assert [(c.source, c.outputs) for c in copy.cells if c.cell_type == "code"] == code


def test_an_edited_or_moved_cell_is_reported(three: Path) -> None:
    navigation.sync_navigation(three)
    path = three / NOTEBOOKS[1].name
    notebook = nbformat.read(str(path), as_version=4)
    notebook.cells[-1].source = notebook.cells[-1].source.replace("03_", "04_")
    notebook.cells.insert(3, notebook.cells.pop(1))
    nbformat.write(notebook, str(path))
    problems = navigation.sync_navigation(three, check_only=True)
    assert any("navigation cells at [3," in p for p in problems)
    assert any("navigation reads" in p and "04_" in p for p in problems)
    navigation.sync_navigation(three)
    assert navigation.sync_navigation(three, check_only=True) == []


def test_every_link_of_the_committed_notebooks_points_at_a_file() -> None:
    for path in NOTEBOOKS:
        cells = nbformat.read(str(path), as_version=4).cells
        for _, target in LINK_RE.findall(cells[1].source):
            assert (path.parent / target.split("#")[0]).is_file(), f"{path.name}: {target}"
    assert "## Syllabus" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_command_check_fails_until_the_command_fixes(three: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess:
        command = ["course", "navigation", "--notebooks", str(three), *args]
        return subprocess.run(
            [sys.executable, "-m", "fmnist_utils", *command],
            capture_output=True,
            text=True,
            check=False,
        )

    assert run("--check").returncode == 1
    assert run().returncode == 0
    checked = run("--check")
    assert checked.returncode == 0 and "in step" in checked.stdout


def test_a_notebook_without_a_title_is_refused(tmp_path: Path) -> None:
    shutil.copy(NOTEBOOKS[0], tmp_path / NOTEBOOKS[0].name)
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("no title")]),
                   str(tmp_path / "02_x.ipynb"))
    with pytest.raises(ValueError, match="title"):
        navigation.sync_navigation(tmp_path, check_only=True)
