"""fmnist_utils.data on the real files, and every failure mode built in a temporary folder."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fmnist_utils import csvio, data
from fmnist_utils.csvio import CSVFormatError, load_csv, save_csv
from fmnist_utils.data import (
    CLASS_NAMES,
    FILES,
    DataIntegrityError,
    DataNotFoundError,
    load_fashion_mnist,
)


@pytest.fixture(scope="module")
def fmnist():
    return load_fashion_mnist(download=False)


@pytest.fixture(scope="module")
def real_dir() -> Path:
    return data.locate_fashion_mnist(download=False).path


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No data anywhere: empty Keras home, no Debian folder, no env var, no network."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "no-debian")
    monkeypatch.setattr(data, "MIRRORS", (f"file://{tmp_path}/no-mirror/",))
    return tmp_path


def copy_files(src: Path, dst: Path, skip: tuple[str, ...] = ()) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for name in FILES.values():
        if name not in skip:
            shutil.copy(src / name, dst / name)
    return dst


# ----------------------------------------------------------------------------- real data
def test_shapes_and_dtypes(fmnist):
    (x_train, y_train), (x_test, y_test) = fmnist
    assert x_train.shape == (60000, 28, 28) and y_train.shape == (60000,)
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    for array in (x_train, y_train, x_test, y_test):
        assert array.dtype == np.uint8


def test_balanced_classes(fmnist):
    (_, y_train), (_, y_test) = fmnist
    assert np.bincount(y_train, minlength=10).tolist() == [6000] * 10
    assert np.bincount(y_test, minlength=10).tolist() == [1000] * 10
    assert len(CLASS_NAMES) == 10 and CLASS_NAMES[0] == "T-shirt/top"
    assert CLASS_NAMES[9] == "Ankle boot"


def test_pixels_use_the_full_range(fmnist):
    (x_train, _), _ = fmnist
    assert x_train.min() == 0 and x_train.max() == 255
    # Light items on a black background: the outer frame is far darker than the centre.
    assert x_train[:, [0, -1], :].mean() * 4 < x_train[:, 10:18, 10:18].mean()


def test_agrees_with_keras_loader(fmnist, tmp_path):
    """Keras' own loader, pointed at a fresh cache that ensure_keras_cache filled, agrees."""
    out = tmp_path / "keras.npz"
    code = (
        "import numpy as np, keras\n"
        "from fmnist_utils.data import ensure_keras_cache\n"
        "ensure_keras_cache()\n"
        "(a, b), (c, d) = keras.datasets.fashion_mnist.load_data()\n"
        f"np.savez({str(out)!r}, a=a, b=b, c=c, d=d)\n"
    )
    env = {**os.environ, "KERAS_HOME": str(tmp_path / "keras-home"), "TF_CPP_MIN_LOG_LEVEL": "3"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=300)
    keras_arrays = np.load(out)
    (x_train, y_train), (x_test, y_test) = fmnist
    for ours, key in ((x_train, "a"), (y_train, "b"), (x_test, "c"), (y_test, "d")):
        np.testing.assert_array_equal(ours, keras_arrays[key])
    assert sorted(p.name for p in (tmp_path / "keras-home/datasets/fashion-mnist").iterdir()) == (
        sorted(FILES.values())
    )


def test_decompressed_copy_is_accepted(real_dir, tmp_path, fmnist):
    """Recompressed or decompressed files pass: the checksum is of the content."""
    folder = tmp_path / "raw"
    folder.mkdir()
    for name in FILES.values():
        content = gzip.decompress((real_dir / name).read_bytes())
        (folder / name.removesuffix(".gz")).write_bytes(content)
    (_, y_train), (x_test, _) = load_fashion_mnist(folder, download=False)
    np.testing.assert_array_equal(y_train, fmnist[0][1])
    np.testing.assert_array_equal(x_test, fmnist[1][0])


# ----------------------------------------------------------------------------- search order
def test_explicit_dir_comes_first(real_dir, tmp_path, monkeypatch):
    folder = copy_files(real_dir, tmp_path / "mine")
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path / "elsewhere"))
    assert data.locate_fashion_mnist(folder, download=False).source == "data_dir argument"


