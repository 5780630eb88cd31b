"""Seeds and profiles (the training loop itself arrives with the model lessons).

A profile says how much work a notebook does:

* ``smoke``: tiny subsets and one short epoch; proves the code runs (CI).
* ``default``: what a learner gets top to bottom, at most 5 minutes on a 2-core CPU.
* ``full``: best results; minutes to an hour on a CPU.

Every notebook has a ``parameters`` cell with ``PROFILE = "default"`` and then calls
:func:`resolve_profile`, so ``$FMNIST_PROFILE`` (set by the test suite) wins over both the
literal and papermill's injected value.
"""

from __future__ import annotations

import os
import random

import numpy as np

PROFILES: tuple[str, ...] = ("smoke", "default", "full")
ENV_VAR = "FMNIST_PROFILE"


def resolve_profile(profile: str = "default") -> str:
    """The profile to use: ``$FMNIST_PROFILE`` when set, else ``profile``; checked.

    Example:
        >>> import os; os.environ.pop("FMNIST_PROFILE", None) and None
        >>> resolve_profile("smoke")
        'smoke'
    """
    chosen = os.environ.get(ENV_VAR) or profile
    if chosen not in PROFILES:
        source = f"${ENV_VAR}" if os.environ.get(ENV_VAR) else "PROFILE"
        raise ValueError(f"{source} is {chosen!r}; it must be one of {', '.join(PROFILES)}.")
    return chosen


def set_seed(seed: int = 42) -> None:
    """Seed Python, NumPy and (when installed and imported) Keras/TensorFlow.

    Example:
        >>> set_seed(0); a = np.random.rand()
        >>> set_seed(0); a == np.random.rand()
        True
    """
    random.seed(seed)
    np.random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    try:
        import keras
    except ImportError:  # pragma: no cover - keras is a dependency, but keep seeding usable
        return
    keras.utils.set_random_seed(seed)


def fit(
    model,
    x,
    y=None,
    *,
    validation_data=None,
    epochs: int = 10,
    batch_size: int | None = 128,
    callbacks: list | None = None,
    verbose: int = 2,
):
    """``model.fit`` with the course's defaults, timed; returns the history as a DataFrame.

    One line per epoch (``verbose=2``) keeps notebooks light. The table has one row per epoch:
    ``epoch``, ``seconds`` (wall time since the start, so time-to-accuracy can be read off),
    and every metric Keras logged (``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``...).
    Pass a ``tf.data.Dataset`` as ``x`` (and no ``y``) to train from a pipeline.

    Example:
        >>> history = fit(model, x, y, validation_data=(x_val, y_val), epochs=3)  # doctest: +SKIP
        >>> history[["epoch", "seconds", "val_accuracy"]]  # doctest: +SKIP
    """
    import time

    import keras
    import pandas as pd

    rows: list[dict] = []
    start = time.perf_counter()

    class _Recorder(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            rows.append(
                {"epoch": epoch + 1, "seconds": time.perf_counter() - start, **(logs or {})}
            )

    model.fit(
        x,
        y,
        validation_data=validation_data,
        epochs=epochs,
        batch_size=batch_size if y is not None else None,
        shuffle=y is not None,  # a tf.data pipeline shuffles itself
        callbacks=[*(callbacks or []), _Recorder()],
        verbose=verbose,
    )
    history = pd.DataFrame(rows)
    history.attrs["seconds"] = time.perf_counter() - start
    return history


def time_to_accuracy(history, target: float, column: str = "val_accuracy") -> float | None:
    """Wall seconds until ``column`` first reached ``target`` (None if it never did).

    Example:
        >>> import pandas as pd
        >>> h = pd.DataFrame({"seconds": [10.0, 20.0, 30.0], "val_accuracy": [0.8, 0.9, 0.91]})
        >>> time_to_accuracy(h, 0.9)
        20.0
    """
    reached = history.loc[history[column] >= target, "seconds"]
    return float(reached.iloc[0]) if len(reached) else None


# --------------------------------------------------------------------------------------------
# Input throughput (notebook 03: tf.data pipeline versus NumPy arrays)
# --------------------------------------------------------------------------------------------
def throughput(batches, n_batches: int, warmup: int = 1, repeats: int = 1) -> dict:
    """Time how fast an input source delivers ``(images, labels)`` batches.

    ``batches`` is any iterable of batches: a ``tf.data.Dataset`` (use ``.repeat()`` if it has
    fewer batches than needed) or a generator of NumPy arrays. The first ``warmup`` batches are
    drawn but not timed (they pay one-off start-up costs); then ``repeats`` runs of
    ``n_batches`` batches each are timed, one after the other, and the fastest run is reported,
    as :mod:`timeit` does: it is the one least disturbed by other programs. Returns
    ``batches``, ``images``, ``seconds`` and ``images_per_second`` of that run.

    Raises:
        ValueError: ``n_batches`` or ``repeats`` is not positive, or the source ran out.

    Example:
        >>> import numpy as np
        >>> source = ((np.zeros((32, 28, 28, 1)), np.zeros(32)) for _ in range(20))
        >>> result = throughput(source, n_batches=5, repeats=3)
        >>> result["batches"], result["images"]
        (5, 160)
    """
    import time

    if n_batches < 1 or repeats < 1:
        raise ValueError(f"n_batches and repeats must be at least 1; got {n_batches}, {repeats}")
    iterator = iter(batches)
    drawn = 0
    runs = []
    try:
        for _ in range(warmup):
            next(iterator)
            drawn += 1
        for _ in range(repeats):
            images = 0
            start = time.perf_counter()
            for _ in range(n_batches):
                x, _y = next(iterator)
                images += int(x.shape[0])
                drawn += 1
            runs.append((time.perf_counter() - start, images))
    except StopIteration:
        raise ValueError(
            f"the source ran out after {drawn} batches; {warmup + repeats * n_batches} were "
            "needed (repeat the dataset or ask for fewer batches)"
        ) from None
    seconds, images = min(runs, key=lambda run: run[0] / run[1] if run[1] else float("inf"))
    return {
        "batches": n_batches,
        "images": images,
        "seconds": seconds,
        "images_per_second": images / seconds if seconds > 0 else float("inf"),
    }
