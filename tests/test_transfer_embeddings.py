"""Notebook 11's helpers: embeddings, head swaps, frozen backbones, precision@k, galleries."""

from __future__ import annotations

import time

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

import fmnist_utils

fmnist_utils.quiet_tensorflow()

import keras  # noqa: E402

from fmnist_utils import evaluate, models, train, viz  # noqa: E402
from fmnist_utils.data import load_fashion_mnist  # noqa: E402
from fmnist_utils.preprocess import prepare  # noqa: E402

# Hand-made points: two tight groups near the axes, and one point (index 4) of class 0 that
# sits in class 1's group. Cosine distance only depends on the angle between two points; the
# angles from the x axis are 90, 84.3, 0, 5.7 and 14.0 degrees. Nearest neighbours by hand:
# 0 -> 1, 4; 1 -> 0, 4; 2 -> 3, 4; 3 -> 2 (5.7 deg), 4 (8.3 deg); 4 -> 3, 2.
POINTS = np.array([[0.0, 1.0], [0.1, 1.0], [1.0, 0.0], [1.0, 0.1], [1.0, 0.25]])
LABELS = np.array([0, 0, 1, 1, 0])


@pytest.fixture(scope="module")
def images():
    (x_train, y_train), _ = load_fashion_mnist(download=False)
    return prepare(x_train[:64]), y_train[:64] % 5


def test_nearest_neighbours_by_hand_excludes_the_query():
    distances, indices = evaluate.nearest_neighbours(POINTS, k=2)
    assert indices[:, 0].tolist() == [1, 0, 3, 2, 3]
    assert indices[3].tolist() == [2, 4]
    assert not np.any(indices == np.arange(len(POINTS))[:, None])
    assert np.all(np.diff(distances, axis=1) >= 0)  # nearest first
    assert distances[0, 0] == pytest.approx(1 - 1.0 / np.sqrt(1.01), rel=1e-4)


def test_precision_at_k_by_hand():
    # k=1: rows 0-3 find their own class, row 4 (class 0) finds 3 (class 1): 4/5.
    assert evaluate.precision_at_k(POINTS, LABELS, k=1) == pytest.approx(0.8)
    # k=2: 0 -> {1, 4}: 2/2; 1 -> {0, 4}: 2/2; 2 -> {3, 4}: 1/2; 3 -> {2, 4}: 1/2;
    # 4 -> {3, 2}: 0/2. Mean 0.6.
    assert evaluate.precision_at_k(POINTS, LABELS, k=2) == pytest.approx(0.6)


def test_an_exact_duplicate_is_a_neighbour_but_the_query_is_not():
    points = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    _, indices = evaluate.nearest_neighbours(points, k=1, metric="euclidean")
    assert indices.ravel().tolist()[:2] == [1, 0]
    with pytest.raises(ValueError, match="between 1 and 2"):
        evaluate.nearest_neighbours(points, k=3)


def test_retrieval_table_matches_precision_at_k():
    table = evaluate.retrieval_table({"points": POINTS, "flat": POINTS * 3}, LABELS, ks=(1, 2))
    assert table.loc["points", "dimensions"] == 2
    assert table.loc["points", "precision@1"] == pytest.approx(0.8)
    assert table.loc["points", "precision@2"] == pytest.approx(0.6)
    # cosine ignores the length of a vector
    assert table.loc["flat"].tolist() == table.loc["points"].tolist()


