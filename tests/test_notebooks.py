"""The student copy of every course notebook runs through papermill in the smoke profile and
writes its metrics; headers and navigation links are in step.

The committed notebooks themselves run top to bottom, solutions included, under nbval in the
same ``make test`` (smoke profile, stored outputs compared). Here the runner executes what a
student gets (``make students``: the same notebook with each solution replaced by an empty
prompt), so every lesson cell runs twice per ``make test`` and the copies are proved to run.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

import fmnist_utils
from fmnist_utils import navigation, students
from fmnist_utils.course import discover_notebooks, run_course, sync_headers

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = ROOT / "notebooks"
NOTEBOOKS = discover_notebooks(NOTEBOOKS_DIR) if NOTEBOOKS_DIR.is_dir() else []


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Student copies of all notebooks in one folder, so that notebook 13 finds what 09 saved
    (the tests run in course order)."""
    folder = tmp_path_factory.mktemp("students")
    students.write_student_copies(NOTEBOOKS_DIR, folder)
    return folder


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_student_copy_runs_in_smoke_profile(
    notebook: Path, student_dir: Path, tmp_path: Path
) -> None:
    progress = io.StringIO()
    (result,) = run_course(
        notebooks_dir=student_dir,
        reports_dir=tmp_path,
        profile="smoke",
        only=[notebook.stem],
        stream=progress,
    )
    assert result.status == "passed", (
        f"the student copy of {result.name} failed in the smoke profile: {result.message}\n"
        f"executed notebook: {result.output}\n{progress.getvalue()}"
    )
    assert result.metrics, f"{result.name} wrote no metrics (save_metrics at its end)"


def test_notebook_headers_match_repo() -> None:
    if not NOTEBOOKS_DIR.is_dir():
        pytest.skip("no notebooks folder")
    problems = sync_headers(NOTEBOOKS_DIR, fmnist_utils.REPO, check_only=True)
    assert problems == [], "run `python -m fmnist_utils course sync-headers`:\n" + "\n".join(
        problems
    )


def test_navigation_cells_are_in_step() -> None:
    if not NOTEBOOKS_DIR.is_dir():
        pytest.skip("no notebooks folder")
    problems = navigation.sync_navigation(NOTEBOOKS_DIR, check_only=True)
    assert problems == [], "run `python -m fmnist_utils course navigation`:\n" + "\n".join(
        problems
    )
