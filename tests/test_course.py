"""Tests of fmnist_utils.course: the papermill runner, the report, metrics and header sync."""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from fmnist_utils import course
from fmnist_utils.course import (
    NotebookResult,
    discover_notebooks,
    main,
    run_course,
    run_notebook,
    save_metrics,
    sync_headers,
)

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def make_notebook(path: Path, *cells: nbformat.NotebookNode) -> Path:
    """Write a notebook with a python3 kernelspec and the given cells."""
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": KERNELSPEC})
    nb.cells = list(cells)
    nbformat.write(nb, path)
    return path


def parameters_cell() -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell('PROFILE = "default"')
    cell.metadata["tags"] = ["parameters"]
    return cell


def passing_notebook(path: Path) -> Path:
    return make_notebook(
        path,
        nbformat.v4.new_markdown_cell("# Passes"),
        parameters_cell(),
        nbformat.v4.new_code_cell(
            "import os\n"
            "from fmnist_utils.course import save_metrics\n"
            'save_metrics({"answer": 42, "profile": PROFILE,\n'
            '              "env_profile": os.environ["FMNIST_PROFILE"], "cwd": os.getcwd()})'
        ),
    )


def failing_notebook(path: Path) -> Path:
    return make_notebook(
        path,
        nbformat.v4.new_markdown_cell("# Fails"),
        parameters_cell(),
        nbformat.v4.new_code_cell('raise ValueError("boom")'),
        nbformat.v4.new_code_cell('print("never reached")'),
    )


# --------------------------------------------------------------------------------------------
# One real run of two notebooks (each kernel start costs seconds), shared by several tests.
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def course_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    notebooks = root / "notebooks"
    notebooks.mkdir()
    # The failing notebook comes first: the run must go on to the passing one.
    failing_notebook(notebooks / "01_fails.ipynb")
    passing_notebook(notebooks / "02_passes.ipynb")
    reports = root / "reports"
    stdout = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(stdout):
        # One variable set, one unset: the run must restore both states.
        mp.setenv("FMNIST_PROFILE", "full")
        mp.delenv("FMNIST_METRICS_PATH", raising=False)
        env_before = {k: os.environ.get(k) for k in ("FMNIST_PROFILE", "FMNIST_METRICS_PATH")}
        code = main(
            [
                "run",
                "--profile",
                "smoke",
                "--notebooks",
                str(notebooks),
                "--reports",
                str(reports),
                "--timeout",
                "120",
            ]
        )
        env_after = {k: os.environ.get(k) for k in env_before}
    return {
        "notebooks": notebooks,
        "reports": reports,
        "code": code,
        "stdout": stdout.getvalue(),
        "env_before": env_before,
        "env_after": env_after,
        "summary": json.loads((reports / "summary.json").read_text()),
        "summary_md": (reports / "summary.md").read_text(),
    }


def test_run_returns_1_and_names_the_failure(course_run):
    assert course_run["code"] == 1
    out = course_run["stdout"].splitlines()
    assert out[0] == "[1/2] 01_fails (profile smoke) ..."
    assert out[1].strip().startswith("FAILED in ")
    assert "ValueError: boom" in out[1]
    assert out[2] == "[2/2] 02_passes (profile smoke) ..."
    assert out[3].strip().startswith("passed in ")
    assert "summary.md" in course_run["stdout"]
    assert "01_fails" in out[-1] and "02_passes" not in out[-1]
    assert course_run["env_after"] == course_run["env_before"]


def test_summary_json_lists_both_in_order_with_the_error(course_run):
    summary = course_run["summary"]
    assert summary["profile"] == "smoke"
    assert summary["environment"]["python"]
    names = [entry["name"] for entry in summary["notebooks"]]
    assert names == ["01_fails", "02_passes"]
    failed, passed = summary["notebooks"]
    assert passed["status"] == "passed" and passed["error"] is None
    assert failed["status"] == "failed"
    assert failed["error"]["ename"] == "ValueError"
    assert failed["error"]["evalue"] == "boom"
    assert "boom" in failed["error"]["message"]

    # The reported cell index points at the raising cell of the executed notebook
    # (papermill's numbering: its error-banner cells removed, injected parameters kept).
    executed = nbformat.read(course_run["reports"] / failed["output"], as_version=4)
    cells = [
        c for c in executed.cells if "papermill-error-cell-tag" not in c.metadata.get("tags", [])
    ]
    failing_cell = cells[failed["error"]["cell_index"]]
    assert 'ValueError("boom")' in failing_cell.source
    assert failed["error"]["execution_count"] == failing_cell.execution_count


