"""Photo-like renderings of Fashion-MNIST items: a reproducible test set for the photo path.

The web service turns every upload into a 28x28 input with
:func:`fmnist_utils.photos.read_photo`. Testing it on test images that were only enlarged
and inverted onto white paper is circular (that is exactly what ``read_photo`` undoes), so this
module renders each item as a phone would photograph it, with one change per *kind*:

=====================  ========================================================================
kind                   what changes (everything else as in a plain, centred photo)
=====================  ========================================================================
rotation               the item is turned by 5 to 15 degrees, either way
perspective            a mild homography, as a phone held at an angle sees the table: the
                       frame shows a trapezoid whose near side is 12-24 % shorter
off_centre             the item anywhere in the frame, 30-75 % of its shorter side, up to a few
                       pixels from an edge but never cut off
lighting               uneven light: a brightness ramp across the scene and a soft shadow
coloured_background    a saturated cloth; the item differs from it in colour (by 70 levels or
                       more, root mean square over R, G, B), whatever its grey level
textured_background    wood grain, woven fabric or a gingham tablecloth
jpeg                   JPEG quality 30 to 50 instead of 85
clutter                2-5 small unrelated objects (coins, pens, cards) near the edges
dark_on_grey           a dark item (grey 10-35) on a mid-grey table (100-125): the review's case
light_on_grey          a white item (235-255) on a light-grey table (125-150): the other polarity
combined               rotation, perspective, off-centre framing, uneven light, a coloured or
                       textured background, clutter and JPEG 50-75, each at moderate strength
=====================  ========================================================================

``"plain"`` (not in :data:`KINDS`) renders the reference scene without any of these changes.

**Rendering model.** A Fashion-MNIST pixel ``x`` (0-255) is the item's *darkness* on white paper
(the dataset was made by inverting product photos), so it is read as the item's coverage
``a = x / 255`` and the scene's reflectance is ``R(p) = (1 - a(p)) B(p) + a(p) C`` for a
background colour (or texture) ``B`` and an item colour ``C`` (RGB in [0, 1]); the camera then
records ``255 L(p) R(p)`` under an illumination field ``L`` (exposure, a ramp, a soft shadow,
a colour cast), blurred slightly by the lens (Gaussian, sigma 0.5-0.9 pixel), with Gaussian
sensor noise (2-4 grey levels per channel), rounded to uint8 and stored as JPEG (quality 85,
but 30-50 for ``jpeg`` and 50-75 for ``combined``). Geometric changes (rotation, placement,
perspective) act on the scene before it is lit, as moving the item or the phone would; colours
and sizes are drawn at random from ranges that keep the item visible to a person (its colour
differs clearly from the background's), and each photo is 320 to 480 pixels a side.

Everything is deterministic for a seed: :func:`photo_set` gives each photo its own generator,
``numpy.random.default_rng([seed, kind number, position])``, and each kind its own items, so
a kind's photos do not depend on which other kinds were asked for.

Example:
    >>> import numpy as np
    >>> from fmnist_utils import data, photos
    >>> (_, _), (x_test, y_test) = data.load_fashion_mnist()  # doctest: +SKIP
    >>> rendered = photo_set(x_test, y_test, per_kind=25, seed=0)  # doctest: +SKIP
    >>> len(rendered), rendered[0].kind, rendered[0].format  # doctest: +SKIP
    (275, 'rotation', 'JPEG')
    >>> photos.read_photo(rendered[0].data).image.shape  # doctest: +SKIP
    (28, 28)
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage
from skimage import transform

#: The kinds of change, one per group of the set; ``photo_set`` renders ``per_kind`` of each.
KINDS: tuple[str, ...] = (
    "rotation",
    "perspective",
    "off_centre",
    "lighting",
    "coloured_background",
    "textured_background",
    "jpeg",
    "clutter",
    "dark_on_grey",
    "light_on_grey",
    "combined",
)
#: The reference scene without any change (not part of :data:`KINDS`).
PLAIN = "plain"
#: JPEG quality of every photo but the ``jpeg`` kind's (and ``combined``'s 50-75).
DEFAULT_QUALITY = 85

#: Light, nearly neutral backgrounds of the plain scene: paper, a white table, a bed sheet.
_LIGHT_BACKGROUNDS = np.array(
    [[236, 234, 228], [245, 245, 242], [222, 220, 214], [232, 228, 218], [214, 218, 222]], float
)
#: Garment colours (sRGB): black, charcoal, navy, denim, burgundy, red, forest, olive, brown,
#: mustard, grey, beige, white, pink, teal, purple.
_ITEM_COLOURS = np.array(
    [
        [25, 25, 28], [60, 62, 66], [30, 40, 80], [70, 95, 140], [110, 25, 40], [190, 35, 40],
        [35, 90, 50], [95, 100, 45], [100, 65, 40], [205, 160, 45], [140, 140, 140],
        [215, 195, 160], [246, 246, 244], [225, 140, 165], [30, 130, 130], [95, 55, 130],
    ],
    float,
)  # fmt: skip
#: Saturated cloths and tables for the ``coloured_background`` kind.
_COLOURED_BACKGROUNDS = np.array(
    [
        [40, 75, 160], [185, 45, 45], [45, 125, 70], [225, 195, 70], [35, 140, 150],
        [120, 60, 150], [230, 120, 40], [230, 150, 170],
    ],
    float,
)  # fmt: skip


@dataclass(frozen=True)
class PhotoRecord:
    """One rendered photo: ``data`` (the encoded file, as uploaded), ``label`` (its class),
    ``kind`` (one of :data:`KINDS` or ``"plain"``), ``index`` (the item's position in the
    images given to :func:`photo_set`, so ``images[index]`` is its clean 28x28 original),
    ``format`` ("JPEG" or "PNG") and ``quality`` (JPEG quality; None for PNG)."""

    data: bytes
    label: int
    kind: str
    index: int
    format: str
    quality: int | None


@dataclass
class _Scene:
    """Everything drawn for one photo (see :func:`_draw_scene`)."""

    size: tuple[int, int]  # (height, width)
    item_colour: np.ndarray
    background: np.ndarray  # RGB colour in 0-255
    texture: str | None = None
    item_fraction: float = 0.7  # the item patch's side over the frame's shorter side
    off_centre: bool = False
    rotation: float = 0.0
    perspective: float = 0.0  # each near corner moves in by this fraction of the side
    ramp: float = 0.0  # the light falls by this fraction across the frame
    shadow: float = 0.0  # the shadow's darkening (0: none)
    clutter: int = 0
    quality: int = DEFAULT_QUALITY


def _luma(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(rgb, float) @ np.array([0.299, 0.587, 0.114])


def _contrasting(rng: np.random.Generator, background: np.ndarray, grey: float, colour: float):
    """An item colour from the palette whose grey level differs from the background's by at
    least ``grey``, or whose colour does by at least ``colour`` (RMS over the channels)."""
    diff = _ITEM_COLOURS - background
    rms = np.sqrt((diff**2).mean(axis=1))
    ok = (np.abs(_luma(_ITEM_COLOURS) - _luma(background)) >= grey) | (rms >= colour)
    choices = _ITEM_COLOURS[ok]
    return choices[rng.integers(len(choices))] + rng.normal(0, 4, 3)


def _draw_scene(kind: str, rng: np.random.Generator) -> _Scene:
    """The random choices of one photo of ``kind``: the plain scene, then the kind's change."""
    if kind != PLAIN and kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)} or 'plain'")
    height, width = (int(v) for v in rng.integers(320, 481, 2))
    background = _LIGHT_BACKGROUNDS[rng.integers(len(_LIGHT_BACKGROUNDS))] + rng.normal(0, 3, 3)
    scene = _Scene(
        size=(height, width),
        item_colour=_contrasting(rng, background, grey=90, colour=1e9),
        background=background,
        item_fraction=float(rng.uniform(0.6, 0.8)),
    )
    if kind == "rotation":
        scene.rotation = float(rng.uniform(5, 15) * rng.choice([-1, 1]))
    elif kind == "perspective":
        scene.perspective = float(rng.uniform(0.06, 0.12))
    elif kind == "off_centre":
        scene.item_fraction = float(rng.uniform(0.3, 0.75))
        scene.off_centre = True
    elif kind == "lighting":
        scene.ramp = float(rng.uniform(0.25, 0.45))
        scene.shadow = float(rng.uniform(0.25, 0.4))
    elif kind == "coloured_background":
        scene.background = _COLOURED_BACKGROUNDS[rng.integers(len(_COLOURED_BACKGROUNDS))]
        scene.background = scene.background + rng.normal(0, 5, 3)
        scene.item_colour = _contrasting(rng, scene.background, grey=1e9, colour=70)
    elif kind == "textured_background":
        scene.texture = str(rng.choice(["wood", "fabric", "gingham"]))
        if scene.texture == "wood":
            scene.background = np.array([196, 160, 118]) + rng.normal(0, 8, 3)
        scene.item_colour = _contrasting(rng, scene.background, grey=90, colour=1e9)
    elif kind == "jpeg":
        scene.quality = int(rng.integers(30, 51))
    elif kind == "clutter":
        scene.item_fraction = float(rng.uniform(0.5, 0.65))
        scene.clutter = int(rng.integers(2, 6))
    elif kind == "dark_on_grey":
        scene.background = rng.uniform(100, 125) + rng.normal(0, 2, 3)
        scene.item_colour = rng.uniform(10, 35) + rng.normal(0, 2, 3)
    elif kind == "light_on_grey":
        scene.background = rng.uniform(125, 150) + rng.normal(0, 2, 3)
        scene.item_colour = np.minimum(rng.uniform(235, 255) + rng.normal(0, 2, 3), 255)
    elif kind == "combined":
        scene.rotation = float(rng.uniform(-10, 10))
        scene.perspective = float(rng.uniform(0.03, 0.07))
        scene.item_fraction = float(rng.uniform(0.45, 0.65))
        scene.off_centre = True
        scene.ramp = float(rng.uniform(0.15, 0.3))
        scene.shadow = float(rng.uniform(0.0, 0.25))
        if rng.random() < 0.5:
            scene.background = _COLOURED_BACKGROUNDS[rng.integers(len(_COLOURED_BACKGROUNDS))]
            scene.item_colour = _contrasting(rng, scene.background, grey=1e9, colour=80)
        else:
            scene.texture = str(rng.choice(["wood", "fabric", "gingham"]))
            if scene.texture == "wood":
                scene.background = np.array([196, 160, 118]) + rng.normal(0, 8, 3)
            scene.item_colour = _contrasting(rng, scene.background, grey=90, colour=1e9)
        scene.clutter = int(rng.integers(0, 3))
        scene.quality = int(rng.integers(50, 76))
    return scene


