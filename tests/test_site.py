"""The static course site (fmnist_utils.site): built from copies of two committed notebooks,
every internal link resolves, and a real browser (Debian's headless chromium driven by Selenium)
goes from the Contents page to a notebook, sees a figure and a table there and follows the
notebook's own "next →" link. A screenshot of the last page is saved to reports/course_site.png.

The notebooks carry navigation cells (tag ``navigation``: after the title and at the end); a
copy that has none gets them here, written the same way, so the test works before and after the
script that inserts them has run.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import re
import shutil
import threading
import time
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from browser_support import needs_browser

from fmnist_utils import REPO, site

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT = ROOT / "reports" / "course_site.png"
BROWSER_WINDOW = "1300,1000"
#: Two neighbours: 03's "previous" (02) and 04's "next" (05) are not on this site, so they
#: must become GitHub links; 03's "next" is 04's page.
NAMES = ("03_preprocessing", "04_how_cnns_see")


# --------------------------------------------------------------------------------------------
# The site, built once for the module
# --------------------------------------------------------------------------------------------


def _label(name: str) -> str:
    return site.nav_label(name, site.notebook_title(ROOT / "notebooks" / f"{name}.ipynb"))


def _ensure_navigation(path: Path) -> None:
    """Give a notebook copy its two navigation cells when it has none (as the script does)."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    cells = notebook["cells"]
    if any("navigation" in c.get("metadata", {}).get("tags", []) for c in cells):
        return
    course = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    i = course.index(path.stem)
    parts = [f"[← {_label(course[i - 1])}]({course[i - 1]}.ipynb)"] if i > 0 else []
    parts.append("[Contents](../README.md#syllabus)")
    if i + 1 < len(course):
        parts.append(f"[{_label(course[i + 1])} →]({course[i + 1]}.ipynb)")
    line = " · ".join(parts)
    for position, cell_id in ((1, "navigation-top"), (len(cells) + 1, "navigation-bottom")):
        cell = {"cell_type": "markdown", "id": cell_id, "metadata": {"tags": ["navigation"]}}
        cells.insert(position, {**cell, "source": line})
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    """The site built from copies of NAMES, with the build's output and timing."""
    base = tmp_path_factory.mktemp("course-site")
    notebooks = base / "notebooks"
    notebooks.mkdir()
    for name in NAMES:
        shutil.copy2(ROOT / "notebooks" / f"{name}.ipynb", notebooks)
        _ensure_navigation(notebooks / f"{name}.ipynb")
    before = _digest(notebooks)
    log = io.StringIO()
    start = time.perf_counter()
    index = site.build_site(notebooks, base / "site", ROOT / "README.md", stream=log)
    return {
        "index": index,
        "site": base / "site",
        "notebooks": notebooks,
        "before": before,
        "log": log.getvalue(),
        "seconds": time.perf_counter() - start,
    }


# --------------------------------------------------------------------------------------------
# Links and pages, without a browser
# --------------------------------------------------------------------------------------------


def test_rewrite_link_points_notebooks_at_pages_and_other_files_at_github():
    pages = {"notebooks/04_how_cnns_see.ipynb": "04_how_cnns_see.html"}
    github = f"https://github.com/{REPO}/blob/main/"

    def rewrite(href, base="notebooks"):
        return site.rewrite_link(href, base, pages, "index.html")

    assert rewrite("04_how_cnns_see.ipynb") == "04_how_cnns_see.html"
    assert rewrite("04_how_cnns_see.ipynb#Setup") == "04_how_cnns_see.html#Setup"
    assert rewrite("./04_how_cnns_see.ipynb") == "04_how_cnns_see.html"
    assert rewrite("notebooks/04_how_cnns_see.ipynb", base="") == "04_how_cnns_see.html"
    assert rewrite("../README.md#syllabus") == rewrite("../README.md") == "index.html#syllabus"
    assert rewrite("../README.md#data") == github + "README.md#data"
    assert (
        rewrite("05_classic_ml_baselines.ipynb")
        == github + "notebooks/05_classic_ml_baselines.ipynb"
    )
    assert rewrite("../benchmarks/results/a%20b.json") == github + "benchmarks/results/a%20b.json"
    for unchanged in ("https://keras.io/", "#setup", "mailto:a@b.c", "/abs", "../../outside.md"):
        assert rewrite(unchanged) == unchanged
    html = '<p><a href="../README.md#data" title="x">data</a> <a href=\'04_how_cnns_see.ipynb\'>'
    assert site.rewrite_html_links(html, rewrite) == (
        f'<p><a href="{github}README.md#data" title="x">data</a> <a href=\'04_how_cnns_see.html\'>'
    )


