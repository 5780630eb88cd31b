"""Run the course notebooks with papermill and write the report.

The notebooks are executed in order as parameterised reports: papermill injects ``PROFILE``
(``smoke``, ``default`` or ``full``) after each notebook's ``parameters`` cell and writes the
executed copy to ``reports/<name>.ipynb``; nbconvert turns it into ``reports/<name>.html``. Each
notebook ends with :func:`save_metrics`, which writes the numbers it wants in the report to the
file named by ``$FMNIST_METRICS_PATH`` (set by the runner). ``reports/summary.json`` and
``reports/summary.md`` collect every notebook's status, run time, metrics and failing cell;
``reports/index.html`` (:mod:`fmnist_utils.report`) shows the same as a page with the
notebooks' metrics as tables and their figures.

The same module keeps the notebooks' headers in step with :data:`fmnist_utils.REPO` (the Colab
badge and the Setup cell's install URL): :func:`sync_headers`.

Command line (``python -m fmnist_utils course ...`` delegates to :func:`main`)::

    python -m fmnist_utils course run --profile smoke
    python -m fmnist_utils course run --only 03 07 --reports /tmp/reports
    python -m fmnist_utils course index --reports /tmp/reports   # rebuild index.html
    python -m fmnist_utils course sync-headers --check

Example in Python::

    >>> from fmnist_utils.course import run_course
    >>> results = run_course(profile="smoke", only=["01"])  # doctest: +SKIP
    >>> results[0].status  # doctest: +SKIP
    'passed'
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import sys
import threading
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from fmnist_utils import device, report, site
from fmnist_utils.train import ENV_VAR as PROFILE_ENV
from fmnist_utils.train import PROFILES

#: Seconds one cell may run in each profile when no timeout is given (``cell_timeout=None`` in
#: :func:`run_notebook` and :func:`run_course`, no ``--timeout`` for ``course run``). The full
#: profile trains notebook 13's final model for up to an hour in one cell.
CELL_TIMEOUTS = {"smoke": 900, "default": 900, "full": 7200}

#: Environment variable naming the file :func:`save_metrics` writes to.
METRICS_ENV = "FMNIST_METRICS_PATH"
#: Environment variable naming where ``viz.save_figure`` writes (kept in step with viz).
FIGURES_ENV = "FMNIST_FIGURES_DIR"

_NOTEBOOK_RE = re.compile(r"^(\d{2})_.+\.ipynb$")

# Colab badge: https://colab.research.google.com/github/<owner>/<name>/blob/<branch>/<path>.ipynb
_BADGE_RE = re.compile(
    r"https://colab\.research\.google\.com/github/"
    r"(?P<repo>[\w.-]+/[\w.-]+)/blob/(?P<branch>[\w.-]+)/(?P<path>[^\s\"'()<>\[\]]+?\.ipynb)"
)
# Install URL: git+https://github.com/<owner>/<name>, maybe followed by .git and/or @ref.
_INSTALL_RE = re.compile(
    r"git\+https://github\.com/(?P<repo>[\w-]+/[\w.-]+?)(?P<suffix>\.git)?(?=$|[^\w.-])"
)


# --------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------


def _jsonable(value: Any, key: str) -> Any:
    """Return ``value`` as plain JSON types; ``key`` (a dotted path) names it in errors."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v, f"{key}.{k}" if key else str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, f"{key}[{i}]") for i, v in enumerate(value)]
    numpy = sys.modules.get("numpy")  # values can only be numpy objects if numpy is imported
    if numpy is not None:
        if isinstance(value, numpy.ndarray):
            return _jsonable(value.tolist(), key)
        if isinstance(value, numpy.generic):
            return _jsonable(value.item(), key)
    raise TypeError(
        f"save_metrics: the value for key {key!r} has type {type(value).__name__}, which cannot "
        "be written as JSON; pass numbers, strings, booleans, None, lists or dicts "
        "(numpy scalars and arrays and paths are converted)."
    )


def save_metrics(metrics: dict, path: str | Path | None = None) -> Path:
    """Write a notebook's metrics as JSON for the course report and return the file's path.

    The file is ``path`` if given, else ``$FMNIST_METRICS_PATH`` (set by :func:`run_notebook`),
    else ``./metrics.json``. numpy scalars and arrays become numbers and lists, paths become
    strings and non-finite floats (NaN, inf) become ``null``; keys are sorted.

    Raises:
        TypeError: a value cannot be converted; the message names its key.

    Example::

        >>> import numpy as np, tempfile, json, pathlib
        >>> out = save_metrics({"test_accuracy": np.float32(0.5), "epochs": 3},
        ...                    pathlib.Path(tempfile.mkdtemp()) / "m.json")
        >>> json.loads(out.read_text())
        {'epochs': 3, 'test_accuracy': 0.5}
    """
    if not isinstance(metrics, Mapping):
        raise TypeError(f"save_metrics expects a dict, got {type(metrics).__name__}")
    data = _jsonable(metrics, "")
    if path is None:
        path = os.environ.get(METRICS_ENV) or "metrics.json"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=2, sort_keys=True, allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------
