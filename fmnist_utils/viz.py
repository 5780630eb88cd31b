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
    histories: dict,
    metrics: Sequence[str] = ("loss", "accuracy"),
    size: float = 4.5,
    marker: str | None = None,
) -> Figure:
    """Learning curves: one panel per metric, train (solid) and validation (dashed) per run.

    ``histories`` maps a run's name to the table returned by :func:`fmnist_utils.train.fit`
    (or a Keras ``History.history`` dict). ``marker`` (e.g. ``"o"``) draws a point at every
    epoch, so that short runs (one or two epochs) still show up.

    Example:
        >>> fig = plot_history({"MLP": h_mlp, "CNN": h_cnn}, marker="o")  # doctest: +SKIP
    """
    import pandas as pd

    fig, axes = plt.subplots(1, len(metrics), figsize=(size * len(metrics), size * 0.75))
    for ax, metric in zip(np.atleast_1d(axes), metrics, strict=True):
        for i, (name, history) in enumerate(histories.items()):
            table = pd.DataFrame(history)
            epochs = table["epoch"] if "epoch" in table else np.arange(1, len(table) + 1)
            color = f"C{i}"
            if metric in table:
                ax.plot(epochs, table[metric], color=color, marker=marker, label=f"{name} train")
            if f"val_{metric}" in table:
                ax.plot(epochs, table[f"val_{metric}"], "--", color=color, marker=marker,
                        label=f"{name} val")
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
    mask_diagonal: bool = False,
) -> Figure:
    """A confusion matrix heatmap (rows: true class, columns: predicted), counts or shares.

    With ``mask_diagonal=True`` the diagonal (the correct predictions) is left blank, so the
    colour scale spans the mistakes only and the largest confusions stand out.

    Example:
        >>> fig = plot_confusion_matrix(y_test, y_pred, normalize=True)  # doctest: +SKIP
        >>> fig = plot_confusion_matrix(y_test, y_pred, mask_diagonal=True)  # doctest: +SKIP
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
        mask=np.eye(len(cm), dtype=bool) if mask_diagonal else None,
        ax=ax,
    )
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_confusion_difference(
    y_true: np.ndarray,
    y_pred_a: np.ndarray,
    y_pred_b: np.ndarray,
    names: tuple[str, str] = ("A", "B"),
    class_names: Sequence[str] = CLASS_NAMES,
    ax=None,
) -> Figure:
    """Model A's row-normalised confusion matrix minus model B's, in percentage points.

    Each row is a true class; a cell is the share of that class's images sent to the column's
    class by A minus the share sent there by B. On the diagonal a positive cell means A gets
    more of the class right; off the diagonal a negative cell means A makes that mistake less
    often. Differences under 0.05 points are left blank, so the changes stand out.

    Example:
        >>> fig = plot_confusion_difference(y_test, pred_cnn, pred_mlp, ("CNN", "MLP"))  # doctest: +SKIP
    """  # noqa: E501
    import seaborn as sns
    from sklearn.metrics import confusion_matrix

    labels = list(range(len(class_names)))
    matrices = [
        confusion_matrix(y_true, y_pred, labels=labels, normalize="true")
        for y_pred in (y_pred_a, y_pred_b)
    ]
    points = 100 * (matrices[0] - matrices[1])
    text = np.where(np.abs(points) >= 0.05, np.char.mod("%+.1f", points), "")
    limit = float(np.abs(points).max()) or 1.0
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 6))
    else:
        fig = ax.figure
    sns.heatmap(
        points,
        annot=text,
        fmt="",
        cmap="PuOr_r",
        vmin=-limit,
        vmax=limit,
        xticklabels=class_names,
        yticklabels=class_names,
        cbar_kws={"label": "percentage points"},
        annot_kws={"fontsize": 8},
        ax=ax,
    )
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"{names[0]} minus {names[1]} (share of each true class, points)")
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
        >>> means, stds = stats.class_mean_std(x_train, y_train)  # doctest: +SKIP
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
        >>> fig = plot_distance_matrix(stats.class_distances(x_train, y_train))  # doctest: +SKIP
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
    cmap: str = "gray_r",
    value_range: tuple[float, float] | None = None,
) -> Figure:
    """A 2-D map of images: one dot per image coloured by class, and image thumbnails on top.

    Thumbnails are drawn for up to ``n_thumbnails`` points, picked at random but never closer
    to one another than a small fraction of the map's size, so they don't pile up. They use
    ``cmap``: ``"gray_r"`` (the default) draws a light item dark on white, ``"gray"`` as
    stored (0 black, 255 white). ``value_range=(0, 255)`` gives every thumbnail the same grey
    scale; without it each thumbnail is stretched to its own darkest and brightest pixel.

    Example:
        >>> xy = PCA(2).fit_transform(x.reshape(len(x), -1))  # doctest: +SKIP
        >>> fig = embedding_map(xy, y, x, cmap="gray", value_range=(0, 255))  # doctest: +SKIP
    """
    from matplotlib.colors import Normalize
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage

    coords = np.asarray(coords, dtype=float)
    labels = np.asarray(labels)
    norm = Normalize(*value_range) if value_range is not None else None
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
            thumb = OffsetImage(
                np.asarray(images[i]).squeeze(), cmap=cmap, norm=norm, zoom=zoom
            )
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
        >>> pairs, dist = stats.find_near_duplicates(x_train)  # doctest: +SKIP
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


# --- explainability (10) ---
def overlay_heatmap(
    image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.45, cmap: str = "jet"
) -> np.ndarray:
    """An RGB picture of a grayscale image with a heat map blended over it.

    ``image`` is ``(h, w)`` or ``(h, w, 1)``, uint8 0-255 or float 0-1; ``heatmap`` is ``(h, w)``
    with values in [0, 1] (others are clipped). The result is ``(1 - alpha) * gray +
    alpha * cmap(heatmap)``, float in [0, 1], ready for ``plt.imshow``.

    Example:
        >>> rgb = overlay_heatmap(np.zeros((28, 28)), np.eye(28), alpha=0.5)
        >>> rgb.shape, float(rgb.min()) >= 0, float(rgb.max()) <= 1
        ((28, 28, 3), True, True)
    """
    gray = np.asarray(image, dtype=np.float32).squeeze()
    if np.asarray(image).dtype == np.uint8:
        gray = gray / 255.0
    heat = np.clip(np.nan_to_num(np.asarray(heatmap, dtype=np.float32).squeeze()), 0.0, 1.0)
    if gray.shape != heat.shape or gray.ndim != 2:
        raise ValueError(
            f"image and heatmap must be 2-D of the same size; got {gray.shape} and {heat.shape}"
        )
    colours = plt.get_cmap(cmap)(heat)[..., :3]
    rgb = (1.0 - alpha) * np.repeat(np.clip(gray, 0, 1)[..., None], 3, axis=-1) + alpha * colours
    return np.clip(rgb, 0.0, 1.0)


def _positive_scaled(heat: np.ndarray) -> np.ndarray:
    """Negative values to zero, then scaled to a maximum of 1 (all-zero stays zero)."""
    heat = np.maximum(np.nan_to_num(np.asarray(heat, dtype=np.float32)), 0.0)
    peak = heat.max()
    return heat / peak if peak > 0 else heat


def explanation_grid(
    images: np.ndarray,
    maps: dict[str, np.ndarray],
    labels: Sequence[int] | np.ndarray,
    probabilities: np.ndarray,
    per_row: int = 1,
    present: Sequence[bool] | None = None,
    class_names: Sequence[str] = CLASS_NAMES,
    alpha: float = 0.5,
    size: float = 1.15,
) -> Figure:
    """Examples with their explanations: per example the image, then one overlay per method.

    ``maps`` maps a method's name to heat maps ``(n, h, w)`` (e.g. ``{"saliency": ...,
    "Grad-CAM": ..., "occlusion": ...}``); each map is shown over the image with
    :func:`overlay_heatmap` after negative values are set to zero and it is scaled to a maximum
    of 1 (so an occlusion map shows where covering *lowered* the score). The image's title gives
    the true and the predicted class and the predicted probability (red when wrong).
    ``per_row`` examples share a row (e.g. 2: a correct and a wrong example of one class);
    slots whose ``present`` entry is False stay empty ("none").

    Example:
        >>> maps = {"Grad-CAM": explain.grad_cam(model, x)}  # doctest: +SKIP
        >>> fig = explanation_grid(x, maps, y, model.predict(x))  # doctest: +SKIP
    """
    images = np.asarray(images)
    labels = np.asarray(labels).astype(int)
    probabilities = np.asarray(probabilities)
    present = np.ones(len(images), bool) if present is None else np.asarray(present, bool)
    names = list(maps)
    panels = 1 + len(names)
    nrows = max(1, int(np.ceil(len(images) / per_row)))
    ncols = panels * per_row
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(ncols * size, nrows * size * 1.3), squeeze=False
    )
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
    for i in range(len(images)):
        row, slot = divmod(i, per_row)
        first = axes[row, slot * panels]
        if not present[i]:
            first.set_title("none", fontsize=7, color="gray")
            continue
        image = images[i].squeeze()
        vmax = 255 if images.dtype == np.uint8 else 1.0
        predicted = int(np.argmax(probabilities[i]))
        wrong = predicted != labels[i]
        first.imshow(image, cmap="gray", vmin=0, vmax=vmax)
        first.set_title(
            f"true: {class_names[labels[i]]}\npred: {class_names[predicted]} "
            f"({probabilities[i, predicted]:.2f})",
            fontsize=6.5,
            color="red" if wrong else "black",
        )
        for k, name in enumerate(names, 1):
            ax = axes[row, slot * panels + k]
            ax.imshow(overlay_heatmap(image / vmax, _positive_scaled(maps[name][i]), alpha))
            if row == 0:
                ax.set_title(name, fontsize=8)
    fig.tight_layout(pad=0.3)
    return fig


def plot_deletion_curves(
    curves: dict[str, np.ndarray],
    title: str = "deletion",
    ylabel: str = "probability of the class",
    ax=None,
) -> Figure:
    """Mean deletion (or insertion) curve of each method, with a band of +-1 standard error.

    ``curves`` maps a method's name to :func:`fmnist_utils.explain.deletion_curve`'s array
    ``(images, steps + 1)``; the x axis is the share of pixels removed (or inserted). The legend
    gives each method's mean area under the curve.

    Example:
        >>> curves = {"Grad-CAM": explain.deletion_curve(model, x, cams)}  # doctest: +SKIP
        >>> fig = plot_deletion_curves(curves)  # doctest: +SKIP
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.2, 3.4))
    else:
        fig = ax.figure
    for name, values in curves.items():
        values = np.asarray(values, dtype=float)
        share = np.linspace(0, 1, values.shape[1])
        mean = values.mean(axis=0)
        error = values.std(axis=0, ddof=1) / np.sqrt(len(values)) if len(values) > 1 else 0 * mean
        area = float(((values[:, :-1] + values[:, 1:]) / 2).mean())
        (line,) = ax.plot(share, mean, linewidth=1.5, label=f"{name} (area {area:.3f})")
        ax.fill_between(share, mean - error, mean + error, color=line.get_color(), alpha=0.2)
    ax.set_xlabel("share of pixels " + ("inserted" if "insert" in title else "removed"))
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.set_xlim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# --- error analysis and calibration (09) ---


