"""The one image-preparation path, shared by training, evaluation and serving.

Models in this course take float32 tensors of shape ``(n, 28, 28, 1)`` with pixels in [0, 1].
:func:`prepare` turns the uint8 arrays of :mod:`fmnist_utils.data` into exactly that, and every
notebook and the web service call it, so a model never sees pixels prepared two ways.

Example:
    >>> import numpy as np
    >>> batch = prepare(np.full((2, 28, 28), 255, np.uint8))
    >>> batch.shape, batch.dtype, float(batch.max())
    ((2, 28, 28, 1), dtype('float32'), 1.0)
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

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


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int = 128,
    shuffle: bool = True,
    seed: int = 42,
):
    """A ``tf.data.Dataset`` of prepared ``(image, label)`` batches: shuffle, batch, prefetch.

    The uint8 arrays go in as they are and are prepared per batch inside the pipeline, so the
    float32 copy of the whole set is never held in memory.

    Example:
        >>> ds = make_dataset(x_train, y_train, batch_size=64)  # doctest: +SKIP
        >>> images, labels = next(iter(ds))  # doctest: +SKIP
        >>> images.shape  # doctest: +SKIP
        TensorShape([64, 28, 28, 1])
    """
    import tensorflow as tf

    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(f"make_dataset expects uint8 images; got {images.dtype}")
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
        ``train.recipe_augmenter``) draws a rectangle of random area and shape instead. It works
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
    # ``preprocess.RandomCutout`` builds the layer class on first use, so importing this module
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

    Example:
        >>> ds = augmented_dataset(x_train, y_train, augmenter(seed=0))  # doctest: +SKIP
        >>> model.fit(ds, epochs=5)  # doctest: +SKIP
    """
    import tensorflow as tf

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


# --- photos (14) ---
# Real photos (colour, any size, usually on a light background) become Fashion-MNIST-like 28x28
# images here, through ONE path that the web service, the notebooks and the tests all call.

#: Default upper limit on a photo's pixel count (width x height), checked from the file's header
#: before any pixel is decoded: 40 megapixels covers phone cameras and stops decompression bombs.
MAX_PHOTO_PIXELS = 40_000_000
#: A photo is reduced so that its longer side is at most this many pixels before it is analysed:
#: plenty for a 28x28 result, and it keeps every later step fast whatever the camera.
WORKING_SIZE = 512


class PhotoError(ValueError):
    """A photo could not be turned into a model input; the message says why and what to do."""


class EmptyPhotoError(PhotoError):
    """The photo has no bytes at all."""


class NotAnImageError(PhotoError):
    """The bytes are not in an image format Pillow can read."""


class TruncatedPhotoError(PhotoError):
    """The file starts like an image but its pixel data is cut short or corrupt."""


class PhotoTooLargeError(PhotoError):
    """The image has more pixels than allowed (checked before decoding: decompression bombs)."""


class NoObjectError(PhotoError):
    """The image is (nearly) uniform: there is no item to crop."""


#: What Pillow raises on a cut or corrupt file, depending on the format and where it breaks.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error)


def _corrupt(error: Exception) -> TruncatedPhotoError:
    return TruncatedPhotoError(
        f"the image data is truncated or corrupt ({error}); the file was probably cut off while "
        "it was copied or uploaded: open it in an image viewer, save it again and send the new "
        "file"
    )


class PhotoResult(NamedTuple):
    """What :func:`read_photo` made of a photo: the 28x28 model input and how it got there.

    ``image``: uint8 (28, 28), a light item on black like Fashion-MNIST. ``original_size``:
    (width, height) as stored in the file. ``mode``: Pillow's mode of the file ("RGB", "P",
    "I;16"...). ``inverted``: whether a light background was turned dark. ``box``: the item's
    bounding box (left, top, right, bottom) in the upright image reduced to at most
    :data:`WORKING_SIZE` pixels. ``background``: the background's grey level (0-255) after the
    inversion, which was subtracted.
    """

    image: np.ndarray
    original_size: tuple[int, int]
    mode: str
    inverted: bool
    box: tuple[int, int, int, int]
    background: float


