"""The syllabus tables of the README and the instructor's guide, filled in from measurements.

Two columns of those tables are never typed by hand:

- **time (default)**: each notebook's run time in the default profile, from the last course
  report (``reports/summary.json``, written by ``make course``; ``course syllabus --report``
  keeps its digest in ``docs/course_times.json``, since ``reports/`` is not committed), else
  from papermill's record in the committed notebooks themselves (they are executed in the
  default profile by ``make notebooks``, and papermill stores each run's duration);
- **exercises**: how many exercises each notebook has and how hard, read from its
  ``## Exercises`` cell (``1. **(easy)** ...``; see :mod:`fmnist_utils.students`).

:func:`update_tables` rewrites those cells in every markdown table whose first column holds the
notebook number, and the sentence between ``<!-- times-source -->`` and
``<!-- /times-source -->`` that says where the times come from. The guide's overview table sits
between ``<!-- syllabus-table -->`` and ``<!-- /syllabus-table -->`` and is written whole; a
time in its prose is written as ``<!-- time:09 -->4:23 min<!-- /time -->``.

Command line::

    python -m fmnist_utils course syllabus                      # README.md and docs/
    python -m fmnist_utils course syllabus --report reports/summary.json
    python -m fmnist_utils course syllabus --check              # exit 1 when out of step

Example::

    >>> format_time(187.4)
    '3:07'
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import nbformat

from fmnist_utils import students
from fmnist_utils.course import discover_notebooks
from fmnist_utils.navigation import notebook_title

TIME_COLUMN = "time (default)"
EXERCISES_COLUMN = "exercises"
SOURCE_START, SOURCE_END = "<!-- times-source -->", "<!-- /times-source -->"
TABLE_START, TABLE_END = "<!-- syllabus-table -->", "<!-- /syllabus-table -->"
#: The files whose tables are kept in step, relative to the repository root.
DOCUMENTS = ("README.md", "docs/instructors_guide.md")
#: The digest of the course report the tables' times come from (``reports/`` is not committed).
TIMES_FILE = "docs/course_times.json"

_ROW_RE = re.compile(r"^\|\s*(\d{2})\s*\|")
_INLINE_RE = re.compile(r"<!-- time:(\d{2}) -->.*?<!-- /time -->")


@dataclass(frozen=True)
class Times:
    """Default-profile run times per notebook stem, and a sentence saying where they come from."""

    seconds: dict[str, float]
    source: str


def format_time(seconds: float) -> str:
    """``m:ss`` for a run time in seconds."""
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}:{rest:02d}"


def times_from_report(summary_path: str | Path) -> Times:
    """The run times of a course report (``summary.json`` of ``course run``).

    Raises:
        ValueError: the report is not of the default profile, or has no passed notebook.
    """
    summary = json.loads(Path(summary_path).read_text(encoding="utf-8"))
    if summary.get("profile") != "default":
        raise ValueError(
            f"{summary_path} is a {summary.get('profile')!r}-profile run; the syllabus gives "
            "default-profile times (make course PROFILE=default)"
        )
    seconds = {n["name"]: n["seconds"] for n in summary["notebooks"] if n["status"] == "passed"}
    if not seconds:
        raise ValueError(f"{summary_path} has no passed notebook")
    environment = summary.get("environment", {})
    cores = environment.get("cpu_count")
    where = ", ".join(
        str(v)
        for v in (
            environment.get("cpu"),
            f"{cores} CPUs" if cores else None,
            f"Keras backend {summary['backend']}" if summary.get("backend") else None,
        )
        if v
    )
    total = f", {format_time(summary['seconds'])} in all" if summary.get("seconds") else ""
    source = (
        f"Times: the last course report (`make course`, default profile, started "
        f"{summary['started_at'][:16].replace('T', ' ')}{total})"
        + (f" on {where}" if where else "")
        + f"; its digest: `{TIMES_FILE}`."
    )
    return Times(seconds, source)


def report_digest(summary_path: str | Path) -> dict:
    """What the syllabus keeps of a course report: when and where it ran, and each notebook's
    status and seconds (the same keys as ``summary.json``, so :func:`times_from_report` reads
    either)."""
    summary = json.loads(Path(summary_path).read_text(encoding="utf-8"))
    environment = summary.get("environment", {})
    return {
        "profile": summary.get("profile"),
        "backend": summary.get("backend"),
        "started_at": summary.get("started_at"),
        "seconds": summary.get("seconds"),
        "environment": {k: environment.get(k) for k in ("cpu", "cpu_count", "platform", "python")},
        "notebooks": [
            {"name": n["name"], "status": n["status"], "seconds": n["seconds"]}
            for n in summary.get("notebooks", [])
        ],
    }


def times_from_notebooks(notebooks_dir: str | Path = "notebooks") -> Times:
    """The run times papermill stored in the committed notebooks (``make notebooks`` runs them
    in the default profile).

    Raises:
        ValueError: a notebook has no papermill record.
    """
    seconds, dates = {}, []
    for path in discover_notebooks(Path(notebooks_dir)):
        record = nbformat.read(str(path), as_version=4).metadata.get("papermill", {})
        if record.get("duration") is None:
            raise ValueError(f"{path.name} has no papermill run time; run `make notebooks`")
        seconds[path.stem] = float(record["duration"])
        dates.append(str(record.get("start_time", ""))[:10])
    span = sorted(d for d in dates if d)
    when = span[0] if span[:1] == span[-1:] else f"{span[0]} to {span[-1]}"
    source = (
        "Times: papermill's record of the runs that made the committed outputs "
        f"(`make notebooks`, default profile, {when}; that record does not name the machine). "
        "A course report, which does, replaces them: `make course`, then "
        "`python -m fmnist_utils course syllabus --report reports/summary.json`."
    )
    return Times(seconds, source)


def exercise_summary(path: Path) -> str:
    """``4: 2 easy, 1 medium, 1 hard`` for a notebook."""
    found = students.exercises(nbformat.read(str(path), as_version=4))
    counts = Counter(e.difficulty or "unrated" for e in found)
    order = ["easy", "medium", "hard", "unrated"]
    return f"{len(found)}: " + ", ".join(f"{counts[k]} {k}" for k in order if counts[k])


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def overview_table(notebooks: list[Path], times: Times) -> str:
    """The guide's overview: number, notebook, default-profile time, exercises."""
    lines = [
        _row(["#", "notebook", TIME_COLUMN, EXERCISES_COLUMN]),
        "| --- | --- | ---: | --- |",
    ]
    for path in notebooks:
        title = notebook_title(nbformat.read(str(path), as_version=4))
        seconds = times.seconds.get(path.stem)
        lines.append(
            _row(
                [
                    path.name[:2],
                    f"[{title}](../notebooks/{path.name})",
                    format_time(seconds) if seconds is not None else "not run",
                    exercise_summary(path),
                ]
            )
        )
    total = sum(times.seconds.get(p.stem, 0.0) for p in notebooks)
    lines.append(_row(["", "**all notebooks**", f"**{format_time(total)}**", ""]))
    return "\n".join(lines)