def plot_reliability_diagram(
    probs_by_name: dict[str, np.ndarray],
    labels: np.ndarray,
    n_bins: int = 15,
    size: float = 3.6,
) -> Figure:
    """Reliability diagrams side by side: accuracy against confidence, one panel per entry.

    For each entry of ``probs_by_name`` (name -> probabilities, shape ``(n, classes)``) the
    predictions are binned by confidence (:func:`fmnist_utils.evaluate.reliability_table`).
    Blue bars are each bin's accuracy; red hatched bars are the gap to the bin's mean confidence
    (above the blue bar: over-confident); the diagonal is perfect calibration. A small panel
    below shows how many predictions fall in each bin (log scale). Titles give the ECE.

    Example:
        >>> curves = {"before": probs, "after": probs_t}  # doctest: +SKIP
        >>> fig = plot_reliability_diagram(curves, y_test)  # doctest: +SKIP
    """
    from fmnist_utils.evaluate import expected_calibration_error, reliability_table

    n = len(probs_by_name)
    fig, axes = plt.subplots(
        2,
        n,
        figsize=(size * n, size * 1.3),
        squeeze=False,
        gridspec_kw={"height_ratios": [3, 1]},
        sharex=True,
    )
    for k, (name, probs) in enumerate(probs_by_name.items()):
        table = reliability_table(probs, labels, n_bins)
        used = table[table["count"] > 0]
        width = 1.0 / n_bins
        centres = (used["lower"] + used["upper"]) / 2
        ax = axes[0, k]
        ax.bar(centres, used["accuracy"], width=width, color="C0", edgecolor="black",
               linewidth=0.5, label="accuracy")
        ax.bar(centres, used["confidence"] - used["accuracy"], bottom=used["accuracy"],
               width=width, color="C3", alpha=0.35, hatch="//", edgecolor="C3",
               linewidth=0.5, label="gap to confidence")
        ax.plot([0, 1], [0, 1], "--", color="0.3", linewidth=1, label="perfect calibration")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_ylabel("accuracy" if k == 0 else "")
        ece = expected_calibration_error(probs, labels, n_bins)
        ax.set_title(f"{name}: ECE = {ece:.2%}", fontsize=10)
        ax.grid(alpha=0.3)
        counts = axes[1, k]
        counts.bar(centres, used["count"], width=width, color="0.5", edgecolor="black",
                   linewidth=0.5)
        counts.set_yscale("log")
        counts.set_xlabel("confidence (highest probability)")
        counts.set_ylabel("predictions" if k == 0 else "")
        counts.grid(alpha=0.3)
    axes[0, 0].legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