def _open_photo(source: bytes | str | Path | PILImage, max_pixels: int) -> PILImage:
    """Open ``source`` with Pillow and check its size from the header; nothing is decoded."""
    import io

    from PIL import Image, UnidentifiedImageError

    if isinstance(source, Image.Image):
        image = source
    else:
        if isinstance(source, bytes | bytearray | memoryview):
            if len(source) == 0:
                raise EmptyPhotoError(
                    "the photo is empty (0 bytes); choose an image file (PNG, JPEG, ...) and "
                    "send it again"
                )
            stream, name = io.BytesIO(bytes(source)), "the upload"
        elif isinstance(source, str | Path):
            path = Path(source)
            if not path.is_file():
                raise FileNotFoundError(f"no such file: {path}")
            if path.stat().st_size == 0:
                raise EmptyPhotoError(f"{path} is empty (0 bytes); choose an image file")
            stream, name = path, str(path)
        else:
            raise TypeError(
                "load_photo takes bytes, a file path or a PIL.Image.Image; got "
                f"{type(source).__name__}"
            )
        try:
            image = Image.open(stream)
        except Image.DecompressionBombError as error:
            raise PhotoTooLargeError(
                f"{name} is far too large to decode safely ({error}); downscale it to at most "
                f"{max_pixels / 1e6:g} megapixels and send it again"
            ) from None
        except UnidentifiedImageError:
            raise NotAnImageError(
                f"{name} is not an image Pillow can read; send a PNG, JPEG, GIF, BMP, TIFF or "
                "WebP file (a phone's HEIC photo: export it as JPEG first)"
            ) from None
        except _DECODE_ERRORS as error:  # recognised, but its header is broken
            raise _corrupt(error) from None
    width, height = image.size
    if width * height > max_pixels:
        raise PhotoTooLargeError(
            f"the image is {width}x{height} = {width * height / 1e6:.1f} megapixels; the limit "
            f"is {max_pixels / 1e6:g} megapixels. Downscale it (anything above 28x28 pixels "
            "works) and send it again"
        )
    if width == 0 or height == 0:
        raise NotAnImageError(f"the image has no pixels ({width}x{height})")
    return image


def _has_alpha(image: PILImage) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info


def _decode_grey(image: PILImage) -> np.ndarray:
    """Decode, turn upright (EXIF), to grey (transparency on white), reduce to working size.

    Returns float32 grey levels 0-255.
    """
    from PIL import Image, ImageOps

    if max(image.size) > 2 * WORKING_SIZE:
        image.draft(None, (WORKING_SIZE, WORKING_SIZE))  # JPEG decodes at 1/2, 1/4 or 1/8 scale
    image.load()
    image = ImageOps.exif_transpose(image)
    mode = image.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        values = np.asarray(image, dtype=np.float32)
        if mode.startswith("I;16") or (mode == "I" and values.max() > 255):
            values = values / 257.0  # 16-bit samples 0-65535 to 0-255
        elif mode == "F" and values.max() <= 1.0:
            values = values * 255.0
        grey = Image.fromarray(np.clip(values, 0, 255).astype(np.float32), mode="F")
    else:
        if _has_alpha(image):
            rgba = image.convert("RGBA")
            image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
        try:
            grey = image.convert("L")
        except ValueError as error:
            raise PhotoError(
                f"cannot turn an image of mode {mode} into grey levels ({error}); save it as an "
                "RGB PNG or JPEG and send it again"
            ) from None
    if max(grey.size) > WORKING_SIZE:
        factor = WORKING_SIZE / max(grey.size)
        size = (max(1, round(grey.width * factor)), max(1, round(grey.height * factor)))
        grey = grey.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)
    return np.asarray(grey, dtype=np.float32)


