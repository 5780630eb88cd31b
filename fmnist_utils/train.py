"""Training: profiles, seeds, the training loop and the tools of the training experiments.

* profiles and seeds: :func:`resolve_profile` and :func:`set_seed`;
* the loop: :func:`fit` (a timed ``model.fit`` whose history is a table, one row per epoch),
  :func:`time_to_accuracy`, and :func:`throughput` to time an input pipeline (notebook 03);
* the training experiments of notebook 07: learning-rate schedules
  (:func:`cosine_with_warmup`, the one-cycle :class:`OneCycle`, :func:`schedule_values`), the
  learning-rate range test (:func:`lr_range_test`), per-layer :func:`gradient_norms`, one
  seeded run of a controlled experiment (:func:`run_experiment`) and :func:`runs_table`.

Training recipes (a model plus every training choice, notebook 13) build on this module in
:mod:`fmnist_utils.recipes`; the Keras backend and the precision per device are in
:mod:`fmnist_utils.device`.

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

from fmnist_utils import device

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
    steps_per_epoch: int | None = None,
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
        steps_per_epoch=steps_per_epoch,
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


# --- training experiments (07) ---
# Learning-rate schedules, the learning-rate range test, per-layer gradient norms and a
# seeded "one run of a controlled experiment" helper. Keras is imported inside the functions
# (and the OneCycle class is created on first use, see __getattr__ below) so that importing
# this module stays light.

#: Layer types whose ``kernel`` :func:`gradient_norms` reports.
_KERNEL_LAYER_TYPES = ("Dense", "Conv1D", "Conv2D", "Conv3D", "DepthwiseConv2D")


def cosine_with_warmup(
    peak_lr: float,
    total_steps: int,
    warmup_steps: int | None = None,
    warmup_fraction: float = 0.1,
    start_lr: float = 0.0,
    final_fraction: float = 0.0,
):
    """Linear warm-up from ``start_lr`` to ``peak_lr``, then cosine decay: a Keras schedule.

    The first ``warmup_steps`` optimizer steps (default: ``warmup_fraction`` of
    ``total_steps``) raise the rate linearly; the remaining steps follow half a cosine from
    ``peak_lr`` down to ``final_fraction * peak_lr``. This is Keras' own
    ``keras.optimizers.schedules.CosineDecay`` with its ``warmup_target``/``warmup_steps``
    arguments, so it can be passed as ``learning_rate`` to any Keras optimizer and is
    serialised with the model. A step counts one batch: ``total_steps = epochs *
    ceil(train_images / batch_size)``.

    Example:
        >>> schedule = cosine_with_warmup(1e-3, total_steps=1000)  # doctest: +SKIP
        >>> optimizer = keras.optimizers.Adam(learning_rate=schedule)  # doctest: +SKIP
        >>> schedule_values(schedule, 1001)[[0, 100, 1000]].round(6)  # doctest: +SKIP
        array([0.   , 0.001, 0.   ], dtype=float32)
    """
    import keras

    if warmup_steps is None:
        warmup_steps = int(round(warmup_fraction * total_steps))
    if not 0 <= warmup_steps < total_steps:
        raise ValueError(
            f"warmup_steps must be in [0, total_steps); got {warmup_steps} of {total_steps}"
        )
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=float(start_lr),
        decay_steps=int(total_steps - warmup_steps),
        alpha=float(final_fraction),
        warmup_target=float(peak_lr),
        warmup_steps=int(warmup_steps),
        name="cosine_with_warmup",
    )


def _one_cycle_class():
    """Create (once) and register the :class:`OneCycle` schedule class; Keras is needed."""
    global _ONE_CYCLE
    if _ONE_CYCLE is not None:
        return _ONE_CYCLE
    import math

    import keras

    @keras.saving.register_keras_serializable(package="fmnist_utils")
    class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
        """The one-cycle policy (Smith 2018): rise to ``max_lr``, then anneal far below start.

        Over the first ``pct_start`` of ``total_steps`` the rate climbs from
        ``max_lr / div_factor`` to ``max_lr`` along half a cosine; it peaks at step
        ``peak_step = round(pct_start * total_steps)`` and then falls, again along half a
        cosine, to ``max_lr / div_factor / final_div_factor`` at ``total_steps`` (and stays
        there). The defaults are PyTorch's ``OneCycleLR``. Pass it as ``learning_rate`` to any
        Keras optimizer; ``get_config`` makes it serialisable (registered as
        ``fmnist_utils>OneCycle``).

        Example:
            >>> from fmnist_utils.train import OneCycle
            >>> schedule = OneCycle(max_lr=3e-3, total_steps=600)  # doctest: +SKIP
            >>> schedule.peak_step  # doctest: +SKIP
            180
            >>> optimizer = keras.optimizers.SGD(schedule, momentum=0.9)  # doctest: +SKIP
        """

        def __init__(
            self,
            max_lr: float,
            total_steps: int,
            pct_start: float = 0.3,
            div_factor: float = 25.0,
            final_div_factor: float = 1e4,
            name: str = "one_cycle",
        ):
            super().__init__()
            if total_steps < 2:
                raise ValueError(f"total_steps must be at least 2; got {total_steps}")
            if not 0.0 < pct_start < 1.0:
                raise ValueError(f"pct_start must be in (0, 1); got {pct_start}")
            self.max_lr = float(max_lr)
            self.total_steps = int(total_steps)
            self.pct_start = float(pct_start)
            self.div_factor = float(div_factor)
            self.final_div_factor = float(final_div_factor)
            self.name = name

        @property
        def peak_step(self) -> int:
            """The step at which the rate is ``max_lr``."""
            return min(max(int(round(self.pct_start * self.total_steps)), 1), self.total_steps - 1)

        def __call__(self, step):
            ops = keras.ops
            step = ops.cast(step, "float32")
            start = self.max_lr / self.div_factor
            final = start / self.final_div_factor
            peak = float(self.peak_step)
            up = ops.clip(step / peak, 0.0, 1.0)
            down = ops.clip((step - peak) / float(self.total_steps - self.peak_step), 0.0, 1.0)
            rising = start + (self.max_lr - start) * 0.5 * (1.0 - ops.cos(math.pi * up))
            falling = final + (self.max_lr - final) * 0.5 * (1.0 + ops.cos(math.pi * down))
            return ops.where(step <= peak, rising, falling)

        def get_config(self) -> dict:
            return {
                "max_lr": self.max_lr,
                "total_steps": self.total_steps,
                "pct_start": self.pct_start,
                "div_factor": self.div_factor,
                "final_div_factor": self.final_div_factor,
                "name": self.name,
            }

    _ONE_CYCLE = OneCycle
    return OneCycle


_ONE_CYCLE = None


def __getattr__(name: str):
    # PEP 562: ``train.OneCycle`` is created (and Keras imported) on first access only.
    if name == "OneCycle":
        return _one_cycle_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def schedule_values(schedule, steps: int) -> np.ndarray:
    """The learning rate a schedule gives at optimizer steps ``0 .. steps - 1`` (NumPy array).

    Accepts a Keras ``LearningRateSchedule`` or a plain number (a constant rate).

    Example:
        >>> schedule_values(1e-3, 3).tolist()  # doctest: +SKIP
        [0.001, 0.001, 0.001]
        >>> schedule_values(OneCycle(1e-2, 100), 101).argmax()  # doctest: +SKIP
        30
    """
    import keras

    if not callable(schedule):
        return np.full(steps, float(schedule), dtype=np.float32)
    try:  # all steps at once when the schedule is written with element-wise ops
        values = keras.ops.convert_to_numpy(schedule(keras.ops.arange(steps, dtype="float32")))
        if np.shape(values) == (steps,):
            return np.asarray(values, dtype=np.float32)
    except (ValueError, TypeError, NotImplementedError, RuntimeError):  # CosineDecay's ops.cond
        pass
    if device.backend() == "tensorflow":  # one step at a time, in a compiled loop
        tf = device.require_tensorflow("tf.map_fn")
        one_by_one = tf.function(lambda s: tf.map_fn(schedule, s, fn_output_signature=tf.float32))
        values = one_by_one(tf.range(steps, dtype=tf.float32))
        return np.asarray(values, dtype=np.float32).reshape(steps)
    return np.array(
        [keras.ops.convert_to_numpy(schedule(np.float32(step))) for step in range(steps)],
        dtype=np.float32,
    )


def lr_range_test(
    build_model,
    x: np.ndarray,
    y: np.ndarray,
    min_lr: float = 1e-6,
    max_lr: float = 1.0,
    steps: int = 100,
    batch_size: int = 128,
    optimizer=None,
    smoothing: float = 0.9,
    stop_factor: float = 4.0,
    suggest_divisor: float = 10.0,
    seed: int = 42,
):
    """The learning-rate range test (Smith 2017; fastai's ``lr_find``) on a fresh model.

    ``build_model()`` returns an uncompiled model. It is trained for up to ``steps`` batches
    (``model.train_on_batch``) while the rate grows geometrically from ``min_lr`` to
    ``max_lr``, recording each batch's loss. The loss falls while the rate is useful and
    explodes once it is too large; the test stops when the smoothed loss exceeds
    ``stop_factor`` times its minimum (or is not finite). ``optimizer`` is a function of the
    learning rate (default ``keras.optimizers.Adam``), e.g. ``lambda lr:
    keras.optimizers.SGD(lr, momentum=0.9)``.

    Returns ``(table, suggested_lr)``: the table has one row per step, ``step``,
    ``learning_rate``, ``loss`` and ``smoothed_loss`` (exponential moving average with weight
    ``smoothing`` and bias correction); ``suggested_lr`` is the rate at the smallest smoothed
    loss divided by ``suggest_divisor`` (a rate where the loss still falls fast).

    Example:
        >>> table, lr = lr_range_test(models.experiment_mlp, x_train, y_train)  # doctest: +SKIP
        >>> table.columns.tolist()  # doctest: +SKIP
        ['step', 'learning_rate', 'loss', 'smoothed_loss']
    """
    import keras
    import pandas as pd

    if not 0 < min_lr < max_lr:
        raise ValueError(f"need 0 < min_lr < max_lr; got {min_lr}, {max_lr}")
    if steps < 2:
        raise ValueError(f"steps must be at least 2; got {steps}")
    x, y = np.asarray(x), np.asarray(y)
    set_seed(seed)
    model = build_model()
    schedule = keras.optimizers.schedules.ExponentialDecay(
        initial_learning_rate=float(min_lr),
        decay_steps=steps - 1,
        decay_rate=float(max_lr / min_lr),  # > 1: the rate grows
    )
    make_optimizer = optimizer or keras.optimizers.Adam
    model.compile(optimizer=make_optimizer(schedule), loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    rows: list[dict] = []
    average, best = 0.0, np.inf
    position = 0
    for step in range(steps):
        if position + batch_size > len(order):
            order, position = rng.permutation(len(x)), 0
        batch = order[position : position + batch_size]
        position += batch_size
        learning_rate = float(min_lr * (max_lr / min_lr) ** (step / (steps - 1)))
        loss = float(model.train_on_batch(x[batch], y[batch], return_dict=True)["loss"])
        average = smoothing * average + (1 - smoothing) * loss
        smoothed = average / (1 - smoothing ** (step + 1))
        rows.append(
            {"step": step, "learning_rate": learning_rate, "loss": loss, "smoothed_loss": smoothed}
        )
        if not np.isfinite(smoothed) or smoothed > stop_factor * best:
            break
        best = min(best, smoothed)
    table = pd.DataFrame(rows)
    finite = table[np.isfinite(table["smoothed_loss"])]
    at_min = finite.loc[finite["smoothed_loss"].idxmin(), "learning_rate"]
    return table, float(at_min / suggest_divisor)


def gradient_norms(model, x, y, loss=None, training: bool = True):
    """The L2 norm of the loss gradient for every Dense/Conv kernel, on one batch.

    Runs the model on ``x`` (``model.stateless_call``, with the weights as arguments so that
    every backend can differentiate; :func:`fmnist_utils.device.gradients`), computes
    ``loss(y, predictions)`` (default
    sparse categorical cross-entropy on probabilities) and differentiates it with respect to
    the kernel (weight matrix) of each Dense and convolution layer, input side first. Small
    norms in the first layers and large ones near the output are the signature of vanishing
    gradients (sigmoid activations in a deep network). Returns a DataFrame, one row per
    kernel: ``layer``, ``kernel_shape``, ``gradient_norm``, ``weight_norm`` and
    ``relative`` (gradient norm / weight norm: how big one step is compared with the weights).
    The model is left exactly as it was: the forward pass with ``training=True`` would update
    BatchNormalization's moving statistics (and advance dropout's random state), and
    ``stateless_call`` returns those updates instead of assigning them. A frozen kernel
    (``trainable=False``) gets a zero gradient.

    Example:
        >>> norms = gradient_norms(model, X_train[:256], y_train[:256])  # doctest: +SKIP
        >>> norms[["layer", "gradient_norm"]]  # doctest: +SKIP
    """
    import keras
    import pandas as pd

    layers = [layer for layer in model.layers if type(layer).__name__ in _KERNEL_LAYER_TYPES]
    if not layers:
        raise ValueError(f"model {model.name!r} has no Dense or convolution layer")
    loss_fn = loss or keras.losses.SparseCategoricalCrossentropy()
    trainable = list(model.trainable_variables)
    position = {id(variable): i for i, variable in enumerate(trainable)}
    non_trainable = [variable.value for variable in model.non_trainable_variables]
    x, y = np.asarray(x), np.asarray(y)

    def loss_of(*values):  # the weights as arguments: differentiable on every backend
        predictions, _ = model.stateless_call(list(values), non_trainable, x, training=training)
        return loss_fn(y, predictions)

    # stateless_call returns the updated BatchNormalization statistics and seed-generator
    # states instead of assigning them, so the model is left as it was
    gradients = device.gradients(loss_of, [variable.value for variable in trainable])
    rows = []
    for layer in layers:
        weights = keras.ops.convert_to_numpy(layer.kernel)
        index = position.get(id(layer.kernel))  # None: a frozen kernel, no gradient flows
        grad = np.zeros_like(weights) if index is None else gradients[index]
        rows.append(
            {
                "layer": layer.name,
                "kernel_shape": tuple(int(d) for d in weights.shape),
                "gradient_norm": float(np.linalg.norm(grad)),
                "weight_norm": float(np.linalg.norm(weights)),
            }
        )
    table = pd.DataFrame(rows)
    table["relative"] = table["gradient_norm"] / table["weight_norm"]
    return table


def run_experiment(
    build,
    x,
    y,
    *,
    validation_data,
    epochs: int,
    batch_size: int = 128,
    callbacks: list | None = None,
    seed: int = 42,
    verbose: int = 0,
    run_eagerly: bool = False,
):
    """One run of a controlled experiment: fresh session, same seed, build, train; timed.

    ``build()`` returns a *compiled* model (the factor under study goes into it: optimizer,
    schedule, dropout...). Every run starts from ``keras.backend.clear_session()`` and
    :func:`set_seed`, so two runs differ only in what ``build`` does differently (same
    initial weights for the same architecture, same batch order). Training is :func:`fit`.
    ``run_eagerly=True`` skips compiling the training step into a graph, which saves about a
    second per run when there are only a few batches (a smoke test) and costs time otherwise.
    Returns ``(model, history)``.

    Example:
        >>> build = lambda: models.compile_model(models.experiment_mlp(dropout=0.2))
        >>> model, history = run_experiment(build, X, y, validation_data=(X_val, y_val),
        ...                                 epochs=5)  # doctest: +SKIP
    """
    import keras

    keras.backend.clear_session(free_memory=False)  # garbage collection: slow, not needed
    set_seed(seed)
    model = build()
    if run_eagerly:
        model.run_eagerly = True
    history = fit(
        model,
        x,
        y,
        validation_data=validation_data,
        epochs=epochs,
        batch_size=batch_size,
        callbacks=callbacks,
        verbose=verbose,
    )
    return model, history


def runs_table(histories: dict, metric: str = "accuracy"):
    """Compare the runs of an experiment in one table (one row per run, in the given order).

    ``histories`` maps a run's name to its :func:`fit` table. Columns: ``best val <metric>``
    (the lowest for a loss, else the highest) and the ``best epoch`` where it was reached,
    ``final val <metric>``, ``final train <metric>``, ``gap`` (final train minus final
    validation: overfitting), ``epochs`` and ``seconds`` (training wall time).

    Example:
        >>> import pandas as pd
        >>> h = pd.DataFrame({"epoch": [1, 2], "seconds": [1.0, 2.0], "accuracy": [0.8, 0.9],
        ...                   "val_accuracy": [0.85, 0.84]})
        >>> runs_table({"run": h}).loc["run", ["best val accuracy", "best epoch"]].tolist()
        [0.85, 1]
    """
    import pandas as pd

    rows = []
    for name, history in histories.items():
        table = pd.DataFrame(history)
        val = table[f"val_{metric}"]
        best = int(val.to_numpy().argmin() if "loss" in metric else val.to_numpy().argmax())
        seconds = table.attrs.get("seconds", table["seconds"].iloc[-1])
        rows.append(
            {
                "run": name,
                f"best val {metric}": float(val.iloc[best]),
                "best epoch": int(table["epoch"].iloc[best]),
                f"final val {metric}": float(val.iloc[-1]),
                f"final train {metric}": float(table[metric].iloc[-1]),
                "gap": float(table[metric].iloc[-1] - val.iloc[-1]),
                "epochs": len(table),
                "seconds": float(seconds),
            }
        )
    return pd.DataFrame(rows).set_index("run")
