"""The one image-preparation path, shared by training, evaluation and serving.

Models in this course take float32 tensors of shape ``(n, 28, 28, 1)`` with pixels in [0, 1].
:func:`prepare` turns the uint8 arrays of :mod:`fmnist_utils.data` into exactly that, and every
notebook and the web service call it, so a model never sees pixels prepared two ways.
Augmentation is in :mod:`fmnist_utils.augment`, photos become 28x28 images in
:mod:`fmnist_utils.photos`, and the HOG features of the classic baselines are in
:mod:`fmnist_utils.features`.

Example:
    >>> import numpy as np
    >>> batch = prepare(np.full((2, 28, 28), 255, np.uint8))
    >>> batch.shape, batch.dtype, float(batch.max())
    ((2, 28, 28, 1), dtype('float32'), 1.0)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from fmnist_utils import device

IMAGE_SHAPE: tuple[int, int, int] = (28, 28, 1)
NUM_CLASSES = 10


def scale(images: np.ndarray) -> np.ndarray:
    """uint8 pixels 0-255 to float32 in [0, 1].

    Example:
        >>> scale(np.array([0, 51, 255], np.uint8))
        array([0. , 0.2, 1. ], dtype=float32)
    """
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(
            f"scale expects uint8 pixels (0-255) as loaded by fmnist_utils.data; got "
            f"{images.dtype}. Scaling twice would squash the images towards black."
        )
    return images.astype(np.float32) / np.float32(255.0)


def add_channel(images: np.ndarray) -> np.ndarray:
    """``(n, 28, 28)`` to ``(n, 28, 28, 1)``: Keras convolutions want a channel axis.

    Example:
        >>> add_channel(np.zeros((5, 28, 28))).shape
        (5, 28, 28, 1)
    """
    images = np.asarray(images)
    if images.shape[-2:] == IMAGE_SHAPE[:2]:
        return images[..., np.newaxis]
    if images.shape[-3:] == IMAGE_SHAPE:
        return images
    raise ValueError(f"expected images of shape (n, 28, 28) or (n, 28, 28, 1); got {images.shape}")


def prepare(images: np.ndarray) -> np.ndarray:
    """The course's model input: scaled to [0, 1], float32, with a channel axis.

    Accepts one image ``(28, 28)`` or a batch ``(n, 28, 28)`` / ``(n, 28, 28, 1)`` of uint8.

    Example:
        >>> prepare(np.zeros((28, 28), np.uint8)).shape
        (1, 28, 28, 1)
    """
    images = np.asarray(images)
    if images.ndim == 2:
        images = images[np.newaxis]
    return add_channel(scale(images))


def standardize(
    images: np.ndarray, mean: float | None = None, std: float | None = None
) -> tuple[np.ndarray, float, float]:
    """Zero mean, unit variance. Pass the *training* set's mean and std for every other split.

    Returns ``(standardized, mean, std)`` so the statistics can be reused.

    Example:
        >>> x = np.array([[0, 255]], np.uint8)
        >>> z, mean, std = standardize(x)
        >>> z.round(2).tolist(), mean, std
        ([[-1.0, 1.0]], 127.5, 127.5)
    """
    images = np.asarray(images, dtype=np.float32)
    mean = float(images.mean()) if mean is None else float(mean)
    std = float(images.std()) if std is None else float(std)
    return (images - mean) / std, mean, std


def one_hot(labels: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Integer labels to one-hot rows (for ``categorical_crossentropy``).

    Example:
        >>> one_hot(np.array([2, 0]), 3)
        array([[0., 0., 1.],
               [1., 0., 0.]], dtype=float32)
    """
    labels = np.asarray(labels)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"labels must be in 0..{num_classes - 1}; got {labels.min()}..{labels.max()}"
        )
    return np.eye(num_classes, dtype=np.float32)[labels]


_ARRAY_BATCHES = None