def read_photo(
    source: bytes | str | Path | PILImage, max_pixels: int = MAX_PHOTO_PIXELS
) -> PhotoResult:
    """Turn any image Pillow can read into a Fashion-MNIST-like 28x28 input, and say how.

    The steps, the same for every caller (the web service, notebooks, tests):

    1. check the pixel count from the header, before decoding (``max_pixels``);
    2. decode, turn upright from the EXIF orientation, and reduce so the longer side is at most
       :data:`WORKING_SIZE` pixels;
    3. to grey levels: transparent areas count as white, 16-bit images are scaled to 0-255;
    4. decide the background from the border: if both the median of a thin ring of border
       pixels and the median of the four corners are light (> 127), invert, because
       Fashion-MNIST shows light items on black; the darker of the two is the background level;
    5. subtract the background level plus a noise margin (three robust standard deviations of
       the border, at least 6 grey levels in photos larger than 64 pixels) and stretch so the
       item's brightest pixels are 255: the background becomes 0;
    6. crop to the item's bounding box (in images of 64 pixels and more, after a 3x3 median
       filter, so isolated specks do not widen it), pad with black to a centred square and
       resize to 28x28 (Lanczos): the item's longer side fills the frame, as in Fashion-MNIST.

    A Fashion-MNIST image itself comes back almost unchanged. Works best with one item filling
    much of the frame on a plain background that contrasts with it.

    Raises (all :class:`PhotoError`, a ``ValueError``): :class:`EmptyPhotoError`,
    :class:`NotAnImageError`, :class:`TruncatedPhotoError`, :class:`PhotoTooLargeError`,
    :class:`NoObjectError`; each message says what is wrong and what to do.

    Example:
        >>> from PIL import Image
        >>> photo = np.full((300, 200, 3), 240, np.uint8)   # a light background...
        >>> photo[50:250, 60:140] = (30, 60, 120)           # ...and a dark blue item
        >>> result = read_photo(Image.fromarray(photo))
        >>> result.image.shape, result.image.dtype, result.inverted
        ((28, 28), dtype('uint8'), True)
        >>> result.box  # (left, top, right, bottom) of the item
        (60, 50, 140, 250)
    """
    from PIL import Image, ImageFilter

    image = _open_photo(source, max_pixels)
    original_size, mode = image.size, image.mode
    try:
        grey = _decode_grey(image)
    except PhotoError:
        raise
    except Image.DecompressionBombError as error:
        raise PhotoTooLargeError(f"the image is too large to decode safely ({error})") from None
    except _DECODE_ERRORS as error:  # the pixel data is cut short or corrupt
        raise _corrupt(error) from None
    h, w = grey.shape

    # 4. the background, from a thin ring of border pixels and from the four corners
    k = max(1, round(0.02 * min(h, w)))
    ring = np.concatenate(
        [grey[:k].ravel(), grey[-k:].ravel(), grey[k:-k, :k].ravel(), grey[k:-k, -k:].ravel()]
    )
    c = max(1, round(0.05 * min(h, w)))
    corners = np.concatenate(
        [grey[:c, :c].ravel(), grey[:c, -c:].ravel(), grey[-c:, :c].ravel(), grey[-c:, -c:].ravel()]
    )
    inverted = bool(np.median(ring) > 127.5 and np.median(corners) > 127.5)
    darkest, lightest = float(grey.min()), float(grey.max())
    if inverted:
        grey, ring = 255.0 - grey, 255.0 - ring

    # 5. the background to 0, the item stretched to 0-255. Of the ring and the corners, the
    # darker one is taken: an item touching the border lightens the ring but rarely a corner.
    if inverted:
        corners = 255.0 - corners
    border = min(ring, corners, key=np.median)
    background = float(np.median(border))
    noise = 1.4826 * float(np.median(np.abs(border - background)))  # robust standard deviation
    # Photos also carry sensor noise and compression artefacts that a flat, quantised border
    # hides from the spread (often 0): a floor of 6 grey levels keeps them out of the item.
    # Small images (Fashion-MNIST itself) are clean: their faintest pixels are part of the item.
    level = background + max(3.0 * noise, 0.5 if max(h, w) <= 64 else 6.0)
    peak = float(np.percentile(grey, 99.9) if grey.size > 10_000 else grey.max())
    if peak - level < 8.0:
        raise NoObjectError(
            f"found no item: the image is almost uniform (grey levels {darkest:.0f} to "
            f"{lightest:.0f} of 0-255). Photograph one item, filling much of the frame, on a "
            "plain background that contrasts with it"
        )
    item = np.clip((grey - level) / (peak - level), 0.0, 1.0)

    # 6. bounding box, centred square, 28x28
    mask = item > 0
    if min(h, w) >= 64:  # photos: drop isolated specks (small images have none to drop)
        filtered = Image.fromarray(mask.astype(np.uint8) * 255).filter(ImageFilter.MedianFilter(3))
        if np.asarray(filtered).any():
            mask = np.asarray(filtered) > 0
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    crop = item[top:bottom, left:right]
    side = max(crop.shape)
    square = np.zeros((side, side), np.float32)
    # centred; an odd spare pixel goes above / left of the item, as in Fashion-MNIST
    y0, x0 = (side - crop.shape[0] + 1) // 2, (side - crop.shape[1] + 1) // 2
    square[y0 : y0 + crop.shape[0], x0 : x0 + crop.shape[1]] = crop
    small = Image.fromarray(np.round(square * 255).astype(np.uint8))
    if small.size != IMAGE_SHAPE[:2]:
        small = small.resize(IMAGE_SHAPE[:2], Image.Resampling.LANCZOS)
    return PhotoResult(
        image=np.array(small, dtype=np.uint8),
        original_size=(int(original_size[0]), int(original_size[1])),
        mode=mode,
        inverted=inverted,
        box=(left, top, right, bottom),
        background=background,
    )