def test_the_site_has_a_contents_page_and_one_page_per_notebook(built):
    folder = built["site"]
    assert built["index"] == folder / "index.html" and built["index"].is_file()
    assert (folder / site.MARKER).is_file()
    for name in NAMES:
        assert (folder / f"{name}.html").is_file()
        assert f"] {name}.ipynb" in built["log"]  # progress: which notebook is converted
    home = built["index"].read_text(encoding="utf-8")
    assert 'id="syllabus"' in home
    # the syllabus table, its links pointing at the pages on the site or at GitHub
    syllabus = home[home.index('id="syllabus"') :]
    assert re.search(r'<td><a href="03_preprocessing.html">[^<]+</a></td>', syllabus)
    assert f'href="https://github.com/{REPO}/blob/main/notebooks/01_data_and_pixels.ipynb"' in home
    # the navigation: Contents, then the notebooks in course order with their short titles
    nav = re.findall(
        r'<a href="([^"#]+)" class="md-nav__link[^>]*>\s*<span[^>]*>\s*([^<]+?)\s*<', home
    )
    assert nav[:3] == [("index.html", "Contents")] + [(f"{n}.html", _label(n)) for n in NAMES]
    page = (folder / "03_preprocessing.html").read_text(encoding="utf-8")
    assert "<title>03 Preprocessing - Fashion-MNIST course</title>" in page
    assert 'src="data:image/png;base64,' in page and "<table" in page  # stored outputs
    # the navigation cells: previous notebook (not on this site) on GitHub, next one here
    assert (
        f'href="https://github.com/{REPO}/blob/main/notebooks/02_exploratory_analysis.ipynb"'
        in page
    )
    assert '<a href="04_how_cnns_see.html">04 How CNNs see →</a>' in page
    assert page.count('href="index.html#syllabus"') == 2
    assert _digest(built["notebooks"]) == built["before"]  # the notebooks were only read


class _Links(HTMLParser):
    """Collects the links (``(tag, href or src)``) and the element ids of one HTML page."""

    def __init__(self):
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        for key in ("href", "src"):
            if attrs.get(key) is not None and tag in ("a", "link", "script", "img", "iframe"):
                self.links.append((tag, attrs[key]))


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def test_every_internal_link_resolves_to_a_generated_file(built):
    folder = built["site"]
    pages = sorted(folder.rglob("*.html"))
    assert {p.name for p in pages} >= {"index.html", "404.html"} | {f"{n}.html" for n in NAMES}
    parsed = {page: _parse(page) for page in pages}
    checked, problems = 0, []
    for page, parser in parsed.items():
        for _, link in parser.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or not (parts.path or parts.fragment):
                continue  # https:, data:, mailto:, or empty
            if not parts.path:
                target = page  # #fragment: this page
            elif parts.path.startswith("/"):
                target = folder / unquote(parts.path).lstrip("/")  # 404.html: from the root
            else:
                target = (page.parent / unquote(parts.path)).resolve()
            if parts.path and target.is_dir():
                target = target / "index.html"
            checked += 1
            if not target.is_file():
                problems.append(f"{page.name}: {link} -> missing {target}")
            elif (
                parts.fragment and target.suffix == ".html" and not parts.fragment.startswith("__")
            ):
                ids = parsed[target].ids if target in parsed else _parse(target).ids
                if parts.fragment not in ids:
                    problems.append(f"{page.name}: {link} -> no id {parts.fragment!r}")
    assert checked > 100
    assert not problems, "\n".join(problems)


