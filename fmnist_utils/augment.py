"""Data augmentation (notebook 08): random transformations of the training images.

:func:`augmenter` builds a ``keras.Sequential`` of Keras' random layers and the course's own
:class:`RandomCutout` (built on first use, so importing this module does not import Keras);
:func:`augmented_dataset` applies it to every batch of a ``tf.data`` pipeline; :func:`mixup`
blends images and their labels; :func:`rotate_images` turns images by a fixed angle to measure
how robust a model is to rotation.

Example:
    >>> augment = augmenter(seed=0)  # doctest: +SKIP
    >>> ds = augmented_dataset(x_train, y_train, augment)  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

from fmnist_utils import device
from fmnist_utils.preprocess import IMAGE_SHAPE, array_batches, make_dataset


# --- augmentation (08) ---
def rotate_images(images: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate every image by ``degrees`` counter-clockwise about its centre, filling with black.

    Bilinear interpolation (``scipy.ndimage.rotate`` with ``order=1``, ``reshape=False``), so the
    images keep their shape, dtype and pixel range (uint8 results are rounded). Works on
    ``(n, 28, 28)`` and ``(n, 28, 28, 1)``. Used to test how robust a model is to rotation.

    Example:
        >>> x = np.zeros((1, 3, 3), np.uint8); x[0, 0, 1] = 255  # top middle
        >>> rotate_images(x, 90)[0]  # counter-clockwise: now left middle
        array([[  0,   0,   0],
               [255,   0,   0],
               [  0,   0,   0]], dtype=uint8)
    """
    from scipy import ndimage

    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(f"expected a batch (n, h, w) or (n, h, w, 1); got shape {images.shape}")
    if degrees % 360 == 0:
        return images.copy()
    rotated = ndimage.rotate(
        images.astype(np.float32),
        degrees,
        axes=(2, 1),
        reshape=False,
        order=1,
        mode="constant",
        cval=0.0,
    )
    if images.dtype == np.uint8:
        return np.clip(np.rint(rotated), 0, 255).astype(np.uint8)
    return rotated.astype(images.dtype)


def _augmentation_keras():
    import fmnist_utils

    fmnist_utils.quiet_tensorflow()
    import keras

    return keras


_RANDOM_CUTOUT = None