def load_photo(
    source: bytes | str | Path | PILImage, max_pixels: int = MAX_PHOTO_PIXELS
) -> np.ndarray:
    """Any image Pillow can read (bytes, a path or a ``PIL.Image``) as a uint8 (28, 28) array
    prepared the Fashion-MNIST way: grey, light item on black, cropped, centred, 28x28.

    See :func:`read_photo` for the steps and the errors (:class:`PhotoError` subclasses, which
    are ``ValueError``). Feed the result to :func:`prepare` for the model's float input.

    Example:
        >>> import io
        >>> from PIL import Image
        >>> buffer = io.BytesIO()
        >>> Image.new("RGB", (640, 480), "white").save(buffer, "PNG")   # a blank photo
        >>> load_photo(buffer.getvalue())
        Traceback (most recent call last):
        ...
        fmnist_utils.preprocess.NoObjectError: found no item: ...
        >>> prepare(load_photo("shirt.jpg")).shape  # doctest: +SKIP
        (1, 28, 28, 1)
    """
    return read_photo(source, max_pixels=max_pixels).image


# --- classic baselines (05) ---
def _hog_batch(images: np.ndarray, options: dict) -> np.ndarray:
    from skimage.feature import hog

    return np.stack([hog(image, feature_vector=True, **options) for image in images]).astype(
        np.float32
    )


def hog_features(
    images: np.ndarray,
    orientations: int = 9,
    pixels_per_cell: tuple[int, int] = (4, 4),
    cells_per_block: tuple[int, int] = (2, 2),
    n_jobs: int = 1,
) -> np.ndarray:
    """HOG descriptors (``skimage.feature.hog``) of a batch of images, one float32 row each.

    Histograms of oriented gradients: each image is cut into cells of ``pixels_per_cell``
    pixels; in every cell the gradient directions (edges) are counted in ``orientations``
    bins, weighted by the gradient's strength; then every block of ``cells_per_block`` cells
    is normalised (L2-Hys), so the descriptor describes shape and edges, not brightness. The
    defaults give 7x7 cells, 6x6 overlapping blocks of 2x2 cells: 6 * 6 * 2 * 2 * 9 = 1,296
    numbers per 28x28 image.

    Accepts ``(n, 28, 28)``, ``(n, 28, 28, 1)`` or flattened rows ``(n, 784)`` (so it fits
    in a scikit-learn pipeline after pixel rows, as a ``FunctionTransformer``). ``n_jobs``
    splits the batch over processes (``joblib``); the result is the same.

    Example:
        >>> hog_features(np.zeros((3, 28, 28), np.uint8)).shape
        (3, 1296)
    """
    images = np.asarray(images)
    side = IMAGE_SHAPE[0]
    if images.ndim == 2 and images.shape[1] == side * side:
        images = images.reshape(len(images), side, side)
    elif images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3:
        raise ValueError(
            "hog_features expects a batch of images (n, 28, 28), (n, 28, 28, 1) or pixel rows "
            f"(n, 784); got shape {images.shape} (wrap a single image as image[None])"
        )
    options = {
        "orientations": int(orientations),
        "pixels_per_cell": tuple(pixels_per_cell),
        "cells_per_block": tuple(cells_per_block),
    }
    if n_jobs == 1 or len(images) < 2_000:
        return _hog_batch(images, options)
    from joblib import Parallel, delayed, effective_n_jobs

    chunks = np.array_split(images, effective_n_jobs(n_jobs))
    parts = Parallel(n_jobs=n_jobs)(delayed(_hog_batch)(chunk, options) for chunk in chunks)
    return np.concatenate(parts)