def test_env_var_then_keras_cache_then_debian(real_dir, isolated, monkeypatch):
    debian = copy_files(real_dir, isolated / "debian")
    monkeypatch.setattr(data, "DEBIAN_DIR", debian)
    assert data.locate_fashion_mnist(download=False).source.startswith("Debian package")
    copy_files(real_dir, data.keras_cache_dir())
    assert data.locate_fashion_mnist(download=False).source == "Keras cache"
    env_dir = copy_files(real_dir, isolated / "env")
    monkeypatch.setenv(data.ENV_VAR, str(env_dir))
    assert data.locate_fashion_mnist(download=False).source == f"${data.ENV_VAR}"


# ----------------------------------------------------------------------------- failure modes
def test_nothing_anywhere_says_where_it_looked_and_how_to_fix(isolated):
    with pytest.raises(DataNotFoundError) as err:
        load_fashion_mnist()
    message = str(err.value)
    assert "Keras cache" in message and "Debian package" in message
    assert "download into" in message  # the download was tried and failed (no network)
    assert "apt-get install dataset-fashion-mnist" in message and data.ENV_VAR in message


def test_missing_file_in_named_folder(real_dir, isolated):
    folder = copy_files(real_dir, isolated / "partial", skip=("t10k-labels-idx1-ubyte.gz",))
    with pytest.raises(DataNotFoundError, match="t10k-labels-idx1-ubyte.gz"):
        load_fashion_mnist(folder)


def test_env_var_pointing_nowhere(isolated, monkeypatch):
    monkeypatch.setenv(data.ENV_VAR, str(isolated / "typo"))
    with pytest.raises(DataNotFoundError, match="does not exist"):
        load_fashion_mnist()


def test_truncated_file(real_dir, isolated):
    folder = copy_files(real_dir, isolated / "truncated")
    target = folder / "t10k-images-idx3-ubyte.gz"
    target.write_bytes(target.read_bytes()[:100_000])
    with pytest.raises(DataIntegrityError, match="t10k-images-idx3-ubyte.gz.*truncated"):
        load_fashion_mnist(folder)


def test_altered_file(real_dir, isolated):
    folder = copy_files(real_dir, isolated / "altered")
    target = folder / "t10k-labels-idx1-ubyte.gz"
    content = bytearray(gzip.decompress(target.read_bytes()))
    content[100] = (content[100] + 1) % 10  # one label changed: still a valid IDX file
    target.write_bytes(gzip.compress(bytes(content)))
    with pytest.raises(DataIntegrityError, match="t10k-labels-idx1-ubyte.gz.*does not match"):
        load_fashion_mnist(folder)


def test_not_a_gzip_or_idx_file(isolated, real_dir):
    folder = copy_files(real_dir, isolated / "garbage")
    (folder / "train-labels-idx1-ubyte.gz").write_text("<html>404 Not Found</html>")
    with pytest.raises(DataIntegrityError, match="train-labels-idx1-ubyte.gz"):
        load_fashion_mnist(folder)


def test_parse_idx_checks_the_header():
    good = b"\x00\x00\x08\x01\x00\x00\x00\x03" + bytes([7, 2, 9])
    assert data.parse_idx(good).tolist() == [7, 2, 9]
    with pytest.raises(DataIntegrityError, match="promises shape"):
        data.parse_idx(good[:-1])
    with pytest.raises(DataIntegrityError, match="not an unsigned-byte IDX"):
        data.parse_idx(b"\x00\x00\x0d\x01" + good[4:])


# ----------------------------------------------------------------------------- download path
def test_download_verifies_then_renames(real_dir, isolated, monkeypatch, fmnist):
    monkeypatch.setattr(data, "MIRRORS", (f"file://{isolated}/dead/", f"file://{real_dir}/"))
    location = data.locate_fashion_mnist()
    assert location.source == "downloaded into the Keras cache"
    assert location.path == data.keras_cache_dir()
    assert sorted(p.name for p in location.path.iterdir()) == sorted(FILES.values())
    (_, y_train), _ = load_fashion_mnist()
    np.testing.assert_array_equal(y_train, fmnist[0][1])


