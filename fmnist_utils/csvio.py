"""The Kaggle CSV format of Fashion-MNIST: one row per image, ``label,pixel1,...,pixel784``.

:func:`save_csv` writes it and :func:`load_csv` reads it back, checking every line and value
(a wrong header, a blank line, a short row, a value that is not an integer from 0 to 255, a
label that is not a class) and naming the row at fault.

Example:
    >>> images, labels = load_csv("fashion-mnist_test.csv")  # doctest: +SKIP
    >>> images.shape, images.dtype  # doctest: +SKIP
    ((10000, 28, 28), dtype('uint8'))
"""

from __future__ import annotations

import csv
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from fmnist_utils.data import CLASS_NAMES, IMAGE_SIZE, NUM_PIXELS, DataError

CSV_HEADER: tuple[str, ...] = ("label", *(f"pixel{i}" for i in range(1, NUM_PIXELS + 1)))


class CSVFormatError(DataError, ValueError):
    """A CSV file does not follow the Kaggle Fashion-MNIST format."""


# --------------------------------------------------------------------------------------------
# Kaggle CSV format
# --------------------------------------------------------------------------------------------
def save_csv(
    path: str | os.PathLike, images: np.ndarray, labels: np.ndarray | Iterable[int]
) -> Path:
    """Write images and labels in the Kaggle format: header ``label,pixel1,...,pixel784``.

    The file is written to a temporary name and renamed when complete, so a failure never
    leaves half a file behind (or destroys an existing one).

    Example:
        >>> (x, y), _ = load_fashion_mnist()  # doctest: +SKIP
        >>> save_csv("train.csv", x[:100], y[:100])  # doctest: +SKIP
    """
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.ndim == 3:
        images = images.reshape(len(images), -1)
    if images.ndim != 2 or images.shape[1] != NUM_PIXELS:
        raise ValueError(f"images must have shape (n, 28, 28) or (n, 784); got {images.shape}.")
    if labels.shape != (len(images),):
        raise ValueError(f"need one label per image: {len(images)} images, labels {labels.shape}.")
    if images.size and (images.min() < 0 or images.max() > 255 or not _is_integral(images)):
        raise ValueError("pixel values must be integers from 0 to 255 (use the uint8 images).")
    if labels.size and (labels.min() < 0 or labels.max() > 9 or not _is_integral(labels)):
        raise ValueError("labels must be integers from 0 to 9.")
    table = np.column_stack([labels.astype(np.int64), images.astype(np.int64)])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="") as fh:
            np.savetxt(fh, table, fmt="%d", delimiter=",", header=",".join(CSV_HEADER), comments="")
        os.replace(tmp_name, path)
    finally:
        Path(tmp_name).unlink(missing_ok=True)
    return path


def _is_integral(a: np.ndarray) -> bool:
    return np.issubdtype(a.dtype, np.integer) or bool(np.all(np.mod(a, 1) == 0))


#: A CSV value that is an integer: digits with an optional sign (and spaces around, which
#: pandas' integer parser accepts too). "7.0" and "1e2" are not integers.
_INT_TEXT = re.compile(r"\s*[+-]?\d+\s*")


def _csv_line_problem(path: Path) -> str | None:
    """Say which line after the header is blank or has the wrong number of values, if any.

    Counts the commas of every line in the raw bytes (vectorised, so a 60,000-row file takes a
    fraction of a second), because pandas hides both problems: it skips blank lines, and when
    every row has one value too many it takes the first column as the index.
    """
    buf = np.fromfile(path, dtype=np.uint8)
    ends = np.flatnonzero(buf == ord("\n"))
    if len(ends) == 0 or ends[-1] != len(buf) - 1:  # the last line has no newline
        ends = np.append(ends, len(buf))
    starts = np.concatenate(([0], ends[:-1] + 1))
    # uint8 summed into uint32: many times faster than bool into int64
    commas = np.add.reduceat((buf == ord(",")).view(np.uint8), starts, dtype=np.uint32)
    lengths = ends - starts
    lengths[lengths > 0] -= buf[ends[lengths > 0] - 1] == ord("\r")  # a CRLF line ending
    bad = (lengths == 0) | (commas != len(CSV_HEADER) - 1)
    bad[0] = False  # the header, checked already
    if not bad.any():
        return None
    index = int(np.argmax(bad))  # line index + 1 is its line number; the row number is index
    if lengths[index] == 0:
        return (
            f"{path}: line {index + 1} is empty; every line after the header must be a row of "
            f"{len(CSV_HEADER)} values (remove the blank line)."
        )
    return (
        f"{path}: row {index} (line {index + 1}) has {int(commas[index]) + 1} values; every row "
        f"needs {len(CSV_HEADER)}: the label and 784 pixels."
    )