def _texture(kind: str, shape: tuple[int, int], colour: np.ndarray, rng) -> np.ndarray:
    """A background texture (RGB reflectance in [0, 1]) around ``colour`` (0-255)."""
    height, width = shape
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    base = colour / 255.0
    if kind == "wood":
        # grain: stretched noise along a random direction, plus rings of varying width
        angle = rng.uniform(0, np.pi)
        along = cols * np.cos(angle) + rows * np.sin(angle)
        across = -cols * np.sin(angle) + rows * np.cos(angle)
        wobble = ndimage.gaussian_filter(rng.normal(0, 1, shape), (20, 20)) * 60
        rings = np.sin((across + wobble) * 2 * np.pi / rng.uniform(14, 30))
        grain = ndimage.gaussian_filter(rng.normal(0, 1, shape), 1.5)
        grain = ndimage.rotate(grain, np.degrees(angle), reshape=False, mode="wrap")
        shade = 1 + 0.07 * rings + 0.05 * grain / grain.std() + 0.02 * np.sin(along / 90)
        return base * shade[..., None]
    if kind == "fabric":
        # a fine weave (two crossing threads) and the cloth's irregularity
        period = rng.uniform(3.5, 6.0)
        weave = np.sin(2 * np.pi * rows / period) * np.sin(2 * np.pi * cols / period)
        lumps = ndimage.gaussian_filter(rng.normal(0, 1, shape), 6)
        shade = 1 + 0.06 * weave + 0.05 * lumps / lumps.std() + rng.normal(0, 0.02, shape)
        return base * shade[..., None]
    # gingham: a pale tablecloth of checks in a random colour, woven threads at the crossings
    tint = _COLOURED_BACKGROUNDS[rng.integers(len(_COLOURED_BACKGROUNDS))] / 255.0
    period = rng.uniform(24, 48)
    stripe_r = (rows // (period / 2)) % 2
    stripe_c = (cols // (period / 2)) % 2
    strength = (stripe_r + stripe_c)[..., None] * rng.uniform(0.1, 0.16)
    cloth = base * (1 - strength) + tint * strength
    weave = ndimage.gaussian_filter(rng.normal(0, 1, shape), 1.0)
    return cloth * (1 + 0.03 * weave / weave.std())[..., None]


def _clutter(canvas: np.ndarray, item_box, count: int, rng) -> None:
    """Draw ``count`` small objects near the frame's edges, outside ``item_box`` (in place):
    coins (discs), a pen or a cable (a thick line), a card or a phone corner (rectangles that
    may run off the frame)."""
    height, width = canvas.shape[:2]
    top, left, bottom, right = item_box
    short = min(height, width)
    for _ in range(count):
        colour = _ITEM_COLOURS[rng.integers(len(_ITEM_COLOURS))] / 255.0
        shape = rng.choice(["coin", "pen", "card"])
        mask = Image.new("L", (width, height), 0)
        draw = ImageDraw.Draw(mask)
        for _attempt in range(20):
            size = short * rng.uniform(0.05, 0.12)
            # a point in the margin band, on a random side
            side = rng.integers(4)
            along = rng.uniform(0, width if side < 2 else height)
            depth = rng.uniform(-0.3, 1.0) * size
            cx, cy = (along, depth if side == 0 else height - depth) if side < 2 else (
                depth if side == 2 else width - depth, along
            )  # fmt: skip
            reach = size * (1.6 if shape == "pen" else 0.8)
            clear = (
                cx + reach < left - 4 or cx - reach > right + 4
                or cy + reach < top - 4 or cy - reach > bottom + 4
            )  # fmt: skip
            if clear:
                break
        else:
            continue
        if shape == "coin":
            r = size / 2
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
        elif shape == "pen":
            angle = rng.uniform(0, np.pi)
            dx, dy = np.cos(angle) * size * 1.6, np.sin(angle) * size * 1.6
            draw.line([cx - dx, cy - dy, cx + dx, cy + dy], fill=255, width=max(3, int(size / 6)))
        else:
            w, h = size * rng.uniform(0.8, 1.6), size * rng.uniform(0.6, 1.2)
            draw.rectangle([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], fill=255)
        cover = np.asarray(mask, np.float32)[..., None] / 255.0
        canvas *= 1 - cover
        canvas += cover * colour


def _lighting(shape: tuple[int, int], scene: _Scene, rng) -> np.ndarray:
    """The illumination field ``L(p)`` (RGB): exposure, colour cast, ramp and soft shadow."""
    height, width = shape
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    light = np.full(shape, rng.uniform(0.92, 1.04), np.float32)
    if scene.ramp:
        angle = rng.uniform(0, 2 * np.pi)
        along = (cols - width / 2) * np.cos(angle) + (rows - height / 2) * np.sin(angle)
        along = (along - along.min()) / (along.max() - along.min())
        light = light * (1 - scene.ramp * along)
    if scene.shadow:
        # a soft-edged shadow (a hand or the phone) coming in from one side, over part of the
        # scene: a half-plane at a random angle, its edge blurred over 10-30 pixels
        angle = rng.uniform(0, 2 * np.pi)
        along = (cols - width / 2) * np.cos(angle) + (rows - height / 2) * np.sin(angle)
        edge = rng.uniform(0.15, 0.45) * max(height, width)
        inside = (along > edge).astype(np.float32)
        inside = ndimage.gaussian_filter(inside, rng.uniform(10, 30))
        light = light * (1 - scene.shadow * inside)
    cast = 1 + rng.normal(0, 0.02, 3)  # white balance
    return light[..., None] * cast


def _perspective(image: np.ndarray, strength: float, rng) -> np.ndarray:
    """The scene as a phone tilted about a random axis sees it: a homography that maps the
    photo's frame onto a quadrilateral inside the scene whose near side is shorter by
    ``2 * strength`` of its length (near things look larger), each corner jittered inwards."""
    height, width = image.shape[:2]
    frame = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], float)
    quad = frame.copy()
    near = int(rng.integers(4))  # the side nearest the phone: top, right, bottom, left
    a, b = near, (near + 1) % 4
    quad[a] += (frame[b] - frame[a]) * strength
    quad[b] += (frame[a] - frame[b]) * strength
    centre = frame.mean(axis=0)
    quad += (centre - frame) * rng.uniform(0, 0.3 * strength, (4, 1))
    homography = transform.estimate_transform("projective", frame, quad)
    return transform.warp(image, homography, order=1, mode="edge").astype(np.float32)


