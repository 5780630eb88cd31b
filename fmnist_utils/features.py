"""Hand-made features for the classic machine-learning baselines (notebook 05).

:func:`hog_features` turns a batch of images into HOG descriptors (histograms of oriented
gradients), one float32 row per image, for scikit-learn models.

Example:
    >>> hog_features(np.zeros((3, 28, 28), np.uint8)).shape
    (3, 1296)
"""

from __future__ import annotations

import numpy as np

from fmnist_utils.preprocess import IMAGE_SHAPE


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
