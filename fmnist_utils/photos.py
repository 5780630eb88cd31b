"""Real photos to Fashion-MNIST-like 28x28 inputs (notebook 14 and the web service).

:func:`read_photo` is the one path from any image Pillow can read (bytes, a path or a
``PIL.Image``) to a uint8 (28, 28) image prepared the Fashion-MNIST way, and says how it got
there (:class:`PhotoResult`); :func:`load_photo` returns the image only. Every failure is a
:class:`PhotoError` (a ``ValueError``) whose message says what is wrong and what to do.

Example:
    >>> load_photo("shirt.jpg").shape  # doctest: +SKIP
    (28, 28)
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from fmnist_utils.preprocess import IMAGE_SHAPE

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage


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
    "I;16"...). ``inverted``: whether the item was darker than its background, so that it
    was, in effect, inverted to a light item on black. ``box``: the item's bounding box (left,
    top, right, bottom) in the upright image reduced to at most :data:`WORKING_SIZE` pixels.
    ``background``: the background's grey level (0-255; after the inversion when
    ``inverted``): the level subtracted, or in photos, whose background may vary (uneven light,
    texture), its median along the border.
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


#: Pillow modes whose pixels are grey levels: they are analysed as one channel, not three.
_GREY_MODES = ("1", "L", "LA", "La", "I", "F")


def _decode(image: PILImage) -> np.ndarray:
    """Decode, turn upright (EXIF), reduce to working size; colour is kept.

    Returns float32 pixels 0-255 of shape (h, w, 3) for colour images and (h, w, 1) for grey
    ones; transparent areas are white, 16-bit and float samples are scaled to 0-255.
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
        image = Image.fromarray(np.clip(values, 0, 255).astype(np.float32), mode="F")
    else:
        if _has_alpha(image):
            rgba = image.convert("RGBA")
            image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
        try:
            image = image.convert("L" if mode in _GREY_MODES else "RGB")
        except ValueError as error:
            raise PhotoError(
                f"cannot turn an image of mode {mode} into colours ({error}); save it as an "
                "RGB PNG or JPEG and send it again"
            ) from None
    if max(image.size) > WORKING_SIZE:
        factor = WORKING_SIZE / max(image.size)
        size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
        image = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)
    pixels = np.asarray(image, dtype=np.float32)
    return pixels[..., np.newaxis] if pixels.ndim == 2 else pixels


#: The light falling on the background is modelled on a copy of the photo reduced (by block
#: means) to at most this many pixels a side: plenty for a smooth field, and cheap to fit.
_ANALYSIS_SIZE = 96
#: Grey-level weights of Pillow's ``convert("L")`` (ITU-R 601).
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def _grey(pixels: np.ndarray) -> np.ndarray:
    return pixels[..., 0] if pixels.shape[-1] == 1 else pixels @ _LUMA


def _distance(pixels: np.ndarray, background: np.ndarray) -> np.ndarray:
    """How far each pixel's colour is from the background's: the root mean square over the
    channels (grey-level units: for a grey image, the absolute difference)."""
    diff = pixels - background
    if diff.shape[-1] == 1:
        return np.abs(diff[..., 0])
    return np.sqrt(np.einsum("...c,...c->...", diff, diff) / diff.shape[-1])


def _robust_spread(values: np.ndarray) -> tuple[float, float]:
    """Median and robust standard deviation (1.4826 median absolute deviation)."""
    centre = float(np.median(values))
    return centre, 1.4826 * float(np.median(np.abs(values - centre)))