def render_photo(image: np.ndarray, kind: str, rng: np.random.Generator) -> Image.Image:
    """Render one Fashion-MNIST image (uint8 28x28) as an RGB photo of ``kind``.

    ``kind`` is one of :data:`KINDS` or ``"plain"``; ``rng`` (``numpy.random.Generator``)
    draws every random choice, so the same generator state gives the same photo. Returns the
    photo as the camera recorded it, before compression (see :func:`encode_photo`); the module
    docstring describes the rendering model.

    Example:
        >>> import numpy as np
        >>> item = np.zeros((28, 28), np.uint8); item[4:24, 8:20] = 200
        >>> photo = render_photo(item, "dark_on_grey", np.random.default_rng(0))
        >>> photo.mode, 320 <= min(photo.size) and max(photo.size) <= 480
        ('RGB', True)
    """
    image = np.asarray(image)
    if image.shape != (28, 28) or image.dtype != np.uint8:
        raise ValueError(f"expected one uint8 Fashion-MNIST image (28, 28); got {image.shape}")
    scene = _draw_scene(kind, rng)
    height, width = scene.size
    short = min(height, width)

    # the item's coverage a = x / 255, enlarged (and turned) to its size in the photo
    side = max(8, round(scene.item_fraction * short))
    patch = Image.fromarray(image.astype(np.float32) / 255.0, mode="F")
    patch = patch.resize((side, side), Image.Resampling.BICUBIC)
    if scene.rotation:
        patch = patch.rotate(scene.rotation, Image.Resampling.BICUBIC, expand=True)
    cover = np.clip(np.asarray(patch, np.float32), 0.0, 1.0)
    rows, cols = np.flatnonzero(cover.max(axis=1) > 0.01), np.flatnonzero(cover.max(axis=0) > 0.01)
    if len(rows):  # the item's own box: a turned patch has empty corners
        cover = cover[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    # a perspective warp crops up to ``perspective`` of the side: keep the item clear of it
    margin = 2 + int(np.ceil(1.2 * scene.perspective * max(height, width)))
    room = min((height - 2 * margin) / cover.shape[0], (width - 2 * margin) / cover.shape[1])
    if room < 1:  # too large to fit whole: shrink it (a turned item's box is wider)
        small = Image.fromarray(cover, mode="F")
        size = (int(cover.shape[1] * room), int(cover.shape[0] * room))
        cover = np.clip(np.asarray(small.resize(size, Image.Resampling.BICUBIC)), 0.0, 1.0)
    ph, pw = cover.shape
    if scene.off_centre:  # anywhere, as close to an edge as the margin allows
        top = int(rng.integers(margin, height - ph - margin + 1))
        left = int(rng.integers(margin, width - pw - margin + 1))
    else:
        top = (height - ph) // 2 + int(rng.integers(-8, 9))
        left = (width - pw) // 2 + int(rng.integers(-8, 9))
        top = int(np.clip(top, margin, height - ph - margin))
        left = int(np.clip(left, margin, width - pw - margin))
    coverage = np.zeros((height, width), np.float32)
    coverage[top : top + ph, left : left + pw] = cover

    # reflectance: background (plain or textured), clutter, then the item over it
    if scene.texture:
        reflectance = _texture(scene.texture, (height, width), scene.background, rng)
    else:
        reflectance = np.empty((height, width, 3), np.float32)
        reflectance[:] = scene.background / 255.0
    reflectance = reflectance.astype(np.float32)
    if scene.clutter:
        _clutter(reflectance, (top, left, top + ph, left + pw), scene.clutter, rng)
    item = np.clip(scene.item_colour, 0, 255).astype(np.float32) / 255.0
    reflectance = reflectance * (1 - coverage[..., None]) + coverage[..., None] * item
    if scene.perspective:
        reflectance = _perspective(reflectance, scene.perspective, rng)

    # the camera: light, lens blur, sensor noise, 8 bits
    photo = 255.0 * _lighting((height, width), scene, rng) * reflectance
    photo = ndimage.gaussian_filter(photo, (rng.uniform(0.5, 0.9),) * 2 + (0,))
    photo = photo + rng.normal(0, rng.uniform(2.0, 4.0), photo.shape)
    result = Image.fromarray(np.clip(np.rint(photo), 0, 255).astype(np.uint8), "RGB")
    result.info["quality"] = scene.quality
    return result


def encode_photo(photo: Image.Image, quality: int | None = None, format: str = "JPEG") -> bytes:
    """``photo`` as the bytes of a file: JPEG at ``quality`` (default: the quality
    :func:`render_photo` chose for its kind, stored in ``photo.info["quality"]``, else 85), or
    PNG.

    Example:
        >>> from PIL import Image
        >>> encode_photo(Image.new("RGB", (320, 320), "white"))[:3]
        b'\\xff\\xd8\\xff'
    """
    buffer = io.BytesIO()
    if format.upper() == "PNG":
        photo.save(buffer, "PNG")
    else:
        quality = quality or int(photo.info.get("quality", DEFAULT_QUALITY))
        photo.save(buffer, "JPEG", quality=int(quality))
    return buffer.getvalue()


def photo_set(
    images: np.ndarray,
    labels: np.ndarray,
    per_kind: int = 25,
    seed: int = 0,
    kinds: tuple[str, ...] = KINDS,
) -> list[PhotoRecord]:
    """``per_kind`` photos of every kind in ``kinds``, of items drawn from ``images``.

    ``images`` is normally the Fashion-MNIST *test* set. Every kind gets its own ``per_kind``
    items (a random permutation of ``images``, drawn with ``seed``, cut into consecutive
    slices by kind), so a set of 11 kinds x 25 shows 275 different items and its accuracy is
    compared with the clean images' accuracy on 275 items, not 25; ``images[record.index]`` is
    each photo's clean original. Returns :class:`PhotoRecord` rows in kind order, JPEG-encoded
    (quality 85, or the kind's own). The same ``seed`` gives the same bytes, and a kind's
    photos do not depend on the other kinds asked for.

    Example:
        >>> import numpy as np
        >>> images = np.zeros((3, 28, 28), np.uint8); images[:, 6:22, 9:19] = 180
        >>> records = photo_set(images, np.array([0, 1, 2]), per_kind=2, kinds=("jpeg",))
        >>> [(r.kind, r.format) for r in records]
        [('jpeg', 'JPEG'), ('jpeg', 'JPEG')]
        >>> records == photo_set(images, np.array([0, 1, 2]), per_kind=2, kinds=("jpeg",))
        True
    """
    images, labels = np.asarray(images), np.asarray(labels)
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    if not 1 <= per_kind <= len(images):
        raise ValueError(f"per_kind must be in 1..{len(images)}; got {per_kind}")
    order = np.random.default_rng([seed, 1_000_003]).permutation(len(images))
    records = []
    for kind in kinds:
        number = ([PLAIN, *KINDS].index(kind)) if kind in (PLAIN, *KINDS) else -1
        if number < 0:
            raise ValueError(f"unknown kind {kind!r}; choose among {', '.join(KINDS)}")
        # the kind's own slice of the permutation (round again if there are too few images)
        chosen = order[(number * per_kind + np.arange(per_kind)) % len(images)]
        for position, index in enumerate(chosen):
            rng = np.random.default_rng([seed, number, position])
            photo = render_photo(images[index], kind, rng)
            quality = int(photo.info["quality"])
            records.append(
                PhotoRecord(
                    data=encode_photo(photo, quality),
                    label=int(labels[index]),
                    kind=kind,
                    index=int(index),
                    format="JPEG",
                    quality=quality,
                )
            )
    return records
