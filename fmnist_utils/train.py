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