def load_csv(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read a Kaggle-format CSV into ``(images, labels)``: uint8 (n, 28, 28) and uint8 (n,).

    Raises:
        CSVFormatError: naming the row (1 = first image, the line after the header) and what
            is wrong: a wrong header, a blank line, a wrong number of values, a value that is
            not an integer (``7.0`` and ``1e2`` are not) or is outside 0-255, or a label that
            is not a class (0-9).

    Example:
        >>> images, labels = load_csv("fashion-mnist_test.csv")  # doctest: +SKIP
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such CSV file.")
    with open(path, newline="") as fh:
        header = fh.readline().strip().split(",")
    if header == [""]:
        raise CSVFormatError(f"{path}: the file is empty; expected the header {_header_hint()}.")
    if header != list(CSV_HEADER):
        where = next(
            (i for i, (a, b) in enumerate(zip(header, CSV_HEADER, strict=False)) if a != b),
            min(len(header), len(CSV_HEADER)),
        )
        raise CSVFormatError(
            f"{path}: the header has {len(header)} columns and differs from the Kaggle format "
            f"at column {where + 1} ({header[where] if where < len(header) else 'missing'!r}); "
            f"expected {_header_hint()}."
        )

    def check_lines(exc: Exception | None = None, otherwise: str = "") -> None:
        """Raise for the first bad line; with ``otherwise`` (if given) when none is found."""
        problem = _csv_line_problem(path) or otherwise
        if problem:
            raise CSVFormatError(problem) from exc

    def read(**kwargs):
        try:
            return pd.read_csv(
                path,
                header=0,
                skip_blank_lines=False,  # a blank line is a row of NaN, never skipped
                quoting=csv.QUOTE_NONE,  # one line is one row, whatever its text
                engine="c",
                **kwargs,
            )
        except pd.errors.ParserError as exc:
            check_lines(exc)  # a row longer than the first: say which
            raise CSVFormatError(f"{path}: not a readable CSV file ({exc}).") from exc

    frame = read()  # fast path: a well-formed file parses straight to integers
    odd = [i for i, dtype in enumerate(frame.dtypes) if not pd.api.types.is_integer_dtype(dtype)]
    if not isinstance(frame.index, pd.RangeIndex):  # the first row is longer than the header
        check_lines(otherwise=f"{path}: row 1 (line 2) has more values than the header.")
    if not odd:
        numeric = frame.to_numpy(dtype=np.int64)
    else:  # a value is off in these columns: read them again as text to say exactly where
        check_lines()  # a missing value (a short row, a blank line) makes its column float
        text = read(dtype=str, keep_default_na=False, usecols=odd).to_numpy()
        is_int = np.vectorize(lambda value: _INT_TEXT.fullmatch(value) is not None, otypes=[bool])
        not_int = ~is_int(text)
        if not_int.any():
            row, j = np.argwhere(not_int)[0]
            where = f"{path}: row {row + 1} (line {row + 2}), column {CSV_HEADER[odd[j]]!r}"
            if text[row, j] == "":
                raise CSVFormatError(f"{where} is empty.")
            raise CSVFormatError(f"{where}: {text[row, j]!r} is not an integer.")
        numeric = np.empty(frame.shape, dtype=np.float64)  # integers too big for pandas' int64
        numeric[:, odd] = text.astype(np.float64)
        rest = sorted(set(range(frame.shape[1])) - set(odd))
        numeric[:, rest] = frame.iloc[:, rest].to_numpy(dtype=np.float64)
    labels, pixels = numeric[:, 0], numeric[:, 1:]
    bad_label = (labels < 0) | (labels > 9)
    if bad_label.any():
        row = int(np.argmax(bad_label))
        raise CSVFormatError(
            f"{path}: row {row + 1} (line {row + 2}): label {int(labels[row])} is not a class; "
            "labels are 0-9 (" + ", ".join(f"{i} {n}" for i, n in enumerate(CLASS_NAMES)) + ")."
        )
    bad_pixel = (pixels < 0) | (pixels > 255)
    if bad_pixel.any():
        row, col = np.argwhere(bad_pixel)[0]
        raise CSVFormatError(
            f"{path}: row {row + 1} (line {row + 2}), column {CSV_HEADER[col + 1]!r}: "
            f"{int(pixels[row, col])} is outside 0-255."
        )
    images = pixels.astype(np.uint8).reshape(-1, IMAGE_SIZE, IMAGE_SIZE)
    return images, labels.astype(np.uint8)


def _header_hint() -> str:
    return "'label,pixel1,pixel2,...,pixel784' (785 columns)"