def plot_precision_recall(
    y_true: np.ndarray,
    probs: np.ndarray,
    class_names: Sequence[str] = CLASS_NAMES,
    size: float = 4.2,
) -> Figure:
    """One precision-recall curve per class (one class against the rest), full and zoomed.

    Each class's curve comes from ``sklearn.metrics.precision_recall_curve`` on its column of
    ``probs``; the legend gives its average precision (``average_precision_score``), classes
    sorted from the lowest. The right panel zooms on recall >= 0.5 and on the precisions the
    curves reach there (down to the lowest precision any class keeps at recall 0.9), where the
    classes differ.

    Example:
        >>> fig = plot_precision_recall(y_test, probs_test)  # doctest: +SKIP
    """
    from sklearn.metrics import average_precision_score, precision_recall_curve

    y_true, probs = np.asarray(y_true), np.asarray(probs)
    curves = {}
    for k, name in enumerate(class_names):
        precision, recall, _ = precision_recall_curve(y_true == k, probs[:, k])
        curves[name] = (recall, precision, average_precision_score(y_true == k, probs[:, k]))
    # the lowest precision any class keeps at recall 0.9 (its best threshold there)
    floor = min(float(p[r >= 0.9].max()) for r, p, _ in curves.values())
    fig, axes = plt.subplots(1, 2, figsize=(2 * size + 1.6, size))
    colours = plt.get_cmap("tab10")
    order = sorted(curves, key=lambda name: curves[name][2])
    for ax, zoom in zip(axes, (False, True), strict=True):
        for name in order:
            recall, precision, ap = curves[name]
            ax.plot(recall, precision, color=colours(list(class_names).index(name)),
                    linewidth=1.2, label=f"{name} (AP {ap:.3f})")
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.grid(alpha=0.3)
        if zoom:
            ax.set_xlim(0.5, 1.0)
            ax.set_ylim(max(0.0, floor - 0.05), 1.005)
            ax.set_title("zoom: recall >= 0.5", fontsize=10)
        else:
            ax.set_xlim(0, 1.0)
            ax.set_ylim(0, 1.02)
            ax.set_title("precision-recall, one class vs the rest", fontsize=10)
    axes[1].legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8)
    fig.tight_layout()
    return fig