def test_metrics_are_collected_with_the_injected_profile(course_run):
    passed = course_run["summary"]["notebooks"][1]
    assert passed["metrics"]["answer"] == 42
    assert passed["metrics"]["profile"] == "smoke"  # the parameters cell says "default"
    assert passed["metrics"]["env_profile"] == "smoke"
    assert Path(passed["metrics"]["cwd"]).resolve() == course_run["notebooks"].resolve()
    assert course_run["summary"]["notebooks"][0]["metrics"] == {}


def test_outputs_and_html_exist_for_both(course_run):
    reports = course_run["reports"]
    for entry in course_run["summary"]["notebooks"]:
        assert (reports / entry["output"]).is_file()
        html = reports / entry["html"]
        assert html.is_file()
        assert "<html" in html.read_text(encoding="utf-8").lower()
    executed = nbformat.read(reports / "02_passes.ipynb", as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)


def test_summary_md_has_table_metrics_and_failures(course_run):
    md = course_run["summary_md"]
    rows = [line for line in md.splitlines() if line.startswith("| [0")]
    assert len(rows) == 2
    assert "01_fails" in rows[0] and "FAILED" in rows[0]
    assert "02_passes" in rows[1] and "passed" in rows[1] and "answer=42" in rows[1]
    assert "profile=smoke" in rows[1]
    failures = md.split("## Failures", 1)[1]
    error = course_run["summary"]["notebooks"][0]["error"]
    assert "01_fails" in failures
    assert f"cell {error['cell_index']}" in failures
    assert "ValueError: boom" in failures
    assert "02_passes" not in failures


def test_timeout_becomes_a_failed_result(tmp_path):
    """A cell timeout (not a cell error) is reported as a failure, not raised; only= selects."""
    notebooks = tmp_path / "nb"
    notebooks.mkdir()
    make_notebook(
        notebooks / "03_slow.ipynb",
        parameters_cell(),
        nbformat.v4.new_code_cell("import time\ntime.sleep(60)"),
    )
    passing_notebook(notebooks / "04_other.ipynb")
    stream = io.StringIO()
    results = run_course(
        notebooks, tmp_path / "rep", "smoke", only=["3"], cell_timeout=2, stream=stream
    )
    assert [r.name for r in results] == ["03_slow"]
    (result,) = results
    assert isinstance(result, NotebookResult)
    assert result.status == "failed"
    assert result.seconds < 50
    assert "timed out" in result.error["evalue"].lower()
    executed = nbformat.read(result.output, as_version=4)
    assert "time.sleep(60)" in executed.cells[result.error["cell_index"]].source
    assert result.html is not None and result.html.is_file()
    lines = stream.getvalue().splitlines()
    assert lines[0] == "[1/1] 03_slow (profile smoke) ..."
    assert lines[1].strip().startswith("FAILED in ") and result.error["ename"] in lines[1]


# --------------------------------------------------------------------------------------------
# Without a kernel
# --------------------------------------------------------------------------------------------


def test_discover_notebooks_orders_by_number_and_filters(tmp_path):
    for name in ["10_ten", "02_two", "01_one", "1_bad", "notes", "03-dash", "011_three_digits"]:
        make_notebook(tmp_path / f"{name}.ipynb")
    (tmp_path / "04_not_a_notebook.py").write_text("")
    found = [p.stem for p in discover_notebooks(tmp_path)]
    assert found == ["01_one", "02_two", "10_ten"]
    assert [p.stem for p in discover_notebooks(tmp_path, ["10", "1"])] == ["01_one", "10_ten"]
    assert [p.stem for p in discover_notebooks(tmp_path, ["02_two"])] == ["02_two"]
    with pytest.raises(ValueError, match=r"'7'.*01_one, 02_two, 10_ten"):
        discover_notebooks(tmp_path, ["7"])
    with pytest.raises(ValueError, match="'two'"):
        discover_notebooks(tmp_path, ["two"])


def test_main_bad_only_returns_2(tmp_path, capsys):
    make_notebook(tmp_path / "01_one.ipynb")
    reports = str(tmp_path / "r")
    code = main(["run", "--notebooks", str(tmp_path), "--reports", reports, "--only", "05"])
    assert code == 2
    err = capsys.readouterr().err
    assert "'05'" in err and "01_one" in err