# Finding notebooks
# --------------------------------------------------------------------------------------------


def discover_notebooks(notebooks_dir: str | Path, only: Sequence[str] | None = None) -> list[Path]:
    """Return the course notebooks ``NN_*.ipynb`` in ``notebooks_dir``, sorted by number.

    ``only`` selects some of them, each entry a number (``"01"``, ``"1"``) or a full stem
    (``"01_data_and_pixels"``, an ``.ipynb`` suffix is allowed); the result keeps course order.

    Raises:
        FileNotFoundError: ``notebooks_dir`` does not exist.
        ValueError: an entry of ``only`` matches no notebook (the message lists the available ones).

    Example::

        >>> discover_notebooks(Path("notebooks"), only=["3"])  # doctest: +SKIP
        [PosixPath('notebooks/03_preprocessing.ipynb')]
    """
    notebooks_dir = Path(notebooks_dir)
    if not notebooks_dir.is_dir():
        raise FileNotFoundError(f"notebooks folder not found: {notebooks_dir}")
    found = [p for p in notebooks_dir.iterdir() if p.is_file() and _NOTEBOOK_RE.match(p.name)]
    found.sort(key=lambda p: (int(p.name[:2]), p.name))
    if only is None:
        return found

    selected: set[Path] = set()
    for entry in only:
        wanted = str(entry).strip()
        wanted = wanted[: -len(".ipynb")] if wanted.endswith(".ipynb") else wanted
        if wanted.isdigit():
            matches = [p for p in found if int(p.name[:2]) == int(wanted)]
        else:
            matches = [p for p in found if p.stem == wanted]
        if not matches:
            available = ", ".join(p.stem for p in found) or "(none)"
            raise ValueError(
                f"no notebook matches {entry!r} in {notebooks_dir}; available: {available}"
            )
        selected.update(matches)
    return [p for p in found if p in selected]


def backend_requirement(path: str | Path) -> tuple[list[str], str]:
    """The Keras backends a notebook runs on and why, from its metadata; ``([], "")``: any.

    A notebook whose lesson is TensorFlow itself (``tf.data`` pipelines, SavedModel and TFLite
    exports) says so in ``metadata["fmnist"]``: ``{"backends": ["tensorflow"], "why": ...}``.
    :func:`run_course` skips it on another backend, with that reason in the report.
    """
    import nbformat

    metadata = nbformat.read(str(path), as_version=4).metadata.get("fmnist", {})
    return list(metadata.get("backends", [])), str(metadata.get("why", ""))


# --------------------------------------------------------------------------------------------
# Running one notebook
# --------------------------------------------------------------------------------------------


@dataclass
class NotebookResult:
    """The outcome of running one notebook with :func:`run_notebook`.

    ``error`` is ``None`` for a passed notebook; otherwise a dict with ``cell_index`` (index in
    the executed notebook, which includes papermill's injected-parameters cell; ``None`` when
    unknown), ``execution_count``, ``ename``, ``evalue`` and a one-line ``message``.

    Example::

        >>> r = NotebookResult("01_x", Path("01_x.ipynb"), "passed", 1.5, {"acc": 0.9},
        ...                    Path("reports/01_x.ipynb"), Path("reports/01_x.html"))
        >>> r.passed, r.message
        (True, '')
    """

    name: str
    path: Path
    status: str
    seconds: float
    metrics: dict = field(default_factory=dict)
    output: Path | None = None
    html: Path | None = None
    error: dict | None = None

    @property
    def passed(self) -> bool:
        """True when the notebook ran without an error, or was skipped because its lesson
        needs another Keras backend (status ``"skipped"``)."""
        return self.status in ("passed", "skipped")

    @property
    def message(self) -> str:
        """The one-line error message, or ``""`` for a passed notebook."""
        return (self.error or {}).get("message", "")

    def to_dict(self, relative_to: Path | None = None) -> dict:
        """Return a JSON-ready dict; paths of outputs are made relative to ``relative_to``.

        Example::

            >>> NotebookResult("01_x", Path("n/01_x.ipynb"), "passed", 1.0).to_dict()["status"]
            'passed'
        """

        def rel(p: Path | None) -> str | None:
            if p is None:
                return None
            if relative_to is not None:
                try:
                    return Path(p).relative_to(relative_to).as_posix()
                except ValueError:
                    pass
            return Path(p).as_posix()

        return {
            "name": self.name,
            "path": Path(self.path).as_posix(),
            "status": self.status,
            "seconds": round(self.seconds, 2),
            "metrics": self.metrics,
            "error": self.error,
            "output": rel(self.output),
            "html": rel(self.html),
        }