def corrupt_copy(src: Path, dst: Path, name: str = "train-labels-idx1-ubyte.gz") -> Path:
    """A copy of the four files in which one label of ``name`` is changed (still valid gzip)."""
    mirror = copy_files(src, dst)
    target = mirror / name
    content = bytearray(gzip.decompress(target.read_bytes()))
    content[-1] = (content[-1] + 1) % 10
    target.write_bytes(gzip.compress(bytes(content)))
    return mirror


def test_corrupt_first_mirror_falls_back_to_the_next(real_dir, isolated, monkeypatch, fmnist):
    bad = corrupt_copy(real_dir, isolated / "bad-mirror")
    monkeypatch.setattr(data, "MIRRORS", (f"file://{bad}/", f"file://{real_dir}/"))
    location = data.locate_fashion_mnist()
    assert location.source == "downloaded into the Keras cache"
    assert sorted(p.name for p in location.path.iterdir()) == sorted(FILES.values())
    (_, y_train), _ = load_fashion_mnist()
    np.testing.assert_array_equal(y_train, fmnist[0][1])


def test_every_mirror_failing_lists_each_mirror_and_why(real_dir, isolated):
    bad = corrupt_copy(real_dir, isolated / "bad-mirror")
    mirrors = (f"file://{bad}/", f"file://{isolated}/dead/")
    with pytest.raises(DataIntegrityError) as caught:
        data.download_fashion_mnist(isolated / "target", mirrors=mirrors)
    message = str(caught.value)
    assert "could not download train-labels-idx1-ubyte.gz" in message
    assert f"file://{bad}/: " in message and "does not match" in message
    assert f"file://{isolated}/dead/: " in message
    assert "train-labels-idx1-ubyte.gz" not in os.listdir(isolated / "target")


def test_corrupt_download_leaves_nothing_behind(real_dir, isolated, monkeypatch):
    mirror = copy_files(real_dir, isolated / "mirror")
    target = mirror / "train-labels-idx1-ubyte.gz"
    content = bytearray(gzip.decompress(target.read_bytes()))
    content[-1] = (content[-1] + 1) % 10
    target.write_bytes(gzip.compress(bytes(content)))
    monkeypatch.setattr(data, "MIRRORS", (f"file://{mirror}/",))
    with pytest.raises(DataIntegrityError, match="train-labels-idx1-ubyte.gz"):
        load_fashion_mnist()
    cache = data.keras_cache_dir()
    left = sorted(p.name for p in cache.iterdir())
    assert "train-labels-idx1-ubyte.gz" not in left
    assert not [name for name in left if name.endswith(".part")]


# ----------------------------------------------------------------------------- CSV
def test_csv_round_trip_is_exact(fmnist, tmp_path):
    (x_train, y_train), _ = fmnist
    path = save_csv(tmp_path / "train.csv", x_train[:300], y_train[:300])
    header = path.read_text().splitlines()[0].split(",")
    assert header[:3] == ["label", "pixel1", "pixel2"] and header[-1] == "pixel784"
    images, labels = load_csv(path)
    assert images.dtype == np.uint8 and labels.dtype == np.uint8
    np.testing.assert_array_equal(images, x_train[:300])
    np.testing.assert_array_equal(labels, y_train[:300])