@pytest.mark.parametrize("entry", ["run_notebook", "run_course", "cli"])
@pytest.mark.parametrize(
    ("profile", "timeout", "expected"),
    [("full", None, 7200), ("smoke", None, 900), ("default", None, 900), ("full", 30, 30)],
)
def test_cell_timeout_follows_the_profile_unless_given(
    tmp_path, monkeypatch, entry, profile, timeout, expected
):
    """From Python and the CLI alike, no timeout means the profile's (CELL_TIMEOUTS)."""
    import papermill

    notebooks, reports = tmp_path, tmp_path / "r"
    make_notebook(notebooks / "01_one.ipynb")
    seen = []
    monkeypatch.setattr(
        papermill, "execute_notebook", lambda *a, **kw: seen.append(kw["execution_timeout"])
    )
    monkeypatch.delenv("FMNIST_PROFILE", raising=False)
    given = {} if timeout is None else {"cell_timeout": timeout}  # None: the default
    if entry == "run_notebook":
        run_notebook(notebooks / "01_one.ipynb", reports, profile, **given)
    elif entry == "run_course":
        run_course(notebooks, reports, profile, stream=None, **given)
    else:
        option = [] if timeout is None else ["--timeout", str(timeout)]
        argv = ["run", "--notebooks", str(notebooks), "--reports", str(reports)]
        assert main([*argv, "--profile", profile, *option]) == 0
    assert seen == [expected]


def test_bad_profile(tmp_path, monkeypatch, capsys):
    with pytest.raises(ValueError, match="smoke, default, full"):
        run_course(tmp_path, tmp_path / "r", profile="quick")
    monkeypatch.setenv("FMNIST_PROFILE", "quick")
    make_notebook(tmp_path / "01_one.ipynb")
    assert main(["run", "--notebooks", str(tmp_path), "--reports", str(tmp_path / "r")]) == 2
    assert "quick" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["run", "--profile", "quick"])


def test_save_metrics_round_trips_numpy(tmp_path, monkeypatch):
    metrics = {
        "acc": np.float32(0.875),
        "n": np.int64(7),
        "ok": np.bool_(True),
        "per_class": np.array([0.5, 0.25]),
        "matrix": np.arange(4).reshape(2, 2),
        "nested": {"loss": np.float64(1.5), "path": tmp_path / "x.png"},
        "nan": float("nan"),
    }
    out = save_metrics(metrics, tmp_path / "deep" / "m.json")
    assert out == tmp_path / "deep" / "m.json"
    text = out.read_text()
    loaded = json.loads(text)
    assert loaded == {
        "acc": 0.875,
        "n": 7,
        "ok": True,
        "per_class": [0.5, 0.25],
        "matrix": [[0, 1], [2, 3]],
        "nested": {"loss": 1.5, "path": str(tmp_path / "x.png")},
        "nan": None,
    }
    assert list(loaded) == sorted(loaded)  # sorted keys
    assert text.startswith('{\n  "')  # indent 2

    monkeypatch.setenv("FMNIST_METRICS_PATH", str(tmp_path / "env" / "e.json"))
    assert save_metrics({"a": 1}) == tmp_path / "env" / "e.json"
    monkeypatch.delenv("FMNIST_METRICS_PATH")
    monkeypatch.chdir(tmp_path)
    assert save_metrics({"a": 2}) == Path("metrics.json")
    assert json.loads((tmp_path / "metrics.json").read_text()) == {"a": 2}
    assert not math.isnan(loaded["acc"])


def test_save_metrics_rejects_unserialisable_value(tmp_path):
    with pytest.raises(TypeError, match=r"'model\.weights'.*object"):
        save_metrics({"model": {"weights": object()}}, tmp_path / "m.json")
    assert not (tmp_path / "m.json").exists()


# --------------------------------------------------------------------------------------------
# Header sync
# --------------------------------------------------------------------------------------------

REPO = "right-owner/right-name"


