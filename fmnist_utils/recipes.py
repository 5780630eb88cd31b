"""Training recipes (notebook 13, the web service's model, benchmarks/time_to_accuracy.py).

A :class:`Recipe` is a model plus every training choice (optimizer, schedule, augmentation,
weight averaging, test-time augmentation, precision, a time budget) in one frozen record, so
that an ablation changes exactly one field; :data:`RECIPES` holds the course's recipes.
:func:`fit_recipe` trains a fresh model with one (on the loop of :mod:`fmnist_utils.train`) and
:func:`predict_recipe` predicts with it.

Example:
    >>> model, history = fit_recipe(RECIPES["fast"], X_train, y_train)  # doctest: +SKIP
    >>> probs = predict_recipe(RECIPES["fast"], model, X_test)  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from fmnist_utils import device, models
from fmnist_utils.preprocess import IMAGE_SHAPE, array_batches, one_hot
from fmnist_utils.train import _one_cycle_class, cosine_with_warmup, fit, set_seed

# --------------------------------------------------------------------------------------------
# Training recipes (notebook 13 and benchmarks/time_to_accuracy.py): a model plus every
# training choice, in one record, so that an ablation changes exactly one field.
# --------------------------------------------------------------------------------------------
#: The optimizers a :class:`Recipe` can name.
OPTIMIZERS = ("adamw", "adam", "sgd_nesterov")
#: The learning-rate schedules a :class:`Recipe` can name.
SCHEDULES = ("one_cycle", "cosine", "constant")


@dataclass(frozen=True)
class Recipe:
    """Everything that decides how a model is trained, with one switch per trick.

    ``model`` names a builder in ``models.BUILDERS`` and ``model_kwargs`` are its arguments.
    ``learning_rate`` is the peak rate of the ``schedule`` (``one_cycle``:
    :class:`fmnist_utils.train.OneCycle`; ``cosine``: :func:`fmnist_utils.train.cosine_with_warmup`
    with 10% warm-up; ``constant``). ``optimizer`` is
    ``adamw`` (decoupled weight decay ``weight_decay``), ``adam`` or ``sgd_nesterov``
    (momentum 0.9, the same weight decay). ``label_smoothing`` moves that much of each
    one-hot target's mass evenly onto all classes. Augmentation, applied to each training
    batch: ``flip`` (horizontal), ``rotation`` (turn each image by a random angle of up to that
    many degrees either way), ``zoom`` (scale each image by up to that fraction in or out; the
    area uncovered by a rotation or a zoom out is black, like the background), ``translate``
    (shift each image by its own random offset of up to that many pixels, borders filled by
    reflection) and ``erasing`` (the probability that an image gets a random rectangle
    blanked); 0 switches a step off. Rotation and zoom are what photos need (notebook 14's
    service model): a phone never holds the item exactly upright and at the dataset's size.
    ``ema`` evaluates the exponential moving average of the weights instead of the last weights;
    its momentum is ``ema_momentum``, or, when that is None, :func:`ema_momentum_for` the run's
    length (the average then spans about the last tenth of the steps). ``tta`` averages the
    predictions for each image and its mirror image (used by :func:`predict_recipe`).
    ``precision`` is a Keras dtype policy, or ``"auto"``:
    :func:`fmnist_utils.device.choose_precision` picks one for the machine the recipe runs on.
    ``seconds``, when set, is the training budget in wall-clock seconds and replaces ``epochs``:
    :func:`fit_recipe` measures the machine's speed on the first steps and sizes the schedule to
    the time left (:func:`steps_for_budget`).
    Change one field with ``dataclasses.replace(recipe, flip=False)``; see :data:`RECIPES`.
    """

    model: str = "resnet_cnn"
    model_kwargs: dict = field(default_factory=dict)
    epochs: int = 10
    batch_size: int = 256
    optimizer: str = "adamw"
    learning_rate: float = 3e-3
    weight_decay: float = 5e-4
    schedule: str = "one_cycle"
    label_smoothing: float = 0.1
    flip: bool = True
    rotation: float = 0.0
    zoom: float = 0.0
    translate: int = 0
    erasing: float = 0.5
    ema: bool = True
    ema_momentum: float | None = None
    tta: bool = True
    precision: str = "auto"
    seconds: float | None = None

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"optimizer {self.optimizer!r} is unknown; choose from {', '.join(OPTIMIZERS)}"
            )
        if self.schedule not in SCHEDULES:
            raise ValueError(
                f"schedule {self.schedule!r} is unknown; choose from {', '.join(SCHEDULES)}"
            )
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(
                f"epochs and batch_size must be at least 1; got {self.epochs}, {self.batch_size}"
            )
        if self.seconds is not None and self.seconds <= 0:
            raise ValueError(f"seconds must be positive (or None for epochs); got {self.seconds}")
        if not 0.0 <= self.rotation <= 180.0 or not 0.0 <= self.zoom < 1.0:
            raise ValueError(
                "rotation must be in degrees in [0, 180] and zoom a fraction in [0, 1); got "
                f"{self.rotation}, {self.zoom}"
            )
        if self.translate < 0:
            raise ValueError(f"translate must be a number of pixels >= 0; got {self.translate}")
        if not 0.0 <= self.erasing <= 1.0 or not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(
                "erasing must be a probability in [0, 1] and label_smoothing in [0, 1); got "
                f"{self.erasing}, {self.label_smoothing}"
            )

    def as_dict(self) -> dict:
        """The recipe as a plain dict (for tables and ``metrics.json``)."""
        return asdict(self)

    def augments(self) -> bool:
        """Whether any augmentation is on."""
        return bool(self.flip or self.rotation or self.zoom or self.translate or self.erasing)


#: The course's two recipes. ``fast``: the small fast CNN, AdamW with a one-cycle schedule at
#: batch 256 for 7 epochs and nothing else: the quickest way the course has found to the classic
#: CNN's accuracy (benchmarks/time_to_accuracy.py; a 60 s budget at batch 512 with flips did not
#: get there, benchmarks/recipe_search.md). ``best``: the small ResNet with every trick of
#: notebook 13, for a budget of 8 minutes in seconds (the epochs follow from the measured speed).
#: ``photos``: the web service's model (``make serve``, notebook 14): the fast CNN at its full
#: width with the augmentations that uploaded photos need (mirror images, a tilt of up to 15
#: degrees, 15% closer or farther, 2 pixels off centre), for a budget of 3 minutes.
RECIPES = {
    "fast": Recipe(
        model="fast_cnn",
        model_kwargs={"filters": (16, 32, 64)},
        epochs=7,
        batch_size=256,
        learning_rate=3e-3,
        label_smoothing=0.0,
        flip=False,
        erasing=0.0,
        ema=False,
        tta=False,
    ),
    "best": Recipe(seconds=480.0),
    "photos": Recipe(
        model="fast_cnn",
        batch_size=256,
        learning_rate=3e-3,
        label_smoothing=0.0,
        flip=True,
        rotation=15.0,
        zoom=0.15,
        translate=2,
        erasing=0.0,
        ema=False,
        tta=False,
        seconds=180.0,
    ),
}


def recipe_augmenter(recipe: Recipe, seed: int | None = None):
    """The recipe's augmentation as a ``keras.Sequential`` of Keras preprocessing layers.

    ``RandomFlip("horizontal")``; ``RandomRotation`` by up to ``rotation`` degrees and
    ``RandomZoom`` by up to ``zoom`` in or out (uncovered corners black, bilinear);
    ``RandomTranslation`` by up to ``translate`` pixels each
    way, a new offset for every image, the border filled by reflecting the image (no black
    stripes the test set never shows); ``RandomErasing`` blanking a rectangle of 2-25% of the
    image for exactly a share ``erasing`` of the images (Keras reads a single ``factor`` as
    "a probability drawn from U(0, factor)", so the layer gets ``(erasing, erasing)``). Each
    only when the recipe asks for it; ``None`` when it asks for none. Call it with
    ``training=True``.
    """
    import keras

    layers = keras.layers
    steps = []
    if recipe.flip:
        steps.append(layers.RandomFlip("horizontal", seed=seed, name="flip"))
    black = {"fill_mode": "constant", "fill_value": 0.0, "interpolation": "bilinear"}
    if recipe.rotation:
        steps.append(
            layers.RandomRotation(recipe.rotation / 360.0, seed=seed, name="rotation", **black)
        )
    if recipe.zoom:
        steps.append(
            layers.RandomZoom((-recipe.zoom, recipe.zoom), seed=seed, name="zoom", **black)
        )
    if recipe.translate:
        share = (recipe.translate + 0.5) / IMAGE_SHAPE[0]  # rounds to at most `translate` px
        steps.append(
            layers.RandomTranslation(
                share,
                share,
                fill_mode="reflect",
                interpolation="nearest",
                seed=seed,
                name="translate",
            )
        )
    if recipe.erasing:
        steps.append(
            layers.RandomErasing(
                factor=(recipe.erasing, recipe.erasing),
                scale=(0.02, 0.25),
                fill_value=0.0,
                value_range=(0.0, 1.0),
                seed=seed,
                name="erasing",
            )
        )
    if not steps:
        return None
    return keras.Sequential([keras.Input(shape=IMAGE_SHAPE), *steps], name="augment")


def recipe_dataset(recipe: Recipe, x, y, seed: int = 42):
    """A shuffled, batched ``tf.data`` pipeline of ``(image, one-hot label)`` for ``recipe``.

    ``x`` holds prepared float images ``(n, 28, 28, 1)``, ``y`` integer labels. Batches are
    augmented by :func:`recipe_augmenter` in parallel with training. On a backend other than
    TensorFlow the same batches come from :func:`fmnist_utils.preprocess.array_batches`.
    """
    x = np.asarray(x, dtype=np.float32)
    targets = one_hot(np.asarray(y))
    if device.backend() != "tensorflow":
        augment = recipe_augmenter(recipe, seed=seed)
        return array_batches(x, targets, recipe.batch_size, seed=seed, transform=augment)
    tf = device.require_tensorflow("a tf.data pipeline")
    ds = (
        tf.data.Dataset.from_tensor_slices((x, targets))
        .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        .batch(recipe.batch_size)
    )
    augment = recipe_augmenter(recipe, seed=seed)
    if augment is not None:
        ds = ds.map(
            lambda images, labels: (augment(images, training=True), labels),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return ds.prefetch(tf.data.AUTOTUNE)


def ema_momentum_for(total_steps: int, share: float = 0.1) -> float:
    """An EMA momentum whose average spans about ``share`` of ``total_steps`` optimizer steps.

    An exponential moving average with momentum m weighs the last ``1 / (1 - m)`` steps most,
    and the starting point (the *initial* weights, in Keras) keeps a weight of ``m ** steps``.
    A fixed 0.99 is right for long runs but leaves a short run's average close to the random
    initial weights (0.99 ** 50 = 0.6), so the momentum follows the run's length:
    ``1 - 1 / (share * total_steps)``, kept within [0.5, 0.999].

    Example:
        >>> ema_momentum_for(1000)
        0.99
        >>> ema_momentum_for(50), ema_momentum_for(100_000)
        (0.8, 0.999)
    """
    return float(min(0.999, max(0.5, round(1.0 - 1.0 / (share * max(total_steps, 1)), 6))))


def recipe_optimizer(recipe: Recipe, total_steps: int):
    """The recipe's optimizer with its learning-rate schedule over ``total_steps`` batches."""
    import keras

    if recipe.schedule == "one_cycle":
        rate = _one_cycle_class()(recipe.learning_rate, total_steps)
    elif recipe.schedule == "cosine":
        rate = cosine_with_warmup(recipe.learning_rate, total_steps)
    else:
        rate = recipe.learning_rate
    momentum = recipe.ema_momentum or ema_momentum_for(total_steps)
    ema = {"use_ema": recipe.ema, "ema_momentum": momentum}
    if recipe.optimizer == "adamw":
        return keras.optimizers.AdamW(rate, weight_decay=recipe.weight_decay, **ema)
    if recipe.optimizer == "adam":
        return keras.optimizers.Adam(rate, **ema)
    return keras.optimizers.SGD(
        rate, momentum=0.9, nesterov=True, weight_decay=recipe.weight_decay, **ema
    )