def plot_mistakes(
    images: np.ndarray,
    labels: np.ndarray,
    probs: np.ndarray,
    indices: Sequence[int] | np.ndarray,
    ncols: int = 6,
    top2: bool = False,
    class_names: Sequence[str] = CLASS_NAMES,
    size: float = 1.55,
) -> Figure:
    """A gallery of predictions: each image titled with its true class, the predicted class
    and the confidence (red when wrong); ``top2=True`` adds the second choice's probability.

    ``indices`` picks the images (e.g. mistakes, or
    :func:`fmnist_utils.evaluate.most_confident_mistakes`'s ``index`` column).

    Example:
        >>> wrong = np.flatnonzero(probs.argmax(1) != y_test)[:12]  # doctest: +SKIP
        >>> fig = plot_mistakes(x_test, y_test, probs, wrong)  # doctest: +SKIP
    """
    probs = np.asarray(probs)
    indices = np.asarray(indices, dtype=int)
    n = len(indices)
    nrows = max(1, int(np.ceil(n / ncols)))
    lines = 4 if top2 else 3
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(ncols * size, nrows * (size + 0.12 * lines)), squeeze=False
    )
    for k, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if k >= n:
            continue
        i = indices[k]
        ranked = np.argsort(-probs[i], kind="stable")
        first, second = int(ranked[0]), int(ranked[1])
        true = int(labels[i])
        ax.imshow(np.asarray(images[i]).squeeze(), cmap="gray", vmin=0, vmax=255)
        title = (
            f"#{i} true: {class_names[true]}\n"
            f"pred: {class_names[first]} ({probs[i, first]:.1%})"
        )
        if top2:
            title += f"\n2nd: {class_names[second]} ({probs[i, second]:.1%})"
        ax.set_title(title, fontsize=7, color="black" if first == true else "C3")
    fig.tight_layout()
    return fig


def plot_label_issues(
    images: np.ndarray,
    candidates,
    ncols: int = 6,
    size: float = 1.55,
) -> Figure:
    """A gallery of label-error candidates: each image with its given and suggested label.

    ``candidates`` is :func:`fmnist_utils.evaluate.label_issue_candidates`'s table (columns
    ``index``, ``given``, ``given probability``, ``suggested``, ``suggested probability``);
    ``images`` are the images its ``index`` points into. The titles say "given", not "true":
    which of the two labels is right is for a person to decide.

    Example:
        >>> table = label_issue_candidates(oof_probs, y_train, top=12)  # doctest: +SKIP
        >>> fig = plot_label_issues(x_train, table)  # doctest: +SKIP
    """
    n = len(candidates)
    nrows = max(1, int(np.ceil(n / ncols)))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(ncols * size, nrows * (size + 0.5)), squeeze=False
    )
    for k, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if k >= n:
            continue
        row = candidates.iloc[k]
        ax.imshow(np.asarray(images[int(row["index"])]).squeeze(), cmap="gray", vmin=0, vmax=255)
        given, suggested = (
            f"{p:.0%}" if p >= 0.005 else "<1%"
            for p in (row["given probability"], row["suggested probability"])
        )
        ax.set_title(
            f"#{int(row['index'])}\ngiven: {row['given']} ({given})\n"
            f"suggested: {row['suggested']} ({suggested})",
            fontsize=6.5,
        )
    fig.tight_layout()
    return fig


