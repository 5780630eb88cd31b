"""Find, verify and load Fashion-MNIST; split it and take subsets.

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

The Kaggle CSV format is in :mod:`fmnist_utils.csvio`, the exploratory statistics of notebook
02 in :mod:`fmnist_utils.stats`, and the MNIST digits (notebook 12) in :mod:`fmnist_utils.mnist`.

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
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

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
            failed = f"`{' '.join(command)}` failed (exit {result.returncode}): " + " / ".join(tail)
            if command[1] == "update":  # one unreachable source; the install may still work
                print(f"warning: {failed}", file=sys.stderr, flush=True)
                continue
            raise DataNotFoundError(failed)
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
# Command line: python -m fmnist_utils data
# --------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """``python -m fmnist_utils data``: where the data is, the checksums' verdict, the shapes.

    ``python -m fmnist_utils data mnist`` does the same for the MNIST digits
    (:func:`fmnist_utils.mnist.main`; ``fmnist_utils.__main__`` dispatches it there).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
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
        "is nowhere else and cannot be downloaded; never with --no-download or a named folder)",
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        try:
            location = locate_fashion_mnist(args.data_dir, download=not args.no_download)
        except DataNotFoundError as missing:
            if args.no_install or args.no_download or args.data_dir or os.environ.get(ENV_VAR):
                raise  # a folder the user named must hold the data; apt cannot fill it
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