def update_tables(text: str, notebooks: list[Path], times: Times) -> str:
    """``text`` with the time and exercises columns of its syllabus tables, its times-source
    sentence and its overview table (where it has those markers) filled in."""
    by_number = {p.name[:2]: p for p in notebooks}
    out, columns = [], None
    for line in text.splitlines():
        if line.startswith("|") and columns is None and TIME_COLUMN in _cells(line):
            columns = _cells(line)
        elif not line.startswith("|"):
            columns = None
        match = _ROW_RE.match(line)
        if columns and match and match.group(1) in by_number:
            path = by_number[match.group(1)]
            cells = _cells(line)
            seconds = times.seconds.get(path.stem)
            cells[columns.index(TIME_COLUMN)] = (
                format_time(seconds) if seconds is not None else "not run"
            )
            if EXERCISES_COLUMN in columns:
                cells[columns.index(EXERCISES_COLUMN)] = exercise_summary(path)
            line = _row(cells)
        out.append(line)
    text = "\n".join(out) + ("\n" if text.endswith("\n") else "")
    text = re.sub(
        re.escape(SOURCE_START) + ".*?" + re.escape(SOURCE_END),
        lambda _: f"{SOURCE_START}{times.source}{SOURCE_END}",
        text,
        flags=re.DOTALL,
    )
    text = re.sub(
        re.escape(TABLE_START) + ".*?" + re.escape(TABLE_END),
        lambda _: f"{TABLE_START}\n{overview_table(notebooks, times)}\n{TABLE_END}",
        text,
        flags=re.DOTALL,
    )

    def inline(match: re.Match) -> str:
        path = by_number.get(match.group(1))
        seconds = times.seconds.get(path.stem) if path else None
        shown = f"{format_time(seconds)} min" if seconds is not None else "not run"
        return f"<!-- time:{match.group(1)} -->{shown}<!-- /time -->"

    return _INLINE_RE.sub(inline, text)


def sync_syllabus(
    root: str | Path = ".", report: str | Path | None = None, check_only: bool = False
) -> list[str]:
    """Fill in the tables of :data:`DOCUMENTS` under ``root``; return the files that were (with
    ``check_only``: would be) changed.

    Times come from ``report`` (a ``summary.json``) when given, whose digest is then kept in
    :data:`TIMES_FILE` (also listed as changed); else from that digest when it exists; else from
    the committed notebooks (:func:`times_from_notebooks`).

    Raises:
        ValueError: ``report`` is not a default-profile run (:func:`times_from_report`).
    """
    root = Path(root)
    notebooks = discover_notebooks(root / "notebooks")
    digest_path = root / TIMES_FILE
    changed = []
    if report:
        times = times_from_report(report)
        digest = json.dumps(report_digest(report), indent=2) + "\n"
        old = digest_path.read_text(encoding="utf-8") if digest_path.exists() else None
        if digest != old:
            changed.append(TIMES_FILE)
            if not check_only:
                digest_path.parent.mkdir(parents=True, exist_ok=True)
                digest_path.write_text(digest, encoding="utf-8")
    elif digest_path.exists():
        times = times_from_report(digest_path)
    else:
        times = times_from_notebooks(root / "notebooks")
    for name in DOCUMENTS:
        path = root / name
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8")
        new = update_tables(text, notebooks, times)
        if new != text:
            changed.append(name)
            if not check_only:
                path.write_text(new, encoding="utf-8")
    return changed