def recipe_precision(recipe: Recipe) -> str:
    """The dtype policy ``recipe`` trains in: its ``precision``, or
    :func:`fmnist_utils.device.choose_precision`'s answer for this device when that is
    ``"auto"``."""
    return device.choose_precision() if recipe.precision == "auto" else recipe.precision


def build_recipe(recipe: Recipe, steps_per_epoch: int, total_steps: int | None = None):
    """The recipe's model, compiled with its optimizer, schedule and (smoothed) loss.

    The schedule spans ``total_steps`` optimizer steps, by default ``steps_per_epoch`` times
    the recipe's epochs.
    """
    import keras

    if recipe.model not in models.BUILDERS:
        raise ValueError(
            f"model {recipe.model!r} is unknown; choose from {', '.join(models.BUILDERS)}"
        )
    model = models.BUILDERS[recipe.model](**recipe.model_kwargs)
    model.compile(
        optimizer=recipe_optimizer(recipe, total_steps or steps_per_epoch * recipe.epochs),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=recipe.label_smoothing),
        metrics=["accuracy"],
    )
    return model


def _build_in_precision(recipe: Recipe, steps_per_epoch: int, total_steps: int | None = None):
    """:func:`build_recipe` under the recipe's dtype policy (the previous one is restored)."""
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(recipe_precision(recipe))
    try:
        return build_recipe(recipe, steps_per_epoch, total_steps)
    finally:
        keras.config.set_dtype_policy(previous)


