"""Exploratory-analysis helpers (notebook 02): duplicates, per-class statistics, plots."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from fmnist_utils import stats, viz
from fmnist_utils.data import CLASS_NAMES, load_fashion_mnist


@pytest.fixture(scope="module")
def test_set():
    return load_fashion_mnist(download=False)[1]


@pytest.fixture(scope="module")
def sample(test_set):
    x, y = test_set
    return x[:2000], y[:2000]


def test_exact_duplicates_finds_planted_copies(sample):
    x, _ = sample
    base = x[:500]
    assert stats.find_exact_duplicates(base).shape == (0, 2)  # real images, no copies
    planted = base.copy()
    planted[100] = planted[7]
    planted[300] = planted[7]
    planted[400] = planted[42]
    pairs = stats.find_exact_duplicates(planted)
    assert pairs.tolist() == [[7, 100], [7, 300], [42, 400], [100, 300]]
    other = np.stack([x[1000], base[250], x[1001], base[3]])
    assert stats.find_exact_duplicates(base, other).tolist() == [[3, 3], [250, 1]]
    assert stats.find_exact_duplicates(base, x[1000:1100]).shape == (0, 2)


def test_one_changed_pixel_is_not_an_exact_duplicate(sample):
    x, _ = sample
    copy = x[:10].copy()
    copy[5, 14, 14] ^= 1
    pairs = stats.find_exact_duplicates(x[:10], copy)
    assert [5, 5] not in pairs.tolist() and len(pairs) == 9


def test_near_duplicates_finds_planted_near_copies(sample):
    x, _ = sample
    base = x[:1000].copy()
    rng = np.random.default_rng(0)
    noisy = np.clip(base[10].astype(int) + rng.integers(-3, 4, base[10].shape), 0, 255)
    base[600] = noisy.astype(np.uint8)  # a near copy of image 10
    base[700] = base[20]  # an exact copy of image 20
    pairs, dist = stats.find_near_duplicates(base, threshold=0.5)
    assert [10, 600] in pairs.tolist() and [20, 700] not in pairs.tolist()
    assert np.all((dist > 0) & (dist <= 0.5)) and np.all(np.diff(dist) >= 0)
    # the reported distance is the one measured on the pixels
    k = pairs.tolist().index([10, 600])
    expected = np.linalg.norm((base[10].astype(float) - base[600]) / 255)
    assert dist[k] == pytest.approx(expected, rel=1e-5)
    pairs_all, _ = stats.find_near_duplicates(base, threshold=0.5, include_exact=True)
    assert [20, 700] in pairs_all.tolist()


def test_near_duplicates_between_sets_and_none_when_far(sample):
    x, _ = sample
    a, b = x[:800], x[800:1600].copy()
    b[5] = a[123] // 2 * 2  # drop the lowest bit: a near copy
    pairs, dist = stats.find_near_duplicates(a, b, threshold=0.3)
    assert pairs.tolist() == [[123, 5]] and 0 < dist[0] <= 0.3
    # the search is exact: brute force on pixels agrees on a real sample
    pairs, _ = stats.find_near_duplicates(x[:400], threshold=2.0)
    f = x[:400].reshape(400, -1).astype(np.float64) / 255
    d = np.sqrt(((f[:, None] - f[None]) ** 2).sum(-1))
    i, j = np.nonzero(np.triu((d <= 2.0) & (d > 0), k=1))
    assert sorted(pairs.tolist()) == sorted(zip(i.tolist(), j.tolist(), strict=True))
    assert stats.find_near_duplicates(x[:300], threshold=0.05)[0].shape == (0, 2)


def test_image_statistics_on_real_images(sample):
    x, y = sample
    frame = stats.image_statistics(x, threshold=25)
    assert frame.shape == (len(x), 5)
    assert frame["brightness"].between(0, 255).all()
    assert frame["foreground"].between(0, 1).all() and frame["bbox_area"].between(0, 1).all()
    assert frame["bbox_width"].between(1, 28).all() and frame["bbox_height"].between(1, 28).all()
    # the box holds every foreground pixel, so its area is at least the foreground share
    assert (frame["bbox_area"] >= frame["foreground"] - 1e-12).all()
    k = 0
    rows, cols = np.nonzero(x[k] > 25)
    assert frame.loc[k, "bbox_width"] == cols.max() - cols.min() + 1
    assert frame.loc[k, "bbox_height"] == rows.max() - rows.min() + 1
    blank = stats.image_statistics(np.zeros((2, 28, 28), np.uint8))
    assert (blank[["foreground", "bbox_width", "bbox_area"]] == 0).all().all()


def test_class_statistics_and_distances(sample):
    x, y = sample
    table = stats.class_statistics(x, y)
    assert table.index.tolist() == list(CLASS_NAMES) and table.shape == (10, 5)
    # trousers are tall and narrow, bags and sandals are wider than tall
    assert table.loc["Trouser", "bbox_height"] > table.loc["Trouser", "bbox_width"]
    assert table.loc["Sandal", "bbox_width"] > table.loc["Sandal", "bbox_height"]
    means, stds = stats.class_mean_std(x, y)
    assert means.shape == stds.shape == (10, 28, 28)
    np.testing.assert_allclose(means[3], x[y == 3].mean(axis=0))
    d = stats.class_distances(x, y)
    assert d.shape == (10, 10) and np.allclose(np.diag(d), 0) and np.allclose(d, d.T)
    assert d.loc["Shirt", "T-shirt/top"] < d.loc["Shirt", "Sandal"]


def test_eda_plots_return_figures(sample):
    x, y = sample
    assert isinstance(viz.plot_class_counts({"a": y, "b": y[:100]}), Figure)
    means, stds = stats.class_mean_std(x, y)
    fig = viz.class_images({"mean": means, "std": stds})
    assert isinstance(fig, Figure) and len(fig.axes) == 22  # 20 images and 2 colour bars
    assert isinstance(viz.intensity_histograms(x, y), Figure)
    assert isinstance(viz.plot_distance_matrix(stats.class_distances(x, y)), Figure)
    coords = x[:300].reshape(300, -1)[:, :2].astype(float)
    fig = viz.embedding_map(coords, y[:300], x[:300], n_thumbnails=12)
    assert isinstance(fig, Figure) and 0 < len(fig.axes[0].artists) <= 12
    fig = viz.show_pairs(x, np.array([[0, 1], [2, 2]]), y, distances=np.array([1.0, 0.0]))
    assert isinstance(fig, Figure) and len(fig.axes) == 4
    assert isinstance(viz.show_pairs(x, np.zeros((0, 2), int), y), Figure)


def test_embedding_map_draws_thumbnails_as_stored_when_asked(sample):
    x, y = sample
    coords = np.random.default_rng(0).normal(size=(50, 2))
    dark = x[:50] // 2  # no pixel above 127
    fig = viz.embedding_map(coords, y[:50], dark, n_thumbnails=5)
    fig.canvas.draw()
    image = fig.axes[0].artists[0].offsetbox.get_children()[0]
    assert image.get_cmap().name == "gray_r" and image.norm.vmax <= 127  # stretched
    fig = viz.embedding_map(coords, y[:50], dark, n_thumbnails=5, cmap="gray",
                            value_range=(0, 255))
    image = fig.axes[0].artists[0].offsetbox.get_children()[0]
    assert image.get_cmap().name == "gray" and (image.norm.vmin, image.norm.vmax) == (0, 255)
