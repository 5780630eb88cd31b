"""preprocess, models, train.fit, evaluate and the split helpers of data, on real images."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from fmnist_utils import data, evaluate, models, preprocess, train, viz


@pytest.fixture(scope="module")
def fmnist():
    return data.load_fashion_mnist(download=False)


# ----------------------------------------------------------------------------- preprocess
def test_prepare_scales_and_adds_a_channel(fmnist):
    (x_train, _), _ = fmnist
    batch = preprocess.prepare(x_train[:64])
    assert batch.shape == (64, 28, 28, 1) and batch.dtype == np.float32
    assert batch.min() == 0.0 and batch.max() == 1.0
    np.testing.assert_allclose(batch[..., 0] * 255, x_train[:64], atol=1e-4)
    assert preprocess.prepare(x_train[0]).shape == (1, 28, 28, 1)


def test_scaling_twice_is_refused(fmnist):
    (x_train, _), _ = fmnist
    with pytest.raises(TypeError, match="expects uint8"):
        preprocess.prepare(preprocess.scale(x_train[:2]))


def test_dataset_pipeline_prepares_like_prepare(fmnist):
    (x_train, y_train), _ = fmnist
    ds = preprocess.make_dataset(x_train[:100], y_train[:100], batch_size=32, shuffle=False)
    images, labels = next(iter(ds))  # tf.data on TensorFlow, a keras PyDataset elsewhere
    np.testing.assert_array_equal(np.asarray(images), preprocess.prepare(x_train[:32]))
    np.testing.assert_array_equal(np.asarray(labels), y_train[:32])
    assert sum(int(b[1].shape[0]) for b in ds) == 100


def test_standardize_reuses_training_statistics(fmnist):
    (x_train, _), (x_test, _) = fmnist
    z_train, mean, std = preprocess.standardize(x_train[:1000])
    assert abs(float(z_train.mean())) < 1e-4 and abs(float(z_train.std()) - 1) < 1e-3
    z_test, mean2, std2 = preprocess.standardize(x_test[:1000], mean, std)
    assert (mean2, std2) == (mean, std)
    np.testing.assert_allclose(z_test, (x_test[:1000] - mean) / std, rtol=1e-5)


def test_one_hot():
    encoded = preprocess.one_hot(np.array([3, 0, 9]))
    assert encoded.shape == (3, 10) and encoded.sum() == 3
    assert encoded.argmax(axis=1).tolist() == [3, 0, 9]
    with pytest.raises(ValueError, match="0..9"):
        preprocess.one_hot(np.array([10]))


# ----------------------------------------------------------------------------- data splits
def test_stratified_split_and_subset(fmnist):
    (x_train, y_train), _ = fmnist
    (x_tr, y_tr), (x_val, y_val) = data.train_val_split(x_train, y_train, 0.1, seed=1)
    assert len(x_tr) == 54000 and len(x_val) == 6000
    assert np.bincount(y_val).tolist() == [600] * 10
    x_small, y_small = data.subset(x_train, y_train, per_class=20, seed=1)
    assert x_small.shape == (200, 28, 28) and np.bincount(y_small).tolist() == [20] * 10
    again = data.subset(x_train, y_train, per_class=20, seed=1)
    np.testing.assert_array_equal(again[0], x_small)


# ----------------------------------------------------------------------------- models
@pytest.mark.parametrize("name", sorted(models.BUILDERS))
def test_models_output_probabilities(name, fmnist):
    (x_train, _), _ = fmnist
    model = models.BUILDERS[name]()
    probs = model.predict(preprocess.prepare(x_train[:4]), verbose=0)
    assert probs.shape == (4, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert model.inputs[0].shape[1:] == (28, 28, 1)


def test_reference_models_match_their_published_architecture():
    # Flatten 784 -> Dense 128 -> Dense 10
    assert models.reference_mlp().count_params() == 784 * 128 + 128 + 128 * 10 + 10
    cnn = models.reference_cnn()
    conv1 = 3 * 3 * 1 * 32 + 32
    conv2 = 3 * 3 * 32 * 64 + 64
    dense = 5 * 5 * 64 * 128 + 128  # 28 -conv-> 26 -pool-> 13 -conv-> 11 -pool-> 5
    assert cnn.count_params() == conv1 + conv2 + dense + 128 * 10 + 10


# ----------------------------------------------------------------------------- train
def test_seeded_training_repeats_exactly(fmnist):
    (x_train, y_train), _ = fmnist
    x_small, y_small = data.subset(x_train, y_train, per_class=30, seed=0)
    runs = []
    for _ in range(2):
        train.set_seed(7)
        model = models.compile_model(models.reference_mlp())
        history = train.fit(
            model, preprocess.prepare(x_small), y_small, epochs=2, batch_size=32, verbose=0
        )
        runs.append(history)
    assert list(runs[0]["epoch"]) == [1, 2]
    np.testing.assert_array_equal(runs[0]["loss"], runs[1]["loss"])
    assert runs[0]["seconds"].is_monotonic_increasing
    assert runs[0].attrs["seconds"] >= runs[0]["seconds"].iloc[-1]


def test_time_to_accuracy_reads_the_first_epoch_that_reached_it():
    import pandas as pd

    history = pd.DataFrame({"seconds": [5.0, 9.0, 14.0], "val_accuracy": [0.85, 0.905, 0.90]})
    assert train.time_to_accuracy(history, 0.9) == 9.0
    assert train.time_to_accuracy(history, 0.95) is None


# ----------------------------------------------------------------------------- evaluate
def test_metrics_agree_with_a_hand_worked_example():
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 1, 1, 1, 1])
    metrics = evaluate.summary_metrics(y_true, y_pred)
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    # precision: class 0 2/2, class 1 2/4, class 2 0 -> mean 0.5; recall: 2/3, 1, 0 -> 5/9
    assert metrics["precision_macro"] == pytest.approx(0.5)
    assert metrics["recall_macro"] == pytest.approx(5 / 9)
    names = ["a", "b", "c"]
    per_class = evaluate.per_class_accuracy(y_true, y_pred, names)
    assert per_class.tolist() == pytest.approx([2 / 3, 1.0, 0.0])
    pairs = evaluate.confused_pairs(y_true, y_pred, names)
    assert pairs[["true", "predicted", "count"]].values.tolist() == [["a", "b", 1], ["c", "b", 1]]


# ----------------------------------------------------------------------------- viz
def test_curves_and_confusion_matrix_are_figures():
    history = {
        "epoch": [1, 2],
        "loss": [1.0, 0.5],
        "val_loss": [1.1, 0.6],
        "accuracy": [0.6, 0.8],
        "val_accuracy": [0.55, 0.75],
    }
    fig = viz.plot_history({"run": history})
    assert isinstance(fig, Figure) and [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]
    assert len(fig.axes[0].lines) == 2
    cm = viz.plot_confusion_matrix(np.array([0, 1, 1]), np.array([0, 1, 0]), ["a", "b"])
    assert sorted(t.get_text() for t in cm.axes[0].texts) == ["0", "1", "1", "1"]


def test_history_markers_show_a_one_epoch_run():
    one_epoch = {"epoch": [1], "loss": [1.0], "val_loss": [1.1], "accuracy": [0.6],
                 "val_accuracy": [0.55]}
    plain = viz.plot_history({"run": one_epoch})
    assert {line.get_marker() for line in plain.axes[0].lines} == {"None"}  # invisible points
    marked = viz.plot_history({"run": one_epoch}, marker="o")
    assert {line.get_marker() for line in marked.axes[0].lines} == {"o"}
    for fig in (plain, marked):
        fig.clf()


def test_confusion_difference_shows_points_of_each_true_class():
    y_true = np.array([0, 0, 1, 1, 1, 1])
    a = np.array([0, 0, 1, 1, 1, 0])  # rows: [1, 0], [1/4, 3/4]
    b = np.array([0, 1, 1, 1, 1, 1])  # rows: [1/2, 1/2], [0, 1]
    fig = viz.plot_confusion_difference(y_true, a, b, ("A", "B"), ["a", "b"])
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["+50.0", "-50.0", "+25.0", "-25.0"]
    assert fig.axes[0].get_title().startswith("A minus B")
    same = viz.plot_confusion_difference(y_true, a, a, class_names=["a", "b"])
    assert [t.get_text() for t in same.axes[0].texts] == ["", "", "", ""]


def test_shift_images_moves_content_and_fills_black(fmnist):
    (x_train, _), _ = fmnist
    x = x_train[:10]
    right = preprocess.shift_images(x, dx=2)
    np.testing.assert_array_equal(right[:, :, 2:], x[:, :, :-2])
    assert (right[:, :, :2] == 0).all()
    up = preprocess.shift_images(x, dy=-3)
    np.testing.assert_array_equal(up[:, :-3], x[:, 3:])
    assert (up[:, -3:] == 0).all()
    assert (preprocess.shift_images(x, dx=28) == 0).all()
    with_channel = preprocess.shift_images(x[..., None], dx=1, dy=1)
    np.testing.assert_array_equal(with_channel[..., 0], preprocess.shift_images(x, dx=1, dy=1))