def header_notebook(path: Path, badge_repo: str, badge_file: str, install_repo: str) -> Path:
    badge = (
        f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
        f"(https://colab.research.google.com/github/{badge_repo}/blob/main/notebooks/"
        f"{badge_file})"
    )
    setup = nbformat.v4.new_code_cell(
        "import sys\n"
        'if "google.colab" in sys.modules:\n'
        f'    %pip install -q "fmnist-utils @ git+https://github.com/{install_repo}.git@main"\n'
    )
    output = nbformat.v4.new_output("stream", name="stdout", text="kept output\n")
    setup.outputs = [output]
    setup.execution_count = 3
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": KERNELSPEC, "custom": {"keep": 1}})
    nb.cells = [nbformat.v4.new_markdown_cell(f"# Title\n\n{badge}\n\nOverview."), setup]
    nbformat.write(nb, path)
    return path


def test_sync_headers_rewrites_and_check_reports(tmp_path, capsys):
    good = header_notebook(tmp_path / "01_good.ipynb", REPO, "01_good.ipynb", REPO)
    bad = header_notebook(tmp_path / "02_bad.ipynb", "old/place", "01_good.ipynb", "old/place")
    make_notebook(tmp_path / "03_nobadge.ipynb", nbformat.v4.new_markdown_cell("# No badge"))
    good_bytes = good.read_bytes()
    bad_bytes = bad.read_bytes()

    problems = sync_headers(tmp_path, REPO, check_only=True)
    assert bad.read_bytes() == bad_bytes  # check changes nothing
    assert any("02_bad" in p and "badge" in p for p in problems)
    assert any("02_bad" in p and "install" in p for p in problems)
    assert any("03_nobadge" in p and "no Colab badge" in p for p in problems)
    assert not any(p.startswith("01_good") for p in problems)
    assert main(["sync-headers", "--check", "--notebooks", str(tmp_path), "--repo", REPO]) == 1
    assert "02_bad" in capsys.readouterr().out

    remaining = sync_headers(tmp_path, REPO)
    assert remaining == [p for p in problems if "03_nobadge" in p]
    assert good.read_bytes() == good_bytes  # unchanged notebooks are not rewritten
    nb = nbformat.read(bad, as_version=4)
    expected = header_notebook(tmp_path / "expected.ipynb", REPO, "02_bad.ipynb", REPO)
    want = nbformat.read(expected, as_version=4)
    assert [c.source for c in nb.cells] == [c.source for c in want.cells]
    assert nb.cells[1].outputs[0]["text"] == "kept output\n"
    assert nb.cells[1].execution_count == 3
    assert nb.metadata["custom"] == {"keep": 1}
    expected.unlink()

    (tmp_path / "03_nobadge.ipynb").unlink()
    assert sync_headers(tmp_path, REPO, check_only=True) == []
    assert main(["sync-headers", "--check", "--notebooks", str(tmp_path), "--repo", REPO]) == 0


def test_sync_headers_install_url_variants(tmp_path):
    nb = header_notebook(tmp_path / "01_x.ipynb", REPO, "01_x.ipynb", REPO)
    node = nbformat.read(nb, as_version=4)
    node.cells[1].source = (
        "!pip install git+https://github.com/a/b\n"
        "!pip install git+https://github.com/a/b.git\n"
        "!pip install 'git+https://github.com/a/b.github@v1#egg=x'\n"
    )
    nbformat.write(node, nb)
    assert len(sync_headers(tmp_path, REPO, check_only=True)) == 3
    sync_headers(tmp_path, REPO)
    assert nbformat.read(nb, as_version=4).cells[1].source == (
        f"!pip install git+https://github.com/{REPO}\n"
        f"!pip install git+https://github.com/{REPO}.git\n"
        f"!pip install 'git+https://github.com/{REPO}@v1#egg=x'\n"
    )


def test_sync_headers_round_trip_is_byte_identical(tmp_path):
    path = header_notebook(tmp_path / "01_x.ipynb", REPO, "01_x.ipynb", REPO)
    path.write_bytes(path.read_bytes().rstrip(b"\n"))  # papermill writes no final newline
    original = path.read_bytes()
    assert sync_headers(tmp_path, "other/place") == []
    assert b"other/place" in path.read_bytes()
    assert sync_headers(tmp_path, REPO) == []
    assert path.read_bytes() == original


def test_machine_names_the_cpu_its_speed_flags_and_the_chosen_precision():
    from fmnist_utils import device

    info = course.machine()
    assert info["cpus"] >= 1 and info["cpu"]
    assert set(info["cpu_flags"]) <= set(course.SPEED_FLAGS)
    assert set(info["cpu_flags"]) <= device.cpu_flags() or not device.cpu_flags()
    assert info["precision_chosen"] == device.choose_precision()
    assert info["backend"] == device.backend() and info[info["backend"]]
    assert info["keras"].startswith("3")
    json.dumps(info)  # goes into results files as it is


