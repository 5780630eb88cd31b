"""Notebook 05's helpers: HOG features (preprocess) and the fit-and-score table (evaluate)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, MinMaxScaler
from sklearn.svm import LinearSVC

from fmnist_utils import data, evaluate, features


@pytest.fixture(scope="module")
def fashion():
    (x_train, y_train), (x_test, y_test) = data.load_fashion_mnist(download=False)
    x_small, y_small = data.subset(x_train, y_train, per_class=60, seed=0)
    return x_small, y_small, x_test[:400], y_test[:400]


# --- hog_features ---------------------------------------------------------------------------
def test_hog_features_shape_dtype_and_determinism(fashion):
    x, *_ = fashion
    first = features.hog_features(x[:50])
    assert first.shape == (50, 1296)  # 6 x 6 blocks of 2 x 2 cells with 9 bins
    assert first.dtype == np.float32
    assert np.isfinite(first).all() and first.min() >= 0
    assert np.array_equal(first, features.hog_features(x[:50]))


def test_hog_features_match_skimage_on_each_image(fashion):
    from skimage.feature import hog

    x, *_ = fashion
    batch = features.hog_features(x[:3], pixels_per_cell=(7, 7))
    for image, row in zip(x[:3], batch, strict=True):
        expected = hog(image, orientations=9, pixels_per_cell=(7, 7), cells_per_block=(2, 2))
        np.testing.assert_allclose(row, expected, rtol=1e-6, atol=1e-7)
    assert batch.shape == (3, 3 * 3 * 2 * 2 * 9)  # 4 x 4 cells of 7 pixels, 3 x 3 blocks


def test_hog_features_accept_rows_and_channel_axis(fashion):
    x, *_ = fashion
    images = x[:8]
    expected = features.hog_features(images)
    np.testing.assert_array_equal(features.hog_features(images.reshape(8, -1)), expected)
    np.testing.assert_array_equal(features.hog_features(images[..., np.newaxis]), expected)


def test_hog_features_ignore_brightness(fashion):
    # block normalisation: a darker copy of an image has (almost) the same descriptor
    x, *_ = fashion
    images = x[:20].astype(np.float64)
    np.testing.assert_allclose(
        features.hog_features(images), features.hog_features(images * 0.4), atol=1e-3
    )


def test_hog_features_tell_classes_apart(fashion):
    # a trouser's descriptor is closer to another trouser's than to a sandal's, on average
    x, y, *_ = fashion
    descriptors = features.hog_features(x)
    trousers, sandals = descriptors[y == 1], descriptors[y == 5]
    within = np.linalg.norm(trousers[:30] - trousers[30:60], axis=1).mean()
    between = np.linalg.norm(trousers[:30] - sandals[:30], axis=1).mean()
    assert within < between


def test_hog_features_in_parallel_equal_serial(fashion):
    x, *_ = fashion
    images = np.concatenate([x] * 4)[:2_000]  # the parallel path starts at 2,000 images
    np.testing.assert_array_equal(
        features.hog_features(images, n_jobs=2), features.hog_features(images)
    )


def test_hog_features_reject_a_single_image(fashion):
    x, *_ = fashion
    with pytest.raises(ValueError, match="batch"):
        features.hog_features(x[0])


# --- fit_and_score --------------------------------------------------------------------------
def test_fit_and_score_table_one_row_per_model(fashion, capsys):
    x, y, x_test, y_test = fashion
    estimators = {
        "majority": DummyClassifier(),
        "linear SVM": make_pipeline(MinMaxScaler(), LinearSVC(C=0.01)),
        "random forest": RandomForestClassifier(n_estimators=30, n_jobs=2, random_state=0),
        "kNN": KNeighborsClassifier(n_neighbors=3),
        "HOG + linear SVM": make_pipeline(
            FunctionTransformer(features.hog_features), LinearSVC(C=0.1)
        ),
    }
    table, predictions = evaluate.fit_and_score(estimators, x, y, x_test, y_test)
    assert list(table.index) == list(estimators)
    assert list(table.columns) == [
        "train images",
        "test images",
        "test accuracy",
        "fit seconds",
        "predict seconds",
    ]
    assert (table["train images"] == len(x)).all() and (table["test images"] == 400).all()
    assert (table["fit seconds"] > 0).all() and (table["predict seconds"] > 0).all()
    real = table.drop(index="majority")["test accuracy"]
    assert (real > 0.6).all(), real  # ten classes: chance is 0.1
    assert table.loc["majority", "test accuracy"] < 0.2
    for name, y_pred in predictions.items():
        assert y_pred.shape == y_test.shape
        assert np.mean(y_pred == y_test) == pytest.approx(table.loc[name, "test accuracy"])
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == len(estimators)
    assert all(line.startswith(name + ":") for line, name in zip(printed, estimators, strict=True))


def test_fit_and_score_train_sizes(fashion, capsys):
    x, y, x_test, y_test = fashion

    def make():
        return KNeighborsClassifier(n_neighbors=1)

    table, _ = evaluate.fit_and_score(
        {"small": make(), "all": make(), "too many": make()},
        x,
        y,
        x_test,
        y_test,
        train_sizes={"small": 50, "too many": 10**6},
        verbose=False,
    )
    assert table["train images"].tolist() == [50, len(x), len(x)]
    assert capsys.readouterr().out == ""
    table, _ = evaluate.fit_and_score(
        {"a": make()}, x, y, x_test, y_test, train_sizes=np.int64(100), verbose=False
    )
    assert table.loc["a", "train images"] == 100


def test_fit_and_score_fits_in_place_on_flattened_images(fashion):
    x, y, x_test, y_test = fashion
    model = KNeighborsClassifier(n_neighbors=1)
    evaluate.fit_and_score({"1-NN": model}, x, y, x_test, y_test, verbose=False)
    assert model.n_features_in_ == 784
    # 1-NN on its own training images: every image is its own nearest neighbour
    table, _ = evaluate.fit_and_score({"1-NN": model}, x, y, x, y, verbose=False)
    assert table.loc["1-NN", "test accuracy"] == pytest.approx(1.0, abs=0.01)


# --- plot_hog -------------------------------------------------------------------------------
def test_plot_hog_draws_one_line_per_cell_and_bin(fashion):
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure

    from fmnist_utils import viz

    x, y, *_ = fashion
    fig = viz.plot_hog(x[:3], y[:3])
    try:
        assert isinstance(fig, Figure)
        assert len(fig.axes) == 6  # images on top, HOG below
        assert [ax.get_title() for ax in fig.axes[:3]] == [data.CLASS_NAMES[c] for c in y[:3]]
        lines = [c for c in fig.axes[3].collections if isinstance(c, LineCollection)]
        assert len(lines) == 1 and len(lines[0].get_segments()) == 7 * 7 * 9
    finally:
        plt.close(fig)
