"""Helper package of the Fashion-MNIST course.

One module per concern (see the course's design and the README's Layout): ``data`` finds,
verifies and loads the data, ``course`` runs the notebooks and writes the report. The package
runs on every Keras 3 backend (``device`` holds what differs between them); Keras and, on the
TensorFlow backend, TensorFlow are imported lazily, so ``import fmnist_utils`` stays fast.
"""

__version__ = "0.1.0"

#: The public repository, written once. The Colab badges and every notebook's Setup cell are
#: generated from it by ``python -m fmnist_utils course sync-headers``.
REPO = "fmnist-course/fashion-mnist-course"


def quiet_tensorflow() -> None:
    """Import TensorFlow with its start-up log lines silenced, so notebooks stay readable.

    TensorFlow 2.19+ prints C++ log lines ("oneDNN custom operations are on", "Could not find
    cuda drivers") straight to the process's stderr while it is imported, ignoring
    ``TF_CPP_MIN_LOG_LEVEL`` (tensorflow/tensorflow#100442), and its first device query logs
    "failed call to cuInit" on a machine without a GPU. This points file descriptor 2 at
    /dev/null during the import and that first query only; a failing import still raises.
    It also drops TensorFlow's "triggered tf.function retracing" warning, which every loop
    that trains and evaluates fresh models (an ablation, a sweep) sets off although nothing
    is wrong; other TensorFlow warnings still show. On another Keras backend
    (``KERAS_BACKEND=jax`` or ``torch``) it does nothing: TensorFlow is not imported at all
    (importing it next to PyTorch can crash the process).

    Example:
        >>> import fmnist_utils; fmnist_utils.quiet_tensorflow()  # doctest: +SKIP
        >>> import keras  # no start-up noise
    """
    import os
    import sys

    from fmnist_utils import device  # the backend as Keras will choose it (env, keras.json)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if device.backend() != "tensorflow":
        return
    if "tensorflow" in sys.modules:
        _drop_retracing_warnings()
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow as tf

            # The first device query logs "failed call to cuInit" on machines without a GPU.
            tf.config.list_physical_devices()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    _drop_retracing_warnings()


def _not_a_retracing_warning(record) -> bool:
    """``logging`` filter: False for TensorFlow's tf.function retracing warning."""
    return "triggered tf.function retracing" not in record.getMessage()


def _drop_retracing_warnings() -> None:
    """Attach :func:`_not_a_retracing_warning` to TensorFlow's logger (once)."""
    import tensorflow as tf

    logger = tf.get_logger()
    if _not_a_retracing_warning not in logger.filters:
        logger.addFilter(_not_a_retracing_warning)