def _first_line(text: str, limit: int = 200) -> str:
    """The first non-empty line of ``text``, shortened to ``limit`` characters."""
    from papermill.exceptions import strip_color

    lines = [line.strip() for line in strip_color(str(text)).splitlines() if line.strip()]
    line = lines[0] if lines else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _error_message(error: dict) -> str:
    """Format ``cell 7 (execution count 5) raised ValueError: boom`` from an error dict."""
    where = ""
    if error.get("cell_index") is not None:
        where = f"cell {error['cell_index']}"
        if error.get("execution_count") is not None:
            where += f" (execution count {error['execution_count']})"
        where += " raised "
    evalue = _first_line(error.get("evalue") or "")
    return f"{where}{error['ename']}" + (f": {evalue}" if evalue else "")


def _last_started_cell(output: Path) -> tuple[int | None, int | None]:
    """Index and execution count of the last cell papermill started in ``output`` (best effort)."""
    import nbformat

    try:
        nb = nbformat.read(output, as_version=4)
    except Exception:
        return None, None
    last: tuple[int | None, int | None] = (None, None)
    for index, cell in enumerate(nb.cells):
        if cell.get("metadata", {}).get("papermill", {}).get("start_time"):
            last = (index, cell.get("execution_count"))
    return last


def _write_html(notebook: Path, html: Path) -> None:
    """Convert the executed ``notebook`` to a standalone HTML page with nbconvert."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(notebook, as_version=4)
    body, _ = HTMLExporter().from_notebook_node(nb)
    html.write_text(body, encoding="utf-8")


@contextmanager
def _environ(**values: str) -> Iterator[None]:
    """Set environment variables for the duration of the block, then restore the old ones."""
    old = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_notebook(
    path: str | Path,
    reports_dir: str | Path,
    profile: str = "default",
    cell_timeout: float | None = None,
) -> NotebookResult:
    """Execute one notebook with papermill and return its :class:`NotebookResult`.

    Writes ``reports_dir/<name>.ipynb`` (executed copy, parameter ``PROFILE=profile`` injected),
    ``reports_dir/<name>.html`` (also for a failed run) and, through the notebook's own
    :func:`save_metrics` call, ``reports_dir/<name>.metrics.json``. The kernel runs in the
    notebook's folder with ``$FMNIST_PROFILE``, ``$FMNIST_METRICS_PATH`` and
    ``$FMNIST_FIGURES_DIR`` (``reports_dir/figures``) set; all are restored afterwards.
    Failures (a cell error, a timeout, a missing kernel...) become a failed result.
    ``cell_timeout`` is the seconds one cell may run; ``None``: the profile's
    :data:`CELL_TIMEOUTS` entry.

    Example::

        >>> r = run_notebook(Path("notebooks/01_data_and_pixels.ipynb"), Path("reports"),
        ...                  profile="smoke")  # doctest: +SKIP
        >>> r.status, r.metrics  # doctest: +SKIP
        ('passed', {'n_train': 60000, ...})
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    if cell_timeout is None:
        _check_profile(profile)
        cell_timeout = CELL_TIMEOUTS[profile]
    path = Path(path).resolve()
    reports_dir = Path(reports_dir).resolve()
    reports_dir.mkdir(parents=True, exist_ok=True)
    name = path.stem
    output = reports_dir / f"{name}.ipynb"
    html = reports_dir / f"{name}.html"
    metrics_path = reports_dir / f"{name}.metrics.json"
    for stale in (output, html, metrics_path):
        stale.unlink(missing_ok=True)

    error: dict | None = None
    start = time.perf_counter()
    figures = reports_dir / "figures"  # runs never overwrite the committed figures/
    with _environ(
        **{PROFILE_ENV: profile, METRICS_ENV: str(metrics_path), FIGURES_ENV: str(figures)}
    ):
        try:
            papermill.execute_notebook(
                str(path),
                str(output),
                parameters={"PROFILE": profile},
                kernel_name="python3",
                cwd=str(path.parent),
                execution_timeout=cell_timeout,
                progress_bar=False,
                log_output=False,
            )
        except PapermillExecutionError as exc:
            error = {
                "cell_index": exc.cell_index,
                "execution_count": exc.exec_count,
                "ename": exc.ename,
                "evalue": exc.evalue,
            }
        except Exception as exc:  # a timeout, a missing kernel, a dead kernel, a bad notebook...
            cell_index, execution_count = (
                _last_started_cell(output) if output.exists() else (None, None)
            )
            error = {
                "cell_index": cell_index,
                "execution_count": execution_count,
                "ename": type(exc).__name__,
                "evalue": str(exc),
            }
    seconds = time.perf_counter() - start

    metrics: dict = {}
    if metrics_path.exists():
        try:
            metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            if error is None:
                error = {
                    "cell_index": None,
                    "execution_count": None,
                    "ename": type(exc).__name__,
                    "evalue": f"cannot read {metrics_path}: {exc}",
                }
    if error is not None:
        error["message"] = _error_message(error)

    html_path: Path | None = None
    if output.exists():
        try:
            _write_html(output, html)
            html_path = html
        except Exception as exc:  # the report should not hide the run's own result
            warnings.warn(f"could not write {html}: {exc}", RuntimeWarning, stacklevel=2)

    return NotebookResult(
        name=name,
        path=path,
        status="passed" if error is None else "failed",
        seconds=seconds,
        metrics=metrics if isinstance(metrics, dict) else {"value": metrics},
        output=output if output.exists() else None,
        html=html_path,
        error=error,
    )