def plot_confused_pairs(
    images: np.ndarray,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    pairs,
    per_pair: int = 6,
    class_names: Sequence[str] = CLASS_NAMES,
    seed: int = 0,
    size: float = 1.1,
) -> Figure:
    """Example images of confused pairs: one row per (true, predicted) pair.

    ``pairs`` is :func:`fmnist_utils.evaluate.confused_pairs`'s table (columns ``true`` and
    ``predicted``, class names or numbers) or a list of ``(true, predicted)``. Each row shows
    up to ``per_pair`` random images of that true class that the model took for the other
    class; the row's label gives the pair and how many such mistakes there are.

    Example:
        >>> table = confused_pairs(y_test, y_pred, top=4)  # doctest: +SKIP
        >>> fig = plot_confused_pairs(x_test, y_test, y_pred, table)  # doctest: +SKIP
    """
    names = list(class_names)

    def as_number(value) -> int:
        return names.index(value) if isinstance(value, str) else int(value)

    if hasattr(pairs, "iterrows"):
        pairs = list(zip(pairs["true"], pairs["predicted"], strict=True))
    pairs = [(as_number(a), as_number(b)) for a, b in pairs]
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    rng = np.random.default_rng(seed)
    nrows = max(1, len(pairs))
    fig, axes = plt.subplots(
        nrows, per_pair, figsize=(per_pair * size + 1.8, nrows * size), squeeze=False
    )
    for r in range(nrows):
        for ax in axes[r]:
            _bare(ax)
            for spine in ax.spines.values():
                spine.set_visible(False)
        if r >= len(pairs):
            axes[r, 0].set_ylabel("no mistakes", rotation=0, ha="right", va="center", fontsize=8)
            continue
        a, b = pairs[r]
        members = np.flatnonzero((y_true == a) & (y_pred == b))
        picks = rng.choice(members, size=min(per_pair, len(members)), replace=False)
        for ax, i in zip(axes[r], picks, strict=False):
            ax.imshow(np.asarray(images[i]).squeeze(), cmap="gray", vmin=0, vmax=255)
        axes[r, 0].set_ylabel(
            f"{names[a]}\nseen as {names[b]}\n({len(members)} images)",
            rotation=0,
            ha="right",
            va="center",
            fontsize=8,
        )
    fig.subplots_adjust(wspace=0.05, hspace=0.08)
    return fig


# --- training experiments (07) ---


