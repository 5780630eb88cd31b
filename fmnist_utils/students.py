"""Student copies of the notebooks: the exercises without their solutions.

Every course notebook ends with ``## Exercises`` (a numbered list) and ``### Solutions``: the
cells after that heading, each tagged ``solution``, answer the exercises in order, and the code
cell that starts an answer begins with ``# N.``. A student copy keeps everything before the
Solutions heading as committed (text, code and outputs, so a learner can read the lesson before
running it) and replaces the solutions with one empty code cell per exercise, holding only a
prompt (``# Exercise 2 (medium): your answer here``). The closing navigation cell stays. The
title cell's Colab badge, which opens the repository's copy with the solutions, becomes a line
saying this is a student copy and how to open it (:data:`STUDENT_NOTE`).
The copy's metadata says it is one (``metadata["fmnist"]["student_copy"] = True``).

Command line (also ``make students``)::

    python -m fmnist_utils course students                 # notebooks/ -> students/
    python -m fmnist_utils course students --out /tmp/class

Example::

    >>> from fmnist_utils.students import write_student_copies
    >>> written = write_student_copies("notebooks", "students")  # doctest: +SKIP
    >>> sum(written.values())  # exercises in the 14 copies  # doctest: +SKIP
    56
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from fmnist_utils.course import discover_notebooks

#: The tag of solution cells.
SOLUTION_TAG = "solution"
EXERCISES_HEADING = "## Exercises"
SOLUTIONS_HEADING = "### Solutions"
#: What replaces the Solutions heading in a student copy.
ANSWERS_TEXT = (
    "### Your answers\n\n"
    "One cell per exercise: write your code under its prompt (add cells as you need). The\n"
    "course repository's copy of this notebook has worked solutions; try first."
)

#: What replaces the Colab badge in a student copy (the badge opens the copy with solutions).
STUDENT_NOTE = (
    "*Student copy: the exercises at the end have empty cells for your answers. Open it in "
    "Jupyter, or upload it to Colab (File > Upload notebook); the course repository's Colab "
    "links open the copy with solutions.*"
)
_BADGE_RE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)")
_ITEM_RE = re.compile(r"^(\d+)\.\s+(?:\*\*\((easy|medium|hard)\)\*\*\s*)?", re.MULTILINE)
_ANSWER_RE = re.compile(r"^#\s*(\d+)\.")


@dataclass(frozen=True)
class Exercise:
    """One numbered exercise of a notebook: its number, its difficulty (``""`` when the
    exercise text gives none) and the indices of the cells of its solution."""

    number: int
    difficulty: str
    solution_cells: tuple[int, ...]


def _starts_with(cell: nbformat.NotebookNode, heading: str) -> bool:
    return cell.cell_type == "markdown" and cell.source.lstrip().startswith(heading)


def _is_navigation(cell: nbformat.NotebookNode) -> bool:
    return "navigation" in cell.get("metadata", {}).get("tags", [])


def exercises(notebook: nbformat.NotebookNode) -> list[Exercise]:
    """The exercises of ``notebook`` with their solution cells.

    Raises:
        ValueError: no Exercises or Solutions heading; a cell after the Solutions heading that is
            not tagged ``solution`` (other than the closing navigation cell); a code cell that
            starts an answer out of order; or as many answers as exercises not found. Each
            message names the cell.
    """
    cells = notebook.cells
    try:
        listed = next(i for i, c in enumerate(cells) if _starts_with(c, EXERCISES_HEADING))
        start = next(i for i, c in enumerate(cells) if _starts_with(c, SOLUTIONS_HEADING))
    except StopIteration:
        raise ValueError(
            f"no '{EXERCISES_HEADING}' and '{SOLUTIONS_HEADING}' markdown headings"
        ) from None
    items = [(int(n), difficulty or "") for n, difficulty in _ITEM_RE.findall(cells[listed].source)]
    if [n for n, _ in items] != list(range(1, len(items) + 1)):
        raise ValueError(f"cell {listed}: the exercises are not numbered 1, 2, 3, ...")

    groups: list[list[int]] = []
    for index in range(start + 1, len(cells)):
        cell = cells[index]
        if _is_navigation(cell):
            continue
        if SOLUTION_TAG not in cell.get("metadata", {}).get("tags", []):
            raise ValueError(
                f"cell {index} follows '{SOLUTIONS_HEADING}' but is not tagged '{SOLUTION_TAG}'"
            )
        match = _ANSWER_RE.match(cell.source) if cell.cell_type == "code" else None
        if match:
            if int(match.group(1)) != len(groups) + 1:
                raise ValueError(
                    f"cell {index} answers exercise {match.group(1)}, expected {len(groups) + 1}"
                )
            groups.append([index])
        elif groups:
            groups[-1].append(index)
        else:
            raise ValueError(f"cell {index}: the first solution cell does not start with '# 1.'")
    if len(groups) != len(items):
        raise ValueError(f"{len(items)} exercises listed but {len(groups)} answers found")
    return [
        Exercise(number, difficulty, tuple(group))
        for (number, difficulty), group in zip(items, groups, strict=True)
    ]


def prompt(exercise: Exercise) -> str:
    """The source of the empty cell that replaces an exercise's solution."""
    level = f" ({exercise.difficulty})" if exercise.difficulty else ""
    return f"# Exercise {exercise.number}{level}: your answer here\n"


def student_copy(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``notebook`` with each exercise's solution cells replaced by one empty prompt
    cell; the Solutions heading becomes :data:`ANSWERS_TEXT`. ``notebook`` is not changed.

    Raises:
        ValueError: as :func:`exercises`.
    """
    found = exercises(notebook)
    copy = nbformat.reads(nbformat.writes(notebook), as_version=4)  # a deep copy
    start = next(i for i, c in enumerate(copy.cells) if _starts_with(c, SOLUTIONS_HEADING))
    answers = nbformat.v4.new_markdown_cell(ANSWERS_TEXT, id="your-answers")
    prompts = [
        nbformat.v4.new_code_cell(prompt(e), id=f"exercise-{e.number}") for e in found
    ]
    tail = [c for c in copy.cells[start + 1 :] if _is_navigation(c)]
    copy.cells = copy.cells[:start] + [answers] + prompts + tail
    title = copy.cells[0]
    title.source, badges = _BADGE_RE.subn(STUDENT_NOTE, title.source)
    if not badges:
        title.source = title.source.rstrip("\n") + "\n\n" + STUDENT_NOTE
    copy.metadata.setdefault("fmnist", {})["student_copy"] = True
    return copy


def write_student_copies(
    notebooks_dir: str | Path = "notebooks", out_dir: str | Path = "students"
) -> dict[Path, int]:
    """Write the student copy of every ``NN_*.ipynb`` in ``notebooks_dir`` to ``out_dir``
    (created; copies already there are replaced); return each copy's path (course order) and
    its number of exercises.

    Raises:
        ValueError: a notebook's exercises cannot be matched with its solutions; the message
            names the notebook and the cell.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for path in discover_notebooks(Path(notebooks_dir)):
        notebook = nbformat.read(str(path), as_version=4)
        try:
            copy = student_copy(notebook)
        except ValueError as exc:
            raise ValueError(f"{path.name}: {exc}") from None
        target = out_dir / path.name
        nbformat.write(copy, str(target))
        written[target] = len(exercises(notebook))
    return written
