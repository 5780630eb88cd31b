"""Checks that a committed notebook's prose says only what its outputs show.

Two checks keep the course honest when a re-run changes the numbers:

* :func:`unbacked_numbers`: every decimal number, percentage and large integer in a notebook's
  markdown must appear in one of that notebook's outputs (an output with more digits that
  rounds to it counts, and 91.9% is backed by 0.919). Code spans, formulas, links and the
  constants in :data:`ALLOWED` are not claims about the run and are skipped.
* :func:`missing_verdicts`: every code cell that calls ``compare(...)`` or
  ``compare_table(...)`` (``fmnist_utils.evaluate``) must have been executed and show a
  verdict in its stored output, so the sentence that compares two things is the one the run
  printed.

``make test`` runs both on every notebook (tests/test_notebook_checks.py); authors run them with
``python -m fmnist_utils check notebooks/06_mlp_vs_cnn.ipynb``.

Example:
    >>> nb = {"cells": [
    ...     {"cell_type": "markdown", "source": "It scores 91.9% and took 1,155 s."},
    ...     {"cell_type": "code", "source": "acc", "execution_count": 1,
    ...      "outputs": [{"output_type": "stream", "text": "accuracy 0.9189\\n"}]}]}
    >>> unbacked_numbers(nb)
    [(0, '1,155')]
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from fmnist_utils.evaluate import VERDICTS

#: Numbers that prose may state without an output showing them: facts of the data set and of
#: the tools, not results of a run. Keys are notebook numbers ("01") or "*" for every notebook.
ALLOWED: dict[str, frozenset[str]] = {
    # 60,000 + 10,000 images, 28 x 28 = 784 pixels: the data set's definition.
    "*": frozenset({"70,000", "60,000", "10,000", "784"}),
    # Ports and addresses of the serving notebook: configuration, not measurements.
    "14": frozenset({"8000", "8080", "8501", "8500", "127.0.0.1"}),
}

#: A call of the verdict helper in a code cell.
VERDICT_CALL = re.compile(r"\bcompare(?:_table)?\(")

# Numbers in prose: 1,155 | 0.9189 | 60000 | 95.5% | 25%
_NUMBER = re.compile(
    r"(?<![\w.,])(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+\.\d+|\d+)(\s?%)?(?![\w]|\.\d)"
)
# Numbers in outputs: grouped or not, any decimals.
_OUTPUT_NUMBER = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?:\.\d+)?|(?<![\w.])\d+(?:\.\d+)?")
# What in markdown is not a claim: code, formulas, link targets, HTML tags, arXiv ids.
_NOT_PROSE = [
    re.compile(r"```.*?```", re.S),
    re.compile(r"`[^`]*`"),
    re.compile(r"\$\$.*?\$\$", re.S),
    re.compile(r"\$[^$]*\$"),
    re.compile(r"\]\([^)]*\)"),
    re.compile(r"https?://\S+"),
    re.compile(r"<[^>]+>"),
    re.compile(r"arXiv:\S+", re.I),
    # a confidence level is a choice, not a result: "95% CI", "95% bootstrap interval"
    re.compile(r"\b\d{2}(?:\.\d+)?\s?%(?=\s+(?:CI|confidence|bootstrap|interval)\b)", re.I),
]
_HTML_NOISE = [re.compile(r"<style.*?</style>", re.S | re.I), re.compile(r"<[^>]+>")]


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _load(notebook: dict | str | Path) -> dict:
    if isinstance(notebook, dict):
        return notebook
    return json.loads(Path(notebook).read_text(encoding="utf-8"))


def output_text(cell: dict) -> str:
    """Everything a code cell's stored outputs show as text (HTML tables without their tags)."""
    parts = []
    for output in cell.get("outputs", []):
        text = output.get("text", "")
        parts.append("".join(text) if isinstance(text, list) else text)
        data = output.get("data", {})
        for kind in ("text/plain", "text/markdown"):
            value = data.get(kind, "")
            parts.append("".join(value) if isinstance(value, list) else value)
        html = data.get("text/html", "")
        html = "".join(html) if isinstance(html, list) else html
        for pattern in _HTML_NOISE:
            html = pattern.sub(" ", html)
        parts.append(html)
        if output.get("output_type") == "error":
            parts.append(f"{output.get('ename', '')}: {output.get('evalue', '')}")
    return "\n".join(parts)


def prose_numbers(markdown: str) -> list[str]:
    """The numbers a markdown text states: decimals, percentages and integers of 1,000 or more.

    Integers below 1,000 (ten classes, 28x28, 3 epochs) and years are left out; so are code
    spans, formulas, links and HTML tags.

    Example:
        >>> prose_numbers("Test accuracy 0.9189 (91.9%), 1,155 s, 3 epochs, `lr=0.001`, 2017.")
        ['0.9189', '91.9%', '1,155']
    """
    for pattern in _NOT_PROSE:
        markdown = pattern.sub(" ", markdown)
    found = []
    for digits, percent in _NUMBER.findall(markdown):
        value = float(digits.replace(",", ""))
        is_integer = "." not in digits
        if not percent and is_integer and (value < 1000 or 1900 <= value <= 2100):
            continue
        found.append(digits + ("%" if percent else ""))
    return found


