"""The machine the course runs on: the Keras backend, the GPU if any, and the precision to train in.

The course runs on any Keras 3 backend (``KERAS_BACKEND=tensorflow``, ``jax`` or ``torch``).
TensorFlow is needed only where it is the lesson (notebook 03's ``tf.data`` section, the
SavedModel and TFLite exports of notebook 14): :func:`require_tensorflow` says so clearly on the
other backends instead of failing with an ``ImportError`` deep inside.

:func:`choose_precision` picks the Keras dtype policy from the device: ``mixed_float16`` on
CUDA GPUs of compute capability 7.x (Volta, Turing: Colab's T4), ``mixed_bfloat16`` on 8.0 and
up (Ampere, Hopper) and on CPUs that compute in bfloat16 natively (Intel AMX), ``float32``
everywhere else.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

#: The backends the course is tested on, the default first.
BACKENDS: tuple[str, ...] = ("tensorflow", "jax", "torch")


def backend() -> str:
    """The Keras backend in use (``"tensorflow"``, ``"jax"`` or ``"torch"``).

    Read from Keras once it is imported, else as Keras will read it (``$KERAS_BACKEND``, else
    the ``backend`` of ``~/.keras/keras.json``, else TensorFlow), so asking does not import
    Keras.

    Example:
        >>> backend() in BACKENDS
        True
    """
    if "keras" in sys.modules:
        return sys.modules["keras"].backend.backend()
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")).expanduser()
    try:  # Keras' own configuration file, which KERAS_BACKEND overrides
        return json.loads((home / "keras.json").read_text()).get("backend", "tensorflow")
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


def require_tensorflow(what: str):
    """``tensorflow``, for a lesson that is about TensorFlow itself; a clear error otherwise.

    ``what`` names the lesson (``"a tf.data pipeline"``) for the message.

    Raises:
        RuntimeError: Keras runs on another backend, or TensorFlow is not installed; the
            message says what to do.
    """
    if backend() != "tensorflow":
        raise RuntimeError(
            f"{what} is TensorFlow's own API, and Keras runs on {backend()!r} here "
            "(KERAS_BACKEND). This section is about TensorFlow: run the notebook with "
            "KERAS_BACKEND=tensorflow (and TensorFlow installed) to see it, or skip it; the rest "
            "of the course runs on any backend."
        )
    try:
        return importlib.import_module("tensorflow")
    except ImportError as exc:
        raise RuntimeError(
            f"{what} needs TensorFlow, which is not installed: pip install tensorflow"
        ) from exc


def gradients(f: Callable, values: Sequence) -> list[np.ndarray]:
    """The gradient of the scalar ``f(*values)`` with respect to each of ``values``, as NumPy.

    The one place that differentiates, on whichever backend Keras runs: a
    ``tf.GradientTape`` on TensorFlow, ``jax.grad`` on JAX, ``torch.autograd.grad`` on PyTorch.
    ``f`` is written with Keras layers, models and ``keras.ops``, so it is the same function on
    every backend; ``values`` are arrays or backend tensors.

    Example:
        >>> import keras
        >>> gradients(lambda x: keras.ops.sum(x * x), [np.array([1.0, 2.0], "float32")])
        [array([2., 4.], dtype=float32)]
    """
    name = backend()
    if name == "jax":
        jax = importlib.import_module("jax")
        arrays = [jax.numpy.asarray(value) for value in values]
        grads = jax.grad(f, argnums=tuple(range(len(arrays))))(*arrays)
        return [np.asarray(grad) for grad in grads]
    if name == "torch":
        torch = importlib.import_module("torch")
        keras = importlib.import_module("keras")
        tensors = [
            keras.ops.convert_to_tensor(value).detach().requires_grad_(True) for value in values
        ]
        grads = torch.autograd.grad(f(*tensors), tensors, allow_unused=True)
        return [  # convert_to_numpy: NumPy has no bfloat16, ml_dtypes does
            np.zeros(tuple(t.shape), np.float32) if g is None else keras.ops.convert_to_numpy(g)
            for t, g in zip(tensors, grads, strict=True)
        ]
    tf = importlib.import_module("tensorflow")
    tensors = [tf.convert_to_tensor(value) for value in values]
    with tf.GradientTape() as tape:
        for tensor in tensors:
            tape.watch(tensor)
        result = f(*tensors)
    grads = tape.gradient(result, tensors)
    return [
        np.zeros(tuple(t.shape), t.dtype.as_numpy_dtype) if g is None else g.numpy()
        for t, g in zip(tensors, grads, strict=True)
    ]


def cpu_flags() -> set[str]:
    """The CPU's feature flags (``avx512_bf16``, ``amx_bf16``...) from ``/proc/cpuinfo``;
    an empty set where that file does not exist (macOS, Windows)."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _tensorflow_capability() -> tuple[int, int] | None:
    tf = importlib.import_module("tensorflow")
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return None
    capability = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability")
    return tuple(capability) if capability else (0, 0)


