"""Previous / contents / next links in every course notebook, written by a script.

Each notebook carries two markdown cells tagged ``navigation``: one right after its title cell
and one at its very end. Both hold the same line, for example in notebook 02::

    [← 01 Data and pixels](01_data_and_pixels.ipynb) · [Contents](../README.md#syllabus) · \
    [03 Preprocessing →](03_preprocessing.ipynb)

(one line in the cell).

The first notebook has no previous link and the last no next link. The links are relative, so
they work on GitHub, in JupyterLab and, rewritten by :mod:`fmnist_utils.site`, on the course
site. :func:`sync_navigation` writes the cells from the notebooks' own titles (the part of the
first ``#`` heading before a colon) and, with ``check_only``, reports what differs; nobody edits
them by hand. Outputs and metadata of the notebooks are untouched.

Command line::

    python -m fmnist_utils course navigation          # insert or update the cells
    python -m fmnist_utils course navigation --check  # exit 1 when a notebook is out of step

Example::

    >>> from pathlib import Path
    >>> navigation_line(None, Path("01_data_and_pixels.ipynb"), "Data and pixels")
    '[Contents](../README.md#syllabus) · [01 Data and pixels →](01_data_and_pixels.ipynb)'
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import nbformat

from fmnist_utils.course import discover_notebooks

#: The tag of the navigation cells.
TAG = "navigation"
#: Where "Contents" points: the README's syllabus table (the site's home page on the site).
CONTENTS = "../README.md#syllabus"
#: Cell ids of the two cells (stable, so a re-run changes nothing).
CELL_IDS = ("navigation-top", "navigation-bottom")


def notebook_title(notebook: nbformat.NotebookNode) -> str:
    """The short title of a notebook: its first ``# `` heading, up to a colon.

    Raises:
        ValueError: the notebook has no ``# `` heading in its first markdown cell.

    Example::

        >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Data: pixels")])
        >>> notebook_title(nb)
        'Data'
    """
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if line.startswith("# "):
                return line[2:].split(":")[0].strip()
        break
    raise ValueError("the first markdown cell has no '# ' title heading")


def _label(path: Path, title: str) -> str:
    return f"{path.name[:2]} {title}"


def navigation_line(
    previous: tuple[Path, str] | None, following: Path | None, title: str | None = None
) -> str:
    """The navigation markdown for a notebook between ``previous`` and ``following``.

    ``previous`` is ``(path, title)`` or ``None``; ``following`` with ``title`` the next
    notebook, or ``None``.
    """
    parts = []
    if previous is not None:
        path, previous_title = previous
        parts.append(f"[← {_label(path, previous_title)}]({path.name})")
    parts.append(f"[Contents]({CONTENTS})")
    if following is not None:
        parts.append(f"[{_label(following, title or '')} →]({following.name})")
    return " · ".join(parts)


def expected_lines(paths: Sequence[Path]) -> dict[Path, str]:
    """The navigation line of each notebook in ``paths`` (course order)."""
    titles = {p: notebook_title(nbformat.read(str(p), as_version=4)) for p in paths}
    lines = {}
    for i, path in enumerate(paths):
        previous = (paths[i - 1], titles[paths[i - 1]]) if i > 0 else None
        following = paths[i + 1] if i + 1 < len(paths) else None
        lines[path] = navigation_line(
            previous, following, titles[following] if following is not None else None
        )
    return lines


def _is_navigation(cell: nbformat.NotebookNode) -> bool:
    return TAG in cell.get("metadata", {}).get("tags", [])


def apply_navigation(notebook: nbformat.NotebookNode, line: str) -> nbformat.NotebookNode:
    """Return ``notebook`` with its navigation cells (after the title cell, at the end) set to
    ``line``; any other cells tagged ``navigation`` are removed. Changes ``notebook`` in place.
    """
    cells = [c for c in notebook.cells if not _is_navigation(c)]
    top, bottom = (
        nbformat.v4.new_markdown_cell(line, id=cell_id, metadata={"tags": [TAG]})
        for cell_id in CELL_IDS
    )
    notebook.cells = cells[:1] + [top] + cells[1:] + [bottom]
    return notebook


def _problems(path: Path, notebook: nbformat.NotebookNode, line: str) -> list[str]:
    cells = notebook.cells
    where = [i for i, c in enumerate(cells) if _is_navigation(c)]
    problems = []
    if where != [1, len(cells) - 1]:
        problems.append(
            f"{path.name}: navigation cells at {where or 'no position'}, expected after the "
            "title cell and at the end"
        )
    for i in where:
        if cells[i].source != line:
            problems.append(f"{path.name}: cell {i}: navigation reads {cells[i].source!r}")
    return problems


def sync_navigation(notebooks_dir: str | Path = "notebooks", check_only: bool = False) -> list[str]:
    """Write the navigation cells of every ``NN_*.ipynb`` in ``notebooks_dir``.

    Returns the problems found (with ``check_only`` nothing is written, so a non-empty list
    means the notebooks are out of step; otherwise they were fixed). Only notebooks that change
    are written, with their file ending kept.
    """
    paths = discover_notebooks(Path(notebooks_dir))
    problems = []
    for path, line in expected_lines(paths).items():
        original = path.read_text(encoding="utf-8")
        notebook = nbformat.reads(original, as_version=4)
        found = _problems(path, notebook, line)
        problems += found
        if check_only or not found:
            continue
        text = nbformat.writes(apply_navigation(notebook, line))
        path.write_text(text.rstrip("\n") + ("\n" if original.endswith("\n") else ""), "utf-8")
    return problems
