"""Student copies: the lesson as committed, the exercises as prompts, no solution anywhere.

The smoke-profile run of every student copy is in tests/test_notebooks.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from fmnist_utils import students
from fmnist_utils.course import discover_notebooks

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = discover_notebooks(ROOT / "notebooks")


def _lines(cells) -> set[str]:
    return {line.strip() for cell in cells for line in cell.source.splitlines() if line.strip()}


def _tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_no_solution_survives_and_the_lesson_is_kept(path: Path) -> None:
    original = nbformat.read(str(path), as_version=4)
    copy = students.student_copy(original)
    solution_cells = [c for c in original.cells if students.SOLUTION_TAG in _tags(c)]
    lesson_cells = [c for c in original.cells if students.SOLUTION_TAG not in _tags(c)]
    assert solution_cells, f"{path.name} has no solution cells"

    assert not [c for c in copy.cells if students.SOLUTION_TAG in _tags(c)]
    # No line that only a solution has (code or explanation) is left in the copy.
    leaked = (_lines(solution_cells) - _lines(lesson_cells)) & _lines(copy.cells)
    assert not leaked, f"{path.name}: solution lines in the student copy: {sorted(leaked)[:3]}"

    # Everything before the Solutions heading is kept exactly, outputs included.
    start = next(
        i for i, c in enumerate(original.cells) if c.source.startswith(students.SOLUTIONS_HEADING)
    )
    assert copy.cells[1:start] == original.cells[1:start]
    # The title cell loses its Colab badge (it opens the copy with solutions) for a note.
    assert "colab.research.google.com" in original.cells[0].source
    assert "colab.research.google.com" not in copy.cells[0].source
    assert students.STUDENT_NOTE in copy.cells[0].source
    assert copy.cells[0].source.replace(students.STUDENT_NOTE, "") == students._BADGE_RE.sub(
        "", original.cells[0].source
    )
    # The heading becomes "Your answers", then one empty prompt per exercise, then navigation.
    assert copy.cells[start].source == students.ANSWERS_TEXT
    listed = students.exercises(original)
    prompts = copy.cells[start + 1 : start + 1 + len(listed)]
    assert [c.source for c in prompts] == [students.prompt(e) for e in listed]
    assert all(c.cell_type == "code" and not c.outputs for c in prompts)
    assert all(c.execution_count is None for c in prompts)
    assert copy.cells[start + 1 + len(listed) :] == [
        c for c in original.cells[start + 1 :] if "navigation" in _tags(c)
    ]
    assert copy.metadata["fmnist"]["student_copy"] is True
    assert "student_copy" not in original.metadata.get("fmnist", {})  # the original is untouched
    nbformat.validate(copy)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_exercise_has_a_difficulty_and_an_answer(path: Path) -> None:
    listed = students.exercises(nbformat.read(str(path), as_version=4))
    assert len(listed) >= 3
    assert all(e.difficulty in ("easy", "medium", "hard") for e in listed), (
        f"{path.name}: give every exercise a difficulty: '1. **(easy)** ...'"
    )


def _notebook(*cells) -> nbformat.NotebookNode:
    made = []
    for kind, source, tags in cells:
        new = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
        made.append(new(source, metadata={"tags": tags} if tags else {}))
    return nbformat.v4.new_notebook(cells=made)


EXERCISES = ("md", "## Exercises\n\n1. **(easy)** One.\n2. **(hard)** Two.", [])
HEADING = ("md", "### Solutions", [])


def test_answers_are_grouped_by_their_number() -> None:
    nb = _notebook(
        ("md", "# T", []),
        EXERCISES,
        HEADING,
        ("code", "# 1. first\nx = 1", ["solution"]),
        ("md", "Why x is 1.", ["solution"]),
        ("code", "# 2. second\ny = 2", ["solution"]),
        ("code", "z = 3", ["solution"]),
        ("md", "[Contents](../README.md#syllabus)", ["navigation"]),
    )
    found = students.exercises(nb)
    assert [(e.number, e.difficulty, e.solution_cells) for e in found] == [
        (1, "easy", (3, 4)),
        (2, "hard", (5, 6)),
    ]
    copy = students.student_copy(nb)
    assert copy.cells[0].source == "# T\n\n" + students.STUDENT_NOTE
    assert [c.source for c in copy.cells[3:]] == [
        "# Exercise 1 (easy): your answer here\n",
        "# Exercise 2 (hard): your answer here\n",
        "[Contents](../README.md#syllabus)",
    ]


@pytest.mark.parametrize(
    ("cells", "words"),
    [
        ([EXERCISES, HEADING, ("code", "# 1. a", ["solution"]), ("code", "b", [])], "not tagged"),
        ([EXERCISES, HEADING, ("code", "# 1. a", ["solution"])], "2 exercises listed but 1"),
        ([EXERCISES, HEADING, ("code", "# 2. a", ["solution"])], "expected 1"),
        ([EXERCISES, HEADING, ("code", "a = 1", ["solution"])], "does not start with '# 1.'"),
        ([EXERCISES, ("code", "# 1. a", ["solution"])], "headings"),
    ],
)
def test_a_notebook_whose_solutions_cannot_be_matched_is_refused(cells, words) -> None:
    with pytest.raises(ValueError, match=words.replace(".", r"\.")):
        students.exercises(_notebook(*cells))


def test_command_writes_one_copy_per_notebook(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fmnist_utils", "course", "students", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.glob("*.ipynb")) == [p.name for p in NOTEBOOKS]
    assert f"{len(NOTEBOOKS)} student copies in {tmp_path}" in done.stdout
    for path in tmp_path.glob("*.ipynb"):
        copy = nbformat.read(str(path), as_version=4)
        assert not [c for c in copy.cells if students.SOLUTION_TAG in _tags(c)]


def test_command_names_the_notebook_that_cannot_be_copied(tmp_path: Path) -> None:
    source = tmp_path / "notebooks"
    source.mkdir()
    nbformat.write(_notebook(("md", "# T", []), EXERCISES), str(source / "01_t.ipynb"))
    done = subprocess.run(
        [sys.executable, "-m", "fmnist_utils", "course", "students", "--notebooks", str(source),
         "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "01_t.ipynb" in done.stderr and "Solutions" in done.stderr