def _random_cutout_class():
    """Build (once) and register the ``RandomCutout`` layer class; Keras is imported lazily."""
    global _RANDOM_CUTOUT
    if _RANDOM_CUTOUT is not None:
        return _RANDOM_CUTOUT
    keras = _augmentation_keras()
    ops = keras.ops

    @keras.saving.register_keras_serializable(package="fmnist_utils")
    class RandomCutout(keras.layers.Layer):
        """Cutout (random erasing): fill one random ``size`` x ``size`` square per image.

        Like Keras' own random layers it acts when called directly and during ``fit``, and
        passes the images unchanged with ``training=False`` (``predict``, ``evaluate``). The square
        lies wholly inside the image, and each image gets one with probability ``probability``.
        Images are ``(batch, height, width, channels)``; every channel is filled with
        ``fill_value`` (0, black, is the Fashion-MNIST background). This is cutout as DeVries
        and Taylor defined it, a square of fixed size; Keras' ``RandomErasing`` (used by
        ``recipes.recipe_augmenter``) draws a rectangle of random area and shape instead. It works
        inside a model and in a ``tf.data`` pipeline, and it is saved and loaded with the model.

        Example:
            >>> cut = RandomCutout(size=8, seed=0)  # doctest: +SKIP
            >>> out = cut(np.ones((2, 28, 28, 1), "float32"), training=True)  # doctest: +SKIP
            >>> (np.asarray(out) == 0).sum(axis=(1, 2, 3)).tolist()  # doctest: +SKIP
            [64, 64]
        """

        def __init__(
            self,
            size: int = 8,
            probability: float = 1.0,
            fill_value: float = 0.0,
            seed: int | None = None,
            **kwargs,
        ):
            super().__init__(**kwargs)
            if int(size) < 1:
                raise ValueError(f"size must be a positive number of pixels; got {size}")
            if not 0.0 <= float(probability) <= 1.0:
                raise ValueError(f"probability must be in [0, 1]; got {probability}")
            self.size = int(size)
            self.probability = float(probability)
            self.fill_value = float(fill_value)
            self.seed = seed
            self.seed_generator = keras.random.SeedGenerator(seed)
            self.supports_masking = False

        def call(self, inputs, training=True):
            if not training:
                return inputs
            inputs = ops.convert_to_tensor(inputs)
            shape = ops.shape(inputs)
            height, width = int(inputs.shape[1]), int(inputs.shape[2])
            if self.size > min(height, width):
                raise ValueError(
                    f"a {self.size}x{self.size} patch does not fit in {height}x{width} images"
                )
            draws = keras.random.uniform((shape[0], 3), seed=self.seed_generator)
            top = ops.floor(draws[:, 0] * (height - self.size + 1))
            left = ops.floor(draws[:, 1] * (width - self.size + 1))
            apply = ops.cast(draws[:, 2] < self.probability, "float32")
            rows = ops.reshape(ops.arange(height, dtype="float32"), (1, height, 1, 1))
            cols = ops.reshape(ops.arange(width, dtype="float32"), (1, 1, width, 1))
            top = ops.reshape(top, (-1, 1, 1, 1))
            left = ops.reshape(left, (-1, 1, 1, 1))
            inside = (
                ops.cast((rows >= top) & (rows < top + self.size), "float32")
                * ops.cast((cols >= left) & (cols < left + self.size), "float32")
                * ops.reshape(apply, (-1, 1, 1, 1))
            )
            inside = ops.cast(inside, inputs.dtype)
            return inputs * (1 - inside) + ops.cast(self.fill_value, inputs.dtype) * inside

        def compute_output_shape(self, input_shape):
            return input_shape

        def get_config(self):
            return {
                **super().get_config(),
                "size": self.size,
                "probability": self.probability,
                "fill_value": self.fill_value,
                "seed": self.seed,
            }

    RandomCutout.__module__ = __name__
    _RANDOM_CUTOUT = RandomCutout
    return RandomCutout


def __getattr__(name: str):
    # ``augment.RandomCutout`` builds the layer class on first use, so importing this module
    # does not import Keras (the web service and data tools stay light).
    if name == "RandomCutout":
        return _random_cutout_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def augmenter(
    flip: bool = True,
    rotation: float = 10.0,
    zoom: float = 0.1,
    translation: float = 0.1,
    cutout: int = 8,
    cutout_probability: float = 0.5,
    interpolation: str = "bilinear",
    seed: int | None = None,
    name: str = "augmenter",
):
    """A ``keras.Sequential`` of random transformations suited to Fashion-MNIST.

    In order: horizontal flip (``flip``), rotation by up to ``rotation`` degrees either way,
    zoom in or out by up to ``zoom`` (a fraction of the size), translation by up to
    ``translation`` of the height and width (0.1 is 2.8 pixels), and a ``cutout`` x ``cutout``
    black square on a share ``cutout_probability`` of the images (:class:`RandomCutout`).
    A value of 0 (or False) leaves that step out. Pixels that move in from outside are black
    (``fill_mode="constant"``), like the background; ``interpolation="nearest"`` moves whole
    pixels instead of blending neighbours (no blur). Input and output: float images
    ``(n, 28, 28, 1)`` in [0, 1]. Like every Keras random layer it transforms when called
    directly or with ``training=True`` (``fit``) and passes the images unchanged with
    ``training=False`` (``predict``, ``evaluate``). ``seed`` seeds each layer (``seed``,
    ``seed + 1``...) for repeatable draws.

    Example:
        >>> augment = augmenter(seed=0)  # doctest: +SKIP
        >>> batch = augment(prepare(x_train[:8]), training=True)  # doctest: +SKIP
        >>> [layer.name for layer in augment.layers]  # doctest: +SKIP
        ['flip', 'rotation', 'zoom', 'translation', 'cutout']
    """
    keras = _augmentation_keras()
    layers = keras.layers

    def next_seed(i: int) -> int | None:
        return None if seed is None else seed + i

    steps = []
    if flip:
        steps.append(layers.RandomFlip("horizontal", seed=next_seed(len(steps)), name="flip"))
    fill = {"fill_mode": "constant", "fill_value": 0.0, "interpolation": interpolation}
    if rotation:
        steps.append(
            layers.RandomRotation(
                rotation / 360.0, seed=next_seed(len(steps)), name="rotation", **fill
            )
        )
    if zoom:
        steps.append(layers.RandomZoom(zoom, seed=next_seed(len(steps)), name="zoom", **fill))
    if translation:
        steps.append(
            layers.RandomTranslation(
                translation, translation, seed=next_seed(len(steps)), name="translation", **fill
            )
        )
    if cutout:
        steps.append(
            _random_cutout_class()(
                cutout, cutout_probability, seed=next_seed(len(steps)), name="cutout"
            )
        )
    if not steps:  # nothing random: pass the images through
        steps.append(layers.Identity(name="identity"))
    return keras.Sequential([keras.Input(shape=IMAGE_SHAPE), *steps], name=name)