def plot_runs(
    histories: dict,
    metric: str = "val_accuracy",
    train_metric: str | None = None,
    title: str | None = None,
    ax=None,
    size: tuple[float, float] = (5.5, 3.6),
) -> Figure:
    """Several runs' curves of one metric in one panel: one colour per run, x = epoch.

    ``histories`` maps a run's name to its :func:`fmnist_utils.train.fit` table (or a Keras
    ``History.history`` dict). ``train_metric`` (e.g. ``"accuracy"``) adds that column as a
    thin dashed line in the same colour, so the gap between training and validation shows.
    Pass ``ax`` to draw into a panel of a larger figure.

    Example:
        >>> fig = plot_runs({"SGD": h_sgd, "Adam": h_adam}, title="optimizer")  # doctest: +SKIP
    """
    import pandas as pd

    if ax is None:
        fig, ax = plt.subplots(figsize=size)
    else:
        fig = ax.figure
    for i, (name, history) in enumerate(histories.items()):
        table = pd.DataFrame(history)
        epochs = table["epoch"] if "epoch" in table else np.arange(1, len(table) + 1)
        ax.plot(epochs, table[metric], color=f"C{i}", marker=".", label=str(name))
        if train_metric is not None and train_metric in table:
            ax.plot(epochs, table[train_metric], "--", color=f"C{i}", linewidth=0.9, alpha=0.7)
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric + ("  (dashed: " + train_metric + ")" if train_metric else ""))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_differences(
    table,
    title: str | None = None,
    xlabel: str = "difference from the baseline",
    ax=None,
    size: tuple[float, float] = (7.5, 3.6),
) -> Figure:
    """An ablation or comparison table as a forest plot: each row's difference, its interval.

    ``table`` is what :func:`fmnist_utils.evaluate.compare_table` returns (columns
    ``difference``, ``low``, ``high``, ``verdict``); the baseline row is left out. Each row is
    a dot at its mean difference with a bar for its interval, coloured by verdict (green
    better, red worse, grey no measurable difference or one seed); the vertical line is "no
    difference". Rows without an interval (one seed) get a dot only.

    Example:
        >>> from fmnist_utils.evaluate import compare_table
        >>> t = compare_table({"base": [0.80, 0.81, 0.80], "flip": [0.82, 0.83, 0.83]}, "base")
        >>> fig = plot_differences(t)
        >>> [label.get_text() for label in fig.axes[0].get_yticklabels()]
        ['flip']
    """
    rows = table[table["verdict"] != "(baseline)"]
    if ax is None:
        fig, ax = plt.subplots(figsize=size)
    else:
        fig = ax.figure
    colours = {"better": "C2", "worse": "C3"}
    positions = np.arange(len(rows))[::-1]
    for y, (_, row) in zip(positions, rows.iterrows(), strict=True):
        colour = colours.get(row["verdict"], "0.45")
        if np.isfinite(row["low"]) and np.isfinite(row["high"]):
            ax.plot([row["low"], row["high"]], [y, y], color=colour, linewidth=2.5, alpha=0.7)
        ax.plot(row["difference"], y, "o", color=colour)
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_yticks(positions, [str(name) for name in rows.index])
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_lr_range_test(
    table, suggested: float | None = None, ax=None, size: tuple[float, float] = (6, 3.8)
) -> Figure:
    """The learning-rate range test: loss against learning rate (log scale).

    ``table`` is the first value returned by :func:`fmnist_utils.train.lr_range_test`
    (columns ``learning_rate``, ``loss``, ``smoothed_loss``). The raw batch losses are drawn
    faintly, the smoothed loss boldly, and ``suggested`` as a vertical line. The y axis is cut
    a little above the starting loss so the final explosion does not flatten the curve. (The
    smoothed loss lags a few steps behind the batch losses: it is a moving average.)

    Example:
        >>> table, lr = train.lr_range_test(build, X_train, y_train)  # doctest: +SKIP
        >>> fig = plot_lr_range_test(table, lr)  # doctest: +SKIP
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=size)
    else:
        fig = ax.figure
    lr, loss, smooth = (
        np.asarray(table[c], float) for c in ("learning_rate", "loss", "smoothed_loss")
    )
    ax.plot(lr, loss, color="C0", alpha=0.3, linewidth=0.8, label="batch loss")
    ax.plot(lr, smooth, color="C0", linewidth=2, label="smoothed loss")
    finite = smooth[np.isfinite(smooth)]
    if finite.size:
        low = float(min(finite.min(), np.nanmin(np.where(np.isfinite(loss), loss, np.nan))))
        high = float(finite[0])
        ax.set_ylim(low - 0.05 * (high - low) - 1e-3, high + 0.5 * (high - low) + 1e-3)
    if suggested is not None:
        ax.axvline(suggested, color="C3", linestyle="--", label=f"suggested {suggested:.2g}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("training loss")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_gradient_norms(
    norms,
    log: bool = True,
    title: str | None = None,
    ax=None,
    size: tuple[float, float] = (6.5, 3.8),
) -> Figure:
    """Gradient norm per layer, one line per run: vanishing gradients at a glance.

    ``norms`` is a DataFrame with one row per layer (input side first, the index names the
    layer) and one column per run, e.g. activation functions; a Series is one run. Build it
    from :func:`fmnist_utils.train.gradient_norms` tables with
    ``pd.DataFrame({name: t.set_index("layer")["gradient_norm"] for name, t in runs.items()})``.
    A log scale (default) shows norms that shrink by a constant factor per layer as a
    straight line.

    Example:
        >>> fig = plot_gradient_norms(norms_by_activation)  # doctest: +SKIP
    """
    import pandas as pd

    table = norms.to_frame() if isinstance(norms, pd.Series) else pd.DataFrame(norms)
    if ax is None:
        fig, ax = plt.subplots(figsize=size)
    else:
        fig = ax.figure
    positions = np.arange(len(table))
    for i, column in enumerate(table.columns):
        ax.plot(positions, table[column], marker="o", color=f"C{i}", label=str(column))
    ax.set_xticks(positions)
    ax.set_xticklabels([str(name) for name in table.index], rotation=45, ha="right", fontsize=8)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("layer (input side on the left)")
    ax.set_ylabel("gradient norm" + (" (log scale)" if log else ""))
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_lr_schedules(
    schedules: dict, steps: int, ax=None, size: tuple[float, float] = (6, 3.6)
) -> Figure:
    """Learning rate against optimizer step for several schedules, one line each.

    Each value of ``schedules`` is a Keras ``LearningRateSchedule``, a constant number, or an
    array of ``steps`` rates already computed (e.g. from a training log);
    :func:`fmnist_utils.train.schedule_values` evaluates the schedules.

    Example:
        >>> fig = plot_lr_schedules({"one-cycle": train.OneCycle(1e-2, 500)}, 500)  # doctest: +SKIP
    """
    from fmnist_utils.train import schedule_values

    if ax is None:
        fig, ax = plt.subplots(figsize=size)
    else:
        fig = ax.figure
    for i, (name, schedule) in enumerate(schedules.items()):
        if isinstance(schedule, (np.ndarray, list, tuple)):
            values = np.asarray(schedule, float)
        else:
            values = schedule_values(schedule, steps)
        ax.plot(np.arange(len(values)), values, color=f"C{i}", label=str(name))
    ax.set_xlabel("optimizer step (batch)")
    ax.set_ylabel("learning rate")
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# --- transfer and embeddings (11) ---
def retrieval_gallery(
    images: np.ndarray,
    labels: np.ndarray,
    queries: Sequence[int] | np.ndarray,
    neighbours: np.ndarray,
    distances: np.ndarray | None = None,
    class_names: Sequence[str] = CLASS_NAMES,
    size: float = 1.1,
    title: str | None = None,
) -> Figure:
    """"More like this": one row per query, the query image then its nearest neighbours.

    ``queries`` are indices into ``images``/``labels``; ``neighbours[r]`` the indices of the
    neighbours found for ``queries[r]``, nearest first (``distances[r]`` their distances, shown
    under the class name when given). The query is framed in blue; a neighbour of another
    class than its query is framed and titled in red, so the mistakes stand out.

    Example:
        >>> _, idx = evaluate.nearest_neighbours(embeddings, k=6)  # doctest: +SKIP
        >>> fig = retrieval_gallery(x_test, y_test, [0, 1, 2], idx[[0, 1, 2]])  # doctest: +SKIP
    """
    queries = np.asarray(queries).ravel()
    neighbours = np.asarray(neighbours).reshape(len(queries), -1)
    n_rows, k = neighbours.shape
    fig, axes = plt.subplots(
        n_rows, k + 1, figsize=((k + 1) * size + 0.4, n_rows * size * 1.35), squeeze=False
    )

    def draw(ax, index: int, text: str, color: str, width: float) -> None:
        ax.imshow(
            np.asarray(images[index]).squeeze(),
            cmap="gray",
            vmin=0,
            vmax=255,
            interpolation="nearest",  # sharp pixels (and a smaller PNG)
        )
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_edgecolor(color)
            spine.set_linewidth(width)
        ax.set_title(text, fontsize=7, color="black" if color in ("white", "tab:blue") else color)

    for r, q in enumerate(queries):
        query_class = int(labels[q])
        draw(axes[r, 0], int(q), f"query\n{class_names[query_class]}", "tab:blue", 3)
        for j in range(k):
            n = int(neighbours[r, j])
            wrong = int(labels[n]) != query_class
            text = class_names[int(labels[n])]
            if distances is not None:
                text += f"\nd={np.asarray(distances)[r, j]:.2f}"
            elif wrong:
                text += "\n(other class)"
            draw(axes[r, j + 1], n, text, "red" if wrong else "white", 3 if wrong else 0.5)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


# --- augmentation (08) ---
def show_augmentations(
    images: np.ndarray,
    augment,
    n_augmented: int = 6,
    labels: Sequence[int] | np.ndarray | None = None,
    class_names: Sequence[str] = CLASS_NAMES,
    title: str | None = None,
    size: float = 1.1,
) -> Figure:
    """One row per image: the original, then ``n_augmented`` random versions of it.

    ``augment`` takes a batch of float images ``(n, 28, 28, 1)`` in [0, 1] and returns the
    transformed batch: a Keras layer or model (called with ``training=True``, so its random
    layers act) or any function. uint8 images are scaled to [0, 1] first. Every panel is drawn
    on the same scale, 0 black to 1 white, each pixel as a sharp square (so any blur is the
    transformation's, not the display's).

    Example:
        >>> from fmnist_utils.augment import augmenter
        >>> augment = augmenter(seed=0)  # doctest: +SKIP
        >>> fig = show_augmentations(x_train[:4], augment, labels=y_train[:4])  # doctest: +SKIP
    """
    import fmnist_utils

    fmnist_utils.quiet_tensorflow()
    import keras

    images = np.asarray(images)
    batch = images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else images
    if batch.ndim == 3:
        batch = batch[..., np.newaxis]
    batch = batch.astype(np.float32)
    if isinstance(augment, keras.layers.Layer):

        def transform(x):
            return augment(x, training=True)

    else:
        transform = augment
    versions = [batch] + [
        np.asarray(keras.ops.convert_to_numpy(transform(batch))) for _ in range(n_augmented)
    ]
    n = len(batch)
    fig, axes = plt.subplots(
        n, n_augmented + 1, figsize=((n_augmented + 1) * size + 1.0, n * size), squeeze=False
    )
    for r in range(n):
        for c, version in enumerate(versions):
            ax = axes[r, c]
            ax.imshow(
                version[r].squeeze(), cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest"
            )
            _bare(ax)
        if labels is not None:
            axes[r, 0].set_ylabel(
                class_names[int(labels[r])], rotation=0, ha="right", va="center", fontsize=9
            )
    axes[0, 0].set_title("original", fontsize=9)
    for c in range(1, n_augmented + 1):
        axes[0, c].set_title(f"random {c}", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.subplots_adjust(wspace=0.05, hspace=0.05)
    return fig


# --- classic baselines (05) ---
def plot_hog(
    images: np.ndarray,
    labels: Sequence[int] | np.ndarray | None = None,
    orientations: int = 9,
    pixels_per_cell: int = 4,
    cells_per_block: int = 2,
    class_names: Sequence[str] = CLASS_NAMES,
    size: float = 1.5,
) -> Figure:
    """Images (top row) and their HOG descriptors drawn over them (bottom row).

    In every cell of ``pixels_per_cell`` x ``pixels_per_cell`` pixels, one line per direction
    bin is drawn through the cell's centre, as long as the bin is strong. The bins come from
    ``skimage.feature.hog`` after block normalisation (a cell's value is the mean over the
    blocks that contain it), so the picture shows what a classifier receives. The lines run
    along the edges, at right angles to the gradient, as in scikit-image's own visualisation.

    Example:
        >>> fig = plot_hog(x_train[:6], y_train[:6])  # doctest: +SKIP
    """
    from matplotlib.collections import LineCollection
    from skimage.feature import hog

    images = np.asarray(images)
    if images.ndim == 4:
        images = images[..., 0]
    n = len(images)
    cell, block = int(pixels_per_cell), int(cells_per_block)
    angles = np.pi * (np.arange(orientations) + 0.5) / orientations  # gradient directions
    fig, axes = plt.subplots(2, n, figsize=(n * size, 2 * size * 1.1), squeeze=False)
    for j, image in enumerate(images):
        blocks = hog(
            image,
            orientations=orientations,
            pixels_per_cell=(cell, cell),
            cells_per_block=(block, block),
            feature_vector=False,
        )  # (block rows, block cols, block, block, orientations)
        rows, cols = blocks.shape[0] + block - 1, blocks.shape[1] + block - 1
        total = np.zeros((rows, cols, orientations))
        count = np.zeros((rows, cols, 1))
        for br in range(blocks.shape[0]):
            for bc in range(blocks.shape[1]):
                total[br : br + block, bc : bc + block] += blocks[br, bc]
                count[br : br + block, bc : bc + block] += 1
        cells = total / np.maximum(count, 1)
        half = cell / 2 * cells / max(cells.max(), 1e-12)  # half-length of each line
        centre_y, centre_x = np.meshgrid(
            np.arange(rows) * cell + (cell - 1) / 2,
            np.arange(cols) * cell + (cell - 1) / 2,
            indexing="ij",
        )
        dx = -np.sin(angles) * half  # along the edge: perpendicular to the gradient
        dy = np.cos(angles) * half
        x0, y0 = centre_x[..., None] - dx, centre_y[..., None] - dy
        x1, y1 = centre_x[..., None] + dx, centre_y[..., None] + dy
        segments = np.stack([np.stack([x0, y0], -1), np.stack([x1, y1], -1)], -2)
        strength = (cells / max(cells.max(), 1e-12)).reshape(-1)
        axes[0, j].imshow(image, cmap="gray")
        axes[1, j].imshow(image, cmap="gray", alpha=0.35)
        axes[1, j].add_collection(
            LineCollection(
                segments.reshape(-1, 2, 2),
                colors=plt.get_cmap("autumn")(1 - strength),
                linewidths=0.4 + 1.6 * strength,
            )
        )
        axes[1, j].set_facecolor("black")
        for ax in axes[:, j]:
            ax.set_xlim(-0.5, image.shape[1] - 0.5)
            ax.set_ylim(image.shape[0] - 0.5, -0.5)
            _bare(ax)
        if labels is not None:
            axes[0, j].set_title(class_names[int(labels[j])], fontsize=9)
    axes[0, 0].set_ylabel("image", fontsize=9)
    axes[1, 0].set_ylabel("HOG", fontsize=9)
    fig.subplots_adjust(wspace=0.05, hspace=0.05)
    return fig