def test_a_notebook_for_another_backend_is_skipped_with_its_reason(tmp_path, monkeypatch):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    lesson = failing_notebook(notebooks / "01_tf_lesson.ipynb")  # would fail if it ran
    nb = nbformat.read(lesson, as_version=4)
    nb.metadata["fmnist"] = {"backends": ["tensorflow"], "why": "tf.data is TensorFlow's"}
    nbformat.write(nb, lesson)
    assert course.backend_requirement(lesson) == (["tensorflow"], "tf.data is TensorFlow's")
    monkeypatch.setattr(course.device, "backend", lambda: "jax")
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        results = run_course(notebooks, tmp_path / "reports", profile="smoke", stream=sys.stdout)
    (result,) = results
    assert result.status == "skipped" and result.passed and result.seconds == 0
    assert "skipped on jax: needs the tensorflow backend: tf.data is TensorFlow's" in (
        stdout.getvalue()
    )
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text())
    assert (summary["backend"], summary["passed"], summary["skipped"], summary["failed"]) == (
        "jax", 0, 1, 0,
    )  # fmt: skip
    summary_md = (tmp_path / "reports" / "summary.md").read_text()
    assert "| 01_tf_lesson | skipped |" in summary_md and "## Skipped" in summary_md


# --------------------------------------------------------------------------------------------
# The report page and the progress bar
# --------------------------------------------------------------------------------------------


def test_index_page_is_written_with_the_summary(course_run):
    """run_course writes reports/index.html beside summary.json; `course run` names it."""
    index = (course_run["reports"] / "index.html").read_text(encoding="utf-8")
    assert 'href="01_fails.html"' in index and 'href="02_passes.html"' in index
    assert "ValueError: boom" in index and "answer" in index
    assert "index.html" in course_run["stdout"].splitlines()[-2]


def _fake_runs(monkeypatch, tmp_path, names=("01_one", "02_two")) -> Path:
    """Notebooks that run_course 'runs' instantly (run_notebook replaced): bar tests only."""
    notebooks = tmp_path / "nb"
    notebooks.mkdir()
    for name in names:
        make_notebook(notebooks / f"{name}.ipynb")

    def fake(path, reports_dir, profile="default", cell_timeout=None):
        return NotebookResult(Path(path).stem, Path(path), "passed", 0.25, {"x": 1})

    monkeypatch.setattr(course, "run_notebook", fake)
    return notebooks


LINES = [
    "[1/2] 01_one (profile smoke) ...",
    "      passed in 0.2 s (elapsed 0:00)",
    "[2/2] 02_two (profile smoke) ...",
    "      passed in 0.2 s (elapsed 0:00)",
]


def test_progress_bar_on_a_stream_keeps_the_lines_whole(tmp_path, monkeypatch):
    notebooks = _fake_runs(monkeypatch, tmp_path)
    stream = io.StringIO()
    run_course(notebooks, tmp_path / "r", "smoke", stream=stream, progress=True)
    out = stream.getvalue()
    assert "2/2 notebooks" in out and "100%" in out and "elapsed" in out and "left" in out
    assert "01_one" in out.split("[1/2]", 1)[1]  # the bar names the notebook being run
    # each line was written whole between the bar's redraws: after the bar's last \r
    lines = [segment.rsplit("\r", 1)[-1] for segment in out.split("\n")]
    assert [line for line in lines if line.startswith(("[", "      "))] == LINES


def test_progress_bar_only_on_a_terminal_and_never_in_the_lines(tmp_path, monkeypatch, capsys):
    notebooks = _fake_runs(monkeypatch, tmp_path)
    stream = io.StringIO()
    run_course(notebooks, tmp_path / "r", "smoke", stream=stream)  # progress=None: no terminal
    assert stream.getvalue().splitlines() == LINES
    assert capsys.readouterr() == ("", "")

    # stream=sys.stdout: the bar goes to stderr, standard output keeps the lines alone
    run_course(notebooks, tmp_path / "r", "smoke", stream=sys.stdout, progress=True)
    out, err = capsys.readouterr()
    assert out.splitlines() == LINES
    assert "2/2 notebooks" in err and "[1/2]" not in err

    run_course(notebooks, tmp_path / "r", "smoke", stream=None, progress=True)  # silent
    assert capsys.readouterr() == ("", "")
