"""fmnist_utils.device: the backend, the GPU each backend sees (faked here), the precision."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import types

import pytest

from fmnist_utils import device


# ---------------------------------------------------------------- precision per device
@pytest.mark.parametrize(
    ("flags", "capability", "policy"),
    [
        ({"avx2", "avx512f"}, None, "float32"),
        # bfloat16 dot products without AMX tiles: measured slower than float32
        ({"avx512f", "avx512_bf16"}, None, "float32"),
        ({"avx512_bf16", "amx_bf16", "amx_tile"}, None, "mixed_bfloat16"),
        (set(), (6, 1), "float32"),  # Pascal: no tensor cores
        (set(), (7, 0), "mixed_float16"),  # V100
        ({"amx_bf16"}, (7, 5), "mixed_float16"),  # T4 (Colab): the GPU decides, not the CPU
        (set(), (8, 0), "mixed_bfloat16"),  # A100
        (set(), (8, 9), "mixed_bfloat16"),  # L4
        (set(), (9, 0), "mixed_bfloat16"),  # H100
    ],
)
def test_choose_precision_follows_the_device(flags, capability, policy):
    assert device.choose_precision(flags=flags, gpu_capability=capability) == policy


def test_choose_precision_on_this_machine_asks_the_backend(monkeypatch):
    monkeypatch.setattr(device, "gpu_compute_capability", lambda name=None: (7, 5))
    assert device.choose_precision() == "mixed_float16"
    monkeypatch.setattr(device, "gpu_compute_capability", lambda name=None: None)
    monkeypatch.setattr(device, "cpu_flags", lambda: {"amx_bf16"})
    assert device.choose_precision() == "mixed_bfloat16"


def test_cpu_flags_reads_this_machines_cpu():
    flags = device.cpu_flags()
    assert isinstance(flags, set)
    if sys.platform == "linux":
        assert flags and all(" " not in flag for flag in flags)


# ---------------------------------------------------------------- the GPU, per backend (faked)
def fake_torch(capability):
    cuda = types.SimpleNamespace(
        is_available=lambda: capability is not None,
        get_device_capability=lambda index=0: capability,
    )
    return types.SimpleNamespace(cuda=cuda)


def fake_jax(capability):
    class Gpu:
        compute_capability = capability

    def devices(kind=None):
        if kind == "gpu" and capability is None:
            raise RuntimeError("Unknown backend: 'gpu' requested, but no platforms are 'gpu'")
        return [Gpu()] if kind == "gpu" else ["cpu"]

    return types.SimpleNamespace(devices=devices)


def fake_tensorflow(capability):
    gpus = [] if capability is None else ["GPU:0"]
    config = types.SimpleNamespace(
        list_physical_devices=lambda kind: gpus,
        experimental=types.SimpleNamespace(
            get_device_details=lambda gpu: {"compute_capability": capability}
        ),
    )
    return types.SimpleNamespace(config=config)


@pytest.mark.parametrize(
    ("name", "module", "reported", "expected"),
    [
        ("torch", fake_torch, (7, 5), (7, 5)),
        ("torch", fake_torch, None, None),
        ("jax", fake_jax, "8.0", (8, 0)),
        ("jax", fake_jax, "9.0", (9, 0)),
        ("jax", fake_jax, None, None),
        ("tensorflow", fake_tensorflow, (7, 0), (7, 0)),
        ("tensorflow", fake_tensorflow, None, None),
    ],
)
def test_gpu_compute_capability_per_backend(monkeypatch, name, module, reported, expected):
    monkeypatch.setitem(sys.modules, name, module(reported))
    assert device.gpu_compute_capability(name) == expected


def test_a_backend_that_is_not_installed_means_no_gpu(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch raises ImportError
    assert device.gpu_compute_capability("torch") is None


def test_precision_on_a_faked_t4_under_torch(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", fake_torch((7, 5)))
    monkeypatch.setattr(device, "backend", lambda: "torch")
    assert device.device_name() == "GPU (compute capability 7.5)"
    assert device.choose_precision() == "mixed_float16"


# ---------------------------------------------------------------- TensorFlow where it is the lesson
def test_require_tensorflow_on_another_backend_says_what_to_do(monkeypatch):
    monkeypatch.setattr(device, "backend", lambda: "jax")
    with pytest.raises(RuntimeError, match="a tf.data pipeline is TensorFlow's own API.*'jax'"):
        device.require_tensorflow("a tf.data pipeline")


def test_require_tensorflow_without_tensorflow_says_how_to_install(monkeypatch):
    monkeypatch.setattr(device, "backend", lambda: "tensorflow")
    monkeypatch.setitem(sys.modules, "tensorflow", None)
    with pytest.raises(RuntimeError, match="pip install tensorflow"):
        device.require_tensorflow("the TFLite export")


def test_backend_is_one_the_course_knows():
    assert device.backend() in device.BACKENDS


@pytest.mark.parametrize("name", ["jax", "torch"])
def test_the_package_never_imports_tensorflow_on_another_backend(name):
    if importlib.util.find_spec(name) is None:  # find_spec: importing torch here could crash
        pytest.skip(f"{name} is not installed")
    code = (
        "import sys, fmnist_utils\n"
        "fmnist_utils.quiet_tensorflow()\n"
        "from fmnist_utils import (augment, course, data, evaluate, explain, models, ood,\n"
        "    preprocess, recipes, serve, train, viz)\n"
        "import numpy as np\n"
        "model = models.fast_cnn()\n"
        "explain.grad_cam(model, np.random.default_rng(0).random((2, 28, 28, 1), 'float32'))\n"
        "recipes.recipe_dataset(recipes.RECIPES['photos'], np.zeros((4, 28, 28, 1)), [0, 1, 2, 3])"
        "\n"
        "print('tensorflow' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "KERAS_BACKEND": name},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_backend_before_keras_is_imported_reads_what_keras_will_read(monkeypatch, tmp_path):
    monkeypatch.delitem(sys.modules, "keras")  # as if Keras were not imported yet
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    assert device.backend() == "tensorflow"  # no keras.json: Keras' default
    (tmp_path / "keras.json").write_text('{"backend": "jax", "floatx": "float32"}')
    assert device.backend() == "jax"
    monkeypatch.setenv("KERAS_BACKEND", "torch")  # the variable overrides the file
    assert device.backend() == "torch"


def test_a_rocm_gpu_under_jax_is_not_a_cuda_capability(monkeypatch):
    monkeypatch.setitem(sys.modules, "jax", fake_jax("gfx90a"))
    assert device.gpu_compute_capability("jax") is None