def write_rows(path: Path, rows: list[list[str]], header: list[str] | None = None) -> Path:
    lines = [",".join(header or csvio.CSV_HEADER)] + [",".join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def good_row(label: int = 3) -> list[str]:
    return [str(label)] + ["0"] * 784


@pytest.mark.parametrize(
    "bad_row, pattern",
    [
        (good_row() + ["0"], r"row 2 \(line 3\) has 786 values"),
        (good_row()[:-5], r"row 2 \(line 3\) has 780 values"),
        (good_row()[:10] + ["12.5"] + good_row()[11:], r"row 2 .*'pixel10': '12.5' is not an int"),
        (good_row()[:10] + ["abc"] + good_row()[11:], r"row 2 .*'abc' is not an integer"),
        (good_row()[:10] + [""] + good_row()[11:], r"row 2 .*'pixel10' is empty"),
        (good_row()[:784] + ["256"], r"row 2 .*'pixel784': 256 is outside 0-255"),
        (good_row()[:5] + ["-1"] + good_row()[6:], r"row 2 .*'pixel5': -1 is outside 0-255"),
        (good_row(10), r"row 2 .*label 10 is not a class"),
        (["x"] + good_row()[1:], r"row 2 .*'label': 'x' is not an integer"),
        (good_row()[:10] + ["7.0"] + good_row()[11:], r"row 2 .*'pixel10': '7.0' is not an int"),
        (good_row()[:10] + ["1e2"] + good_row()[11:], r"row 2 .*'pixel10': '1e2' is not an int"),
        (["3.0"] + good_row()[1:], r"row 2 .*'label': '3.0' is not an integer"),
    ],
)
def test_malformed_csv_names_row_and_problem(tmp_path, bad_row, pattern):
    path = write_rows(tmp_path / "bad.csv", [good_row(), bad_row, good_row()])
    with pytest.raises(CSVFormatError, match=pattern):
        load_csv(path)


@pytest.mark.parametrize(
    "rows, pattern",
    [
        # one value too many on every row: pandas would take the first column as an index
        ([good_row() + ["0"]] * 3, r"row 1 \(line 2\) has 786 values; every row needs 785"),
        ([good_row() + ["0"], good_row(), good_row()], r"row 1 \(line 2\) has 786 values"),
        ([good_row() + [""]] * 3, r"row 1 \(line 2\) has 786 values"),  # a trailing comma
        ([good_row(), good_row()[:-1], good_row()[:-1]], r"row 2 \(line 3\) has 784 values"),
        # the same float text in every row of a column (a float column, not one odd value)
        ([["3.0"] + good_row()[1:]] * 3, r"row 1 .*'label': '3.0' is not an integer"),
        ([good_row()[:784] + ["1e2"]] * 3, r"row 1 .*'pixel784': '1e2' is not an integer"),
    ],
)
def test_csv_every_row_malformed_is_an_error(tmp_path, rows, pattern):
    with pytest.raises(CSVFormatError, match=pattern):
        load_csv(write_rows(tmp_path / "bad.csv", rows))


@pytest.mark.parametrize(
    "lines, pattern",
    [
        (["G", "", "G"], r"line 3 is empty"),
        (["G", "G", "", ""], r"line 4 is empty"),  # a blank line at the end
        (["G", "\r", "G"], r"line 3 is empty"),
        (["", "G"], r"line 2 is empty"),
    ],
)
def test_csv_blank_line_is_an_error_naming_its_line(tmp_path, lines, pattern):
    path = tmp_path / "blank.csv"
    body = [",".join(csvio.CSV_HEADER)] + [",".join(good_row()) if x == "G" else x for x in lines]
    path.write_bytes(("\n".join(body) + "\n").encode())
    with pytest.raises(CSVFormatError, match=pattern):
        load_csv(path)


def test_csv_header_and_empty_file(tmp_path):
    header = ["label"] + [f"px{i}" for i in range(1, 785)]
    with pytest.raises(CSVFormatError, match="column 2 .*'px1'"):
        load_csv(write_rows(tmp_path / "h.csv", [good_row()], header=header))
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(CSVFormatError, match="empty"):
        load_csv(tmp_path / "empty.csv")


def test_save_csv_rejects_bad_input_and_keeps_the_old_file(fmnist, tmp_path):
    (x_train, y_train), _ = fmnist
    path = save_csv(tmp_path / "keep.csv", x_train[:5], y_train[:5])
    before = path.read_bytes()
    with pytest.raises(ValueError, match="labels must be integers from 0 to 9"):
        save_csv(path, x_train[:2], np.array([1, 11]))
    with pytest.raises(ValueError, match=r"shape \(n, 28, 28\)"):
        save_csv(path, x_train[:2, :10], y_train[:2])
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.csv"]


# ----------------------------------------------------------------------------- command line
def test_cli_reports_source_and_verdict(capsys):
    assert data.main(["--no-download"]) == 0
    out = capsys.readouterr().out
    assert "Found Fashion-MNIST" in out and out.count("sha256 ok") == 4
    assert "(60000, 28, 28)" in out


def test_cli_fails_clearly(isolated, capsys):
    assert data.main(["--data-dir", str(isolated / "nowhere")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_python_dash_m_entry_point(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "fmnist_utils", "data", "--no-download"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "All four files verified" in result.stdout


# ----------------------------------------------------------------------------- last resort: apt
class FakeApt:
    """Stands in for subprocess.run of apt-get: records the commands; `install` puts the files."""

    def __init__(self, source: Path, target: Path, fail_on: str | None = None):
        self.source, self.target, self.fail_on, self.commands = source, target, fail_on, []

    def __call__(self, command, **kwargs):
        self.commands.append(command)
        assert kwargs["env"]["DEBIAN_FRONTEND"] == "noninteractive"
        if self.fail_on in command:
            return subprocess.CompletedProcess(command, 100, "", "E: Unable to locate package\n")
        if "install" in command:
            copy_files(self.source, self.target)
        return subprocess.CompletedProcess(command, 0, "", "")


@pytest.fixture
def as_root_with_apt(monkeypatch):
    monkeypatch.setattr(data.os, "geteuid", lambda: 0)
    monkeypatch.setattr(data.shutil, "which", lambda name: f"/usr/bin/{name}")


def test_cli_installs_the_debian_package_when_nothing_else_works(
    real_dir, isolated, as_root_with_apt, monkeypatch, capsys
):
    fake = FakeApt(real_dir, data.DEBIAN_DIR)
    monkeypatch.setattr(data.subprocess, "run", fake)
    assert data.main([]) == 0
    out = capsys.readouterr().out
    assert fake.commands[-1][-1] == "dataset-fashion-mnist"
    assert "installed the Debian package dataset-fashion-mnist" in out
    assert out.count("sha256 ok") == 4


def test_cli_without_root_says_what_to_run(isolated, monkeypatch, capsys):
    monkeypatch.setattr(data.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(data.shutil, "which", lambda name: f"/usr/bin/{name}")
    assert data.main([]) == 1
    err = capsys.readouterr().err
    assert "sudo apt-get install -y dataset-fashion-mnist" in err and "Looked in" in err


def test_cli_without_apt_get_says_so(isolated, monkeypatch, capsys):
    monkeypatch.setattr(data.shutil, "which", lambda name: None)
    assert data.main([]) == 1
    assert "apt-get is not available here" in capsys.readouterr().err


def test_failing_apt_get_is_reported_with_its_message(real_dir, isolated, as_root_with_apt):
    fake = FakeApt(real_dir, data.DEBIAN_DIR, fail_on="install")
    with pytest.raises(DataNotFoundError, match="exit 100.*Unable to locate package"):
        data.install_debian_package(run=fake)
    assert not data.DEBIAN_DIR.exists()


def test_cli_no_install_never_calls_apt(isolated, as_root_with_apt, monkeypatch):
    monkeypatch.setattr(data.subprocess, "run", lambda *a, **k: pytest.fail("apt-get was run"))
    assert data.main(["--no-install"]) == 1


def test_cli_never_installs_for_a_named_folder(isolated, as_root_with_apt, monkeypatch, capsys):
    monkeypatch.setattr(data.subprocess, "run", lambda *a, **k: pytest.fail("apt-get was run"))
    monkeypatch.setenv(data.ENV_VAR, str(isolated / "empty"))
    assert data.main([]) == 1
    assert "given as $FMNIST_DATA_DIR" in capsys.readouterr().err
    monkeypatch.delenv(data.ENV_VAR)
    assert data.main(["--no-download"]) == 1  # looking locally only: no apt-get either


def test_a_failing_apt_get_update_does_not_stop_the_install(real_dir, isolated, as_root_with_apt):
    fake = FakeApt(real_dir, data.DEBIAN_DIR, fail_on="update")
    done = data.install_debian_package(run=fake)
    assert done == "installed the Debian package dataset-fashion-mnist"
    assert [command[1] for command in fake.commands] == ["update", "install"]