def _candidates(token: str) -> list[tuple[float, int]]:
    """(value, decimals) pairs an output may show for ``token``: 91.9% is 91.9 or 0.919."""
    percent = token.endswith("%")
    digits = token.rstrip("%").strip().replace(",", "")
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    value = float(digits)
    if percent:
        return [(value, decimals), (value / 100, decimals + 2)]
    if value < 1 and decimals >= 2:
        return [(value, decimals), (value * 100, decimals - 2)]
    return [(value, decimals)]


def _output_numbers(text: str) -> list[float]:
    return [float(m.replace(",", "")) for m in _OUTPUT_NUMBER.findall(text)]


def _backed(token: str, numbers: Sequence[float]) -> bool:
    for value, decimals in _candidates(token):
        tolerance = 0.5 * 10.0**-decimals + 1e-9
        if any(abs(n - value) <= tolerance for n in numbers):
            return True
    return False


def _notebook_key(path: str | Path | None) -> str | None:
    if path is None:
        return None
    match = re.match(r"(\d{2})_", Path(path).name)
    return match.group(1) if match else None


def unbacked_numbers(
    notebook: dict | str | Path, allowed: Iterable[str] = ()
) -> list[tuple[int, str]]:
    """``(cell index, number)`` for every number in the markdown that no output shows.

    ``notebook`` is a path or a loaded notebook (nbformat JSON as a dict). Numbers in
    :data:`ALLOWED` (for every notebook, and for this notebook's number when a path is given)
    and in ``allowed`` are skipped. An output backs a number when it shows the same value
    rounded to the prose's digits, in any cell of the notebook (a sentence may discuss a table
    printed above it).
    """
    nb = _load(notebook)
    key = _notebook_key(notebook if not isinstance(notebook, dict) else None)
    skip = set(ALLOWED.get("*", ())) | set(ALLOWED.get(key or "", ())) | set(allowed)
    numbers = _output_numbers(notebook_output_text(nb))
    problems = []
    for index, cell in enumerate(nb["cells"]):
        if cell.get("cell_type") != "markdown":
            continue
        for token in prose_numbers(_source(cell)):
            if token not in skip and not _backed(token, numbers):
                problems.append((index, token))
    return problems


def unbacked_in_text(
    markdown: str, sources: Iterable[str], allowed: Iterable[str] = ()
) -> list[str]:
    """The numbers a markdown text (a README) states that none of ``sources`` shows.

    ``sources`` are texts that may back them: executed notebooks' outputs
    (:func:`notebook_output_text`) and committed benchmark results (JSON files' text).
    Fenced code blocks, code spans and links are skipped, as in notebooks.

    Example:
        >>> unbacked_in_text("Test accuracy 0.9163, 95% CI [0.9105, 0.9216].", ["0.91633"])
        ['0.9105', '0.9216']
    """
    numbers = _output_numbers("\n".join(sources))
    skip = set(ALLOWED.get("*", ())) | set(allowed)
    return [
        token
        for token in prose_numbers(markdown)
        if token not in skip and not _backed(token, numbers)
    ]


def notebook_output_text(notebook: dict | str | Path) -> str:
    """Every stored output of a notebook's code cells, as text (see :func:`output_text`)."""
    nb = _load(notebook)
    return "\n".join(output_text(c) for c in nb["cells"] if c.get("cell_type") == "code")


def missing_verdicts(notebook: dict | str | Path) -> list[tuple[int, str]]:
    """``(cell index, what is wrong)`` for every verdict-helper call whose output is not stored.

    A code cell that calls ``compare(...)`` or ``compare_table(...)`` must have been executed,
    hold no error, and show at least one verdict of :data:`fmnist_utils.evaluate.VERDICTS`
    per call in its stored outputs.
    """
    nb = _load(notebook)
    problems = []
    for index, cell in enumerate(nb["cells"]):
        if cell.get("cell_type") != "code":
            continue
        code = "\n".join(
            line for line in _source(cell).splitlines() if not line.lstrip().startswith("#")
        )
        calls = len(VERDICT_CALL.findall(code))
        if not calls:
            continue
        if cell.get("execution_count") is None:
            problems.append((index, "calls the verdict helper but was never executed"))
            continue
        text = output_text(cell)
        if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            problems.append((index, "calls the verdict helper and stored an error"))
            continue
        shown = sum(text.count(verdict) for verdict in VERDICTS)
        if shown < calls:
            problems.append(
                (index, f"calls the verdict helper {calls} time(s) but shows {shown} verdict(s)")
            )
    return problems


def check_notebook(path: str | Path) -> list[str]:
    """Every problem of one notebook, as lines ``path [cell]: problem``."""
    nb = _load(path)
    lines = [
        f"{path} [{index}]: {number} is in the prose but in no output"
        for index, number in unbacked_numbers(path)
    ]
    lines += [f"{path} [{index}]: {problem}" for index, problem in missing_verdicts(nb)]
    return lines


def main(argv: list[str] | None = None) -> int:
    """``python -m fmnist_utils check [NOTEBOOK ...]``: print problems, exit 1 if any.

    With no arguments, checks ``notebooks/[0-9][0-9]_*.ipynb``.
    """
    paths = [Path(p) for p in (sys.argv[1:] if argv is None else argv)]
    if not paths:
        paths = sorted(Path("notebooks").glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        print("error: no notebooks given and none in notebooks/", file=sys.stderr)
        return 2
    problems = [line for path in paths for line in check_notebook(path)]
    for line in problems:
        print(line)
    print(f"{len(paths)} notebook(s) checked, {len(problems)} problem(s).")
    return 1 if problems else 0
