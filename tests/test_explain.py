"""Tests of fmnist_utils.explain (saliency, Grad-CAM, occlusion, sanity check) and its plots.

Hand-built models with known weights give maps whose right answer is known: a classifier that
only reads one square of the image must have its saliency and occlusion maps in that square.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

import fmnist_utils

fmnist_utils.quiet_tensorflow()
import keras  # noqa: E402

from fmnist_utils import data, explain, models, preprocess, viz  # noqa: E402

#: The square the hand-built models look at: rows and columns 8..11.
R0, R1 = 8, 12


@pytest.fixture(scope="module")
def test_images():
    (_, _), (x_test, y_test) = data.load_fashion_mnist()
    return preprocess.prepare(x_test[:6]), y_test[:6]


def _square_reader(strength: float = 10.0):
    """Flatten -> Dense(2, softmax): class 0's logit is ``strength`` times the mean of the
    square's pixels, class 1's logit is constant (bias) ``strength / 2``; nothing else is read."""
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Flatten()(inputs)
    dense = keras.layers.Dense(2, activation="softmax", name="probabilities")
    model = keras.Model(inputs, dense(x))
    kernel = np.zeros((28, 28, 2), np.float32)
    kernel[R0:R1, R0:R1, 0] = strength / (R1 - R0) ** 2
    dense.set_weights([kernel.reshape(784, 2), np.array([0.0, strength / 2], np.float32)])
    return model


def _mean_camera():
    """Conv 1x1 (identity, ReLU) -> global average -> Dense(2): class 0's logit is the image's
    mean, class 1's its negative. Grad-CAM of class 0 is therefore the image itself, of class 1
    nothing (all weights negative)."""
    inputs = keras.Input((28, 28, 1))
    conv = keras.layers.Conv2D(1, 1, activation="relu", name="features")
    x = keras.layers.GlobalAveragePooling2D()(conv(inputs))
    dense = keras.layers.Dense(2, activation="softmax")
    model = keras.Model(inputs, dense(x))
    conv.set_weights([np.ones((1, 1, 1, 1), np.float32), np.zeros(1, np.float32)])
    dense.set_weights([np.array([[1.0, -1.0]], np.float32), np.zeros(2, np.float32)])
    return model


def _square_image(value: float = 1.0) -> np.ndarray:
    image = np.zeros((1, 28, 28, 1), np.float32)
    image[0, R0:R1, R0:R1] = value
    return image


def _small_sequential():
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(4, 3, activation="relu", name="c1"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(8, 3, activation="relu", name="c2"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


def _small_functional():
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="c1")(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2, name="c2")(x)
    x = keras.layers.ReLU(name="c2_relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(10)(x)
    return keras.Model(inputs, keras.layers.Softmax()(x))


def _check_maps(maps, n):
    assert maps.shape == (n, 28, 28)
    assert maps.dtype == np.float32
    assert np.isfinite(maps).all()
    assert maps.min() >= 0.0 and maps.max() <= 1.0


# ---- Grad-CAM ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build, layer",
    [
        (_small_sequential, "c2"),
        (_small_functional, "c2_relu"),
        (models.fast_cnn, "conv3_relu"),
        (models.reference_cnn, "conv2"),
    ],
)
def test_grad_cam_shape_range_and_default_layer(build, layer, test_images):
    model = build()
    images, _ = test_images
    assert explain.last_conv_layer(model) == layer
    maps = explain.grad_cam(model, images)
    _check_maps(maps, len(images))
    peaks = maps.reshape(len(maps), -1).max(axis=1)
    assert np.all((peaks == 0) | np.isclose(peaks, 1.0))  # scaled per image to a maximum of 1
    assert (peaks > 0).any()


def test_grad_cam_of_a_known_model_is_the_image_or_nothing():
    image = _square_image(0.8)
    model = _mean_camera()
    assert explain.last_conv_layer(model) == "features"
    evidence = explain.grad_cam(model, image, class_index=0)
    # the map is the image (bilinear upsampling of a same-size map changes nothing), scaled to 1
    np.testing.assert_allclose(evidence[0], image[0, ..., 0] / 0.8, atol=1e-6)
    against = explain.grad_cam(model, image, class_index=1)
    assert np.all(against == 0.0)  # only negative evidence: ReLU leaves zeros, and no NaN


def test_grad_cam_class_index_forms(test_images):
    images, _ = test_images
    model = models.reference_cnn()
    predicted = np.argmax(model.predict(images, verbose=0), axis=1)
    np.testing.assert_allclose(
        explain.grad_cam(model, images), explain.grad_cam(model, images, predicted), atol=1e-6
    )
    three = explain.grad_cam(model, images, class_index=3)
    np.testing.assert_allclose(three, explain.grad_cam(model, images, [3] * len(images)), atol=1e-6)
    other = explain.grad_cam(model, images, class_index=[(int(p) + 5) % 10 for p in predicted])
    assert not np.allclose(explain.grad_cam(model, images), other, atol=1e-3)


def test_grad_cam_explicit_layer(test_images):
    images, _ = test_images
    model = models.fast_cnn()
    early = explain.grad_cam(model, images[:2], layer_name="conv1_relu")
    late = explain.grad_cam(model, images[:2])
    _check_maps(early, 2)
    assert not np.allclose(early, late)


def test_grad_cam_errors(test_images):
    images, _ = test_images
    with pytest.raises(ValueError, match="4-D"):
        explain.grad_cam(models.reference_mlp(), images)
    model = models.reference_cnn()
    with pytest.raises(ValueError, match="4-D"):
        explain.grad_cam(model, images, layer_name="probabilities")
    with pytest.raises(ValueError, match="shape"):
        explain.grad_cam(model, images[..., 0])  # no channel axis
    with pytest.raises(ValueError, match="shape"):
        explain.grad_cam(model, np.zeros((2, 32, 32, 1), np.float32))
    with pytest.raises(ValueError, match="float"):
        explain.grad_cam(model, (images * 255).astype(np.uint8))
    with pytest.raises(ValueError, match="0..9"):
        explain.grad_cam(model, images, class_index=10)
    with pytest.raises(ValueError, match="entries"):
        explain.grad_cam(model, images, class_index=[1, 2])
    with pytest.raises(ValueError):
        explain.grad_cam(model, images, layer_name="no_such_layer")


# ---- saliency -----------------------------------------------------------------------------------


def test_saliency_of_a_model_that_reads_one_square_is_that_square(test_images):
    images, _ = test_images
    model = _square_reader()
    inside = np.zeros((28, 28), bool)
    inside[R0:R1, R0:R1] = True
    for smooth in (0, 4):
        maps = explain.saliency(model, images, class_index=0, smooth_samples=smooth)
        _check_maps(maps, len(images))
        assert np.all(maps[:, inside] > 0.99)  # equal weights everywhere in the square
        assert np.all(maps[:, ~inside] == 0.0)


def test_saliency_works_on_course_models(test_images):
    images, _ = test_images
    for model in (models.fast_cnn(), _small_sequential()):
        plain = explain.saliency(model, images)
        smooth = explain.saliency(model, images, smooth_samples=3, seed=1)
        _check_maps(plain, len(images))
        _check_maps(smooth, len(images))
        assert not np.allclose(plain, smooth)


# ---- occlusion ----------------------------------------------------------------------------------


def test_occlusion_drops_most_where_the_evidence_is():
    image = _square_image()
    model = _square_reader()
    probability = float(model(image)[0, 0])
    assert probability > 0.99
    maps = explain.occlusion(model, image, patch=4, stride=2)
    assert maps.shape == (1, 28, 28) and maps.dtype == np.float32
    row, col = np.unravel_index(np.argmax(maps[0]), (28, 28))
    assert R0 <= row < R1 and R0 <= col < R1
    assert maps[0].max() > 0.3
    np.testing.assert_allclose(maps[0, :4], 0.0, atol=1e-6)  # far from the square: no change
    np.testing.assert_allclose(maps[0, :, 20:], 0.0, atol=1e-6)
    # covering with the square's own value changes nothing
    assert np.abs(explain.occlusion(model, image, fill=1.0, patch=2, stride=2)).max() < 1e-6


def test_occlusion_on_course_model_and_errors(test_images):
    images, _ = test_images
    model = models.fast_cnn()
    maps = explain.occlusion(model, images[:3], class_index=[0, 1, 2], patch=6, stride=4)
    assert maps.shape == (3, 28, 28) and np.isfinite(maps).all()
    assert np.abs(maps).max() <= 1.0
    with pytest.raises(ValueError, match="patch"):
        explain.occlusion(model, images, patch=40)


# ---- Integrated Gradients -----------------------------------------------------------------------


def test_integrated_gradients_of_a_linear_reader_are_weight_times_pixel():
    image = _square_image(0.5)
    model = _square_reader(strength=10.0)
    attributions = explain.integrated_gradients(model, image, class_index=0, steps=4)
    assert attributions.shape == (1, 28, 28) and attributions.dtype == np.float32
    # the logit is linear in the pixels: IG is exact, weight (10 / 16) times pixel (0.5)
    expected = np.zeros((28, 28), np.float32)
    expected[R0:R1, R0:R1] = 10.0 / 16 * 0.5
    np.testing.assert_allclose(attributions[0], expected, atol=1e-5)
    gap = explain.class_scores(model, image, 0) - explain.class_scores(model, 0 * image, 0)
    assert attributions.sum() == pytest.approx(gap[0], abs=1e-4) and gap[0] == pytest.approx(5.0)


def test_integrated_gradients_complete_on_a_small_cnn(test_images):
    images, _ = test_images
    keras.utils.set_random_seed(0)
    model = _small_functional()
    rng = np.random.default_rng(0)
    for layer in model.layers:  # random biases: ReLUs switch along the path, IG is not exact
        if getattr(layer, "bias", None) is not None:
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel, rng.normal(0, 0.3, bias.shape).astype(np.float32)])
    classes = np.arange(len(images)) % 10
    gap = explain.class_scores(model, images, classes) - explain.class_scores(
        model, np.zeros_like(images), classes
    )
    errors = {}
    for steps in (2, 64):
        attributions = explain.integrated_gradients(model, images, classes, steps=steps)
        errors[steps] = np.abs(attributions.sum(axis=(1, 2)) - gap).max()
        assert np.all(attributions[images[..., 0] == 0] == 0)  # at the baseline: nothing
    assert errors[64] < 0.02 * max(np.abs(gap).max(), 1e-3)  # completeness
    assert errors[64] < errors[2]  # the integration error shrinks with more steps
    predicted = explain.integrated_gradients(model, images[:2])
    np.testing.assert_allclose(
        predicted,
        explain.integrated_gradients(model, images[:2], model.predict(images[:2], verbose=0)
                                     .argmax(axis=1)),
        atol=1e-6,
    )
    with pytest.raises(ValueError, match="steps"):
        explain.integrated_gradients(model, images, steps=0)


# ---- deletion and insertion curves --------------------------------------------------------------


def test_deletion_curve_of_the_right_map_falls_first_and_monotonically():
    image = _square_image()
    model = _square_reader(strength=10.0)
    right = np.zeros((1, 28, 28), np.float32)
    right[0, R0:R1, R0:R1] = np.arange(1, 17).reshape(4, 4)  # the square, in some order
    steps = 196  # 4 pixels per step: the square goes in the first 4 steps
    curve = explain.deletion_curve(model, image, right, class_index=0, steps=steps)
    assert curve.shape == (1, steps + 1) and curve.dtype == np.float32
    assert curve[0, 0] == pytest.approx(float(model(image)[0, 0]), abs=1e-6)
    assert np.all(np.diff(curve[0]) <= 1e-7)  # removing evidence never raises it
    assert np.all(np.diff(curve[0, :5]) < 0)  # each of the first steps removes some of it
    np.testing.assert_allclose(curve[0, 4:], curve[0, -1], atol=1e-6)  # then nothing is left
    wrong = -right  # the square last
    late = explain.deletion_curve(model, image, wrong, class_index=0, steps=steps)
    assert explain.area_under_curve(curve)[0] < explain.area_under_curve(late)[0]
    inserted = explain.deletion_curve(model, image, right, 0, steps=steps, insertion=True)
    assert np.all(np.diff(inserted[0]) >= -1e-7)
    np.testing.assert_allclose(inserted[0, [0, -1]], curve[0, [-1, 0]], atol=1e-6)
    with pytest.raises(ValueError, match="shape"):
        explain.deletion_curve(model, image, right[:, :10])


def test_area_under_curve_by_hand():
    np.testing.assert_allclose(
        explain.area_under_curve(np.array([[1.0, 0.5, 0.0], [0.0, 1.0, 1.0]])), [0.5, 0.75]
    )


# ---- sanity check -------------------------------------------------------------------------------


def test_randomized_copy_changes_weights_and_maps(test_images):
    images, _ = test_images
    model = _square_reader()
    before = [w.copy() for w in model.get_weights()]
    random_a = explain.randomized_copy(model, seed=1)
    random_b = explain.randomized_copy(model, seed=1)
    for a, b in zip(random_a.get_weights(), random_b.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)  # same seed, same weights
    for w, b in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(w, b)  # the original is untouched
    original = explain.saliency(model, images, class_index=0)
    randomised = explain.saliency(random_a, images, class_index=0)
    corr = explain.map_correlation(original, randomised)
    assert corr.shape == (len(images),)
    assert np.nanmean(corr) < 0.5
    assert explain.map_correlation(original, original).min() > 0.999


def test_randomized_copy_of_some_layers_keeps_the_others():
    model = models.reference_cnn()
    copy = explain.randomized_copy(model, seed=3, layers=["probabilities"])
    for layer in model.layers:
        for w, c in zip(layer.get_weights(), copy.get_layer(layer.name).get_weights(), strict=True):
            if layer.name == "probabilities" and w.ndim == 2:
                assert not np.allclose(w, c)
            elif layer.name != "probabilities":
                np.testing.assert_array_equal(w, c)
    with pytest.raises(ValueError, match="no such layers"):
        explain.randomized_copy(model, layers=["nope"])


def test_map_correlation_hand_example():
    a = np.array([[[1.0, 2.0], [3.0, 4.0]], [[1.0, 1.0], [1.0, 1.0]]])
    b = np.array([[[4.0, 3.0], [2.0, 1.0]], [[0.0, 1.0], [2.0, 3.0]]])
    corr = explain.map_correlation(a, b)
    assert corr[0] == pytest.approx(-1.0)
    assert np.isnan(corr[1])  # a constant map has no ranking
    with pytest.raises(ValueError):
        explain.map_correlation(a, b[:1])


# ---- plots --------------------------------------------------------------------------------------


def test_overlay_heatmap_blends_image_and_map():
    image = np.zeros((28, 28), np.float32)
    heat = np.zeros((28, 28), np.float32)
    heat[R0:R1, R0:R1] = 1.0
    rgb = viz.overlay_heatmap(image, heat, alpha=0.5)
    assert rgb.shape == (28, 28, 3) and rgb.min() >= 0 and rgb.max() <= 1
    assert not np.allclose(rgb[R0, R0], rgb[0, 0])  # hot and cold places differ
    np.testing.assert_allclose(viz.overlay_heatmap(image, heat, alpha=0.0), 0.0)
    with pytest.raises(ValueError):
        viz.overlay_heatmap(image, heat[:10])


def test_explanation_grid(test_images):
    images, labels = test_images
    model = models.reference_cnn()
    probs = model.predict(images[:3], verbose=0)
    maps = {
        "saliency": explain.saliency(model, images[:3]),
        "Grad-CAM": explain.grad_cam(model, images[:3]),
        "occlusion": explain.occlusion(model, images[:3], patch=7, stride=7),
    }
    fig = viz.explanation_grid(images[:3], maps, labels[:3], probs)
    assert len(fig.axes) == 3 * 4
    assert "true" in fig.axes[0].get_title()
    plt.close(fig)


def test_plot_deletion_curves_one_line_per_method():
    curves = {"good": np.array([[1.0, 0.2, 0.0], [1.0, 0.4, 0.0]]),
              "random": np.array([[1.0, 0.9, 0.0], [1.0, 0.7, 0.0]])}
    fig = viz.plot_deletion_curves(curves)
    ax = fig.axes[0]
    assert len(ax.get_lines()) == 2
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["good (area 0.400)", "random (area 0.650)"]
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [1.0, 0.3, 0.0])
    plt.close(fig)