def augmented_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    augment,
    batch_size: int = 128,
    shuffle: bool = True,
    seed: int = 42,
):
    """:func:`make_dataset` with ``augment`` applied to every batch, in parallel, on the CPU.

    Batches first, then maps ``augment(images, training=True)`` over the batches with
    ``num_parallel_calls=AUTOTUNE``: one call per batch is much cheaper than one per image,
    and the next batches are augmented while the model trains on the current one.

    On a backend other than TensorFlow: :func:`fmnist_utils.preprocess.array_batches`, which
    augments each batch as it is asked for.

    Example:
        >>> ds = augmented_dataset(x_train, y_train, augmenter(seed=0))  # doctest: +SKIP
        >>> model.fit(ds, epochs=5)  # doctest: +SKIP
    """
    if device.backend() != "tensorflow":
        return array_batches(
            np.asarray(images), np.asarray(labels), batch_size, shuffle, seed,
            transform=augment, prepare_images=True,
        )  # fmt: skip
    tf = device.require_tensorflow("a tf.data pipeline")

    return (
        make_dataset(images, labels, batch_size=batch_size, shuffle=shuffle, seed=seed)
        .map(
            lambda x, y: (augment(x, training=True), y),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        .prefetch(tf.data.AUTOTUNE)
    )


def mixup(
    images: np.ndarray, labels_one_hot: np.ndarray, alpha: float = 0.2, seed: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """MixUp: blend each image with another of the batch, and their labels by the same weight.

    ``keras.layers.MixUp``: for image i a weight w ~ Beta(alpha, alpha) is drawn and a partner
    j is picked by shuffling the batch; the result is ``w * x_i + (1 - w) * x_j`` with label
    ``w * y_i + (1 - w) * y_j``. Small ``alpha`` keeps most weights near 0 or 1 (mild mixing).
    Labels must be one-hot (or already soft), float; train with ``categorical_crossentropy``.
    Returns NumPy ``(mixed_images, mixed_labels)``; in a ``tf.data`` pipeline use the layer
    itself, ``keras.layers.MixUp(alpha)({"images": x, "labels": y})``.

    Example:
        >>> x, y = mixup(prepare(x_train[:8]), one_hot(y_train[:8]), seed=0)  # doctest: +SKIP
        >>> np.allclose(y.sum(axis=1), 1)  # doctest: +SKIP
        True
    """
    keras = _augmentation_keras()
    images = np.asarray(images, dtype=np.float32)
    labels_one_hot = np.asarray(labels_one_hot, dtype=np.float32)
    if labels_one_hot.ndim != 2 or len(labels_one_hot) != len(images):
        raise ValueError(
            "mixup needs one-hot labels of shape (n, classes) for n images; got "
            f"{labels_one_hot.shape} for {len(images)} images (use preprocess.one_hot)"
        )
    mixed = keras.layers.MixUp(alpha=alpha, seed=seed)(
        {"images": images, "labels": labels_one_hot}, training=True
    )
    return (
        keras.ops.convert_to_numpy(mixed["images"]),
        keras.ops.convert_to_numpy(mixed["labels"]),
    )
