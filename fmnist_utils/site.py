"""Build a static course site from the executed notebooks: ``python -m fmnist_utils course site``.

One command turns the committed notebooks (or the executed copies ``make course`` writes to
``reports/``) into a website: a Contents page made from the README's syllabus, then one page per
notebook, in course order, showing its code, printed results, figures and tables exactly as they
were stored. Nothing is executed: the pages are rendered from the outputs saved in the files.

The tool is MkDocs with the mkdocs-jupyter plugin (and the Material theme, which mkdocs-jupyter
requires anyway). Why this one:

* it is pure Python and installs with pip into the course's own environment; Jupyter Book 1 is
  Sphinx-based and in maintenance mode, and Jupyter Book 2 needs Node.js and the ``mystmd``
  toolchain, which nobody on a course laptop should have to install to read the lessons;
* mkdocs-jupyter renders already-executed notebooks with nbconvert (``execute: false``), so a
  build of the 14 notebooks takes under half a minute on 2 CPU cores and needs no kernel,
  data or model;
* the whole configuration is generated here in Python (no ``mkdocs.yml`` to keep in step) and
  the notebooks are copied to a scratch folder first, so nothing under ``notebooks/`` is ever
  written.

The catch: MkDocs 1.6 is the last release of MkDocs 1 (2024) and MkDocs 2 drops the plugin and
theme interfaces both plugins use, so the pins stay below 2; Material for MkDocs is in
maintenance mode (critical fixes until May 2027; its authors now build Zensical). mkdocs-jupyter
itself is maintained (0.27 needs Python 3.12). Everything tool-specific is in
:func:`mkdocs_config` and :func:`build_site`; the link rewriting (:func:`rewrite_link`) and the
Contents page (:func:`home_markdown`) would serve another generator as they are.

The site works offline: MkDocs, the theme and the notebook styles are local files, Google Fonts
are switched off (``font: false``), RequireJS is left out, and Material's ``offline`` plugin is
not used because it adds a script from a CDN. Figures are PNG data inside the pages and tables
are plain HTML, so both show without any network. Formulas (``$...$`` in notebooks 07, 09, 10
and 13) are typeset by MathJax 2.7 when the package ``jupyter-server-mathjax`` is installed:
its MathJax files are copied into the site (``assets/mathjax/``); without it the formulas stay
as written, in TeX, and no CDN is asked. Search works when the site is served over HTTP
(``python -m http.server``); opened straight from the file system every page and link works
but the search box does not.

Links are rewritten for the site while it is built, not in the notebooks: a link to another
course notebook (``03_preprocessing.ipynb``, as in the navigation cells) goes to that
notebook's page, ``../README.md#syllabus`` (the navigation cells' "Contents") to the Contents
page, and a link to any other file of the repository (``../benchmarks/README.md``,
``../README.md#data``, or a notebook left out of the build) to that file on GitHub,
``https://github.com/<fmnist_utils.REPO>/blob/main/<path>``.

Command line::

    python -m fmnist_utils course site                         # notebooks/ -> site/
    python -m fmnist_utils course site --notebooks reports     # the copies `make course` ran
    python -m http.server -d site                              # then open http://localhost:8000/

Example in Python::

    >>> from fmnist_utils.site import build_site
    >>> index = build_site("notebooks", "/tmp/course-site")  # doctest: +SKIP
    Building the course site from 14 notebooks in notebooks (...)
    [ 1/14] 01_data_and_pixels.ipynb
    ...
    Built /tmp/course-site/ in 18 s (27.3 MiB)
    >>> index.name  # doctest: +SKIP
    'index.html'
"""

from __future__ import annotations

import argparse
import html
import json
import posixpath
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote, unquote

#: The site's name, in every page's header and title.
SITE_NAME = "Fashion-MNIST course"
#: The Contents page: the README's syllabus and a short introduction.
HOME = "index.md"
#: The navigation label of the Contents page (the navigation cells call it "Contents").
HOME_TITLE = "Contents"
#: The README section the Contents page is made of (its heading id is the links' anchor).
SYLLABUS_HEADING = "## Syllabus"
#: A file written into every built site; only a folder holding it is ever replaced by a build.
MARKER = ".fmnist-course-site"
#: Where the course notebooks live in the repository: their relative links start from here,
#: also when the site is built from the executed copies in ``reports/``.
NOTEBOOKS_IN_REPO = "notebooks"
#: The MathJax configuration the pages load: the one jupyter-server-mathjax ships (the classic
#: Notebook's), HTML-CSS output with the STIX web fonts.
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"

