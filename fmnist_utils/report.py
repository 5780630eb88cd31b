"""The HTML index of a course run: ``reports/index.html``, a page worth opening.

:func:`fmnist_utils.course.run_course` writes ``summary.json`` (the machine-readable digest) and
``summary.md`` after every notebook, and this module's :func:`write_index` turns the same
summary into ``index.html`` beside them, so an interrupted run has an index too. The page
holds:

- the run: profile, Keras backend, start, total time, how many notebooks passed, were skipped
  or failed, and the machine (everything ``summary["environment"]`` holds);
- a table of contents: one row per notebook with its status (the reason of a skip, the failing
  cell and message of a failure), its time and links to its HTML copy and executed notebook;
- one section per notebook: a failure's error or a skip's reason, its metrics as tables
  (scalars as name/value rows; each nested dict as its own captioned table, a dict of dicts
  with shared keys as one rows-by-columns table, deeper dicts as sub-tables; lists of numbers
  compactly) and its figures (``figures/NN_*.png`` of the reports folder) as thumbnails that
  open full size.

The page is self-contained: inline CSS, no script, font or stylesheet from elsewhere, every
link relative to the reports folder (open it from disk, offline, or as a CI artifact). It is
rendered with jinja2 from the template ``fmnist_utils/templates/report.html`` (package data),
with autoescaping on: every name, value and message is HTML-escaped.

Command line: ``python -m fmnist_utils course index --reports DIR`` rebuilds the index from
``DIR/summary.json`` (:func:`index_from_summary`).

Example::

    >>> from fmnist_utils.report import index_from_summary, write_index
    >>> summary = {"profile": "smoke", "backend": "tensorflow", "seconds": 18.1,
    ...            "notebooks": [{"name": "01_data_and_pixels", "status": "passed",
    ...                           "seconds": 18.1, "metrics": {"test_images": 10000},
    ...                           "html": "01_data_and_pixels.html"}]}
    >>> write_index("reports", summary)  # doctest: +SKIP
    PosixPath('reports/index.html')
    >>> index_from_summary("reports")  # the same, from reports/summary.json  # doctest: +SKIP
    PosixPath('reports/index.html')
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

#: The file :func:`write_index` writes in the reports folder.
INDEX_NAME = "index.html"
#: The template (package data in ``fmnist_utils/templates``).
TEMPLATE_NAME = "report.html"
#: File types shown as a notebook's figures (``figures/NN_*``).
FIGURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".svg", ".gif", ".webp")

# A dict of dicts becomes one rows-by-columns table when its inner dicts share at least one
# key and have at most this many keys in all; otherwise each inner dict gets its own table.
_MAX_GRID_COLUMNS = 12
# Lists of numbers longer than this are shown as their first and last few and their length.
_MAX_LIST_ITEMS = 8
# A list of equal-length lists of numbers (a matrix) at most this big becomes a table.
_MAX_MATRIX_SIDE = 20
_MAX_TEXT = 400  # characters of a tooltip or of a long list's text


# --------------------------------------------------------------------------------------------
# Formatting values
# --------------------------------------------------------------------------------------------


@dataclass
class Cell:
    """One formatted value: ``text`` shown, ``title`` (full value, as a tooltip) and ``kind``
    (``num``, ``text``, ``bool``, ``none`` or ``list``; the template styles and aligns by it)."""

    text: str
    kind: str = "text"
    title: str = ""


def format_number(value: int | float) -> str:
    """A number for a person: integers with thousands separators, floats to 4 significant
    digits (``1,235`` from 1234.6, whole numbers from 10,000 up), NaN and infinities by name.

    Example::

        >>> [format_number(v) for v in (2412137, 0.009999990463256836, 1293.1, 1.19e-07, 4.0)]
        ['2,412,137', '0.01', '1,293', '1.19e-07', '4']
    """
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if not math.isfinite(value):
        return str(value)
    if 1e4 <= abs(value) < 1e15:
        return f"{value:,.0f}"
    return f"{value:,.4g}"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _shorten(text: str, limit: int = _MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _scalar_cell(value: Any) -> Cell:
    """The cell of a value that is not a dict (lists included: shown compactly)."""
    if value is None:
        return Cell("\u2014", "none", "null (not measured in this run)")
    if isinstance(value, bool):
        return Cell("yes" if value else "no", "bool", json.dumps(value))
    if _is_number(value):
        text = format_number(value)
        return Cell(text, "num", repr(value) if text != repr(value) else "")
    if isinstance(value, str):
        return Cell(value, "text")
    if isinstance(value, (list, tuple)):
        return _list_cell(list(value))
    if isinstance(value, Mapping):  # only empty dicts get here
        return Cell("(empty)", "none", "{}")
    return Cell(str(value), "text")


def _list_cell(values: list) -> Cell:
    """Lists of numbers as ``[0.5, 0.25]`` (long ones as first, last and length), lists of
    strings comma-separated, anything else as compact JSON."""
    full = _shorten(json.dumps(values, separators=(", ", ": "), default=str))
    if not values:
        return Cell("[]", "list")
    if all(_is_number(v) or v is None for v in values):

        def fmt(v: Any) -> str:
            return "\u2014" if v is None else format_number(v)

        if len(values) <= _MAX_LIST_ITEMS:
            return Cell("[" + ", ".join(fmt(v) for v in values) + "]", "list", full)
        numbers = [v for v in values if v is not None]
        head = ", ".join(fmt(v) for v in values[:5])
        tail = ", ".join(fmt(v) for v in values[-2:])
        text = f"[{head}, \u2026, {tail}] (n={len(values):,}"
        if numbers:
            text += f", min {format_number(min(numbers))}, max {format_number(max(numbers))}"
        return Cell(text + ")", "list", full)
    if all(isinstance(v, str) for v in values):
        return Cell(_shorten(", ".join(values)), "text", full)
    return Cell(_shorten(json.dumps(values, separators=(",", ":"), default=str), 120), "list", full)


# --------------------------------------------------------------------------------------------
# Metrics as tables
# --------------------------------------------------------------------------------------------


@dataclass
class Table:
    """Metrics as one table and its sub-tables.

    Without ``columns``: a name/value table of ``rows`` (``[(name, [cell])]``). With
    ``columns``: a rows-by-columns table (``[(row name, [cell per column])]``). ``children``
    are the tables of nested dicts (and matrices) inside this one, each with its ``caption``
    (the key), ``path`` (the keys from the notebook's metrics down to it) and an ``id``.
    """

    caption: str
    path: tuple[str, ...] = ()
    columns: list[str] = field(default_factory=list)
    rows: list[tuple[str, list[Cell]]] = field(default_factory=list)
    children: list[Table] = field(default_factory=list)

    @property
    def numeric_columns(self) -> list[bool]:
        """For each of ``columns``: whether all its (non-empty) cells are numbers."""
        return [
            all(cells[i].kind in ("num", "none") for _, cells in self.rows)
            and any(cells[i].kind == "num" for _, cells in self.rows)
            for i in range(len(self.columns))
        ]

    @property
    def title(self) -> str:
        """The keys from the notebook's metrics down to this table, joined with ``›``."""
        return " \u203a ".join(self.path)


def _is_matrix(value: Any) -> bool:
    """A list of at least two equal-length lists of numbers, small enough for a table."""
    if not isinstance(value, (list, tuple)) or not 2 <= len(value) <= _MAX_MATRIX_SIDE:
        return False
    if not all(isinstance(row, (list, tuple)) for row in value):
        return False
    width = len(value[0])
    return 1 <= width <= _MAX_MATRIX_SIDE and all(
        len(row) == width and all(_is_number(v) or v is None for v in row) for row in value
    )


def _grid_columns(value: Mapping) -> list[str] | None:
    """The columns of a dict of flat dicts that share keys (in first-seen order), or None."""
    inner = list(value.values())
    if not inner or not all(isinstance(v, Mapping) and v for v in inner):
        return None
    if any(isinstance(x, Mapping) or _is_matrix(x) for v in inner for x in v.values()):
        return None
    columns: list[str] = []
    for v in inner:
        columns += [str(k) for k in v if str(k) not in columns]
    shared = set.intersection(*(set(map(str, v)) for v in inner))
    if not shared or len(columns) > _MAX_GRID_COLUMNS:
        return None
    return columns


def metric_tables(metrics: Mapping, path: tuple[str, ...] = ()) -> Table:
    """Lay out a (nested) metrics dict as a :class:`Table` and its sub-tables.

    Scalars and lists become name/value rows; a non-empty dict becomes a child table (one
    rows-by-columns table when it is a dict of flat dicts that share keys), recursively; a
    small matrix (list of equal-length lists of numbers) becomes a child table with index
    headers; a list of dicts becomes one child table per dict. Keys keep their order.

    Example::

        >>> t = metric_tables({"acc": 0.91, "ablation": {"a": {"mean": 0.9, "verdict": "ok"},
        ...                                               "b": {"mean": 0.8, "verdict": "worse"}}})
        >>> [(name, [c.text for c in cells]) for name, cells in t.rows]
        [('acc', ['0.91'])]
        >>> t.children[0].caption, t.children[0].columns, t.children[0].rows[1][0]
        ('ablation', ['mean', 'verdict'], 'b')
    """
    table = Table(caption=path[-1] if path else "", path=path)
    for key, value in metrics.items():
        name = str(key)
        sub = (*path, name)
        if isinstance(value, Mapping) and value:
            columns = _grid_columns(value)
            if columns is None:
                table.children.append(metric_tables(value, sub))
                continue
            rows = []
            for row_key, inner in value.items():
                by_name = {str(k): v for k, v in inner.items()}
                cells = [_scalar_cell(by_name[c]) if c in by_name else Cell("") for c in columns]
                rows.append((str(row_key), cells))
            table.children.append(Table(caption=name, path=sub, columns=columns, rows=rows))
        elif _is_matrix(value):
            columns = [str(i) for i in range(len(value[0]))]
            rows = [(str(i), [_scalar_cell(v) for v in row]) for i, row in enumerate(value)]
            table.children.append(Table(caption=name, path=sub, columns=columns, rows=rows))
        elif (
            isinstance(value, (list, tuple))
            and value
            and all(isinstance(v, Mapping) and v for v in value)
        ):
            for i, item in enumerate(value):
                table.children.append(metric_tables(item, (*path, f"{name}[{i}]")))
        else:
            table.rows.append((name, [_scalar_cell(value)]))
    return table


# --------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------


def _clock(seconds: float) -> str:
    """``m:ss`` or ``h:mm:ss`` (as course.py prints it)."""
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _started(text: str | None) -> str:
    """``2026-11-27 23:46 UTC`` from an ISO timestamp (the text itself if it is not one)."""
    if not text:
        return "unknown"
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return text
    zone = when.tzname() or ""
    return when.strftime("%Y-%m-%d %H:%M") + (f" {zone}" if zone else "")


def _href(reports_dir: Path, relative: str | None) -> str | None:
    """A URL relative to the index for a path relative to ``reports_dir``, if the file exists."""
    if not relative:
        return None
    path = Path(relative)
    target = path if path.is_absolute() else reports_dir / path
    if not target.is_file():
        return None
    try:
        relative = os.path.relpath(target, reports_dir)
    except ValueError:  # another drive on Windows
        return target.resolve().as_uri()
    return quote(Path(relative).as_posix())


def _anchor(name: str, used: set[str]) -> str:
    base = "nb-" + (re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-") or "notebook")
    anchor, n = base, 2
    while anchor in used:
        anchor, n = f"{base}-{n}", n + 1
    used.add(anchor)
    return anchor


def _figures(reports_dir: Path, name: str) -> list[dict]:
    """The notebook's figures: ``figures/NN_*`` of the reports folder, by file name."""
    number = re.match(r"\d+", name)
    folder = reports_dir / "figures"
    if number is None or not folder.is_dir():
        return []
    prefix = number.group(0) + "_"
    found = sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.name.startswith(prefix) and p.suffix.lower() in FIGURE_SUFFIXES
    )
    return [
        {
            "src": quote(f"figures/{p.name}"),
            "alt": f"Figure {p.stem} of notebook {name}",
            "caption": p.stem[len(prefix) :].replace("_", " ") or p.stem,
            "file": p.name,
        }
        for p in found
    ]


def _title(reports_dir: Path, entry: Mapping) -> str:
    """The notebook's title: the first heading in its first three markdown cells (from the
    executed copy, else the source notebook), without the ``#``; ``""`` when there is none."""
    for key in ("output", "path"):
        if not entry.get(key):
            continue
        path = Path(str(entry[key]))
        path = path if path.is_absolute() else reports_dir / path
        try:
            cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
        except (OSError, ValueError, AttributeError):
            continue
        markdown = [c for c in cells if isinstance(c, Mapping) and c.get("cell_type") == "markdown"]
        for cell in markdown[:3]:
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else str(source)
            for line in source.splitlines():
                if line.startswith("#") and line.lstrip("#").strip():
                    return line.lstrip("#").strip()
    return ""


def _topic(name: str) -> str:
    """``Data and pixels`` from ``01_data_and_pixels`` (when the notebook has no title)."""
    number, _, topic = name.partition("_")
    topic = topic.replace("_", " ") if number.isdigit() and topic else name
    return topic[:1].upper() + topic[1:]


def _notebook(entry: Mapping, reports_dir: Path, longest: float, used: set[str]) -> dict:
    """What the template shows of one notebook of the summary."""
    name = str(entry.get("name") or Path(str(entry.get("path", "notebook"))).stem)
    status = str(entry.get("status", "unknown"))
    error = entry.get("error") or {}
    seconds = float(entry.get("seconds") or 0.0)
    number = name.partition("_")[0]
    metrics = entry.get("metrics") or {}
    if not isinstance(metrics, Mapping):
        metrics = {"value": metrics}
    failed = status not in ("passed", "skipped")
    message = str(error.get("message") or "")
    if failed and not message:
        message = str(error.get("ename") or "failed (no message recorded)")
        if error.get("evalue"):
            message += f": {error['evalue']}"
    return {
        "name": name,
        "number": number if number.isdigit() else "",
        "topic": _title(reports_dir, entry) or _topic(name),
        "anchor": _anchor(name, used),
        "status": status if status in ("passed", "skipped") else "failed",
        "status_text": {"passed": "passed", "skipped": "skipped"}.get(status, "FAILED"),
        "message": message,
        "error": {
            "ename": error.get("ename"),
            "evalue": _shorten(str(error.get("evalue") or ""), 4000),
            "cell_index": error.get("cell_index"),
            "execution_count": error.get("execution_count"),
        }
        if failed
        else None,
        "seconds": seconds,
        "seconds_text": f"{seconds:,.1f}",
        "clock": _clock(seconds),
        "share": 0 if longest <= 0 else round(100 * seconds / longest, 1),
        "html": _href(reports_dir, entry.get("html")),
        "ipynb": _href(reports_dir, entry.get("output")),
        "metrics": metric_tables(metrics),
        "n_metrics": len(metrics),
        "figures": [] if status == "skipped" else _figures(reports_dir, name),
    }


_ENV_LABELS = {
    "cpu": "CPU",
    "cpus": "CPU cores",
    "cpu_count": "CPU cores",
    "cpu_flags": "CPU speed flags",
    "gpu_compute_capability": "GPU compute capability",
    "machine": "Architecture",
    "platform": "Platform",
    "python": "Python",
    "python_implementation": "Python implementation",
    "executable": "Python executable",
    "backend": "Keras backend",
    "keras": "Keras",
}


def _environment(environment: Any) -> list[tuple[str, Cell]]:
    """Every fact of ``summary["environment"]``, the known ones first with readable labels."""
    if not isinstance(environment, Mapping):
        return []
    keys = [k for k in _ENV_LABELS if k in environment]
    keys += [k for k in environment if k not in _ENV_LABELS]
    facts = []
    for key in keys:
        value = environment[key]
        if isinstance(value, Mapping):
            value = ", ".join(f"{k} {v}" for k, v in value.items()) or None
        cell = _scalar_cell(value)
        if isinstance(value, (list, tuple)):
            cell = Cell(", ".join(map(str, value)) or "none", "text")
        facts.append((_ENV_LABELS.get(key, str(key)), cell))
    return facts


def render_index(reports_dir: str | Path, summary: Mapping) -> str:
    """The HTML text of the index of ``summary`` (the dict of ``summary.json``) whose links
    are relative to ``reports_dir``. :func:`write_index` writes it; use this for a string.

    Missing fields are tolerated: counts are computed from ``summary["notebooks"]`` when the
    summary has none, links are left out for files that do not exist.
    """
    import jinja2

    import fmnist_utils

    reports_dir = Path(reports_dir)
    entries = [e for e in summary.get("notebooks") or [] if isinstance(e, Mapping)]
    longest = max((float(e.get("seconds") or 0.0) for e in entries), default=0.0)
    used: set[str] = set()
    notebooks = [_notebook(e, reports_dir, longest, used) for e in entries]
    counts = {s: sum(nb["status"] == s for nb in notebooks) for s in ("passed", "skipped")}
    counts["failed"] = len(notebooks) - counts["passed"] - counts["skipped"]
    for key in counts:  # the summary's own counts win when it has them
        if isinstance(summary.get(key), int):
            counts[key] = summary[key]
    seconds = summary.get("seconds")
    if not _is_number(seconds):
        seconds = sum(nb["seconds"] for nb in notebooks)
    environment = _environment(summary.get("environment"))
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("fmnist_utils", "templates"),
        autoescape=True,  # every value is escaped unless the template says otherwise
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals["zip"] = zip
    return env.get_template(TEMPLATE_NAME).render(
        profile=str(summary.get("profile") or "unknown"),
        backend=str(summary.get("backend") or "unknown"),
        started=_started(summary.get("started_at")),
        started_iso=str(summary.get("started_at") or ""),
        seconds=float(seconds),
        clock=_clock(float(seconds)),
        complete=bool(summary.get("complete", True)),
        counts=counts,
        total=len(notebooks),
        environment=environment,
        notebooks=notebooks,
        summary_json=_href(reports_dir, "summary.json"),
        summary_md=_href(reports_dir, "summary.md"),
        generated=datetime.now().astimezone().strftime("%Y-%m-%d %H:%M"),
        version=getattr(fmnist_utils, "__version__", ""),
    )


def write_index(reports_dir: str | Path, summary: Mapping) -> Path:
    """Write ``reports_dir/index.html`` for ``summary`` (the dict of ``summary.json``); return
    its path.

    The file is replaced atomically, so a browser that reloads it during a run never sees half
    a page. Figures are the files ``reports_dir/figures/NN_*`` (``NN``: the notebook's number),
    links to the notebooks' HTML copies and executed notebooks are relative and only made for
    files that exist. :func:`fmnist_utils.course.run_course` calls it after every notebook.

    Example::

        >>> write_index("reports", json.loads(Path("reports/summary.json").read_text()))
        ... # doctest: +SKIP
        PosixPath('reports/index.html')
    """
    reports_dir = Path(reports_dir)
    reports_dir.mkdir(parents=True, exist_ok=True)
    text = render_index(reports_dir, summary)
    path = reports_dir / INDEX_NAME
    fd, tmp = tempfile.mkstemp(prefix=".index-", suffix=".html", dir=reports_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def index_from_summary(reports_dir: str | Path) -> Path:
    """Rebuild ``reports_dir/index.html`` from ``reports_dir/summary.json``; return its path.

    Raises:
        FileNotFoundError: there is no ``summary.json`` in ``reports_dir``.
        ValueError: ``summary.json`` is not a JSON object.

    Example::

        >>> index_from_summary("reports")  # doctest: +SKIP
        PosixPath('reports/index.html')
    """
    reports_dir = Path(reports_dir)
    path = reports_dir / "summary.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"no summary.json in {reports_dir}: run `python -m fmnist_utils course run "
            f"--reports {reports_dir}` first"
        )
    summary = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(summary, Mapping):
        raise ValueError(f"{path} does not hold a JSON object")
    return write_index(reports_dir, summary)


__all__ = [
    "Cell",
    "Table",
    "format_number",
    "index_from_summary",
    "metric_tables",
    "render_index",
    "write_index",
]