def test_no_page_loads_a_script_or_style_from_another_site(built):
    for page in built["site"].glob("*.html"):
        for tag, link in _parse(page).links:
            if tag in ("script", "link"):
                assert not urlsplit(link).netloc, f"{page.name}: <{tag}> {link}"
        html = page.read_text(encoding="utf-8")
        assert "require.min.js" not in html and "fonts.googleapis.com" not in html


def test_build_refuses_to_replace_a_folder_that_is_not_a_site(built, tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.txt").write_text("not a site")
    with pytest.raises(ValueError, match="not a course site"):
        site.build_site(built["notebooks"], precious, None, stream=io.StringIO())
    with pytest.raises(ValueError, match="overlaps"):
        site.build_site(built["notebooks"], built["notebooks"] / "site", None)
    assert site.main(["--notebooks", str(tmp_path / "missing"), "--out", str(tmp_path / "s")]) == 2


# --------------------------------------------------------------------------------------------
# In a real browser
# --------------------------------------------------------------------------------------------


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the stdlib's name
        pass


@pytest.fixture(scope="module")
def site_url(built):
    """The built site served by the standard library on a free loopback port."""
    handler = functools.partial(_QuietHandler, directory=str(built["site"]))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def _wait_for(driver, condition: str, timeout: float = 30):
    """Poll a JavaScript expression until it is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(f"return {condition}")
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"still false after {timeout} s: {condition}")


def _click(driver, element) -> None:
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


@needs_browser
def test_browser_goes_from_contents_to_a_notebook_and_on_to_the_next(browser, site_url):
    from selenium.webdriver.common.by import By

    browser.get(site_url + "/")
    assert browser.title == site.SITE_NAME
    # the syllabus table on the Contents page links to the notebook's page
    link = browser.find_element(By.CSS_SELECTOR, "article table a[href='03_preprocessing.html']")
    _click(browser, link)
    _wait_for(browser, "document.readyState === 'complete' && document.title")
    assert browser.current_url == site_url + "/03_preprocessing.html"
    assert browser.title == "03 Preprocessing - Fashion-MNIST course"

    # a figure from the stored outputs: a PNG the browser decoded
    figures = browser.execute_script(
        "return [...document.querySelectorAll('article .jp-OutputArea-output img')]"
        ".map(img => [img.complete, img.naturalWidth, img.naturalHeight]);"
    )
    assert figures and all(done and width > 0 and height > 0 for done, width, height in figures)
    # a table from the stored outputs, visible on the page
    tables = browser.find_elements(By.CSS_SELECTOR, "article .jp-OutputArea-output table")
    assert tables and tables[0].is_displayed() and tables[0].size["height"] > 0
    # offline: every script, style sheet and request came from this server (the one image
    # from elsewhere is the Colab badge, whose alt text shows without the network)
    origins = browser.execute_script(
        "return performance.getEntriesByType('resource')"
        ".filter(e => e.initiatorType !== 'img').map(e => new URL(e.name).origin);"
    )
    assert set(origins) <= {site_url}

    # the notebook's own navigation cell: "04 How CNNs see →"
    following = browser.find_element(By.XPATH, "//article//a[contains(text(), '→')]")
    assert following.text == f"{_label('04_how_cnns_see')} →"
    _click(browser, following)
    _wait_for(browser, "document.readyState === 'complete' && document.title")
    assert browser.current_url == site_url + "/04_how_cnns_see.html"
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith("How CNNs see")

    # the screenshot shows this page at its first figure
    figure = browser.find_element(By.CSS_SELECTOR, "article .jp-OutputArea-output img")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", figure)
    _wait_for(browser, "(img => img.complete && img.naturalWidth > 0)(document.querySelector("
              "'article .jp-OutputArea-output img'))")  # fmt: skip
    time.sleep(0.5)  # let the header's title transition (site name -> page title) finish
    SCREENSHOT.parent.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 10_000