def _border(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pixels of a thin ring along the border (2 % of the shorter side) and of the four
    corners (5 % squares), as rows of channel values."""
    h, w = values.shape[:2]
    k, c = max(1, round(0.02 * min(h, w))), max(1, round(0.05 * min(h, w)))
    channels = values.shape[-1]
    ring = np.concatenate(
        [
            values[:k].reshape(-1, channels), values[-k:].reshape(-1, channels),
            values[k:-k, :k].reshape(-1, channels), values[k:-k, -k:].reshape(-1, channels),
        ]
    )  # fmt: skip
    corners = np.concatenate(
        [
            values[:c, :c].reshape(-1, channels), values[:c, -c:].reshape(-1, channels),
            values[-c:, :c].reshape(-1, channels), values[-c:, -c:].reshape(-1, channels),
        ]
    )  # fmt: skip
    return ring, corners


def _flat_background(pixels: np.ndarray) -> tuple[np.ndarray, float]:
    """One background colour from the border, and its noise (a robust standard deviation of
    the distances to it): the ring's median colour, or the corners' when the two disagree (an
    item touching the border shifts the ring but rarely a corner)."""
    ring, corners = _border(pixels)
    ring_colour, corner_colour = np.median(ring, axis=0), np.median(corners, axis=0)
    noise = 1.4826 * float(np.median(_distance(ring, ring_colour)))
    if float(_distance(ring_colour, corner_colour)) > max(3.0 * noise, 2.0):
        noise = 1.4826 * float(np.median(_distance(corners, corner_colour)))
        return corner_colour.astype(np.float32), noise
    return ring_colour.astype(np.float32), noise


def _perimeter(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of the pixels along the border, in order round the frame."""
    top = [np.zeros(width, int), np.arange(width)]
    right = [np.arange(1, height), np.full(height - 1, width - 1)]
    bottom = [np.full(width - 1, height - 1), np.arange(width - 2, -1, -1)]
    left = [np.arange(height - 2, 0, -1), np.zeros(height - 2, int)]
    rows = np.concatenate([top[0], right[0], bottom[0], left[0]])
    cols = np.concatenate([top[1], right[1], bottom[1], left[1]])
    return rows, cols


def _block_means(pixels: np.ndarray, factor: int) -> np.ndarray:
    """``pixels`` (h, w, c) reduced ``factor`` times by the means of factor x factor blocks
    (a remainder of fewer than ``factor`` rows or columns is left out)."""
    h, w, channels = pixels.shape
    hs, ws = h // factor, w // factor
    rows = pixels[: hs * factor, : ws * factor].reshape(hs, factor, ws * factor, channels)
    blocks = rows.sum(axis=1).reshape(hs, ws, factor, channels).sum(axis=2)
    return blocks / np.float32(factor * factor)


def _light_field(
    pixels: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """The background as the camera saw it, uneven light and colour included, at low resolution.

    On a copy reduced by block means to at most :data:`_ANALYSIS_SIZE` pixels a side:

    1. seeds: the pixels along the border whose colour is close to the running median round
       the frame (a moving window of a sixth of the perimeter), so a coin or a pen at the edge
       drops out while a ramp or a shadow entering the frame stays; their spread about it sets
       the tolerance of texture, noise and JPEG artefacts;
    2. a first background (:func:`_fill_background`) from the seeds and the background grown
       from them over slow changes of colour (:func:`_grow`: a ramp, a shadow), and the pixels
       that clearly differ from it (over a third of the strongest contrast): markers of the
       item (and of any clutter);
    3. a marker-controlled watershed (``skimage.segmentation.watershed``) of the colour
       gradient floods the photo from the seeds and from those markers: the background takes
       every region it reaches over lower ridges (a shadow's soft edge, texture) and the item
       stops it at its own edge, where the colour jumps;
    4. the background again from the pixels the seeds reached, less those near the item that
       differ from it (its faint, soft edge).

    Returns the reduced photo (hs, ws, c), the background there, the seeds (a mask of the
    border pixels that are background), the background pixels and the reduction factor.
    """
    from scipy import ndimage
    from skimage.segmentation import watershed

    h, w, channels = pixels.shape
    factor = max(1, -(-max(h, w) // _ANALYSIS_SIZE))
    small = _block_means(pixels, factor)
    hs, ws = small.shape[:2]

    # 1. seeds along the border
    rows, cols = _perimeter(hs, ws)
    border = small[rows, cols]
    window = max(5, len(rows) // 6) | 1
    running = ndimage.median_filter(border, size=(window, 1), mode="wrap")
    off = _distance(border, running)
    centre, spread = _robust_spread(off)
    noise = max(centre + 4.0 * spread, 4.0)
    tolerance = noise + 6.0
    seeds = np.zeros((hs, ws), bool)
    seeds[rows[off <= tolerance], cols[off <= tolerance]] = True

    # 2. a first background, and markers where the photo clearly differs from it
    first = _fill_background(small, seeds | _grow(small, seeds, min(tolerance, 12.0)), noise)
    distance = _distance(small, first)
    centre, spread = _robust_spread(distance[seeds])
    level = centre + 4.0 * spread + 3.0
    strong = (distance > max(level, 0.35 * float(np.percentile(distance, 99.5)))) & ~seeds

    # 3. watershed of the colour gradient from the seeds and the markers
    smooth = ndimage.gaussian_filter(small, (1.0, 1.0, 0))
    gradient = np.sqrt(
        sum(ndimage.sobel(smooth, axis=a, mode="nearest") ** 2 for a in (0, 1)).sum(axis=-1)
    )
    markers = seeds.astype(np.int32) + 2 * strong
    mask = watershed(gradient, markers) == 1

    # 4. the background from the pixels the seeds reached, less those next to the item that
    # differ from it, and their neighbours (an item's faint, soft edge would pull the
    # background towards it)
    reached = mask
    near_item = ndimage.binary_dilation(~reached, np.ones((3, 3), bool), iterations=2)
    background = _fill_background(small, mask, noise)
    differ = _distance(small, background) > level
    mask = reached & ~(ndimage.binary_dilation(differ, np.ones((3, 3), bool)) & near_item)
    background = _fill_background(small, mask, noise)
    return small, background, seeds, mask, factor


def _grow(small: np.ndarray, seeds: np.ndarray, step: float) -> np.ndarray:
    """The background grown inwards from ``seeds`` on a copy of ``small`` halved again: a pixel
    joins when at least three of its 3x3 neighbourhood already belong and its colour is within
    ``step`` of their mean. Light changes slowly, so the background follows a shadow or a ramp
    into the frame; it stops at an item's edge, where the colour jumps (and on texture, where
    the colour jumps everywhere). Returns a mask the size of ``small``."""
    from scipy import ndimage

    hs, ws, channels = small.shape
    factor = 2 if min(hs, ws) >= 32 else 1
    half = _block_means(small, factor)
    mask = _block_means(seeds[..., None].astype(np.float32), factor)[..., 0] > 0
    for _ in range(max(half.shape)):
        count = ndimage.uniform_filter(mask.astype(np.float32), 3, mode="constant")
        total = ndimage.uniform_filter(half * mask[..., None], (3, 3, 1), mode="constant")
        mean = total / np.maximum(count, 1e-6)[..., None]
        grown = (count > 3.0 / 9 - 1e-3) & ~mask & (_distance(half, mean) <= step)
        if not grown.any():
            break
        mask |= grown
    mask = np.repeat(np.repeat(mask, factor, axis=0), factor, axis=1)
    return np.pad(mask, ((0, hs - mask.shape[0]), (0, ws - mask.shape[1])), mode="edge")


def _fill_background(small: np.ndarray, mask: np.ndarray, noise: float) -> np.ndarray:
    """A background colour everywhere from the background pixels ``mask`` of ``small``.

    A smooth surface (per channel, least squares on 1, x, y, xy and, from enough pixels, x^2,
    y^2), corrected by a wide normalised convolution of its residuals; then, where background
    pixels are near, by their local mean (7x7) where it differs from that by more than
    ``noise`` (a shadow's edge; smaller differences are noise, or an item's faint edge pulling
    the mean towards it)."""
    from scipy import ndimage

    hs, ws, channels = small.shape
    y, x = np.mgrid[-1 : 1 : hs * 1j, -1 : 1 : ws * 1j].astype(np.float32)
    terms = np.stack([np.ones_like(x), x, y, x * y, x * x, y * y], axis=-1)
    if mask.sum() < 12:
        mask = np.ones_like(mask)
    # the quadratic terms only once background pixels lie inside the frame, not just round it
    inner = mask[2:-2, 2:-2].mean() > 0.1 if min(hs, ws) > 4 else False
    used = terms if inner else terms[..., :4]
    chosen, values = used[mask], small[mask]
    # least squares by the normal equations: a 6x6 system, with a touch of ridge for safety
    gram = chosen.T @ chosen + 1e-3 * np.eye(used.shape[-1], dtype=np.float32)
    surface = used @ np.linalg.solve(gram, chosen.T @ values)
    # a wide normalised convolution of the residuals: three box filters make a Gaussian of
    # about 0.12 of the frame, at a cost that does not grow with its width
    size = max(3, round(0.24 * max(hs, ws)))

    def wide_blur(values: np.ndarray) -> np.ndarray:
        for _ in range(3):
            values = ndimage.uniform_filter(values, (size, size, 1)[: values.ndim], mode="nearest")
        return values

    weight = wide_blur(mask.astype(np.float32))
    local = wide_blur((small - surface) * mask[..., None])
    wide = surface + local / (weight[..., None] + 0.02)
    near_weight = ndimage.uniform_filter(mask.astype(np.float32), 7, mode="constant")
    near = ndimage.uniform_filter(small * mask[..., None], (7, 7, 1), mode="constant")
    near = near / np.maximum(near_weight, 1e-6)[..., None]
    blend = np.clip(near_weight / 0.3, 0.0, 1.0)[..., None]
    gap = _distance(near, wide)
    shrink = np.clip(1.0 - noise / np.maximum(gap, 1e-6), 0.0, 1.0)[..., None]
    return wide + blend * shrink * (near - wide)


def _upsample(
    values: np.ndarray, shape: tuple[int, int], factor: float, origin: tuple[int, int] = (0, 0)
) -> np.ndarray:
    """A low-resolution field (hs, ws, c) smoothly enlarged (bilinear) by ``factor``: the
    ``shape`` (rows, columns) of the result whose top left pixel is ``origin`` (row, column) in
    the enlarged field. Only that window is computed."""
    from PIL import Image

    # two more rows and columns: the photo's last rows and columns, left out of the block
    # means (a remainder), and rounding
    values = np.pad(values, ((0, 2), (0, 2), (0, 0)), mode="edge")
    top, left = origin[0] / factor, origin[1] / factor
    bottom = min(top + shape[0] / factor, values.shape[0])
    right = min(left + shape[1] / factor, values.shape[1])
    window = (left, top, right, bottom)
    size, bilinear = (shape[1], shape[0]), Image.Resampling.BILINEAR
    channels = [Image.fromarray(values[..., i], mode="F") for i in range(values.shape[-1])]
    return np.stack([np.asarray(c.resize(size, bilinear, window)) for c in channels], axis=-1)


def _choose_item(strength: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """The item among the candidate regions (low resolution): the connected region (after
    closing small gaps) with the highest score, its area times the square root of its mean
    contrast ``strength``, a region that touches the frame's edge counting a fifth (clutter
    and shadows come in from the edges, the item is usually whole), plus the regions inside or
    near its box that do not touch the edge (a sandal's straps). Returns a boolean mask."""
    from scipy import ndimage

    joined = ndimage.binary_closing(candidates, np.ones((3, 3), bool), border_value=0)
    joined |= candidates
    labels, count = ndimage.label(joined, np.ones((3, 3), bool))
    if count <= 1:
        return labels > 0
    index = np.arange(1, count + 1)
    # size counts more than contrast: a small dark coin must not beat a large pale shirt
    area = ndimage.sum_labels(candidates, labels, index)
    contrast = ndimage.sum_labels(strength, labels, index) / np.maximum(area, 1)
    edge = np.zeros(count + 1, bool)
    edge[np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))] = True
    score = area * np.sqrt(contrast) * np.where(edge[1:], 0.2, 1.0)
    main = int(np.argmax(score))
    boxes = ndimage.find_objects(labels)
    rows, cols = boxes[main]
    pad_r = 0.1 * (rows.stop - rows.start) + 1
    pad_c = 0.1 * (cols.stop - cols.start) + 1
    keep = np.zeros(count + 1, bool)
    keep[main + 1] = True
    for i, (r, c) in enumerate(boxes):
        near = (
            r.start < rows.stop + pad_r and r.stop > rows.start - pad_r
            and c.start < cols.stop + pad_c and c.stop > cols.start - pad_c
        )  # fmt: skip
        if near and not edge[i + 1]:
            keep[i + 1] = True
    return keep[labels]


class _Item(NamedTuple):
    item: np.ndarray  # float (h, w) in [0, 1]: how strongly each pixel belongs to the item
    inverted: bool
    background: float


def _photo_contrast(pixels: np.ndarray) -> tuple[np.ndarray, float, np.ndarray, float]:
    """The item's contrast in a photo (see :func:`read_photo`, steps 3 to 5): ``(distance,
    level, grey_background, reference)``, the distance of each pixel's colour from the
    background (0 outside the item's region), the noise margin, the background's grey levels
    and their median along the border."""
    from scipy import ndimage

    h, w, _ = pixels.shape
    small, small_background, seeds, known, factor = _light_field(pixels)
    reference = float(np.median(_grey(small_background)[seeds]))
    # contrast under dim light counts as much as under bright light
    small_gain = max(reference, 20.0) / np.maximum(_grey(small_background), 20.0)
    small_distance = _distance(small, small_background) * small_gain
    centre, spread = _robust_spread(small_distance[seeds])
    # where the background fits its own pixels worse than usual (a shadow's sharp edge), the
    # margin grows, by twice the excess of the local root mean square residual
    weight = ndimage.uniform_filter(known.astype(np.float32), 9, mode="constant")
    squares = ndimage.uniform_filter(small_distance**2 * known, 9, mode="constant")
    local = np.sqrt(squares / np.maximum(weight, 1e-6)) * (weight > 0.05)
    extra = 2.0 * np.clip(local - float(np.median(local[known])), 0.0, None)
    small_level = centre + 4.0 * spread + 3.0 + extra

    # the item's region: the chosen item among the regions of clear contrast (a tenth of the
    # strongest and more), then its fainter parts within 3 pixels: the faint remains of a
    # shadow or of texture further out stay out
    candidates = small_distance > small_level
    strong = float(np.percentile(small_distance[candidates], 99)) if candidates.any() else 0.0
    clear = small_distance > np.maximum(small_level, 0.1 * strong)
    region = _choose_item(np.clip(small_distance - small_level, 0, None), clear)
    region = ndimage.binary_dilation(region, np.ones((3, 3), bool), 3, mask=candidates)
    region = ndimage.binary_dilation(region, np.ones((3, 3), bool))
    region = np.repeat(np.repeat(region, factor, axis=0), factor, axis=1)
    region = np.pad(region, ((0, h - region.shape[0]), (0, w - region.shape[1])), mode="edge")

    # the noise margin at full resolution, from every 4th row and column of the background
    sampled, sample = pixels[::4, ::4], ~region[::4, ::4]
    if sample.sum() < 100:
        sample = np.ones_like(sample)
    background = _upsample(small_background, sampled.shape[:2], factor / 4)[sample]
    gain = max(reference, 20.0) / np.maximum(_grey(background), 20.0)
    centre, spread = _robust_spread(_distance(sampled[sample], background) * gain)
    level = centre + max(3.0 * spread, 6.0)

    # the contrast at full resolution, within the region's box only
    distance = np.zeros((h, w), np.float32)
    grey_background = np.full((h, w), reference, np.float32)
    rows, cols = np.flatnonzero(region.any(axis=1)), np.flatnonzero(region.any(axis=0))
    if len(rows):
        top, left = int(rows[0]), int(cols[0])
        box = np.s_[top : rows[-1] + 1, left : cols[-1] + 1]
        shape = pixels[box].shape[:2]
        background = _upsample(small_background, shape, factor, (top, left))
        grey_background[box] = _grey(background)
        gain = max(reference, 20.0) / np.maximum(grey_background[box], 20.0)
        margin = _upsample(extra[..., None], shape, factor, (top, left))[..., 0]
        near = _distance(pixels[box], background) * gain - margin
        distance[box] = np.where(region[box], near, 0.0)
    return distance, level, grey_background, reference


def _find_item(pixels: np.ndarray) -> _Item:
    """Separate the item from its background (see :func:`read_photo`, steps 3 to 6)."""
    h, w, _ = pixels.shape
    if min(h, w) >= 64:
        distance, level, grey_background, background_grey = _photo_contrast(pixels)
        background_grey = round(background_grey, 2)
    else:
        colour, noise = _flat_background(pixels)
        distance = _distance(pixels, colour)
        level = max(3.0 * noise, 0.5)
        background_grey = float(_grey(colour[None])[0])
        grey_background = np.float32(background_grey)
    inside = distance > level
    if not inside.any():
        peak = 0.0
    elif inside.sum() > 10_000:
        peak = float(np.percentile(distance[inside], 99.5))
    else:
        peak = float(distance.max())
    if peak - level < 8.0:
        grey = _grey(pixels)
        raise NoObjectError(
            f"found no item: nothing stands out from the background (grey levels "
            f"{float(grey.min()):.0f} to {float(grey.max()):.0f} of 0-255; the image is almost "
            "uniform). Photograph one item, filling much of the frame, on a plain background "
            "that contrasts with it"
        )
    item = np.clip((distance - level) / (peak - level), 0.0, 1.0)
    # dark item on a lighter background (turned light on black, like Fashion-MNIST) or not
    darker = float(np.sum((_grey(pixels) - grey_background) * item))
    inverted = darker < 0
    return _Item(item, inverted, 255.0 - background_grey if inverted else background_grey)


def _near_core(item: np.ndarray) -> np.ndarray:
    """The pixels of ``item`` (contrast 0-1) that may set its box: those above 0 within two
    28ths of the item's size (two Fashion-MNIST pixels) of its clear parts (above 0.1), so a
    faint remain of a shadow's edge or of texture beside the item does not widen the box. In
    Fashion-MNIST itself this moves the box of 0.6 % of the images, by one pixel mostly."""
    from scipy import ndimage

    core = item > 0.1
    rows, cols = np.flatnonzero(core.any(axis=1)), np.flatnonzero(core.any(axis=0))
    if not len(rows):
        return item > 0
    reach = -(-2 * max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1) // 28)
    top, left = max(int(rows[0]) - reach, 0), max(int(cols[0]) - reach, 0)
    window = np.s_[top : int(rows[-1]) + reach + 1, left : int(cols[-1]) + reach + 1]
    near = np.zeros_like(core)
    near[window] = ndimage.maximum_filter(core[window], size=2 * reach + 1, mode="constant")
    return (item > 0) & near


def read_photo(
    source: bytes | str | Path | PILImage, max_pixels: int = MAX_PHOTO_PIXELS
) -> PhotoResult:
    """Turn any image Pillow can read into a Fashion-MNIST-like 28x28 input, and say how.

    The steps, the same for every caller (the web service, notebooks, tests):

    1. check the pixel count from the header, before decoding (``max_pixels``);
    2. decode, turn upright from the EXIF orientation, and reduce so the longer side is at most
       :data:`WORKING_SIZE` pixels; colour is kept (transparent areas count as white, 16-bit
       images are scaled to 0-255);
    3. model the background *in colour*: in small images (under 64 pixels a side) one colour
       from the border (a ring and the four corners); in photos a colour at every pixel, grown
       from the border inwards over slow changes and separated from the item by a watershed
       at its edge (:func:`_light_field`), so uneven light, a soft shadow, a coloured cloth
       and texture are background, whatever the item's colour;
    4. measure how far each pixel's colour is from the background there (root mean square
       over the channels, relative to the light there): a red item on a blue cloth of the same
       grey level stands out, and a dark item on a grey table as much as a light one;
    5. in photos, find the item: the connected region of clear contrast with the highest
       score (area, and contrast), regions touching the frame's edge (clutter, shadows)
       counting a fifth, plus the regions near its box (a sandal's straps) and the faint
       parts next to it; everything else is background;
    6. subtract a noise margin (three robust standard deviations of the background's distance,
       at least 6 levels in photos, 0.5 in small images: sensor noise, JPEG artefacts and
       texture fall below it; in photos more where the background model fits its own pixels
       worse, at a shadow's sharp edge) and stretch so the item's strongest pixels are 255:
       a light item on black, like Fashion-MNIST, whatever the photo's polarity (``inverted``
       says whether the item was darker than its background: decided from the item, not from
       how light the background is);
    7. crop to the item's bounding box (in photos of its pixels near its clear parts, after a
       3x3 median filter, so faint remains and isolated specks do not widen it), pad with
       black to a centred square and resize to 28x28 (Lanczos): the item's longer side fills
       the frame, as in Fashion-MNIST.

    A Fashion-MNIST image itself comes back almost unchanged. Works best with one item, whole
    and filling much of the frame, on a background that contrasts with it; a 512-pixel photo
    takes about 20-30 ms on one CPU core.

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
        >>> photo[:] = 110; photo[50:250, 60:140] = 20      # dark item on a mid-grey table
        >>> read_photo(Image.fromarray(photo)).box
        (60, 50, 140, 250)
    """
    from PIL import Image, ImageFilter

    image = _open_photo(source, max_pixels)
    original_size, mode = image.size, image.mode
    try:
        pixels = _decode(image)
    except PhotoError:
        raise
    except Image.DecompressionBombError as error:
        raise PhotoTooLargeError(f"the image is too large to decode safely ({error})") from None
    except _DECODE_ERRORS as error:  # the pixel data is cut short or corrupt
        raise _corrupt(error) from None
    h, w = pixels.shape[:2]
    found = _find_item(pixels)
    item = found.item

    # 7. bounding box, centred square, 28x28
    photo = min(h, w) >= 64
    mask = item > 0
    if photo:  # faint pixels count only near the item's clear parts (see _near_core)
        mask = _near_core(item)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    if photo:  # drop isolated specks (small images have none to drop)
        y0, x0 = max(top - 1, 0), max(left - 1, 0)
        near = Image.fromarray(mask[y0 : bottom + 1, x0 : right + 1].astype(np.uint8) * 255)
        filtered = np.asarray(near.filter(ImageFilter.MedianFilter(3))) > 0
        if filtered.any():
            rows, cols = np.flatnonzero(filtered.any(axis=1)), np.flatnonzero(filtered.any(axis=0))
            top, bottom = y0 + int(rows[0]), y0 + int(rows[-1]) + 1
            left, right = x0 + int(cols[0]), x0 + int(cols[-1]) + 1
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
        inverted=found.inverted,
        box=(left, top, right, bottom),
        background=found.background,
    )


def load_photo(
    source: bytes | str | Path | PILImage, max_pixels: int = MAX_PHOTO_PIXELS
) -> np.ndarray:
    """Any image Pillow can read (bytes, a path or a ``PIL.Image``) as a uint8 (28, 28) array
    prepared the Fashion-MNIST way: grey, light item on black, cropped, centred, 28x28.

    See :func:`read_photo` for the steps and the errors (:class:`PhotoError` subclasses, which
    are ``ValueError``). Feed the result to :func:`fmnist_utils.preprocess.prepare` for the
    model's float input.

    Example:
        >>> import io
        >>> from PIL import Image
        >>> buffer = io.BytesIO()
        >>> Image.new("RGB", (640, 480), "white").save(buffer, "PNG")   # a blank photo
        >>> load_photo(buffer.getvalue())
        Traceback (most recent call last):
        ...
        fmnist_utils.photos.NoObjectError: found no item: ...
        >>> prepare(load_photo("shirt.jpg")).shape  # doctest: +SKIP
        (1, 28, 28, 1)
    """
    return read_photo(source, max_pixels=max_pixels).image