def steps_for_budget(
    recipe: Recipe, x, y, seconds: float, *, seed: int = 42, probe_steps: int = 20
) -> dict:
    """How many training steps of ``recipe`` fit in ``seconds`` on this machine, measured.

    Builds a throwaway copy of the recipe's model and trains it on the recipe's real input
    pipeline for 5 steps that pay the one-off costs (tracing the graph, filling the shuffle
    buffer) and then ``probe_steps`` more, in one ``fit`` call, with a clock on every step: the
    seconds per step are those of the steps after the warm-up (a second ``fit`` call would
    refill the shuffle buffer and make the machine look slower than it is). The steps that fit
    are the budget left after the probe and a second start-up (the real model traces its graph
    again), divided by the seconds per step; at least 2. Returns ``steps``,
    ``seconds_per_step``, ``startup_seconds``, ``probe_seconds`` (the probe's whole cost, part
    of the budget) and ``images_per_second``.

    Raises:
        ValueError: ``seconds`` is not positive.
    """
    import time

    import keras

    if seconds <= 0:
        raise ValueError(f"seconds must be positive; got {seconds}")
    warmup = 5
    stamps: list[float] = []

    class _StepClock(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            stamps.append(time.perf_counter())

    began = time.perf_counter()
    keras.backend.clear_session(free_memory=False)
    set_seed(seed)
    steps_per_epoch = -(-len(x) // recipe.batch_size)
    model = _build_in_precision(recipe, steps_per_epoch, total_steps=100)
    batches = recipe_dataset(recipe, x, y, seed=seed).repeat()
    start = time.perf_counter()
    model.fit(
        batches,
        steps_per_epoch=warmup + probe_steps,
        epochs=1,
        shuffle=False,
        verbose=0,
        callbacks=[_StepClock()],
    )
    startup = stamps[warmup - 1] - start
    per_step = (stamps[-1] - stamps[warmup - 1]) / probe_steps
    probe = time.perf_counter() - began
    left = seconds - probe - startup
    return {
        "steps": max(2, int(left / per_step)),
        "seconds_per_step": per_step,
        "startup_seconds": startup,
        "probe_seconds": probe,
        "images_per_second": recipe.batch_size / per_step,
    }


def fit_recipe(
    recipe: Recipe,
    x,
    y,
    *,
    validation_data=None,
    seed: int = 42,
    callbacks: list | None = None,
    verbose: int = 2,
):
    """Train a fresh model with ``recipe`` on prepared images ``x`` and integer labels ``y``.

    Seeds everything (:func:`fmnist_utils.train.set_seed`), builds and compiles the model under
    the recipe's dtype policy (:func:`recipe_precision`; the previous policy is restored) and
    trains it on :func:`recipe_dataset` with :func:`fmnist_utils.train.fit`: for
    ``recipe.epochs`` epochs, or, when ``recipe.seconds`` is set, for as many steps as
    :func:`steps_for_budget` measures to fit in that many seconds, probe included; the one-cycle
    schedule and the weight average are sized to those steps, reported as "epochs" of about one
    pass over ``x`` each.
    ``validation_data`` is ``(x_val, y_val)`` with integer labels. With ``ema`` the model ends
    with the averaged weights (Keras copies them in at the end of ``fit``; during training,
    validation sees the raw weights). Returns ``(model, history)``; ``history.attrs`` holds
    ``seconds`` (the wall time, probe included), ``steps``, ``precision`` and, for a budget,
    ``budget`` (what the probe measured).

    Example:
        >>> model, history = fit_recipe(RECIPES["fast"], X_train, y_train,
        ...                             validation_data=(X_val, y_val))  # doctest: +SKIP
    """
    import time

    import keras

    began = time.perf_counter()
    steps_per_epoch = -(-len(x) // recipe.batch_size)
    budget = None
    if recipe.seconds:
        budget = steps_for_budget(recipe, x, y, recipe.seconds, seed=seed)
        total = budget["steps"]
    else:
        total = steps_per_epoch * recipe.epochs
    epochs = max(1, round(total / steps_per_epoch))
    keras.backend.clear_session(free_memory=False)
    set_seed(seed)
    model = _build_in_precision(recipe, steps_per_epoch, total_steps=epochs * (total // epochs))
    if validation_data is not None:
        x_val, y_val = validation_data
        validation_data = (
            np.asarray(x_val, dtype=np.float32),
            one_hot(np.asarray(y_val)),
        )
    batches = recipe_dataset(recipe, x, y, seed=seed)
    history = fit(
        model,
        batches.repeat() if budget else batches,
        validation_data=validation_data,
        epochs=epochs,
        steps_per_epoch=total // epochs if budget else None,
        callbacks=callbacks,
        verbose=verbose,
    )
    history.attrs.update(
        seconds=time.perf_counter() - began,
        steps=epochs * (total // epochs),
        precision=recipe_precision(recipe),
        budget=budget,
    )
    return model, history


def predict_recipe(recipe: Recipe, model, x, batch_size: int = 1024) -> np.ndarray:
    """Class probabilities for prepared images ``x``; with ``recipe.tta`` the mean of the
    predictions for each image and its horizontal mirror (test-time augmentation)."""
    x = np.asarray(x, dtype=np.float32)
    probs = model.predict(x, batch_size=batch_size, verbose=0)
    if recipe.tta:
        probs = (probs + model.predict(x[:, :, ::-1], batch_size=batch_size, verbose=0)) / 2
    return probs
