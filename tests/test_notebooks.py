"""Every course notebook runs through papermill in the smoke profile; headers match REPO."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

import fmnist_utils
from fmnist_utils.course import discover_notebooks, run_course, sync_headers

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = ROOT / "notebooks"
NOTEBOOKS = discover_notebooks(NOTEBOOKS_DIR) if NOTEBOOKS_DIR.is_dir() else []


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_in_smoke_profile(notebook: Path, tmp_path: Path) -> None:
    progress = io.StringIO()
    (result,) = run_course(
        notebooks_dir=NOTEBOOKS_DIR,
        reports_dir=tmp_path,
        profile="smoke",
        only=[notebook.stem],
        stream=progress,
    )
    assert result.status == "passed", (
        f"{result.name} failed in the smoke profile: {result.message}\n"
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