def _array_batches_class():
    """Build (once) the ``keras.utils.PyDataset`` behind :func:`array_batches`; Keras is
    imported on first use, so importing this module stays light."""
    global _ARRAY_BATCHES
    if _ARRAY_BATCHES is not None:
        return _ARRAY_BATCHES
    import keras

    class ArrayBatches(keras.utils.PyDataset):
        """Shuffled ``(images, targets)`` batches cut from arrays, each batch optionally
        prepared and transformed; a new order every pass. Runs on every Keras backend."""

        def __init__(self, x, y, batch_size, shuffle, seed, transform, prepare_images, repeat):
            super().__init__()
            self.x, self.y = x, y
            self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
            self.transform, self.prepare_images, self.repeats = transform, prepare_images, repeat
            self.per_pass = -(-len(x) // batch_size)
            self.passes_started = 0  # a finite pass begins each time batch 0 is asked for
            self._order = (None, None)

        @property
        def num_batches(self):
            return None if self.repeats else self.per_pass

        def __len__(self):
            return self.per_pass

        def order(self, n_pass: int) -> np.ndarray:
            if self._order[0] != n_pass:
                rng = np.random.default_rng([self.seed, n_pass])
                order = rng.permutation(len(self.x)) if self.shuffle else np.arange(len(self.x))
                self._order = (n_pass, order)
            return self._order[1]

        def __getitem__(self, index):
            if not self.repeats and not 0 <= index < self.per_pass:
                raise IndexError(f"batch {index} of {self.per_pass}")
            n_pass, i = divmod(int(index), self.per_pass)
            if not self.repeats:
                # a new order for every pass, also when fit keeps one iterator across epochs
                # (steps_per_epoch) or the batches are iterated by hand
                self.passes_started += index == 0
                n_pass = self.passes_started
            chosen = self.order(n_pass)
            chosen = chosen[i * self.batch_size : (i + 1) * self.batch_size]
            images, targets = self.x[chosen], self.y[chosen]
            if self.prepare_images:
                images = prepare(images)
            if self.transform is not None:
                images = keras.ops.convert_to_numpy(self.transform(images, training=True))
            return images, targets

        def repeat(self):
            """The same batches pass after pass without end (like ``tf.data``'s ``repeat``);
            train on it with ``steps_per_epoch``."""
            return ArrayBatches(
                self.x, self.y, self.batch_size, self.shuffle, self.seed, self.transform,
                self.prepare_images, repeat=True,
            )  # fmt: skip

    _ARRAY_BATCHES = ArrayBatches
    return ArrayBatches


def array_batches(
    images: np.ndarray,
    targets: np.ndarray,
    batch_size: int = 128,
    shuffle: bool = True,
    seed: int = 42,
    transform: Callable | None = None,
    prepare_images: bool = False,
):
    """Batches for ``model.fit`` on every Keras backend: a ``keras.utils.PyDataset``.

    Each pass over the data takes a new random order (seeded by ``seed`` and the pass), cuts
    it into ``batch_size`` batches of ``(images, targets)``, prepares uint8 images when
    ``prepare_images`` (:func:`prepare`) and applies ``transform(images, training=True)``
    (an augmentation layer) to each batch. ``.repeat()`` gives the endless version for a run
    sized in steps. The TensorFlow backend's ``tf.data`` pipelines (:func:`make_dataset`,
    :func:`fmnist_utils.augment.augmented_dataset`, :func:`fmnist_utils.recipes.recipe_dataset`)
    use this on the other backends.

    Example:
        >>> batches = array_batches(x_train, y_train, 64, prepare_images=True)  # doctest: +SKIP
        >>> images, labels = batches[0]  # doctest: +SKIP
        >>> images.shape  # doctest: +SKIP
        (64, 28, 28, 1)
    """
    images, targets = np.asarray(images), np.asarray(targets)
    if len(images) != len(targets):
        raise ValueError(f"{len(images)} images but {len(targets)} targets")
    return _array_batches_class()(
        images, targets, batch_size, shuffle, seed, transform, prepare_images, repeat=False
    )


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int = 128,
    shuffle: bool = True,
    seed: int = 42,
):
    """A ``tf.data.Dataset`` of prepared ``(image, label)`` batches: shuffle, batch, prefetch.

    The uint8 arrays go in as they are and are prepared per batch inside the pipeline, so the
    float32 copy of the whole set is never held in memory. ``tf.data`` is TensorFlow's (the
    lesson of notebook 03); on another Keras backend this returns :func:`array_batches` with
    the same batches, which ``model.fit`` takes the same way.

    Example:
        >>> ds = make_dataset(x_train, y_train, batch_size=64)  # doctest: +SKIP
        >>> images, labels = next(iter(ds))  # doctest: +SKIP
        >>> images.shape  # doctest: +SKIP
        TensorShape([64, 28, 28, 1])
    """
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(f"make_dataset expects uint8 images; got {images.dtype}")
    if device.backend() != "tensorflow":
        return array_batches(images, labels, batch_size, shuffle, seed, prepare_images=True)
    tf = device.require_tensorflow("a tf.data pipeline")
    ds = tf.data.Dataset.from_tensor_slices((images, np.asarray(labels)))
    if shuffle:
        ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)

    def _prepare(x, y):
        x = tf.cast(x, tf.float32) / 255.0
        return tf.reshape(x, (-1, *IMAGE_SHAPE)), y

    return (
        ds.batch(batch_size)
        .map(_prepare, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )


# --- shifting images (06: how much a model depends on position) ---
def shift_images(images: np.ndarray, dx: int = 0, dy: int = 0) -> np.ndarray:
    """Move every image ``dx`` pixels right and ``dy`` pixels down, filling with black (0).

    Negative values move left / up. Works on ``(n, 28, 28)`` and ``(n, 28, 28, 1)``.

    Example:
        >>> shift_images(np.arange(9).reshape(1, 3, 3), dx=1)[0]
        array([[0, 0, 1],
               [0, 3, 4],
               [0, 6, 7]])
    """
    images = np.asarray(images)
    out = np.zeros_like(images)
    h, w = images.shape[1:3]
    if abs(dx) >= w or abs(dy) >= h:
        return out
    src_y = slice(max(0, -dy), h - max(0, dy))
    dst_y = slice(max(0, dy), h - max(0, -dy))
    src_x = slice(max(0, -dx), w - max(0, dx))
    dst_x = slice(max(0, dx), w - max(0, -dx))
    out[:, dst_y, dst_x] = images[:, src_y, src_x]
    return out
