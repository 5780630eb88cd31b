"""Notebook 08's helpers: the augmenter, the cutout layer, mixup, rotation and the example plot."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

import fmnist_utils

fmnist_utils.quiet_tensorflow()

import keras  # noqa: E402

from fmnist_utils import augment, device, preprocess, viz  # noqa: E402
from fmnist_utils.data import load_fashion_mnist  # noqa: E402


@pytest.fixture(scope="module")
def test_set():
    return load_fashion_mnist(download=False)[1]


@pytest.fixture(scope="module")
def batch(test_set):
    return preprocess.prepare(test_set[0][:32])


# --- rotate_images ---------------------------------------------------------------------------
def test_rotate_by_zero_is_the_identity(test_set):
    x = test_set[0][:20]
    out = augment.rotate_images(x, 0)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(augment.rotate_images(x, 360), x)


def test_rotate_by_90_matches_rot90_and_four_times_is_the_identity(test_set):
    x = test_set[0][:20]
    quarter = augment.rotate_images(x, 90)
    # counter-clockwise, as drawn by imshow (row 0 at the top): np.rot90 on the image axes
    assert np.abs(quarter.astype(int) - np.rot90(x, 1, axes=(1, 2))).max() <= 1
    back = x
    for _ in range(4):
        back = augment.rotate_images(back, 90)
    assert np.abs(back.astype(int) - x).max() <= 1


def test_rotate_keeps_shape_dtype_and_range(test_set):
    x = test_set[0][:10]
    for degrees in (-20, 10, 45):
        out = augment.rotate_images(x, degrees)
        assert out.shape == x.shape and out.dtype == np.uint8
        assert not np.array_equal(out, x)
    floats = preprocess.prepare(x)
    out = augment.rotate_images(floats, 15)
    assert out.shape == floats.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    # a rotation moves ink around but (away from the corners) keeps most of it
    assert abs(out.sum() / floats.sum() - 1) < 0.1


def test_rotate_rejects_a_single_image():
    with pytest.raises(ValueError, match="batch"):
        augment.rotate_images(np.zeros((28, 28), np.uint8), 10)


# --- RandomCutout ----------------------------------------------------------------------------
def test_cutout_fills_one_square_of_the_right_size_inside_the_image():
    ones = np.ones((16, 28, 28, 1), np.float32)
    for size in (1, 5, 8, 28):
        out = np.asarray(augment.RandomCutout(size, seed=3)(ones, training=True))
        assert out.shape == ones.shape
        for image in out[..., 0]:
            rows, cols = np.nonzero(image == 0)
            assert len(rows) == size * size
            # one contiguous square
            assert rows.max() - rows.min() + 1 == size and cols.max() - cols.min() + 1 == size


def test_cutout_positions_vary_and_probability_is_respected():
    ones = np.ones((400, 28, 28, 1), np.float32)
    out = np.asarray(augment.RandomCutout(6, seed=0)(ones, training=True))[..., 0]
    corners = {tuple(np.argwhere(image == 0)[0]) for image in out}
    assert len(corners) > 50  # positions are spread over the image
    half = np.asarray(augment.RandomCutout(6, probability=0.5, seed=1)(ones, training=True))
    erased = (half == 0).any(axis=(1, 2, 3)).mean()
    assert 0.35 < erased < 0.65
    none = augment.RandomCutout(6, probability=0.0, seed=1)(ones, training=True)
    np.testing.assert_array_equal(np.asarray(none), ones)


def test_cutout_is_inactive_at_inference_and_saved_with_a_model(tmp_path, batch):
    layer = augment.RandomCutout(8, fill_value=0.5, seed=0)
    np.testing.assert_array_equal(np.asarray(layer(batch, training=False)), batch)
    assert not np.array_equal(np.asarray(layer(batch)), batch)  # like Keras' random layers
    model = keras.Sequential([keras.Input(preprocess.IMAGE_SHAPE), layer])
    np.testing.assert_array_equal(model.predict(batch, verbose=0), batch)
    path = tmp_path / "cutout.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    restored = loaded.layers[0]
    assert type(restored).__name__ == "RandomCutout"
    assert (restored.size, restored.fill_value) == (8, 0.5)
    out = np.asarray(restored(np.zeros((2, 28, 28, 1), np.float32), training=True))
    assert np.isclose(out, 0.5).sum() == 2 * 64


def test_cutout_rejects_bad_settings():
    with pytest.raises(ValueError, match="size"):
        augment.RandomCutout(0)
    with pytest.raises(ValueError, match="probability"):
        augment.RandomCutout(4, probability=1.5)
    with pytest.raises(ValueError, match="does not fit"):
        augment.RandomCutout(30)(np.ones((1, 28, 28, 1), np.float32), training=True)


@pytest.mark.skipif(
    device.backend() != "tensorflow", reason="tf.data is TensorFlow's; other backends batch arrays"
)
def test_cutout_works_in_a_tf_data_pipeline(test_set):
    x, y = test_set[0][:64], test_set[1][:64]
    cutout = augment.RandomCutout(8, seed=0)
    ds = preprocess.make_dataset(x, y, batch_size=32, shuffle=False).map(
        lambda images, labels: (cutout(images, training=True), labels)
    )
    first, second = (np.asarray(images) for images, _ in ds)
    assert first.shape == second.shape == (32, 28, 28, 1)
    plain = preprocess.prepare(x)
    erased = (plain[:32] > 0) & (first == 0)
    assert erased.any(axis=(1, 2, 3)).mean() > 0.5  # ink was erased in most images
    np.testing.assert_array_equal(first[first > 0], plain[:32][first > 0])


# --- augmenter -------------------------------------------------------------------------------
def test_augmenter_changes_images_only_in_training_mode(batch):
    augmentation = augment.augmenter(seed=0)
    assert [layer.name for layer in augmentation.layers] == [
        "flip",
        "rotation",
        "zoom",
        "translation",
        "cutout",
    ]
    np.testing.assert_array_equal(np.asarray(augmentation(batch, training=False)), batch)
    # inside a model: predict and evaluate pass the images unchanged
    model = keras.Sequential([keras.Input(preprocess.IMAGE_SHAPE), augmentation])
    np.testing.assert_array_equal(model.predict(batch, verbose=0), batch)
    out = np.asarray(augmentation(batch, training=True))
    assert out.shape == batch.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0 + 1e-6
    changed = np.abs(out - batch).reshape(len(batch), -1).max(axis=1) > 0.05
    assert changed.mean() > 0.9
    again = np.asarray(augmentation(batch, training=True))
    assert not np.allclose(again, out)  # new random draws on every call


def test_augmenter_steps_can_be_left_out(batch):
    assert augment.augmenter(flip=False, cutout=0).layers[0].name == "rotation"
    flip_only = augment.augmenter(rotation=0, zoom=0, translation=0, cutout=0, seed=1)
    assert [layer.name for layer in flip_only.layers] == ["flip"]
    out = np.asarray(flip_only(batch, training=True))
    for image, result in zip(batch, out, strict=True):
        assert np.array_equal(result, image) or np.array_equal(result, image[:, ::-1])
    assert not np.array_equal(out, batch)
    keep = augment.augmenter(flip=False, rotation=0, zoom=0, translation=0, cutout=0)
    np.testing.assert_array_equal(np.asarray(keep(batch, training=True)), batch)
    nearest = augment.augmenter(flip=False, rotation=0, zoom=0, cutout=0, interpolation="nearest")
    shifted = np.asarray(nearest(batch, training=True))
    # whole-pixel moves: no new grey levels appear (every value is an original pixel or 0)
    for image, result in zip(batch, shifted, strict=True):
        assert set(np.unique(result)) <= set(np.unique(image)) | {0.0}


def test_augmented_dataset_yields_augmented_batches(test_set):
    x, y = test_set[0][:300], test_set[1][:300]
    ds = augment.augmented_dataset(x, y, augment.augmenter(seed=0), batch_size=100)
    batches = list(ds)
    assert [len(images) for images, _ in batches] == [100, 100, 100]
    images = np.concatenate([np.asarray(b[0]) for b in batches])
    labels = np.concatenate([np.asarray(b[1]) for b in batches])
    assert images.shape == (300, 28, 28, 1) and images.dtype == np.float32
    assert np.bincount(labels, minlength=10).tolist() == np.bincount(y, minlength=10).tolist()
    plain = preprocess.prepare(x)
    assert images.min() >= 0.0 and images.max() <= 1.0 + 1e-6
    assert abs(images.mean() - plain.mean()) < 0.1


# --- mixup -----------------------------------------------------------------------------------
def test_mixup_labels_sum_to_one_and_lie_between_the_inputs(test_set):
    x, y = test_set[0][:64], test_set[1][:64]
    images, labels_one_hot = preprocess.prepare(x), preprocess.one_hot(y)
    mixed_x, mixed_y = augment.mixup(images, labels_one_hot, alpha=0.4, seed=0)
    assert mixed_x.shape == images.shape and mixed_y.shape == labels_one_hot.shape
    np.testing.assert_allclose(mixed_y.sum(axis=1), 1.0, atol=1e-5)
    assert mixed_y.min() >= -1e-6 and mixed_y.max() <= 1 + 1e-6
    # each mixed image is w * x_i + (1 - w) * x_j for some partner j and weight w in [0, 1],
    # and its label is the same blend of the two one-hot labels
    flat = images.reshape(len(images), -1)
    for i, target in enumerate(mixed_x.reshape(len(images), -1)):
        found = False
        for j in range(len(images)):
            diff = flat[i] - flat[j]
            w = 1.0 if i == j else float(diff @ (target - flat[j]) / (diff @ diff))
            if 0 <= w <= 1 and np.allclose(target, w * flat[i] + (1 - w) * flat[j], atol=1e-4):
                expected = w * labels_one_hot[i] + (1 - w) * labels_one_hot[j]
                np.testing.assert_allclose(mixed_y[i], expected, atol=1e-4)
                found = True
                break
        assert found, f"mixed image {i} is not a blend of image {i} and another image"
    assert not np.allclose(mixed_x, images)


def test_mixup_wants_one_hot_labels(test_set):
    with pytest.raises(ValueError, match="one-hot"):
        augment.mixup(preprocess.prepare(test_set[0][:4]), test_set[1][:4])


# --- plot ------------------------------------------------------------------------------------
def test_show_augmentations_draws_originals_and_versions(test_set):
    x, y = test_set[0][:3], test_set[1][:3]
    fig = viz.show_augmentations(x, augment.augmenter(seed=0), n_augmented=4, labels=y)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 3 * 5
    first = fig.axes[0].images[0].get_array()
    np.testing.assert_allclose(first, x[0] / 255.0, atol=1e-6)
    assert fig.axes[0].get_title() == "original"
    plt.close(fig)
    fig = viz.show_augmentations(x, lambda b: b[:, ::-1], n_augmented=1)  # any function
    np.testing.assert_allclose(fig.axes[1].images[0].get_array(), x[0, ::-1] / 255.0, atol=1e-6)
    plt.close(fig)


def test_array_batches_cover_every_image_once_per_pass_in_a_new_order(test_set):
    x, y = test_set[0][:100], test_set[1][:100]
    batches = preprocess.array_batches(x, y, batch_size=32, seed=3, prepare_images=True)
    assert len(batches) == 4 and batches.num_batches == 4
    first_pass = [batches[i] for i in range(len(batches))]
    assert [len(labels) for _, labels in first_pass] == [32, 32, 32, 4]
    images = np.concatenate([images for images, _ in first_pass])
    assert images.dtype == np.float32 and images.shape == (100, 28, 28, 1)
    assert sorted(map(bytes, images)) == sorted(map(bytes, preprocess.prepare(x)))  # each once
    assert not np.array_equal(batches[0][1], first_pass[0][1])  # a new order next pass
    again = np.concatenate([labels for _, labels in batches])  # iterating by hand: a new pass
    assert len(again) == 100 and not np.array_equal(again[:32], batches[0][1])
    endless = batches.repeat()
    assert endless.num_batches is None
    second_pass = np.concatenate([endless[i][1] for i in range(4, 8)])  # batches 4-7
    assert sorted(second_pass) == sorted(y) and not np.array_equal(endless[4][1], endless[0][1])


def test_array_batches_transform_each_batch_and_fit_on_this_backend(test_set):
    x, y = preprocess.prepare(test_set[0][:64]), test_set[1][:64]
    flip = keras.layers.RandomFlip("horizontal", seed=0)
    batches = preprocess.array_batches(x, y, batch_size=32, shuffle=False, transform=flip)
    images, labels = batches[0]
    np.testing.assert_array_equal(labels, y[:32])
    pairs = zip(images, x[:32], strict=True)
    mirrored = np.array([np.array_equal(a, b[:, ::-1]) for a, b in pairs])
    assert 0 < mirrored.sum() < 32  # some images flipped, some not
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")])  # fmt: skip
    model.compile("adam", "sparse_categorical_crossentropy")
    history = model.fit(batches, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    with pytest.raises(ValueError, match="64 images but 3 targets"):
        preprocess.array_batches(x, y[:3])