def _torch_capability() -> tuple[int, int] | None:
    torch = importlib.import_module("torch")
    if not torch.cuda.is_available():
        return None
    return tuple(torch.cuda.get_device_capability(0))


def _jax_capability() -> tuple[int, int] | None:
    jax = importlib.import_module("jax")
    try:
        gpus = jax.devices("gpu")
    except RuntimeError:  # no GPU platform in this jaxlib
        return None
    if not gpus:
        return None
    text = str(getattr(gpus[0], "compute_capability", "0.0"))
    major, _, minor = text.partition(".")
    if not (major.isdigit() and (minor or "0").isdigit()):  # a ROCm GPU ("gfx90a"): not CUDA
        return None
    return int(major), int(minor or 0)


_CAPABILITY = {
    "tensorflow": _tensorflow_capability,
    "torch": _torch_capability,
    "jax": _jax_capability,
}


def gpu_compute_capability(name: str | None = None) -> tuple[int, int] | None:
    """The first CUDA GPU's compute capability as the backend ``name`` (default: the one in
    use) sees it, e.g. ``(7, 5)`` for a T4; None without a GPU or without that backend."""
    probe = _CAPABILITY.get(name or backend())
    if probe is None:
        return None
    try:
        return probe()
    except ImportError:
        return None


def device_name() -> str:
    """``"GPU (compute capability 8.0)"`` or ``"CPU"``: what the backend in use computes on."""
    capability = gpu_compute_capability()
    if capability is None:
        return "CPU"
    return f"GPU (compute capability {capability[0]}.{capability[1]})"


def choose_precision(
    flags: set[str] | None = None, gpu_capability: tuple[int, int] | None = None
) -> str:
    """The Keras dtype policy that trains fastest on this device.

    * CUDA GPU, compute capability 8.0 and up (A100, H100): ``"mixed_bfloat16"``; its tensor
      cores compute in bfloat16, which keeps float32's range (no loss scaling).
    * CUDA GPU, 7.x (V100, T4): ``"mixed_float16"``; its tensor cores have no bfloat16, and
      Keras scales the loss so small float16 gradients do not vanish.
    * older GPUs: ``"float32"``.
    * CPU with native bfloat16 arithmetic, Intel AMX (``amx_bf16``): ``"mixed_bfloat16"``.
      A CPU with only the ``avx512_bf16`` dot-product instructions does not count: on a 2-core
      Xeon of that kind the small ResNet trained at 1,223 images/s in bfloat16 against 1,717
      in float32 (benchmarks/time_to_accuracy.py measures both;
      benchmarks/results/time_to_accuracy.json).
    * any other CPU: ``"float32"``.

    ``flags`` and ``gpu_capability`` default to this machine's (:func:`cpu_flags`,
    :func:`gpu_compute_capability`); pass them to ask about another.

    Example:
        >>> choose_precision(flags={"avx2", "avx512_bf16"}, gpu_capability=None)
        'float32'
        >>> choose_precision(flags={"amx_bf16", "amx_tile"}, gpu_capability=None)
        'mixed_bfloat16'
        >>> choose_precision(flags=set(), gpu_capability=(7, 5))
        'mixed_float16'
        >>> choose_precision(flags=set(), gpu_capability=(9, 0))
        'mixed_bfloat16'
    """
    if flags is None and gpu_capability is None:
        gpu_capability = gpu_compute_capability()
    if gpu_capability is not None:
        if tuple(gpu_capability) >= (8, 0):
            return "mixed_bfloat16"
        return "mixed_float16" if tuple(gpu_capability) >= (7, 0) else "float32"
    flags = cpu_flags() if flags is None else flags
    return "mixed_bfloat16" if "amx_bf16" in flags else "float32"
