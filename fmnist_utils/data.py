"""Find, verify and load Fashion-MNIST; read and write the Kaggle CSV format.

Where the data comes from, in order (the first complete place wins):

1. ``data_dir`` passed to :func:`load_fashion_mnist`,
2. the folder named by ``$FMNIST_DATA_DIR``,
3. the Keras cache, ``~/.keras/datasets/fashion-mnist`` (or ``$KERAS_HOME/datasets/...``),
4. the Debian package ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``),
5. a download from the official mirror into the Keras cache (online only).

Every file is checked against the SHA-256 of its *decompressed* content, so a recompressed but
identical file (the Debian package's) passes and a truncated or altered one never turns into a
silently wrong array.

Example:
    >>> (x_train, y_train), (x_test, y_test) = load_fashion_mnist()  # doctest: +SKIP
    >>> x_train.shape, x_train.dtype
    ((60000, 28, 28), dtype('uint8'))
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import re
import struct
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

#: SHA-256 of each file's decompressed content (the IDX bytes). These agree with the MD5s the
#: Fashion-MNIST README publishes for the same files (RAW_MD5 below).
RAW_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",  # noqa: E501
    "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",  # noqa: E501
    "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}

#: MD5 of each decompressed file, as published by Zalando.
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

HOW_TO_GET = (
    "How to get the data: `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu, offline "
    "copy in /usr/share/datasets/fashion-mnist); or put the four .gz files in a folder and set "
    f"{ENV_VAR} to it (or pass data_dir=...); or go online once and the files are downloaded "
    "into the Keras cache."
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
    so an interrupted or corrupt download never leaves a file that looks complete.

    Raises:
        OSError: no mirror could be reached (offline).
        DataIntegrityError: a mirror served content that does not match the checksum.
    """
    folder = Path(folder) if folder is not None else keras_cache_dir()
    mirrors = tuple(mirrors or MIRRORS)
    for name in FILES.values():
        dest = folder / name
        if dest.is_file():
            continue
        errors = []
        for base in mirrors:
            try:
                _fetch(base + name, dest, name, timeout)
                break
            except OSError as exc:
                errors.append(f"{base}: {exc}")
        else:
            raise OSError(f"could not download {name}: " + "; ".join(errors))
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


def load_csv(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read a Kaggle-format CSV into ``(images, labels)``: uint8 (n, 28, 28) and uint8 (n,).

    Raises:
        CSVFormatError: naming the row (1 = first image, the line after the header) and what
            is wrong: a wrong header, a wrong number of values, a value that is not an integer
            or is outside 0-255, or a label that is not a class (0-9).

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

    def read(**kwargs):
        try:
            return pd.read_csv(path, header=0, engine="c", **kwargs)
        except pd.errors.ParserError as exc:
            match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
            if match:
                expected, line, saw = map(int, match.groups())
                raise CSVFormatError(
                    f"{path}: row {line - 1} (line {line}) has {saw} values; every row needs "
                    f"{expected}: the label and 784 pixels."
                ) from exc
            raise CSVFormatError(f"{path}: not a readable CSV file ({exc}).") from exc

    frame = read()  # fast path: a well-formed file parses straight to integers
    if all(pd.api.types.is_integer_dtype(dtype) for dtype in frame.dtypes):
        numeric = frame.to_numpy(dtype=np.int64)
    else:  # something is off: read again as text to say exactly where
        text = read(dtype=str, keep_default_na=False).to_numpy()
        empty = text == ""
        if empty.any():
            row, col = np.argwhere(empty)[0]
            n_values = int((~empty[row]).sum())
            if empty[row, col:].all():
                raise CSVFormatError(
                    f"{path}: row {row + 1} (line {row + 2}) has {n_values} values; every row "
                    f"needs {len(CSV_HEADER)}: the label and 784 pixels."
                )
            raise CSVFormatError(
                f"{path}: row {row + 1} (line {row + 2}), column {CSV_HEADER[col]!r} is empty."
            )
        numeric = pd.DataFrame(text).apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
        not_int = np.isnan(numeric) | (np.mod(numeric, 1) != 0)
        if not_int.any():
            row, col = np.argwhere(not_int)[0]
            raise CSVFormatError(
                f"{path}: row {row + 1} (line {row + 2}), column {CSV_HEADER[col]!r}: "
                f"{text[row, col]!r} is not an integer."
            )
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
    """``python -m fmnist_utils data``: where the data is, the checksums' verdict, the shapes."""
    parser = argparse.ArgumentParser(
        prog="python -m fmnist_utils data",
        description="Find, verify and load Fashion-MNIST, and say where it came from.",
    )
    parser.add_argument("--data-dir", help="a folder holding the four .gz files")
    parser.add_argument(
        "--no-download", action="store_true", help="never download, only look locally"
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        location = locate_fashion_mnist(args.data_dir, download=not args.no_download)
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