_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_MD_LINK_RE = re.compile(r"(\]\()([^)\s]+)(\))")
_MATHJAX_FONTS = (
    '<script type="text/x-mathjax-config">MathJax.Hub.Config({"HTML-CSS": '
    '{availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null}});'
    "</script>\n"
)
_EMPTY_SCRIPT_RE = re.compile(r"<script src=\"\">\s*</script>")
_HREF_RE = re.compile(r"""(<a\b[^>]*?\bhref=)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)


# --------------------------------------------------------------------------------------------
# Titles, links and the Contents page
# --------------------------------------------------------------------------------------------


def notebook_title(path: str | Path) -> str:
    """The first ``# `` heading of a notebook (its first markdown cell), without the ``# ``.

    Raises:
        ValueError: the notebook's first markdown cell has no ``# `` heading.

    Example::

        >>> notebook_title("notebooks/03_preprocessing.ipynb")  # doctest: +SKIP
        'Preprocessing: from bytes to model inputs'
    """
    notebook = json.loads(Path(path).read_text(encoding="utf-8"))
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        for line in source.splitlines():
            if line.startswith("# "):
                return line[2:].strip()
        break
    raise ValueError(f"{path}: the first markdown cell has no '# ' title heading")


def nav_label(path: str | Path, title: str) -> str:
    """The navigation label of a notebook: its number and its title up to a colon.

    The same words as the notebooks' own navigation cells and the README's syllabus.

    Example::

        >>> nav_label("03_preprocessing.ipynb", "Preprocessing: from bytes to model inputs")
        '03 Preprocessing'
    """
    return f"{Path(path).name[:2]} {title.split(':')[0].strip()}"


def github_url(path: str, repo: str | None = None, fragment: str = "") -> str:
    """The page of a repository file on GitHub (main branch), with an optional ``#fragment``.

    Example::

        >>> github_url("benchmarks/README.md", "owner/name", "results")
        'https://github.com/owner/name/blob/main/benchmarks/README.md#results'
    """
    if repo is None:
        from fmnist_utils import REPO

        repo = REPO
    url = f"https://github.com/{repo}"
    if path not in ("", "."):
        url += f"/blob/main/{quote(path)}"
    return url + (f"#{fragment}" if fragment else "")


def rewrite_link(
    href: str,
    base: str,
    pages: Mapping[str, str],
    home: str,
    repo: str | None = None,
) -> str:
    """Where a relative link of the repository should point on the site.

    ``href`` is a link as written in a file that lives in the repository folder ``base``
    (``"notebooks"`` for a notebook, ``""`` for the README). ``pages`` maps the repository path
    of each notebook on the site (``"notebooks/03_preprocessing.ipynb"``) to its link on the
    site, and ``home`` is the link to the Contents page. Returned:

    * a notebook in ``pages``: its page (the ``#fragment`` kept);
    * ``README.md`` with no fragment or ``#syllabus``: ``home`` plus ``#syllabus``;
    * any other path inside the repository: the file on GitHub (:func:`github_url`);
    * a link with a scheme (``https:``, ``mailto:``, ``data:``), an absolute path, a bare
      ``#fragment`` or a path that leaves the repository: ``href`` unchanged.

    Example::

        >>> pages = {"notebooks/03_preprocessing.ipynb": "03_preprocessing.html"}
        >>> rewrite_link("03_preprocessing.ipynb#Setup", "notebooks", pages, "index.html")
        '03_preprocessing.html#Setup'
        >>> rewrite_link("../README.md#syllabus", "notebooks", pages, "index.html")
        'index.html#syllabus'
        >>> rewrite_link("../README.md#data", "notebooks", pages, "index.html", repo="o/n")
        'https://github.com/o/n/blob/main/README.md#data'
        >>> rewrite_link("https://keras.io", "notebooks", pages, "index.html")
        'https://keras.io'
    """
    href = href.strip()
    if not href or href.startswith(("#", "/")) or _SCHEME_RE.match(href):
        return href
    path, _, fragment = href.partition("#")
    path = unquote(path.split("?", 1)[0])
    target = posixpath.normpath(posixpath.join(base, path)) if path else base
    if target == ".." or target.startswith("../"):
        return href
    if target in pages:
        return pages[target] + (f"#{fragment}" if fragment else "")
    if target == "README.md" and fragment in ("", "syllabus"):
        return f"{home}#syllabus"
    return github_url(target, repo, fragment)


def rewrite_html_links(content: str, rewrite: Callable[[str], str]) -> str:
    """Apply ``rewrite`` to the ``href`` of every ``<a>`` element in an HTML fragment.

    Example::

        >>> rewrite_html_links('<a class="x" href="a.ipynb">A</a>', lambda h: h + "!")
        '<a class="x" href="a.ipynb!">A</a>'
    """

    def one(match: re.Match) -> str:
        start, quote_char, value = match.groups()
        new = rewrite(html.unescape(value))
        return f"{start}{quote_char}{html.escape(new, quote=True)}{quote_char}"

    return _HREF_RE.sub(one, content)


def readme_section(readme: str | Path, heading: str = SYLLABUS_HEADING) -> str:
    """The text of one ``## `` section of the README, its heading line included.

    Raises:
        ValueError: the README has no such heading (the message names the headings it has).
    """
    lines = Path(readme).read_text(encoding="utf-8").splitlines()
    headings = [i for i, line in enumerate(lines) if line.startswith("## ")]
    start = next((i for i in headings if lines[i].strip() == heading.strip()), None)
    if start is None:
        found = ", ".join(repr(lines[i]) for i in headings) or "none"
        raise ValueError(f"{readme}: no {heading!r} section (headings: {found})")
    end = next((i for i in headings if i > start), len(lines))
    return "\n".join(lines[start:end]).strip() + "\n"


def _readme_intro(readme: Path) -> str:
    """The README's first paragraph after its ``# `` title ('' when there is none)."""
    text = readme.read_text(encoding="utf-8")
    body = text.split("\n", 1)[1] if text.startswith("# ") else text
    for block in re.split(r"\n\s*\n", body):
        block = block.strip()
        if block and not block.startswith(("#", "!", "|", "```", "<")):
            return block
    return ""


def home_markdown(
    readme: str | Path | None,
    notebooks: Sequence[Path],
    repo: str | None = None,
) -> str:
    """The Markdown of the Contents page.

    A short introduction (the README's first paragraph and what the site is) and the README's
    syllabus section, its links pointing at the site's notebook pages (``NN_name.ipynb``, which
    MkDocs turns into the pages' addresses) or, for other files and notebooks not on the site, at
    GitHub. With ``readme=None`` the syllabus is a plain list of the notebooks' titles.
    """
    repo_url = github_url("", repo)
    pages = {f"{NOTEBOOKS_IN_REPO}/{p.name}": p.name for p in notebooks}

    def home_link(match: re.Match) -> str:
        href = match.group(2)
        if href.startswith("#") and href != "#syllabus":  # another part of the README
            href = github_url("README.md", repo, href[1:])
        else:
            href = rewrite_link(href, "", pages, "", repo)
        return match.group(1) + href + match.group(3)

    title, intro = SITE_NAME, ""
    if readme is not None:
        text = Path(readme).read_text(encoding="utf-8")
        if text.startswith("# "):
            title = text.splitlines()[0][2:].strip()
        intro = _MD_LINK_RE.sub(home_link, _readme_intro(Path(readme)))
    parts = [
        f"# {title}",
        intro,
        "This site shows every notebook of the course as it was last executed: the code, the "
        "printed results, the figures and the tables, rendered from the outputs stored in the "
        f"notebooks (nothing is re-run). The source and how to run it all yourself: "
        f"[{repo_url.removeprefix('https://')}]({repo_url}).",
    ]
    if readme is not None:
        parts.append(_MD_LINK_RE.sub(home_link, readme_section(readme)))
    else:
        items = [f"- [{nav_label(p, notebook_title(p))}]({p.name})" for p in notebooks]
        parts.append(SYLLABUS_HEADING + "\n\n" + "\n".join(items) + "\n")
    return "\n\n".join(part.strip() for part in parts if part.strip()) + "\n"


# --------------------------------------------------------------------------------------------
# MkDocs configuration and build
# --------------------------------------------------------------------------------------------


def _local_mathjax() -> Path | None:
    """The MathJax 2.7 folder of ``jupyter-server-mathjax`` if it is installed, else None."""
    try:
        import jupyter_server_mathjax
    except ImportError:
        return None
    folder = Path(jupyter_server_mathjax.__file__).parent / "static"
    return folder if (folder / "MathJax.js").is_file() else None


def _copy_mathjax(source: Path, target: Path) -> None:
    """Copy MathJax into the site, without the parts these pages never load (about 3 MB).

    Left out: the SVG output (the pages use HTML-CSS) and the accessibility extensions (the
    MathJax menu loads them on request; 3.7 MB).
    """
    shutil.copytree(
        source,
        target,
        ignore=lambda folder, names: [n for n in names if n in ("SVG", "a11y")],
        dirs_exist_ok=True,
    )


def mkdocs_config(
    notebooks: Sequence[Path],
    titles: Mapping[Path, str],
    mathjax_url: str = "",
) -> dict[str, Any]:
    """The MkDocs configuration of the site (what ``mkdocs.yml`` would hold), as a dict.

    ``docs`` and ``site`` are folders beside the configuration file; ``notebooks`` are the
    notebooks in course order (their copies sit in ``docs``) and ``titles`` their navigation
    labels. ``mathjax_url`` is the MathJax script nbconvert's pages load; ``""``: none.
    """
    return {
        "site_name": SITE_NAME,
        "site_description": "Image classification on Fashion-MNIST with Keras, in notebooks.",
        "docs_dir": "docs",
        "site_dir": "site",
        # Pages as NN_name.html beside index.html: links work when served and from the disk.
        "use_directory_urls": False,
        "theme": {
            "name": "material",
            "font": False,  # no Google Fonts: the system's fonts, and no request at view time
            "features": ["navigation.footer", "toc.follow", "search.highlight"],
        },
        "markdown_extensions": ["tables", "toc", "fenced_code"],
        "plugins": [
            "search",
            {
                "mkdocs-jupyter": {
                    "include": ["*.ipynb"],
                    "execute": False,  # render the stored outputs, never run a kernel
                    "ignore_h1_titles": True,  # keep the short titles of the nav below
                    "include_requirejs": False,  # from a CDN, and no output here needs it
                    "custom_mathjax_url": mathjax_url,
                    "theme": "light",
                    "toc_depth": 3,
                    "cache": False,  # its cache folder would land in the current directory
                }
            },
        ],
        "nav": [{HOME_TITLE: HOME}] + [{titles[p]: p.name} for p in notebooks],
    }


def _links_plugin(
    pages: Mapping[str, str],
    repo: str | None,
    progress: Callable[[str], None],
    mathjax: bool = False,
):
    """A MkDocs plugin object that reports progress and rewrites the notebook pages' links.

    With ``mathjax`` (MathJax is in the site) it also tells MathJax to use its STIX web fonts.
    """
    from mkdocs.plugins import BasePlugin

    names = [posixpath.basename(p) for p in pages]

    class CourseLinks(BasePlugin):
        """Prints which notebook is converted; points notebook links at the site's pages."""

        def on_pre_page(self, page, config, files):
            name = page.file.src_uri
            if name in names:
                progress(f"[{names.index(name) + 1:2d}/{len(names)}] {name}")
            return page

        def on_page_content(self, content, page, config, files):
            if page.file.src_uri not in names:
                return content  # the Contents page: MkDocs resolved its links already
            content = _EMPTY_SCRIPT_RE.sub("", content)  # MathJax's tag when there is none
            if mathjax:  # the only font jupyter-server-mathjax ships; MathJax asks for it first
                content = _MATHJAX_FONTS + content
            return rewrite_html_links(
                content,
                lambda href: rewrite_link(href, NOTEBOOKS_IN_REPO, pages, "index.html", repo),
            )

    return CourseLinks()


def _check_out_dir(out_dir: Path, notebooks_dir: Path) -> None:
    """Refuse to replace a folder that is not an earlier build of this site."""
    out, source = out_dir.resolve(), notebooks_dir.resolve()
    if out == source or out in source.parents or source in out.parents:
        raise ValueError(f"the site folder {out_dir} overlaps the notebooks folder {notebooks_dir}")
    if out_dir.is_file():
        raise ValueError(f"{out_dir} is a file, not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / MARKER).is_file():
        raise ValueError(
            f"{out_dir} is not empty and is not a course site built here (no {MARKER}); "
            "choose another --out or empty it"
        )


def build_site(
    notebooks_dir: str | Path = "notebooks",
    out_dir: str | Path = "site",
    readme: str | Path | None = "README.md",
    *,
    repo: str | None = None,
    stream: TextIO | None = None,
) -> Path:
    """Build the static course site and return the path of its ``index.html``.

    Every ``NN_*.ipynb`` in ``notebooks_dir`` (``notebooks`` or ``reports``) is copied to a
    scratch folder and rendered from its stored outputs by mkdocs-jupyter, never executed; the
    Contents page is made from ``readme``'s syllabus (:func:`home_markdown`; ``None``: a list
    of the notebooks). Links are rewritten as :func:`rewrite_link` says, GitHub links go to
    ``repo`` (default :data:`fmnist_utils.REPO`). The site replaces ``out_dir`` only when that
    folder is empty, missing or an earlier build (it holds :data:`MARKER`). Progress lines go
    to ``stream`` (default ``sys.stdout``).

    Raises:
        FileNotFoundError: ``notebooks_dir`` or ``readme`` does not exist.
        ValueError: no notebooks; ``out_dir`` overlaps ``notebooks_dir`` or holds other files;
            a notebook has no title or the README no syllabus.
        ImportError: MkDocs or mkdocs-jupyter is not installed (``pip install -e ".[dev]"``).

    Example::

        >>> build_site("reports", "/tmp/site")  # doctest: +SKIP
        PosixPath('/tmp/site/index.html')
    """
    from fmnist_utils.course import discover_notebooks

    stream = sys.stdout if stream is None else stream

    def progress(message: str) -> None:
        print(message, file=stream, flush=True)

    try:
        import mkdocs_jupyter  # noqa: F401
        from mkdocs.commands.build import build
        from mkdocs.config import load_config
    except ImportError as exc:
        raise ImportError(
            f"building the site needs MkDocs and mkdocs-jupyter ({exc}); "
            'install them with: pip install -e ".[dev]"'
        ) from exc

    notebooks_dir, out_dir = Path(notebooks_dir), Path(out_dir)
    notebooks = discover_notebooks(notebooks_dir)
    if not notebooks:
        raise ValueError(f"no NN_*.ipynb notebooks in {notebooks_dir}")
    if readme is not None and not Path(readme).is_file():
        raise FileNotFoundError(f"README not found: {readme}")
    _check_out_dir(out_dir, notebooks_dir)
    titles = {p: nav_label(p, notebook_title(p)) for p in notebooks}

    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fmnist-site-") as scratch:
        work = Path(scratch)
        docs = work / "docs"
        docs.mkdir()
        for path in notebooks:
            shutil.copy2(path, docs / path.name)
        (docs / HOME).write_text(home_markdown(readme, notebooks, repo), encoding="utf-8")
        mathjax_url = ""
        mathjax = _local_mathjax()
        if mathjax is not None:
            _copy_mathjax(mathjax, docs / "assets" / "mathjax")
            mathjax_url = f"assets/mathjax/MathJax.js?config={MATHJAX_CONFIG}"
        config_file = work / "mkdocs.yml"
        config_file.write_text(  # JSON is YAML
            json.dumps(mkdocs_config(notebooks, titles, mathjax_url), indent=2), encoding="utf-8"
        )
        config = load_config(str(config_file))
        pages = {f"{NOTEBOOKS_IN_REPO}/{p.name}": f"{p.stem}.html" for p in notebooks}
        config.plugins["fmnist-course-links"] = _links_plugin(
            pages, repo, progress, bool(mathjax_url)
        )
        progress(
            f"Building the course site from {len(notebooks)} notebooks in {notebooks_dir} "
            "(rendered from their stored outputs, nothing is executed)"
        )
        build(config)
        built = work / "site"
        (built / MARKER).write_text(
            "Built by python -m fmnist_utils course site; the next build replaces this folder.\n",
            encoding="utf-8",
        )
        if out_dir.exists():
            shutil.rmtree(out_dir)
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(built, out_dir)
    seconds = time.perf_counter() - start
    size = sum(f.stat().st_size for f in out_dir.rglob("*") if f.is_file())
    progress(f"Built {out_dir}/ in {seconds:.0f} s ({size / 2**20:.1f} MiB)")
    if mathjax is None:
        progress("(formulas are shown as TeX: install jupyter-server-mathjax to typeset them)")
    return out_dir / "index.html"


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the options of ``course site`` to ``parser`` and return it."""
    parser.add_argument(
        "--notebooks",
        default="notebooks",
        metavar="DIR",
        help="the executed notebooks: notebooks (committed) or reports (make course) "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--out", default="site", metavar="DIR", help="where the site goes (default: %(default)s)"
    )
    parser.add_argument(
        "--readme",
        default="README.md",
        metavar="FILE",
        help="the README whose Syllabus section is the Contents page (default: %(default)s)",
    )
    return parser


def run(args: argparse.Namespace) -> int:
    """Build the site as ``args`` (from :func:`add_arguments`) say; returns the exit status."""
    try:
        index = build_site(args.notebooks, args.out, args.readme)
    except (FileNotFoundError, ValueError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"The course site is in {index.parent}/ (open {index}).")
    print(f"View it: python -m http.server -d {index.parent}  then open http://localhost:8000/")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command line of ``python -m fmnist_utils course site``; returns the exit status.

    0 when the site was built, 2 on a problem with the arguments or the inputs.
    """
    parser = add_arguments(
        argparse.ArgumentParser(
            prog="python -m fmnist_utils course site",
            description="Build a static website of the course from the executed notebooks "
            "(rendered from their stored outputs, nothing is executed).",
        )
    )
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
