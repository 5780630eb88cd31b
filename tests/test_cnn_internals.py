"""Notebook 04's helpers: output sizes, receptive fields, kernel, filter and feature-map plots."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

import fmnist_utils

fmnist_utils.quiet_tensorflow()

import keras  # noqa: E402

from fmnist_utils import device, models, viz  # noqa: E402
from fmnist_utils.data import load_fashion_mnist  # noqa: E402
from fmnist_utils.preprocess import prepare  # noqa: E402

SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=float)


@pytest.fixture(scope="module")
def test_set():
    return load_fashion_mnist(download=False)[1]


def _chain(*layers, size: int = 32) -> keras.Model:
    inputs = keras.Input(shape=(size, size, 1))
    x = inputs
    for layer in layers:
        x = layer(x)
    return keras.Model(inputs, x)


@pytest.mark.parametrize(
    ("n", "k", "s", "p"),
    [
        (28, 3, 1, 0),
        (28, 3, 1, 1),
        (28, 5, 1, 2),
        (28, 3, 2, 0),
        (28, 3, 2, 1),
        (27, 4, 3, 2),
        (13, 2, 2, 0),
        (7, 7, 1, 0),
    ],
)
def test_conv_output_size_matches_keras(n, k, s, p):
    model = _chain(keras.layers.ZeroPadding2D(p), keras.layers.Conv2D(1, k, strides=s), size=n)
    assert models.conv_output_size(n, k, s, p) == model.output.shape[1]


def test_conv_output_size_rejects_a_window_that_does_not_fit():
    assert models.conv_output_size(5, 3, dilation=2) == 1
    with pytest.raises(ValueError, match="does not fit"):
        models.conv_output_size(4, 3, dilation=2)


def _small_model() -> keras.Model:
    # Hand-computed, r_out = r_in + (k - 1) * j_in, j_out = j_in * s, from r = j = 1:
    # conv 5 valid: r 5, j 1 | avg pool 2: r 6, j 2 | conv 3 stride 2 same: r 10, j 4
    # | conv 3 dilation 2 (span 5) same: r 26, j 4
    ones = {"kernel_initializer": "ones", "use_bias": False}
    return _chain(
        keras.layers.Conv2D(1, 5, name="a", **ones),
        keras.layers.AveragePooling2D(2, name="b"),
        keras.layers.ReLU(name="skipped"),
        keras.layers.Conv2D(1, 3, strides=2, padding="same", name="c", **ones),
        keras.layers.Conv2D(1, 3, dilation_rate=2, padding="same", name="d", **ones),
        keras.layers.Flatten(),
        keras.layers.Dense(2),
    )


def test_receptive_field_matches_hand_computation():
    table = models.receptive_field(_small_model())
    assert table["layer"].tolist() == ["input", "a", "b", "c", "d"]
    assert table["receptive field"].tolist() == [1, 5, 6, 10, 26]
    assert table["jump"].tolist() == [1, 1, 2, 4, 4]
    assert table["output"].tolist() == [32, 28, 14, 7, 7]
    # centres: 0 -> +2 -> +0.5 -> +(1 - 0) * 2 (same, stride 2 on 14: pad 0 before) -> +(2 - 2) * 4
    assert table["first centre"].tolist() == [0.0, 2.0, 2.5, 4.5, 4.5]


def test_receptive_field_agrees_with_gradients():
    """The input pixels a unit depends on (non-zero gradient) are exactly its receptive field."""
    model = _small_model()
    table = models.receptive_field(model).set_index("layer")
    image = np.random.default_rng(0).uniform(0.5, 1.0, (1, 32, 32, 1)).astype(np.float32)
    for name in ["a", "b", "c"]:
        row = table.loc[name]
        probe = keras.Model(model.inputs, model.get_layer(name).output)
        unit = (int(row["output"]) - 1) // 2
        (gradient,) = device.gradients(lambda v, p=probe, u=unit: p(v)[0, u, u, 0], [image])
        rows_seen = np.flatnonzero(np.abs(gradient[0, :, :, 0]).sum(1))
        centre = row["first centre"] + unit * row["jump"]
        r = int(row["receptive field"])
        assert len(rows_seen) == r, name
        assert rows_seen[0] == centre - (r - 1) / 2, name


def test_receptive_field_of_the_course_cnns():
    reference = models.receptive_field(models.reference_cnn())
    assert reference["receptive field"].tolist() == [1, 3, 4, 8, 10]
    fast = models.receptive_field(models.fast_cnn())
    assert fast["receptive field"].tolist() == [1, 3, 4, 8, 10, 18, 22]


def test_kernel_gallery_filters_real_images(test_set):
    x, y = test_set
    kernels = {"identity": np.pad([[1.0]], 1), "Sobel x": SOBEL_X, "Sobel y": SOBEL_X.T}
    fig = viz.plot_kernel_gallery(x[:3], kernels, y[:3], magnitude=("Sobel x", "Sobel y"))
    assert isinstance(fig, Figure) and len(fig.axes) == 4 * 4
    assert fig.axes[1].get_title() == "Ankle boot"
    identity = fig.axes[1].images[0].get_array()
    np.testing.assert_allclose(identity, x[0] / 255.0, rtol=1e-6)
    sobel = np.asarray(fig.axes[5].images[0].get_array())  # row "Sobel x", first image
    patch = x[0, 13:16, 13:16] / 255.0
    assert sobel[14, 14] == pytest.approx(float((patch * SOBEL_X).sum()), rel=1e-5)
    magnitude = np.asarray(fig.axes[13].images[0].get_array())
    sobel_y = np.asarray(fig.axes[9].images[0].get_array())
    np.testing.assert_allclose(magnitude, np.hypot(sobel, sobel_y), rtol=1e-5)
    assert [t.get_text() for t in fig.axes[4].texts][:3] == ["-1", "0", "1"]


def test_filters_and_feature_maps_plots(test_set):
    x, y = test_set
    model = models.reference_cnn()
    fig = viz.plot_filters(model.get_layer("conv1").get_weights()[0], ncols=8)
    assert isinstance(fig, Figure) and len(fig.axes) == 32
    with pytest.raises(ValueError, match="Conv2D kernel"):
        viz.plot_filters(np.zeros((3, 3, 4)))
    probe = keras.Model(model.inputs, [model.get_layer("conv1").output])
    maps = probe.predict(prepare(x[:3]), verbose=0)
    fig = viz.plot_feature_maps(x[:3], {"conv1": maps}, y[:3], channels=2)
    assert isinstance(fig, Figure) and len(fig.axes) == 3 * 3
    most_active = np.argsort(-maps.mean(axis=(0, 1, 2)))[0]
    assert fig.axes[1].get_title() == f"conv1\n#{most_active}"
    np.testing.assert_allclose(fig.axes[1].images[0].get_array(), maps[0, :, :, most_active])
    second = int(fig.axes[2].get_title().split("#")[1])
    assert second != most_active and maps[..., second].std() > 0
    fig = viz.plot_feature_maps(x[:2], {"conv1": maps[:2]}, channels={"conv1": [5]})
    assert fig.axes[1].get_title() == "conv1\n#5"


def test_receptive_field_picture(test_set):
    x, _ = test_set
    table = models.receptive_field(models.reference_cnn())
    fig = viz.plot_receptive_fields(x[0], table, point=(10, 20))
    assert isinstance(fig, Figure)
    boxes = fig.axes[0].patches
    assert [p.get_width() for p in boxes] == [3, 4, 8, 10]
    for box, (_, row) in zip(boxes, table.iloc[1:].iterrows(), strict=True):
        centre_x = box.get_x() + box.get_width() / 2
        centre_y = box.get_y() + box.get_height() / 2
        # each box is centred on a real unit, within half a jump of the point
        assert (centre_x - row["first centre"]) % row["jump"] == 0
        assert abs(centre_x - 20) <= row["jump"] / 2 and abs(centre_y - 10) <= row["jump"] / 2


def test_feature_map_channels_skip_near_copies():
    rng = np.random.default_rng(0)
    maps = rng.uniform(0, 1, (3, 5, 5, 3)).astype(np.float32)
    maps[..., 0] += 1.0  # the most active channel
    maps[..., 1] = maps[..., 0] * 0.9  # a near-copy of it, second most active
    images = np.zeros((3, 28, 28), np.uint8)
    fig = viz.plot_feature_maps(images, {"c": maps}, channels=2)
    assert [ax.get_title() for ax in fig.axes[1:3]] == ["c\n#0", "c\n#2"]
