"""Every plot of the course, so notebooks call one line instead of pasting figure code.

Each function returns the matplotlib ``Figure`` it drew, so a notebook can save it with
:func:`save_figure` and a test can check it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from fmnist_utils.data import CLASS_NAMES

FIGURES_ENV_VAR = "FMNIST_FIGURES_DIR"  # course.FIGURES_ENV names the same variable


def figures_dir() -> Path:
    """Where :func:`save_figure` writes: ``$FMNIST_FIGURES_DIR``, else the course's ``figures/``.

    The course's folder is found by walking up from the working directory to the folder that
    holds ``pyproject.toml`` and ``fmnist_utils/``; outside the repository (Colab) it is
    ``./figures``. The test suite and the course runner set the variable, so only a
    deliberate run (``make notebooks``) updates the committed figures.
    """
    if os.environ.get(FIGURES_ENV_VAR):
        return Path(os.environ[FIGURES_ENV_VAR])
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "fmnist_utils").is_dir():
            return folder / "figures"
    return here / "figures"


def save_figure(fig: Figure, name: str, dpi: int = 100) -> Path:
    """Save ``fig`` as ``<figures_dir>/<name>.png`` at a modest resolution; returns the path.

    Example:
        >>> fig = show_images(np.zeros((2, 28, 28), np.uint8))  # doctest: +SKIP
        >>> save_figure(fig, "01_blank")  # doctest: +SKIP
    """
    path = figures_dir() / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path


def show_images(
    images: np.ndarray,
    labels: Sequence[int] | np.ndarray | None = None,
    ncols: int = 8,
    class_names: Sequence[str] = CLASS_NAMES,
    size: float = 1.3,
    cmap: str = "gray",
) -> Figure:
    """A grid of images, each titled with its class name when labels are given.

    Pixels are drawn as stored: 0 black, 255 white (``cmap="gray_r"`` shows dark on white).

    Example:
        >>> fig = show_images(x_train[:16], y_train[:16])  # doctest: +SKIP
    """
    images = np.asarray(images)
    n = len(images)
    nrows = max(1, int(np.ceil(n / ncols)))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * size * 1.15))
    for i, ax in enumerate(np.atleast_1d(axes).ravel()):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i].squeeze(), cmap=cmap, vmin=0, vmax=255)
            if labels is not None:
                ax.set_title(class_names[int(labels[i])], fontsize=8)
    fig.tight_layout()
    return fig


def class_grid(
    images: np.ndarray,
    labels: np.ndarray,
    per_class: int = 8,
    class_names: Sequence[str] = CLASS_NAMES,
    seed: int = 0,
    size: float = 0.9,
    cmap: str = "gray",
) -> Figure:
    """One row per class with ``per_class`` random examples, the class name at the left.

    Example:
        >>> fig = class_grid(x_train, y_train, per_class=10)  # doctest: +SKIP
    """
    rng = np.random.default_rng(seed)
    n_classes = len(class_names)
    fig, axes = plt.subplots(
        n_classes, per_class, figsize=(per_class * size + 1.2, n_classes * size), squeeze=False
    )
    for c in range(n_classes):
        members = np.flatnonzero(labels == c)
        picks = rng.choice(members, size=min(per_class, len(members)), replace=False)
        for j, ax in enumerate(axes[c]):
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if j < len(picks):
                ax.imshow(images[picks[j]].squeeze(), cmap=cmap, vmin=0, vmax=255)
        axes[c, 0].set_ylabel(
            f"{c} {class_names[c]}", rotation=0, ha="right", va="center", fontsize=9
        )
    fig.subplots_adjust(wspace=0.05, hspace=0.05)
    return fig


def pixel_heatmap(image: np.ndarray, title: str | None = None, size: float = 11) -> Figure:
    """One 28x28 image as a heatmap with every pixel's value written in its cell.

    Example:
        >>> fig = pixel_heatmap(x_train[0], title="Ankle boot")  # doctest: +SKIP
    """
    import seaborn as sns

    image = np.asarray(image).squeeze()
    fig, ax = plt.subplots(figsize=(size, size))
    sns.heatmap(
        image,
        annot=True,
        fmt="d",
        cmap="gray",
        vmin=0,
        vmax=255,
        cbar=True,
        square=True,
        annot_kws={"fontsize": 5.5},
        cbar_kws={"shrink": 0.6, "label": "pixel value (0 black, 255 white)"},
        ax=ax,
    )
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    if title:
        ax.set_title(title)
    return fig


def plot_history(
    histories: dict, metrics: Sequence[str] = ("loss", "accuracy"), size: float = 4.5
) -> Figure:
    """Learning curves: one panel per metric, train (solid) and validation (dashed) per run.

    ``histories`` maps a run's name to the table returned by :func:`fmnist_utils.train.fit`
    (or a Keras ``History.history`` dict).

    Example:
        >>> fig = plot_history({"MLP": h_mlp, "CNN": h_cnn})  # doctest: +SKIP
    """
    import pandas as pd

    fig, axes = plt.subplots(1, len(metrics), figsize=(size * len(metrics), size * 0.75))
    for ax, metric in zip(np.atleast_1d(axes), metrics, strict=True):
        for i, (name, history) in enumerate(histories.items()):
            table = pd.DataFrame(history)
            epochs = table["epoch"] if "epoch" in table else np.arange(1, len(table) + 1)
            color = f"C{i}"
            if metric in table:
                ax.plot(epochs, table[metric], color=color, label=f"{name} train")
            if f"val_{metric}" in table:
                ax.plot(epochs, table[f"val_{metric}"], "--", color=color, label=f"{name} val")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(metric)
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[-1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_confusion_matrix(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    class_names: Sequence[str] = CLASS_NAMES,
    normalize: bool = False,
    title: str | None = None,
    ax=None,
) -> Figure:
    """A confusion matrix heatmap (rows: true class, columns: predicted), counts or shares.

    Example:
        >>> fig = plot_confusion_matrix(y_test, y_pred, normalize=True)  # doctest: +SKIP
    """
    import seaborn as sns
    from sklearn.metrics import confusion_matrix

    cm = confusion_matrix(
        y_true,
        y_pred,
        labels=list(range(len(class_names))),
        normalize="true" if normalize else None,
    )
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 6))
    else:
        fig = ax.figure
    sns.heatmap(
        cm,
        annot=True,
        fmt=".2f" if normalize else "d",
        cmap="Blues",
        xticklabels=class_names,
        yticklabels=class_names,
        cbar=False,
        annot_kws={"fontsize": 7},
        ax=ax,
    )
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


# --- how CNNs see (04) ---


def _kernel_text(value: float) -> str:
    """A kernel value as a short fraction ("1/16", "-2") when it is one, else 2 digits."""
    from fractions import Fraction

    fraction = Fraction(float(value)).limit_denominator(64)
    return str(fraction) if abs(float(fraction) - value) < 1e-6 else f"{value:.2g}"


def _draw_kernel(ax, kernel: np.ndarray) -> None:
    kernel = np.asarray(kernel, dtype=float)
    limit = float(np.abs(kernel).max()) or 1.0
    ax.imshow(kernel, cmap="RdBu_r", vmin=-limit, vmax=limit)
    for (i, j), value in np.ndenumerate(kernel):
        color = "white" if abs(value) > 0.6 * limit else "black"
        ax.text(j, i, _kernel_text(value), ha="center", va="center", fontsize=7, color=color)


def _as_float_images(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim == 4:
        images = images[..., 0]
    return images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else images


def _bare(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


def plot_kernel_gallery(
    images: np.ndarray,
    kernels: dict[str, np.ndarray],
    labels: Sequence[int] | np.ndarray | None = None,
    magnitude: tuple[str, str] | None = None,
    class_names: Sequence[str] = CLASS_NAMES,
    size: float = 1.25,
) -> Figure:
    """What hand-made kernels do to real images: one row per kernel, one column per image.

    The first column shows the kernel's values. Each image (uint8 0-255 is scaled to [0, 1]) is
    cross-correlated with the kernel as a deep-learning convolution does, with zero padding so
    the output keeps the image's size (``scipy.ndimage.correlate``). Kernels whose values sum
    to 0 (edge detectors) are drawn red for positive and blue for negative responses, white for
    0; the others in grey. ``magnitude=("Sobel x", "Sobel y")`` adds a last row with the
    gradient magnitude sqrt(gx^2 + gy^2) of those two kernels' responses. One colour scale per
    row, so the images of a row can be compared.

    Example:
        >>> sobel_x = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
        >>> kernels = {"Sobel x": sobel_x, "Sobel y": sobel_x.T}
        >>> fig = plot_kernel_gallery(
        ...     x_test[:4], kernels, y_test[:4], magnitude=("Sobel x", "Sobel y")
        ... )  # doctest: +SKIP
    """
    from scipy import ndimage

    images = _as_float_images(images)
    responses = {
        name: np.stack(
            [ndimage.correlate(im, np.asarray(k, float), mode="constant") for im in images]
        )
        for name, k in kernels.items()
    }
    rows = list(kernels)
    if magnitude is not None:
        gx, gy = (responses[name] for name in magnitude)
        responses["gradient magnitude"] = np.hypot(gx, gy)
        rows.append("gradient magnitude")
    fig, axes = plt.subplots(
        len(rows),
        len(images) + 1,
        figsize=((len(images) + 1) * size + 1.0, len(rows) * size),
        squeeze=False,
    )
    for r, name in enumerate(rows):
        kernel_ax = axes[r, 0]
        if name in kernels:
            _draw_kernel(kernel_ax, kernels[name])
        else:
            kernel_ax.text(
                0.5,
                0.5,
                f"sqrt({magnitude[0]}^2\n+ {magnitude[1]}^2)",
                ha="center",
                va="center",
                fontsize=7,
                transform=kernel_ax.transAxes,
            )
            kernel_ax.set_box_aspect(1)
        _bare(kernel_ax)
        kernel_ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
        values = responses[name]
        if name in kernels and abs(float(np.sum(kernels[name]))) < 1e-6:
            limit = float(np.abs(values).max()) or 1.0
            style = {"cmap": "RdBu_r", "vmin": -limit, "vmax": limit}
        else:
            style = {"cmap": "gray", "vmin": float(values.min()), "vmax": float(values.max())}
        for c, ax in enumerate(axes[r, 1:]):
            ax.imshow(values[c], **style)
            _bare(ax)
    axes[0, 0].set_title("kernel", fontsize=9)
    if labels is not None:
        for c, ax in enumerate(axes[0, 1:]):
            ax.set_title(class_names[int(labels[c])], fontsize=9)
    fig.subplots_adjust(wspace=0.06, hspace=0.08)
    return fig


def plot_filters(
    weights: np.ndarray,
    ncols: int = 8,
    channel: int = 0,
    size: float = 0.85,
    title: str | None = None,
) -> Figure:
    """The kernels of a convolution layer, one small panel per filter.

    ``weights`` is a Keras ``Conv2D`` kernel, shape ``(kh, kw, in_channels, filters)``
    (``layer.get_weights()[0]``); input channel ``channel`` is shown. Each filter has its own
    symmetric scale: red positive, blue negative, white 0, so a filter's pattern (an edge, a
    blob) is visible even when its weights are small.

    Example:
        >>> fig = plot_filters(model.get_layer("conv1").get_weights()[0])  # doctest: +SKIP
    """
    weights = np.asarray(weights)
    if weights.ndim != 4:
        raise ValueError(
            f"expected a Conv2D kernel (kh, kw, in, filters); got shape {weights.shape}"
        )
    n = weights.shape[-1]
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(ncols * size, nrows * size + 0.4), squeeze=False
    )
    for i, ax in enumerate(axes.ravel()):
        _bare(ax)
        if i >= n:
            ax.axis("off")
            continue
        kernel = weights[:, :, channel, i]
        limit = float(np.abs(kernel).max()) or 1.0
        ax.imshow(kernel, cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(str(i), fontsize=7, pad=2)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.subplots_adjust(wspace=0.1, hspace=0.35)
    return fig


def _diverse_channels(maps: np.ndarray, count: int) -> list[int]:
    """The most active channel, then repeatedly the active one least like those picked."""
    flat = maps.reshape(-1, maps.shape[-1])
    mean = flat.mean(axis=0)
    order = np.argsort(-mean, kind="stable")
    active = [int(c) for c in order if flat[:, c].std() > 0] or [int(order[0])]
    with np.errstate(invalid="ignore", divide="ignore"):
        similarity = np.nan_to_num(np.abs(np.corrcoef(flat[:, active].T)), nan=1.0)
    similarity = np.atleast_2d(similarity)
    chosen = [0]
    while len(chosen) < min(count, len(active)):
        rest = [i for i in range(len(active)) if i not in chosen]
        chosen.append(min(rest, key=lambda i: similarity[i, chosen].max()))
    return [active[i] for i in chosen]


def plot_feature_maps(
    images: np.ndarray,
    feature_maps: dict[str, np.ndarray],
    labels: Sequence[int] | np.ndarray | None = None,
    channels: int | dict[str, Sequence[int]] = 4,
    class_names: Sequence[str] = CLASS_NAMES,
    size: float = 0.95,
    cmap: str = "magma",
) -> Figure:
    """Feature maps of a few channels of one or more layers, one row per image.

    ``feature_maps`` maps a layer's name to its output for ``images``, shape
    ``(n, h, w, channels)``. ``channels`` is either a dict of the channel numbers to show per
    layer or a count: then the channel most active on average over these images comes first,
    and each next one is the active channel least correlated with those already picked, so the
    columns show different features rather than near-copies of one.
    The first column is the image; every other column is one channel, with one colour scale
    shared by the whole column, so the rows (images) can be compared.

    Example:
        >>> names = ["conv1", "conv2"]
        >>> probe = keras.Model(model.inputs, [model.get_layer(n).output for n in names])
        >>> maps = dict(zip(names, probe.predict(prepare(images))))  # doctest: +SKIP
        >>> fig = plot_feature_maps(images, maps, labels)  # doctest: +SKIP
    """
    images = np.asarray(images)
    columns: list[tuple[str, int]] = []
    for name, maps in feature_maps.items():
        if len(maps) != len(images):
            raise ValueError(f"{name}: {len(maps)} feature maps for {len(images)} images")
        if isinstance(channels, int):
            picks = _diverse_channels(np.asarray(maps), channels)
        else:
            picks = channels[name]
        columns += [(name, int(c)) for c in picks]
    fig, axes = plt.subplots(
        len(images),
        len(columns) + 1,
        figsize=((len(columns) + 1) * size + 1.2, len(images) * size),
        squeeze=False,
    )
    for r, image in enumerate(images):
        ax = axes[r, 0]
        ax.imshow(
            np.squeeze(image), cmap="gray", vmin=0, vmax=255 if image.dtype == np.uint8 else 1
        )
        _bare(ax)
        if labels is not None:
            ax.set_ylabel(
                class_names[int(labels[r])], rotation=0, ha="right", va="center", fontsize=8
            )
    for c, (name, channel) in enumerate(columns, start=1):
        column = np.asarray(feature_maps[name])[..., channel]
        for r in range(len(images)):
            axes[r, c].imshow(
                column[r], cmap=cmap, vmin=float(column.min()), vmax=float(column.max())
            )
            _bare(axes[r, c])
        axes[0, c].set_title(f"{name}\n#{channel}", fontsize=7)
    axes[0, 0].set_title("image", fontsize=7)
    fig.subplots_adjust(wspace=0.05, hspace=0.05)
    return fig


def plot_receptive_fields(
    image: np.ndarray,
    table,
    point: tuple[float, float] | None = None,
    title: str | None = None,
    ax=None,
) -> Figure:
    """Outline on ``image`` the receptive field of one unit per layer, all around one point.

    ``table`` is :func:`fmnist_utils.models.receptive_field`'s DataFrame. For each layer the
    unit whose field is centred nearest ``point`` (row, column in pixels; default the image's
    centre) is picked: unit ``i`` is centred on ``first centre + i * jump`` and sees
    ``receptive field`` pixels along each axis. Parts outside the image are zero padding.

    Example:
        >>> table = receptive_field(reference_cnn())  # doctest: +SKIP
        >>> fig = plot_receptive_fields(x_test[0], table)  # doctest: +SKIP
    """
    from matplotlib.patches import Rectangle

    image = np.squeeze(np.asarray(image))
    if point is None:
        point = ((image.shape[0] - 1) / 2, (image.shape[1] - 1) / 2)
    if ax is None:
        fig, ax = plt.subplots(figsize=(4, 4.6))
    else:
        fig = ax.figure
    ax.imshow(image, cmap="gray", vmin=0, vmax=255 if image.dtype == np.uint8 else None)
    layers = table[table["type"] != "Input"].reset_index(drop=True)
    for i, row in layers.iterrows():
        r, jump, start = int(row["receptive field"]), int(row["jump"]), float(row["first centre"])
        last = int(row["output"]) - 1
        centre = [
            start + jump * min(max(int(np.floor((p - start) / jump + 0.5)), 0), last) for p in point
        ]
        ax.add_patch(
            Rectangle(
                (centre[1] - r / 2, centre[0] - r / 2),
                r,
                r,
                fill=False,
                edgecolor=f"C{i}",
                linewidth=2,
                label=f"{row['layer']}: {r}x{r}",
            )
        )
    ax.set_xlim(-0.5, image.shape[1] - 0.5)
    ax.set_ylim(image.shape[0] - 0.5, -0.5)
    _bare(ax)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=2, fontsize=8, frameon=False)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


# --- exploratory analysis (02) ---
def _eda_blank(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def plot_class_counts(
    label_sets: dict[str, np.ndarray], class_names: Sequence[str] = CLASS_NAMES
) -> Figure:
    """Grouped bars: images per class in each labelled set (e.g. train and test).

    Example:
        >>> fig = plot_class_counts({"train": y_train, "test": y_test})  # doctest: +SKIP
    """
    n_sets, n_classes = len(label_sets), len(class_names)
    width = 0.8 / n_sets
    fig, ax = plt.subplots(figsize=(9, 3.2))
    x = np.arange(n_classes)
    for k, (name, labels) in enumerate(label_sets.items()):
        counts = np.bincount(np.asarray(labels), minlength=n_classes)
        bars = ax.bar(x + (k - (n_sets - 1) / 2) * width, counts, width, label=name)
        ax.bar_label(bars, fontsize=7)
    ax.set_xticks(x, class_names, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("images")
    ax.legend(fontsize=8)
    ax.set_title("Images per class")
    fig.tight_layout()
    return fig


def class_images(
    rows: dict[str, np.ndarray],
    class_names: Sequence[str] = CLASS_NAMES,
    size: float = 1.0,
    cmap: str = "gray",
) -> Figure:
    """One row of per-class images (one per class) for each entry of ``rows``.

    Each row is scaled to its own range (darkest to brightest value in the row), so a mean
    image row and a standard-deviation row are both readable; a colour bar per row gives it.

    Example:
        >>> means, stds = data.class_mean_std(x_train, y_train)  # doctest: +SKIP
        >>> fig = class_images({"mean": means, "standard deviation": stds})  # doctest: +SKIP
    """
    n_rows, n_cols = len(rows), len(class_names)
    fig, axes = plt.subplots(
        n_rows, n_cols, figsize=(n_cols * size + 1.0, n_rows * size * 1.25), squeeze=False
    )
    for r, (name, images) in enumerate(rows.items()):
        images = np.asarray(images)
        vmin, vmax = float(images.min()), float(images.max())
        for c, ax in enumerate(axes[r]):
            shown = ax.imshow(images[c].squeeze(), cmap=cmap, vmin=vmin, vmax=vmax)
            _eda_blank(ax)
            if r == 0:
                ax.set_title(class_names[c], fontsize=8)
        axes[r, 0].set_ylabel(name, fontsize=9)
        fig.colorbar(shown, ax=list(axes[r]), fraction=0.015, pad=0.01)
    return fig


def intensity_histograms(
    images: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str] = CLASS_NAMES,
    bins: int = 32,
    skip_zero: bool = True,
    ncols: int = 5,
) -> Figure:
    """Small multiples: the pixel-value histogram of every class, densities on a log scale.

    ``skip_zero`` leaves out the pure-black background (value 0), which would dwarf the rest.
    Every panel shares its axes, and the whole data's histogram is drawn in grey behind each
    class for comparison.

    Example:
        >>> fig = intensity_histograms(x_train, y_train)  # doctest: +SKIP
    """
    images = np.asarray(images)
    labels = np.asarray(labels)
    edges = np.linspace(1 if skip_zero else 0, 256, bins + 1)

    def density(pixels: np.ndarray) -> np.ndarray:
        pixels = pixels[pixels > 0] if skip_zero else pixels
        counts, _ = np.histogram(pixels, bins=edges, density=True)
        return counts

    everything = density(images.ravel())
    n_classes = len(class_names)
    nrows = int(np.ceil(n_classes / ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(ncols * 2.3, nrows * 1.9), sharex=True, sharey=True, squeeze=False
    )
    for c, ax in enumerate(axes.ravel()):
        if c >= n_classes:
            ax.axis("off")
            continue
        ax.stairs(everything, edges, color="0.7", fill=True, label="all classes")
        ax.stairs(density(images[labels == c].ravel()), edges, color=f"C{c}", linewidth=1.5)
        ax.set_yscale("log")
        ax.set_title(f"{c} {class_names[c]}", fontsize=9)
        ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("pixel value" + (" (> 0)" if skip_zero else ""), fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel("density (log)", fontsize=8)
    axes[0, 0].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig


def plot_distance_matrix(
    distances, title: str | None = None, fmt: str = ".1f", cmap: str = "viridis_r"
) -> Figure:
    """A square table of distances (a DataFrame with names on both axes) as an annotated heatmap.

    Example:
        >>> fig = plot_distance_matrix(data.class_distances(x_train, y_train))  # doctest: +SKIP
    """
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(7, 6))
    sns.heatmap(
        distances,
        annot=True,
        fmt=fmt,
        cmap=cmap,
        square=True,
        annot_kws={"fontsize": 7},
        cbar_kws={"shrink": 0.7, "label": "distance (small = alike)"},
        ax=ax,
    )
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def embedding_map(
    coords: np.ndarray,
    labels: np.ndarray,
    images: np.ndarray | None = None,
    class_names: Sequence[str] = CLASS_NAMES,
    n_thumbnails: int = 60,
    zoom: float = 0.6,
    title: str | None = None,
    seed: int = 0,
    ax=None,
) -> Figure:
    """A 2-D map of images: one dot per image coloured by class, and image thumbnails on top.

    Thumbnails are drawn for up to ``n_thumbnails`` points, picked at random but never closer
    to one another than a small fraction of the map's size, so they don't pile up.

    Example:
        >>> xy = PCA(2).fit_transform(x.reshape(len(x), -1))  # doctest: +SKIP
        >>> fig = embedding_map(xy, y, x, title="PCA")  # doctest: +SKIP
    """
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage

    coords = np.asarray(coords, dtype=float)
    labels = np.asarray(labels)
    if ax is None:
        fig, ax = plt.subplots(figsize=(8.5, 7))
    else:
        fig = ax.figure
    for c, name in enumerate(class_names):
        members = labels == c
        ax.scatter(*coords[members].T, s=4, color=f"tab:{_TAB10[c]}", alpha=0.6, label=name)
    if images is not None and n_thumbnails > 0:
        span = coords.max(axis=0) - coords.min(axis=0)
        scaled = (coords - coords.min(axis=0)) / np.where(span > 0, span, 1)
        shown: list[np.ndarray] = []
        for i in np.random.default_rng(seed).permutation(len(coords)):
            if len(shown) >= n_thumbnails:
                break
            if shown and np.min(np.sum((np.array(shown) - scaled[i]) ** 2, axis=1)) < 0.07**2:
                continue
            shown.append(scaled[i])
            thumb = OffsetImage(np.asarray(images[i]).squeeze(), cmap="gray_r", zoom=zoom)
            box = AnnotationBbox(
                thumb,
                coords[i],
                frameon=True,
                pad=0.05,
                bboxprops={"edgecolor": f"tab:{_TAB10[int(labels[i])]}", "linewidth": 1.2},
            )
            ax.add_artist(box)
    ax.legend(markerscale=4, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


_TAB10 = ("blue", "orange", "green", "red", "purple", "brown", "pink", "gray", "olive", "cyan")


def show_pairs(
    images_a: np.ndarray,
    pairs: np.ndarray,
    labels_a: np.ndarray,
    images_b: np.ndarray | None = None,
    labels_b: np.ndarray | None = None,
    distances: np.ndarray | None = None,
    names: tuple[str, str] = ("train", "train"),
    max_pairs: int = 10,
    class_names: Sequence[str] = CLASS_NAMES,
    size: float = 1.2,
) -> Figure:
    """Image pairs side by side: one column per pair, ``images_a[i]`` above ``images_b[j]``.

    Titles give the set, the index and the class; a pair whose labels disagree is titled in
    red. ``images_b``/``labels_b`` default to the first set (pairs inside one set).

    Example:
        >>> pairs, dist = data.find_near_duplicates(x_train)  # doctest: +SKIP
        >>> fig = show_pairs(x_train, pairs, y_train, distances=dist)  # doctest: +SKIP
    """
    images_b = images_a if images_b is None else images_b
    labels_b = labels_a if labels_b is None else labels_b
    pairs = np.asarray(pairs).reshape(-1, 2)[:max_pairs]
    n = max(len(pairs), 1)
    fig, axes = plt.subplots(2, n, figsize=(n * size + 0.3, 2 * size * 1.45), squeeze=False)
    for k in range(n):
        for r in range(2):
            _eda_blank(axes[r, k])
        if k >= len(pairs):
            axes[0, k].set_title("no pairs", fontsize=8)
            continue
        i, j = pairs[k]
        la, lb = int(labels_a[i]), int(labels_b[j])
        color = "black" if la == lb else "red"
        axes[0, k].imshow(np.asarray(images_a[i]).squeeze(), cmap="gray", vmin=0, vmax=255)
        axes[1, k].imshow(np.asarray(images_b[j]).squeeze(), cmap="gray", vmin=0, vmax=255)
        head = f"d={distances[k]:.2f}\n" if distances is not None else ""
        axes[0, k].set_title(f"{head}{names[0]} {i}\n{class_names[la]}", fontsize=7, color=color)
        axes[1, k].set_title(f"{names[1]} {j}\n{class_names[lb]}", fontsize=7, color=color)
    fig.tight_layout()
    return fig