# --------------------------------------------------------------------------------------------
# Running the course and writing the report
# --------------------------------------------------------------------------------------------


def _clock(seconds: float) -> str:
    """Format a duration as ``m:ss`` or ``h:mm:ss``."""
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _flatten(metrics: Mapping, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Yield ``(dotted_key, value)`` pairs of a nested metrics dict, in sorted key order."""
    for key in sorted(metrics, key=str):
        value = metrics[key]
        full = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from _flatten(value, full + ".")
        else:
            yield full, value


def _format_value(value: Any) -> str:
    """Short text for a metric value in the Markdown table."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, dict)):
        text = json.dumps(value, separators=(",", ":"))
        return text if len(text) <= 60 else text[:57] + "..."
    return str(value)


def _md_cell(text: str) -> str:
    """Escape text for one cell of a Markdown table."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


#: The CPU flags that decide how fast training runs (vector width, bfloat16, AMX tiles).
SPEED_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile")


def _cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo on Linux, else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    """Where a measurement ran, for a results file: date, CPU model, count and speed flags,
    the precision :func:`fmnist_utils.device.choose_precision` picks here, the GPU's compute
    capability (None: no GPU), platform, the Keras backend, and the Python, Keras and backend
    versions."""
    import keras

    flags = device.cpu_flags()
    gpu = device.gpu_compute_capability()
    return {
        "date": datetime.now().strftime("%Y-%m-%d %H:%M"),
        "cpus": os.cpu_count(),
        "cpu": _cpu_name(),
        "cpu_flags": [flag for flag in SPEED_FLAGS if flag in flags],
        "gpu_compute_capability": list(gpu) if gpu else None,
        "precision_chosen": device.choose_precision(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
        **{
            name: sys.modules[name].__version__
            for name in device.BACKENDS
            if name in sys.modules and hasattr(sys.modules[name], "__version__")
        },
    }


def _environment() -> dict:
    """Facts about the machine and Python that ran the course (no heavy imports)."""
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "executable": sys.executable,
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
    }


def _write_summary(
    reports_dir: Path,
    profile: str,
    started_at: datetime,
    seconds: float,
    results: Sequence[NotebookResult],
    complete: bool,
) -> tuple[Path, Path]:
    """Write ``summary.json`` and ``summary.md`` to ``reports_dir``; return both paths.

    Also writes ``index.html`` (:func:`fmnist_utils.report.write_index`) from the same summary.
    """
    failed = [r for r in results if not r.passed]
    skipped = [r for r in results if r.status == "skipped"]
    summary = {
        "profile": profile,
        "backend": device.backend(),
        "started_at": started_at.isoformat(timespec="seconds"),
        "seconds": round(seconds, 2),
        "complete": complete,
        "passed": len(results) - len(failed) - len(skipped),
        "skipped": len(skipped),
        "failed": len(failed),
        "environment": _environment(),
        "notebooks": [r.to_dict(relative_to=reports_dir) for r in results],
    }
    json_path = reports_dir / "summary.json"
    json_path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")

    lines = [
        f"# Course run: profile {profile}",
        "",
        f"Started {summary['started_at']}; {len(results)} "
        f"notebook{'' if len(results) == 1 else 's'}, "
        f"{summary['passed']} passed, "
        + (f"{summary['skipped']} skipped, " if skipped else "")
        + f"{summary['failed']} failed, total {_clock(seconds)} "
        f"(Keras backend {summary['backend']})"
        + ("" if complete else " (run still in progress)")
        + ".",
        "",
        "| notebook | status | seconds | metrics |",
        "| --- | --- | ---: | --- |",
    ]
    for r in results:
        label = f"[{r.name}]({r.html.name})" if r.html is not None else r.name
        status = {"passed": "passed", "skipped": "skipped"}.get(r.status, "**FAILED**")
        metrics = ", ".join(f"{k}={_format_value(v)}" for k, v in _flatten(r.metrics))
        lines.append(f"| {label} | {status} | {r.seconds:.1f} | {_md_cell(metrics)} |")
    if skipped:
        lines += ["", "## Skipped", ""]
        lines += [f"- **{r.name}**: {_md_cell(r.message)}" for r in skipped]
    lines += ["", "## Failures", ""]
    if failed:
        for r in failed:
            lines.append(f"- **{r.name}**: {_md_cell(r.message)}")
    else:
        lines.append("None.")
    md_path = reports_dir / "summary.md"
    md_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        report.write_index(reports_dir, summary)
    except Exception as exc:  # the page should not hide the run's own result
        index = reports_dir / report.INDEX_NAME
        warnings.warn(f"could not write {index}: {exc}", RuntimeWarning, stacklevel=2)
    return json_path, md_path


def _check_profile(profile: str) -> None:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; allowed: {', '.join(PROFILES)}")


def run_course(
    notebooks_dir: str | Path = "notebooks",
    reports_dir: str | Path = "reports",
    profile: str = "default",
    only: Sequence[str] | None = None,
    cell_timeout: float | None = None,
    stream: TextIO | None = sys.stdout,
    progress: bool | None = None,
) -> list[NotebookResult]:
    """Run the course notebooks in order and write ``summary.json``, ``summary.md`` and
    ``index.html`` (the report page, :mod:`fmnist_utils.report`).

    A failing notebook does not stop the run. Progress goes to ``stream`` (``None``: silent),
    one line before and one after each notebook. The summary is rewritten after every
    notebook, so an interrupted run still leaves a report. ``cell_timeout`` is the seconds one
    cell may run; ``None``: the profile's :data:`CELL_TIMEOUTS` entry.

    With a ``stream``, a tqdm progress bar counts the notebooks: the one running, the time
    elapsed and an estimate of the time left (ticking once a second). It goes to
    ``sys.stderr`` when ``stream`` is ``sys.stdout`` (standard output stays a clean log of the
    lines, ``course run > log.txt`` included), else to ``stream`` itself; the lines are
    written around it, never through it. ``progress=None`` shows it only when its stream is a
    terminal (so captured output, pipes and CI logs get the lines alone), ``True`` always,
    ``False`` never.

    Raises:
        ValueError: unknown ``profile`` or an ``only`` entry that matches no notebook.

    Example::

        >>> results = run_course(profile="smoke", only=["01", "02"])  # doctest: +SKIP
        [1/2] 01_data_and_pixels (profile smoke) ...
              passed in 6.2 s (elapsed 0:06)
        ...
    """
    _check_profile(profile)
    notebooks = discover_notebooks(Path(notebooks_dir), only)
    reports_dir = Path(reports_dir).resolve()
    reports_dir.mkdir(parents=True, exist_ok=True)

    import nbconvert  # noqa: F401  (imported up front so the first notebook's time is its own)
    import papermill  # noqa: F401

    started_at = datetime.now().astimezone()
    start = time.perf_counter()
    results: list[NotebookResult] = []
    with _progress_bar(notebooks, stream, progress) as bar:

        def say(line: str) -> None:
            if stream is None:
                return
            if bar is None:
                print(line, file=stream, flush=True)
                return
            with bar.external_write_mode(file=stream):  # lift the bar, write, put it back
                print(line, file=stream, flush=True)

        for number, path in enumerate(notebooks, 1):
            say(f"[{number}/{len(notebooks)}] {path.stem} (profile {profile}) ...")
            if bar is not None:
                bar.set_description_str(path.stem.ljust(len(bar.desc)))
            backends, why = backend_requirement(path)
            if backends and device.backend() not in backends:
                message = f"needs the {' or '.join(backends)} backend: {why}"
                results.append(
                    NotebookResult(path.stem, path, "skipped", 0.0, error={"message": message})
                )
                say(f"      skipped on {device.backend()}: {message}")
                if bar is not None:
                    bar.update()
                continue
            result = run_notebook(path, reports_dir, profile=profile, cell_timeout=cell_timeout)
            results.append(result)
            if result.passed:
                elapsed = _clock(time.perf_counter() - start)
                say(f"      passed in {result.seconds:.1f} s (elapsed {elapsed})")
            else:
                say(f"      FAILED in {result.seconds:.1f} s: {result.message}")
            seconds = time.perf_counter() - start
            _write_summary(reports_dir, profile, started_at, seconds, results, complete=False)
            if bar is not None:
                bar.update()
        if bar is not None:
            bar.set_description_str("done".ljust(len(bar.desc)))
    _write_summary(
        reports_dir, profile, started_at, time.perf_counter() - start, results, complete=True
    )
    return results


@contextmanager
def _progress_bar(
    notebooks: Sequence[Path], stream: TextIO | None, progress: bool | None
) -> Iterator[Any]:
    """The tqdm bar of :func:`run_course` (``None`` when it is off), refreshed every second
    so its elapsed time ticks while a notebook runs; closed on the way out."""
    if stream is None or progress is False or not notebooks:
        yield None
        return
    from tqdm import tqdm

    width = max(len(p.stem) for p in notebooks)
    bar = tqdm(
        total=len(notebooks),
        desc=notebooks[0].stem.ljust(width),
        file=sys.stderr if stream is sys.stdout else stream,
        disable=None if progress is None else False,  # None: only on a terminal
        unit="notebook",
        dynamic_ncols=True,
        bar_format="{desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} notebooks "
        "[{elapsed} elapsed, {remaining} left]",
    )
    if bar.disable:
        bar.close()
        yield None
        return
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(1.0):
            bar.refresh()

    ticker = threading.Thread(target=tick, name="course-progress", daemon=True)
    ticker.start()
    try:
        yield bar
    finally:
        stop.set()
        ticker.join()
        bar.close()


# --------------------------------------------------------------------------------------------
# Notebook headers: Colab badge and install URL
# --------------------------------------------------------------------------------------------


def _badge_url(repo: str, notebook: str) -> str:
    return f"https://colab.research.google.com/github/{repo}/blob/main/notebooks/{notebook}"


def _sync_notebook(path: Path, repo: str) -> tuple[list[str], str | None]:
    """Check one notebook; return its problems and its corrected text (None if unchanged)."""
    import nbformat

    original = path.read_text(encoding="utf-8")
    nb = nbformat.reads(original, as_version=4)
    expected_badge = _badge_url(repo, path.name)
    problems: list[str] = []
    badges = 0
    changed = False
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") not in ("markdown", "code"):
            continue
        source = cell.source
        for match in _BADGE_RE.finditer(source):
            badges += 1
            if match.group(0) != expected_badge:
                problems.append(
                    f"{path.name}: cell {index}: Colab badge link {match.group(0)} "
                    f"should be {expected_badge}"
                )
        for match in _INSTALL_RE.finditer(source):
            if match.group("repo") != repo:
                problems.append(
                    f"{path.name}: cell {index}: install URL names {match.group('repo')}, "
                    f"should be {repo}"
                )
        new = _BADGE_RE.sub(expected_badge, source)
        new = _INSTALL_RE.sub(
            lambda m: f"git+https://github.com/{repo}{m.group('suffix') or ''}", new
        )
        if new != source:
            cell.source = new
            changed = True
    if badges == 0:
        problems.append(f"{path.name}: no Colab badge link ({expected_badge})")
    if not changed:
        return problems, None
    text = nbformat.writes(nb)
    # nbformat ends the file with a newline; keep the original's ending (papermill writes none).
    text = text.rstrip("\n") + ("\n" if original.endswith("\n") else "")
    return problems, text


def sync_headers(
    notebooks_dir: str | Path, repo: str | None = None, check_only: bool = False
) -> list[str]:
    """Point every notebook's Colab badge and install URL at ``repo`` and the notebook itself.

    In each markdown and code cell, ``https://colab.research.google.com/github/<owner>/<name>/
    blob/<branch>/.../<file>.ipynb`` becomes the badge link of ``repo`` (branch ``main``, path
    ``notebooks/<this file>``) and ``git+https://github.com/<owner>/<name>`` becomes
    ``git+https://github.com/<repo>`` (a ``.git`` or ``@ref`` suffix is kept). Only changed
    notebooks are written (with nbformat; outputs, metadata and the file's ending are kept).

    Returns the problems: with ``check_only`` every link that differs and every notebook without
    a badge link (nothing is written); otherwise the problems left after fixing (notebooks
    without a badge link). ``repo`` defaults to :data:`fmnist_utils.REPO`.

    Example::

        >>> sync_headers("notebooks", "fmnist-course/fashion-mnist-course",
        ...              check_only=True)  # doctest: +SKIP
        []
    """
    if repo is None:
        import fmnist_utils

        repo = fmnist_utils.REPO
    problems: list[str] = []
    for path in discover_notebooks(Path(notebooks_dir)):
        found, fixed = _sync_notebook(path, repo)
        if check_only:
            problems += found
            continue
        if fixed is not None:
            path.write_text(fixed, encoding="utf-8")
        problems += [p for p in found if "no Colab badge link" in p]
    return problems


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fmnist_utils course",
        description="Run the course notebooks as papermill reports, or sync their headers.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="execute the notebooks and write reports/summary.md and summary.json",
        description="Execute the notebooks in order with papermill (a failure does not stop "
        "the run) and write the executed notebooks, HTML copies and a summary.",
    )
    run.add_argument(
        "--profile",
        choices=PROFILES,
        default=None,
        help="run profile (default: $FMNIST_PROFILE if set, else 'default')",
    )
    run.add_argument(
        "--only",
        nargs="+",
        metavar="NN",
        help="run only these notebooks (numbers like 03 or 3, or full names)",
    )
    run.add_argument(
        "--notebooks", default="notebooks", metavar="DIR", help="(default: %(default)s)"
    )
    run.add_argument("--reports", default="reports", metavar="DIR", help="(default: %(default)s)")
    run.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="time limit per cell (default: "
        + ", ".join(f"{seconds} s in {name}" for name, seconds in CELL_TIMEOUTS.items())
        + ")",
    )

    sync = sub.add_parser(
        "sync-headers",
        help="point Colab badges and install URLs at fmnist_utils.REPO",
        description="Rewrite every notebook's Colab badge link and install URL from "
        "fmnist_utils.REPO; with --check only report the differences.",
    )
    sync.add_argument(
        "--notebooks", default="notebooks", metavar="DIR", help="(default: %(default)s)"
    )
    sync.add_argument("--repo", default=None, help="owner/name (default: fmnist_utils.REPO)")
    sync.add_argument("--check", action="store_true", help="change nothing; exit 1 on problems")

    index = sub.add_parser(
        "index",
        help="rebuild the report page reports/index.html from reports/summary.json",
        description="Write DIR/index.html (the run, a table of contents, each notebook's "
        "metrics as tables and its figures) from DIR/summary.json; `course run` writes it too.",
    )
    index.add_argument("--reports", default="reports", metavar="DIR", help="(default: %(default)s)")

    navigation = sub.add_parser(
        "navigation",
        help="write the previous / contents / next links of every notebook",
        description="Insert or update each notebook's two navigation cells (after the title, "
        "at the end) from the notebooks' titles; with --check only report the differences.",
    )
    navigation.add_argument(
        "--notebooks", default="notebooks", metavar="DIR", help="(default: %(default)s)"
    )
    navigation.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 when out of step"
    )

    students = sub.add_parser(
        "students",
        help="write student copies: exercises without solutions",
        description="Copy every notebook with its solution cells replaced by one empty prompt "
        "cell per exercise; the lesson and its outputs are kept.",
    )
    students.add_argument(
        "--notebooks", default="notebooks", metavar="DIR", help="(default: %(default)s)"
    )
    students.add_argument("--out", default="students", metavar="DIR", help="(default: %(default)s)")

    syllabus = sub.add_parser(
        "syllabus",
        help="fill in the run times and exercises of the README's and the guide's tables",
        description="Rewrite the 'time (default)' and 'exercises' columns of the syllabus tables "
        "in README.md and docs/instructors_guide.md, with the times of a default-profile course "
        "report (--report) or, without one, those stored in the committed notebooks.",
    )
    syllabus.add_argument("--root", default=".", metavar="DIR", help="(default: %(default)s)")
    syllabus.add_argument(
        "--report", default=None, metavar="SUMMARY_JSON", help="e.g. reports/summary.json"
    )
    syllabus.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 when out of step"
    )

    site.add_arguments(
        sub.add_parser(
            "site",
            help="build a static website of the course from the executed notebooks",
            description="Render every notebook from its stored outputs (nothing is executed) "
            "into a static site whose Contents page is the README's syllabus.",
        )
    )
    return parser


def _where(result: NotebookResult) -> str:
    """``cell 7`` for a failed result, or the error's name when no cell is known."""
    error = result.error or {}
    if error.get("cell_index") is not None:
        return f"cell {error['cell_index']}"
    return str(error.get("ename", "unknown error"))


def _main_run(args: argparse.Namespace) -> int:
    profile = args.profile or os.environ.get(PROFILE_ENV) or "default"
    try:
        _check_profile(profile)
        notebooks = discover_notebooks(Path(args.notebooks), args.only)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not notebooks:
        print(f"error: no NN_*.ipynb notebooks in {args.notebooks}", file=sys.stderr)
        return 2
    results = run_course(
        notebooks_dir=args.notebooks,
        reports_dir=args.reports,
        profile=profile,
        only=args.only,
        cell_timeout=args.timeout,  # None: the profile's default, applied by run_notebook
        stream=sys.stdout,
    )
    reports = Path(args.reports)
    failed = [r for r in results if not r.passed]
    skipped = [r for r in results if r.status == "skipped"]
    print(
        f"{len(results) - len(failed) - len(skipped)} of {len(results)} notebooks passed"
        + (f", {len(skipped)} skipped (they need another Keras backend)" if skipped else "")
        + ". "
        f"Summary: {reports / 'summary.md'} and {reports / 'summary.json'}; "
        f"report page: {reports / report.INDEX_NAME}",
        flush=True,
    )
    if not failed:
        return 0
    names = ", ".join(f"{r.name} ({_where(r)})" for r in failed)
    print(f"FAILED: {names}", flush=True)
    return 1


def _main_sync(args: argparse.Namespace) -> int:
    from fmnist_utils import REPO

    repo = args.repo or REPO
    try:
        if args.check:
            problems = sync_headers(args.notebooks, repo, check_only=True)
        else:
            before = {p: p.read_bytes() for p in discover_notebooks(Path(args.notebooks))}
            problems = sync_headers(args.notebooks, repo)
            for path, data in before.items():
                if path.read_bytes() != data:
                    print(f"updated {path}")
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for problem in problems:
        print(problem)
    if problems:
        return 1
    if args.check:
        print(f"headers of the notebooks in {args.notebooks} match {repo}")
    return 0


def _main_navigation(args: argparse.Namespace) -> int:
    from fmnist_utils import navigation

    try:
        problems = navigation.sync_navigation(args.notebooks, check_only=args.check)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for problem in problems:
        print(problem)
    if args.check:
        if problems:
            print("run `python -m fmnist_utils course navigation` to fix them")
            return 1
        print(f"the navigation cells of the notebooks in {args.notebooks} are in step")
    else:
        print(f"updated {len(problems)} place(s)" if problems else "nothing to change")
    return 0


def _main_students(args: argparse.Namespace) -> int:
    from fmnist_utils import students

    try:
        written = students.write_student_copies(args.notebooks, args.out)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path, count in written.items():
        print(f"{path}: {count} exercise prompt(s), no solutions")
    print(
        f"{len(written)} student copies in {args.out}/; run them with "
        f"`python -m fmnist_utils course run --notebooks {args.out}`"
    )
    return 0


def _main_syllabus(args: argparse.Namespace) -> int:
    from fmnist_utils import syllabus

    try:
        changed = syllabus.sync_syllabus(args.root, args.report, check_only=args.check)
    except (ValueError, FileNotFoundError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.check and changed:
        print(f"out of step: {', '.join(changed)}; run `python -m fmnist_utils course syllabus`")
        return 1
    print(f"updated {', '.join(changed)}" if changed else "the syllabus tables are in step")
    return 0


def _main_index(args: argparse.Namespace) -> int:
    try:
        path = report.index_from_summary(args.reports)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command line of ``python -m fmnist_utils course``; returns the exit status.

    ``run`` returns 0 when every notebook passed, 1 when any failed, 2 on bad arguments;
    ``sync-headers`` returns 1 when problems remain (with ``--check``: when any exist);
    ``index`` returns 2 when the folder has no readable ``summary.json``.

    Example::

        >>> main(["run", "--profile", "smoke", "--only", "01"])  # doctest: +SKIP
        0
    """
    args = _parser().parse_args(argv)
    if args.command == "run":
        return _main_run(args)
    if args.command == "index":
        return _main_index(args)
    if args.command == "navigation":
        return _main_navigation(args)
    if args.command == "students":
        return _main_students(args)
    if args.command == "syllabus":
        return _main_syllabus(args)
    if args.command == "site":
        return site.run(args)
    return _main_sync(args)


if __name__ == "__main__":
    sys.exit(main())
