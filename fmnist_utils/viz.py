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