def test_precision_per_query_by_hand_and_paired_in_compare():
    # k=2, from the neighbours listed at the top: 0 -> {1, 4} and 1 -> {0, 4} are all class 0;
    # 2 -> {3, 4} and 3 -> {2, 4} have one of two right; 4 (class 0) -> {3, 2} none.
    per_query = evaluate.precision_per_query(POINTS, LABELS, k=2)
    assert per_query.tolist() == pytest.approx([1.0, 1.0, 0.5, 0.5, 0.0])
    assert per_query.mean() == pytest.approx(evaluate.precision_at_k(POINTS, LABELS, k=2))
    # a representation that puts every query next to its own class wins query by query
    perfect = np.array([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    better = evaluate.precision_per_query(perfect, LABELS, k=1)
    c = evaluate.compare(better, evaluate.precision_per_query(POINTS, LABELS, k=1),
                         ("perfect", "points"), metric="precision@1", unit="query")
    assert better.tolist() == [1.0] * 5
    assert c.n_a == 5 and "5 queries each" in str(c)


def test_embedding_model_outputs_the_penultimate_layer(images):
    x, _ = images
    model = models.fast_cnn()
    embed = models.embedding_model(model)
    assert embed.output.shape[1:] == (3 * 3 * 128,)
    assert embed.predict(x[:4], verbose=0).shape == (4, 1152)
    assert models.embedding_model(model, "pool2").output.shape[1:] == (7, 7, 64)


def test_new_head_changes_the_classes_and_shares_the_layers():
    base = models.fast_cnn()
    five = models.new_head(base, 5)
    assert five.output.shape[1:] == (5,)
    assert five.get_layer("conv1") is base.get_layer("conv1")


def test_frozen_backbone_stays_put_while_the_head_learns(images):
    x, y = images
    train.set_seed(0)
    source = models.new_head(models.fast_cnn(filters=(8, 8, 8)), 5)
    reused = models.compile_model(models.transfer_model(source, 5))
    backbone = reused.get_layer("backbone")
    before = [w.copy() for w in backbone.get_weights()]  # kernels, BN scales and statistics
    head_before = reused.get_layer("probabilities").get_weights()[0].copy()
    reused.fit(x, y, epochs=1, batch_size=32, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, backbone.get_weights(), strict=True))
    assert not np.array_equal(head_before, reused.get_layer("probabilities").get_weights()[0])
    # The source network is a different copy: training the transfer model never touched it.
    assert source.get_layer("conv1") is not backbone.get_layer("conv1")

    # Unfrozen: the kernels learn; the batch normalisation stays frozen (inference mode), so its
    # statistics do not move (training=False alone does not ensure that in Keras 3).
    models.freeze_backbone(reused, frozen=False)
    models.compile_model(reused, learning_rate=1e-3)
    kernel = backbone.get_layer("conv1").kernel.numpy().copy()
    moving_mean = backbone.get_layer("conv1_bn").moving_mean.numpy().copy()
    reused.fit(x, y, epochs=1, batch_size=32, verbose=0)
    assert not np.array_equal(kernel, backbone.get_layer("conv1").kernel.numpy())
    assert np.array_equal(moving_mean, backbone.get_layer("conv1_bn").moving_mean.numpy())


def test_count_weights_and_partial_unfreezing():
    source = models.new_head(models.fast_cnn(), 5)
    reused = models.transfer_model(source, 5)
    head = 1152 * 5 + 5
    assert models.count_weights(reused)["trainable"] == head
    assert models.count_weights(reused)["total"] == source.count_params()
    models.freeze_backbone(reused, frozen=False, from_layer="conv3")
    backbone = reused.get_layer("backbone")
    trainable = {layer.name for layer in backbone.layers if layer.trainable and layer.weights}
    assert trainable == {"conv3"}  # conv3_bn stays frozen
    assert models.count_weights(reused)["trainable"] == head + 3 * 3 * 64 * 128
    models.freeze_backbone(reused, frozen=False, freeze_batchnorm=False)
    assert models.count_weights(reused)["trainable"] == source.count_params() - 2 * (32 + 64 + 128)


def test_imagenet_backbone_falls_back_to_random_weights(tmp_path):
    backbone, info = models.imagenet_backbone(
        "MobileNetV3Small", 32, weights=str(tmp_path / "missing.weights.h5")
    )
    assert info["weights_available"] is False
    assert "no weights file" in info["message"]
    assert isinstance(backbone, keras.Model)
    assert backbone.output.shape[1:] == (576,)
    with pytest.raises(ValueError, match="at least 32"):
        models.imagenet_backbone("MobileNetV3Small", 28, weights=None)


@pytest.mark.parametrize(
    ("architecture", "family"),
    [("MobileNetV2", keras.applications.mobilenet_v2), ("ResNet50", keras.applications.resnet)],
)
def test_imagenet_backbone_applies_its_familys_preprocessing(architecture, family):
    """Networks that do not rescale inside get their preprocess_input as the first step."""
    backbone, _ = models.imagenet_backbone(architecture, 32, weights=None)
    assert backbone.input.shape[1:] == (32, 32, 3)
    first = backbone.layers[1]  # the first layer after the input (and its preprocessing)
    preprocessing = keras.Model(backbone.input, first.input)
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    expected = family.preprocess_input(x.copy())
    np.testing.assert_allclose(preprocessing.predict(x, verbose=0), expected, atol=1e-4)


def test_retrieval_gallery_returns_a_figure(images):
    x, y = images
    _, indices = evaluate.nearest_neighbours(x.reshape(len(x), -1), k=4)
    raw = (x[..., 0] * 255).astype(np.uint8)
    fig = viz.retrieval_gallery(raw, y, [0, 1, 2], indices[[0, 1, 2]])
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 3 * 5
    wrong = [int(y[n]) != int(y[q]) for q in (0, 1, 2) for n in indices[q]]
    red = [ax.spines["top"].get_edgecolor()[:3] == (1.0, 0.0, 0.0) for ax in fig.axes]
    assert sum(red) == sum(wrong)
    plt.close(fig)


def test_imagenet_download_failure_is_quick_and_reported(monkeypatch):
    # ".invalid" never resolves (RFC 2606), online or not: the probe fails and nothing is fetched.
    monkeypatch.setattr(models, "IMAGENET_WEIGHTS_URL", "https://weights.invalid/")
    start = time.perf_counter()
    backbone, info = models.imagenet_backbone("MobileNetV3Small", 32, weights="imagenet", timeout=5)
    assert info["weights_available"] is False
    assert info["source"] == "random"
    assert "cannot reach https://weights.invalid/" in info["message"]
    assert info["seconds"] <= 5.5
    assert time.perf_counter() - start < 60
    assert backbone.output.shape[1:] == (576,)
