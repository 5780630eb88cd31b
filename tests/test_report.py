"""Tests of fmnist_utils.report: the HTML index of a course run (reports/index.html).

The page is read back with the standard library's html.parser: every link and image must
resolve, each notebook's status and time must show, nested metrics must become their own
tables, and every text must be escaped. One real run of notebook 01 (smoke profile, about
15 s) checks the page the runner writes; with Debian's chromium a browser opens it, checks that
a figure loaded and a metrics table shows, and saves reports/course_index.png.
"""

from __future__ import annotations

import io
import json
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import pytest
from browser_support import needs_browser
from PIL import Image

from fmnist_utils import report
from fmnist_utils.course import main, run_course

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT = ROOT / "reports" / "course_index.png"
BROWSER_WINDOW = "1280,1400"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


# --------------------------------------------------------------------------------------------
# Reading the page back
# --------------------------------------------------------------------------------------------


class Page(HTMLParser):
    """The parts of the page the tests look at: links, images, tables, text by element id."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.images: list[dict] = []
        self.ids: dict[str, str] = {}  # id -> the text inside that element
        self.tags: list[str] = []
        self.tables: list[dict] = []
        self._stack: list[tuple[str, str | None]] = []
        self._text: dict[str, list[str]] = {}
        self._tables: list[dict] = []
        self._cell: list[str] | None = None
        self._section: str | None = None
        self.feed(text)
        self.close()
        self.ids = {key: " ".join("".join(parts).split()) for key, parts in self._text.items()}

    def _gap(self) -> None:
        """Elements separate words: ``<dt>CPU</dt><dd>x</dd>`` reads ``CPU x``."""
        for _, element_id in self._stack:
            if element_id:
                self._text[element_id].append(" ")

    def handle_starttag(self, tag, attrs):
        self._gap()
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag == "img":
            self.images.append({**attrs, "section": self._section})
        if tag == "section":
            self._section = attrs.get("id")
        if tag == "table":
            self._tables.append(
                {
                    "caption": None,
                    "col_headers": [],
                    "row_headers": [],
                    "cells": [],
                    "class": attrs.get("class", ""),
                    "section": self._section,
                    "in": None,
                }
            )
        if tag in ("th", "td", "caption"):
            self._cell = []
            self._cell_kind = (tag, attrs.get("scope"))
        if tag in VOID:
            return
        self._stack.append((tag, attrs.get("id")))
        if attrs.get("id"):
            if attrs["id"] in self._text:
                raise AssertionError(f"two elements with id {attrs['id']!r}")
            self._text[attrs["id"]] = []

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        self._gap()
        if tag in ("th", "td", "caption") and self._cell is not None and self._tables:
            text = " ".join("".join(self._cell).split())
            table = self._tables[-1]
            kind, scope = self._cell_kind
            if kind == "caption":
                table["caption"] = text
            elif kind == "th" and scope == "col":
                table["col_headers"].append(text)
            elif kind == "th":
                table["row_headers"].append(text)
            else:
                table["cells"].append(text)
            self._cell = None
        if tag == "table" and self._tables:
            self.tables.append(self._tables.pop())
        if tag == "section":
            self._section = None
        while self._stack:
            open_tag, _ = self._stack.pop()
            if open_tag == tag:
                break

    def handle_data(self, data):
        for _, element_id in self._stack:
            if element_id:
                self._text[element_id].append(data)
        if self._cell is not None:
            self._cell.append(data)

    def table(self, caption: str, section: str | None = None) -> dict:
        found = [
            t
            for t in self.tables
            if t["caption"] == caption and (section is None or t["section"] == section)
        ]
        assert len(found) == 1, f"{len(found)} tables captioned {caption!r} in {section}"
        return found[0]


def check_links_resolve(page: Page, folder: Path) -> None:
    """Every href and src is an anchor of the page or a relative path to an existing file."""
    for url in page.links + [img["src"] for img in page.images]:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, f"not a relative link: {url}"
        if url.startswith("#"):
            assert url[1:] in page.ids, f"no element with id {url[1:]!r}"
            continue
        assert url == quote(unquote(url)), f"not URL-encoded: {url}"
        target = folder / unquote(parts.path)
        assert target.is_file(), f"{url} does not resolve to a file in {folder}"


# --------------------------------------------------------------------------------------------
# An index from a hand-made summary
# --------------------------------------------------------------------------------------------

NESTED = {  # the shapes of notebook 13's metrics, and deeper
    "ablation": {
        "full recipe": {
            "difference": 0.0,
            "high": None,
            "mean": 0.9123456,
            "verdict": "(baseline)",
        },
        "no TTA": {"difference": -0.0041, "high": 0.001, "mean": 0.9082, "verdict": "worse"},
    },
    "recipe": {"batch_size": 256, "ema": True, "model_kwargs": {}, "optimizer": "adamw"},
    "load": {"images=false": {"clients": {"per worker": 2, "total": 8}, "errors": 0}},
    "ablation_seeds": [42, 43, 44],
    "curve": [round(0.01 * i, 2) for i in range(100)],
    "confusion": [[5, 1], [2, 7]],
    "test_accuracy": 0.93871234,
    "parameters": 309418,
}


def tiny_png(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (40, 30), (200, 30, 30)).save(path)
    return path


def tiny_notebook(path: Path, title: str) -> Path:
    cells = [{"cell_type": "markdown", "metadata": {}, "source": [f"# {title}\n", "\n", "Text."]}]
    path.write_text(
        json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    )
    return path


@pytest.fixture
def hand_made(tmp_path):
    """A reports folder with a passed, a skipped, a failed and a nested-metrics notebook."""
    reports = tmp_path / "my reports"  # a space: links must be URL-quoted
    reports.mkdir()
    (reports / "01_passed.html").write_text("<html>01</html>")
    tiny_notebook(reports / "01_passed.ipynb", "Data & <pixels>")
    (reports / "03_failed.html").write_text("<html>03</html>")
    (reports / "03_failed.ipynb").write_text("{}")  # unreadable as a notebook: no title
    tiny_png(reports / "figures" / "01_sample figure.png")
    tiny_png(reports / "figures" / "10_not_of_01.png")
    tiny_png(reports / "figures" / "13_ablation.png")
    tiny_png(reports / "figures" / "02_stale.png")  # a skipped notebook shows no figures
    (reports / "figures" / "01_notes.txt").write_text("not a figure")
    summary = {
        "profile": "smoke",
        "backend": "tensorflow",
        "started_at": "2026-11-27T23:46:15+00:00",
        "seconds": 754.3,
        "complete": True,
        "passed": 2,
        "skipped": 1,
        "failed": 1,
        "environment": {
            "platform": "Linux-6.1-x86_64",
            "machine": "x86_64",
            "python": "3.11.7",
            "python_implementation": "CPython",
            "executable": "/venv/bin/python",
            "cpu": "Intel(R) Xeon(R) <Platinum>",
            "cpu_count": 2,
        },
        "notebooks": [
            {
                "name": "01_passed",
                "path": "/nowhere/01_passed.ipynb",
                "status": "passed",
                "seconds": 18.14,
                "error": None,
                "output": "01_passed.ipynb",
                "html": "01_passed.html",
                "metrics": {
                    "n_train": 60000,
                    "share": 0.17654321,
                    "agrees": True,
                    "missing": None,
                    "source": "Debian package",
                    "<script>alert(1)</script>": 1,
                },
            },
            {
                "name": "02_skipped",
                "path": "/nowhere/02_skipped.ipynb",
                "status": "skipped",
                "seconds": 0.0,
                "metrics": {},
                "output": None,
                "html": None,
                "error": {"message": "needs the tensorflow backend: tf.data is TensorFlow's"},
            },
            {
                "name": "03_failed",
                "path": "/nowhere/03_failed.ipynb",
                "status": "failed",
                "seconds": 125.04,
                "metrics": {},
                "output": "03_failed.ipynb",
                "html": "03_failed.html",
                "error": {
                    "cell_index": 4,
                    "execution_count": 3,
                    "ename": "ValueError",
                    "evalue": "boom <b>bold</b>",
                    "message": "cell 4 (execution count 3) raised ValueError: boom <b>bold</b>",
                },
            },
            {
                "name": "13_nested",
                "path": "/nowhere/13_nested.ipynb",
                "status": "passed",
                "seconds": 611.1,
                "error": None,
                "output": None,
                "html": "13_nested.html",  # listed, but the file is missing: no link
                "metrics": NESTED,
            },
        ],
    }
    path = report.write_index(reports, summary)
    text = path.read_text(encoding="utf-8")
    return {"reports": reports, "summary": summary, "path": path, "text": text, "page": Page(text)}


def test_index_is_written_beside_the_summary_and_every_link_resolves(hand_made):
    reports, page = hand_made["reports"], hand_made["page"]
    assert hand_made["path"] == reports / "index.html"
    assert [p.name for p in reports.iterdir() if p.name.startswith(".index-")] == []
    check_links_resolve(page, reports)
    assert "01_passed.html" in page.links and "03_failed.ipynb" in page.links
    assert "13_nested.html" not in page.links  # the file is missing
    sources = {img["src"]: img for img in page.images}
    assert set(sources) == {"figures/01_sample%20figure.png", "figures/13_ablation.png"}
    one = sources["figures/01_sample%20figure.png"]
    assert one["section"] == "nb-01_passed" and "01_sample figure" in one["alt"]
    assert "figures/01_sample%20figure.png" in page.links  # click: full size


def test_page_is_self_contained_and_escapes_every_text(hand_made):
    text, page = hand_made["text"], hand_made["page"]
    assert "script" not in page.tags and "link" not in page.tags and "iframe" not in page.tags
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<b>bold</b>" not in text and "boom &lt;b&gt;bold&lt;/b&gt;" in text
    assert "<pixels>" not in text and "Data &amp; &lt;pixels&gt;" in text  # the title
    assert "<Platinum>" not in text
    assert "http://" not in text and "https://" not in text and "url(" not in text
    assert "<style>" in text  # inline CSS


def test_header_names_the_run_and_the_machine(hand_made):
    ids, text = hand_made["page"].ids, hand_made["text"]
    assert "<title>Course run: profile smoke" in text
    assert (ids["count-passed"], ids["count-skipped"], ids["count-failed"]) == (
        "2 passed",
        "1 skipped",
        "1 failed",
    )
    assert "12:34" in text  # 754.3 s
    assert "2026-11-27 23:46 UTC" in text and "tensorflow" in text
    machine = ids["machine"]
    assert "CPU Intel(R) Xeon(R) <Platinum>" in machine and "CPU cores 2" in machine
    assert "Python 3.11.7" in machine and "CPython" in machine
    assert "incomplete" not in ids


def test_contents_row_per_notebook_with_status_and_time(hand_made):
    ids = hand_made["page"].ids
    rows = [key for key in ids if key.startswith("toc-")]
    assert rows == ["toc-nb-01_passed", "toc-nb-02_skipped", "toc-nb-03_failed", "toc-nb-13_nested"]
    assert "passed" in ids["toc-nb-01_passed"] and "18.1 s 0:18" in ids["toc-nb-01_passed"]
    assert "Data & <pixels>" in ids["toc-nb-01_passed"]
    skipped = ids["toc-nb-02_skipped"]
    assert "skipped" in skipped and "tf.data is TensorFlow's" in skipped and "0:00" in skipped
    failed = ids["toc-nb-03_failed"]
    assert "FAILED" in failed and "2:05" in failed
    assert "cell 4 (execution count 3) raised ValueError: boom <b>bold</b>" in failed
    assert "611.1 s 10:11" in ids["toc-nb-13_nested"]
    assert "no HTML" in ids["toc-nb-13_nested"]


def test_failed_and_skipped_sections_say_why(hand_made):
    text, ids = hand_made["text"], hand_made["page"].ids
    failed = ids["nb-03_failed"]
    assert "FAILED: cell 4 (execution count 3) raised ValueError: boom <b>bold</b>" in failed
    assert "ValueError: boom <b>bold</b>" in failed
    assert 'class="error" role="alert"' in text
    assert "Skipped: needs the tensorflow backend" in ids["nb-02_skipped"]
    assert "FAILED" not in ids["nb-01_passed"] and "Skipped" not in ids["nb-01_passed"]


def test_scalar_metrics_are_a_readable_name_value_table(hand_made):
    page = hand_made["page"]
    (table,) = [t for t in page.tables if t["section"] == "nb-01_passed"]
    assert table["col_headers"] == ["metric", "value"]
    values = dict(zip(table["row_headers"], table["cells"], strict=True))
    assert values == {
        "n_train": "60,000",
        "share": "0.1765",
        "agrees": "yes",
        "missing": "\u2014",
        "source": "Debian package",
        "<script>alert(1)</script>": "1",
    }


def test_nested_metrics_become_their_own_tables(hand_made):
    page = hand_made["page"]
    section = "nb-13_nested"
    ablation = page.table("ablation", section)  # a dict of dicts: rows x columns
    assert ablation["col_headers"] == ["", "difference", "high", "mean", "verdict"]
    assert ablation["row_headers"] == ["full recipe", "no TTA"]
    assert ablation["cells"] == [
        "0",
        "\u2014",
        "0.9123",
        "(baseline)",
        "-0.0041",
        "0.001",
        "0.9082",
        "worse",
    ]
    recipe = page.table("recipe", section)  # a dict of scalars: name/value
    assert recipe["row_headers"] == ["batch_size", "ema", "model_kwargs", "optimizer"]
    assert recipe["cells"] == ["256", "yes", "(empty)", "adamw"]
    # deeper nesting: load > images=false holds a dict and a scalar -> a group and sub-tables
    clients = page.table("clients", section)
    assert clients["row_headers"] == ["per worker", "total"] and clients["cells"] == ["2", "8"]
    assert 'data-path="load \u203a images=false \u203a clients"' in hand_made["text"]
    confusion = page.table("confusion", section)  # a small matrix: a grid with indexes
    assert confusion["col_headers"] == ["", "0", "1"] and confusion["cells"] == ["5", "1", "2", "7"]
    (top,) = [
        t
        for t in page.tables
        if t["section"] == section and t["col_headers"] == ["metric", "value"]
    ]
    values = dict(zip(top["row_headers"], top["cells"], strict=True))
    assert values["ablation_seeds"] == "[42, 43, 44]"
    assert values["curve"].startswith("[0, 0.01, 0.02, 0.03, 0.04, \u2026, 0.98, 0.99] (n=100")
    assert values["test_accuracy"] == "0.9387" and values["parameters"] == "309,418"
    assert "ablation" not in values and "recipe" not in values


def test_an_unfinished_run_says_so(tmp_path):
    summary = {
        "profile": "default",
        "complete": False,
        "notebooks": [{"name": "01_a", "status": "passed", "seconds": 3.0, "metrics": {"x": 1}}],
    }
    page = Page(report.write_index(tmp_path, summary).read_text())
    assert "had not finished" in page.ids["incomplete"]
    assert page.ids["count-passed"] == "1 passed"  # counted from the notebooks
    check_links_resolve(page, tmp_path)
    empty = Page(report.write_index(tmp_path, {"notebooks": []}).read_text())
    assert "No notebook has finished yet" in empty.ids["contents"]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (60000, "60,000"),
        (-1234567, "-1,234,567"),
        (0.17654321, "0.1765"),
        (0.0, "0"),
        (4.0, "4"),
        (1293.1, "1,293"),
        (2412137.6, "2,412,138"),
        (-10662.697, "-10,663"),
        (1.1920928955078125e-07, "1.192e-07"),
        (0.009999990463256836, "0.01"),
        (float("nan"), "nan"),
        (True, "yes"),
    ],
)
def test_format_number(value, text):
    assert report.format_number(value) == text


def test_dicts_of_dicts_without_shared_keys_are_tables_of_their_own():
    table = report.metric_tables({"a": {"x": {"p": 1}, "y": {"q": 2}}})
    (group,) = table.children
    assert group.columns == [] and [c.caption for c in group.children] == ["x", "y"]
    assert group.children[1].path == ("a", "y")


def test_index_from_summary_and_the_command_line(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="no summary.json"):
        report.index_from_summary(tmp_path)
    assert main(["index", "--reports", str(tmp_path)]) == 2
    assert "no summary.json" in capsys.readouterr().err
    summary = {
        "profile": "full",
        "notebooks": [{"name": "07_x", "status": "passed", "seconds": 1.0, "metrics": {"k": 2}}],
    }
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    assert main(["index", "--reports", str(tmp_path)]) == 0
    assert str(tmp_path / "index.html") in capsys.readouterr().out
    assert "profile full" in (tmp_path / "index.html").read_text()
    (tmp_path / "summary.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="JSON object"):
        report.index_from_summary(tmp_path)


# --------------------------------------------------------------------------------------------
# A real run of notebook 01 (smoke profile)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    reports = tmp_path_factory.mktemp("course-index")
    stream = io.StringIO()
    results = run_course(
        ROOT / "notebooks", reports_dir=reports, profile="smoke", only=["01"], stream=stream
    )
    return {"reports": reports, "results": results, "stream": stream.getvalue()}


def test_a_real_run_writes_an_index_with_the_notebook_and_its_figures(real_run):
    reports = real_run["reports"]
    (result,) = real_run["results"]
    assert result.status == "passed", result.message
    assert "\r" not in real_run["stream"]  # no progress bar in captured output
    lines = real_run["stream"].splitlines()
    assert lines[0] == "[1/1] 01_data_and_pixels (profile smoke) ..."
    assert lines[1].strip().startswith("passed in ")
    page = Page((reports / "index.html").read_text(encoding="utf-8"))
    check_links_resolve(page, reports)
    assert "01_data_and_pixels.html" in page.links
    figures = [img["src"] for img in page.images if img["section"] == "nb-01_data_and_pixels"]
    assert figures and all(src.startswith("figures/01_") for src in figures)
    assert "passed" in page.ids["toc-nb-01_data_and_pixels"]
    metrics = [t for t in page.tables if t["section"] == "nb-01_data_and_pixels"]
    assert metrics and "train_images" in metrics[0]["row_headers"]
    summary = json.loads((reports / "summary.json").read_text())
    assert set(summary) >= {"profile", "notebooks", "environment"}  # the digest is unchanged


# --------------------------------------------------------------------------------------------
# In a real browser (Debian's chromium, as tests/test_browser.py drives it)
# --------------------------------------------------------------------------------------------


@needs_browser
def test_the_index_in_a_browser_shows_figures_and_metrics(real_run, browser):
    from selenium.webdriver.common.by import By

    driver = browser
    driver.get((real_run["reports"] / "index.html").as_uri())
    assert driver.title.startswith("Course run: profile smoke")
    section = driver.find_element(By.ID, "nb-01_data_and_pixels")
    table = section.find_element(By.CSS_SELECTOR, "table.metrics-table")
    assert table.is_displayed() and "train_images" in table.text
    images = section.find_elements(By.CSS_SELECTOR, ".figures img")
    assert images
    driver.execute_script("arguments[0].scrollIntoView()", images[0])
    deadline = time.monotonic() + 30
    sizes = []
    while time.monotonic() < deadline:
        sizes = driver.execute_script(
            "return arguments[0].map(img => [img.complete, img.naturalWidth]);", images
        )
        if all(done for done, _ in sizes):
            break
        time.sleep(0.1)
    assert sizes and all(done and width > 0 for done, width in sizes), sizes
    link = section.find_element(By.CSS_SELECTOR, ".figures a")
    assert link.get_attribute("href") == images[0].get_attribute("src")  # full size
    # offline: every resource came from the reports folder
    schemes = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => new URL(e.name).protocol);"
    )
    assert set(schemes) <= {"file:"}
    driver.execute_script("window.scrollTo(0, 0)")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    assert driver.save_screenshot(str(SCREENSHOT))
    assert Image.open(SCREENSHOT).size[0] >= 1000

