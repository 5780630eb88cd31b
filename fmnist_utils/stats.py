"""Exploratory analysis of the images (notebook 02): per-class mean and spread, per-image
brightness and extent, distances between the class means, exact and near duplicates.

Example:
    >>> means, stds = class_mean_std(x_train, y_train)  # doctest: +SKIP
    >>> find_exact_duplicates(x_train).shape  # doctest: +SKIP
    (0, 2)
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from fmnist_utils.data import CLASS_NAMES

if TYPE_CHECKING:  # pandas is imported where it is used, keeping `import fmnist_utils` light
    import pandas as pd


# --------------------------------------------------------------------------------------------
# Exploratory analysis (02): per-class statistics, class distances, duplicates
# --------------------------------------------------------------------------------------------
def _flat(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    return images.reshape(len(images), -1)


def class_mean_std(
    images: np.ndarray, labels: np.ndarray, n_classes: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """The mean and the standard-deviation image of every class, as float arrays (n_classes, h, w).

    Example:
        >>> means, stds = class_mean_std(x_train, y_train)  # doctest: +SKIP
        >>> means.shape
        (10, 28, 28)
    """
    images = np.asarray(images, dtype=np.float64)
    labels = np.asarray(labels)
    means = np.stack([images[labels == c].mean(axis=0) for c in range(n_classes)])
    stds = np.stack([images[labels == c].std(axis=0) for c in range(n_classes)])
    return means, stds


def image_statistics(images: np.ndarray, threshold: int = 25) -> pd.DataFrame:
    """One row per image: how bright it is and how much of the frame the item fills.

    Columns: ``brightness`` (mean pixel, 0-255), ``foreground`` (share of pixels above
    ``threshold``), ``bbox_width`` and ``bbox_height`` (pixels, of the box around the pixels
    above ``threshold``; 0 for an empty image) and ``bbox_area`` (that box's share of the frame).

    Example:
        >>> stats = image_statistics(x_train[:100])  # doctest: +SKIP
        >>> stats.columns.tolist()  # doctest: +SKIP
        ['brightness', 'foreground', 'bbox_width', 'bbox_height', 'bbox_area']
    """
    import pandas as pd

    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images must have shape (n, height, width); got {images.shape}.")
    n, height, width = images.shape
    mask = images > threshold

    def extent(any_along: np.ndarray) -> np.ndarray:
        size = any_along.shape[1]
        first = np.argmax(any_along, axis=1)
        last = size - 1 - np.argmax(any_along[:, ::-1], axis=1)
        return np.where(any_along.any(axis=1), last - first + 1, 0)

    bbox_width = extent(mask.any(axis=1))  # columns that hold a foreground pixel
    bbox_height = extent(mask.any(axis=2))  # rows that hold one
    return pd.DataFrame(
        {
            "brightness": images.reshape(n, -1).mean(axis=1),
            "foreground": mask.reshape(n, -1).mean(axis=1),
            "bbox_width": bbox_width,
            "bbox_height": bbox_height,
            "bbox_area": bbox_width * bbox_height / (height * width),
        }
    )


def class_statistics(
    images: np.ndarray,
    labels: np.ndarray,
    threshold: int = 25,
    class_names: Sequence[str] = CLASS_NAMES,
) -> pd.DataFrame:
    """The class averages of :func:`image_statistics`, one row per class (indexed by name).

    Example:
        >>> class_statistics(x_train, y_train).round(2)  # doctest: +SKIP
    """
    stats = image_statistics(images, threshold)
    stats["class"] = np.asarray(class_names)[np.asarray(labels)]
    table = stats.groupby("class", sort=False).mean().reindex(list(class_names))
    table.index.name = "class"
    return table


def class_distances(
    images: np.ndarray, labels: np.ndarray, class_names: Sequence[str] = CLASS_NAMES
) -> pd.DataFrame:
    """Euclidean distances between the class mean images (pixels scaled to 0-1), as a table.

    Small distances mark classes whose *average* item looks alike.

    Example:
        >>> d = class_distances(x_train, y_train)  # doctest: +SKIP
        >>> d.loc["Shirt", "T-shirt/top"] < d.loc["Shirt", "Trouser"]  # doctest: +SKIP
        True
    """
    import pandas as pd
    from sklearn.metrics import pairwise_distances

    means, _ = class_mean_std(images, labels, n_classes=len(class_names))
    dist = pairwise_distances(_flat(means) / 255.0)
    return pd.DataFrame(dist, index=list(class_names), columns=list(class_names))


def find_exact_duplicates(x_a: np.ndarray, x_b: np.ndarray | None = None) -> np.ndarray:
    """Index pairs of byte-identical images, found by hashing each image's bytes.

    With one array: pairs ``(i, j)``, ``i < j``, of identical images inside ``x_a`` (a group
    of k copies gives every one of its k(k-1)/2 pairs). With two: pairs ``(i, j)`` where
    ``x_a[i]`` equals ``x_b[j]``. Returns an int array of shape (n_pairs, 2), sorted.

    Example:
        >>> find_exact_duplicates(x_train).shape  # doctest: +SKIP
        (0, 2)
        >>> find_exact_duplicates(x_train[:3], x_train[[2]]).tolist()  # doctest: +SKIP
        [[2, 0]]
    """
    from collections import defaultdict

    def digests(images: np.ndarray) -> list[bytes]:
        images = np.ascontiguousarray(images)
        return [hashlib.blake2b(image.tobytes(), digest_size=16).digest() for image in images]

    groups: dict[bytes, list[int]] = defaultdict(list)
    for i, digest in enumerate(digests(x_a)):
        groups[digest].append(i)
    pairs: list[tuple[int, int]] = []
    if x_b is None:
        for members in groups.values():
            pairs += [(i, j) for k, i in enumerate(members) for j in members[k + 1 :]]
    else:
        for j, digest in enumerate(digests(x_b)):
            pairs += [(i, j) for i in groups.get(digest, ())]
    result = np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)
    # a hash collision would pair different images: check the bytes themselves
    other = x_a if x_b is None else x_b
    for i, j in result:
        assert np.array_equal(x_a[i], other[j])
    return result


def find_near_duplicates(
    x_a: np.ndarray,
    x_b: np.ndarray | None = None,
    threshold: float = 1.0,
    n_components: int = 24,
    include_exact: bool = False,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of images closer than ``threshold`` (Euclidean, pixels scaled to 0-1).

    Candidates come from a radius search in a PCA space of ``n_components`` dimensions; then
    every candidate's distance is measured on the pixels. A PCA projection never makes two
    images farther apart, so the search misses no pair: it is exact, only faster than
    comparing all pixels of all pairs. For scale: a distance of 1 between 28x28 images is a
    root-mean-square difference of about 9 grey levels (255 / 28).

    With one array, pairs ``(i, j)``, ``i < j``, inside ``x_a``; with two, pairs where
    ``x_a[i]`` is near ``x_b[j]``. Byte-identical pairs (distance 0) are left out unless
    ``include_exact``. Returns ``(pairs, distances)``: int (n, 2) and float (n,), sorted by
    distance.

    Example:
        >>> pairs, dist = find_near_duplicates(x_train, threshold=1.0)  # doctest: +SKIP
        >>> pairs[:2], dist[:2].round(2)  # doctest: +SKIP
    """
    from sklearn.decomposition import PCA
    from sklearn.neighbors import NearestNeighbors

    a = _flat(x_a).astype(np.float32) / 255.0
    b = a if x_b is None else _flat(x_b).astype(np.float32) / 255.0
    rng = np.random.default_rng(seed)
    fit_rows = rng.choice(len(a), size=min(len(a), 10_000), replace=False)
    n_components = min(n_components, a.shape[1], len(fit_rows))
    pca = PCA(n_components, random_state=seed).fit(a[fit_rows])  # no whitening: distances shrink
    index = NearestNeighbors(radius=threshold, n_jobs=-1).fit(pca.transform(a))
    neighbours = index.radius_neighbors(pca.transform(b), return_distance=False)
    j = np.repeat(np.arange(len(b)), [len(n) for n in neighbours])
    i = np.concatenate(neighbours).astype(np.int64) if len(neighbours) else np.zeros(0, np.int64)
    if x_b is None:
        keep = i < j
        i, j = i[keep], j[keep]
    dist = np.empty(len(i), dtype=np.float64)
    for start in range(0, len(i), 20_000):  # verify on the pixels, in chunks to bound memory
        sl = slice(start, start + 20_000)
        dist[sl] = np.sqrt(((a[i[sl]] - b[j[sl]]) ** 2).sum(axis=1, dtype=np.float64))
    keep = dist <= threshold
    if not include_exact:
        keep &= dist > 0
    order = np.lexsort((j[keep], i[keep], dist[keep]))
    pairs = np.column_stack([i[keep], j[keep]])[order].astype(np.int64).reshape(-1, 2)
    return pairs, dist[keep][order]
