"""Notebook 13's helpers: the small ResNet, training recipes, their augmentation and TTA."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import fmnist_utils

fmnist_utils.quiet_tensorflow()

import keras  # noqa: E402

from fmnist_utils import models, recipes  # noqa: E402
from fmnist_utils.data import load_fashion_mnist, subset  # noqa: E402
from fmnist_utils.preprocess import prepare  # noqa: E402


@pytest.fixture(scope="module")
def real_sets():
    """2,000 real training images (200 per class) and 1,000 test images, prepared."""
    (x, y), (xt, yt) = load_fashion_mnist(download=False)
    x, y = subset(x, y, per_class=200, seed=0)
    return (prepare(x), y), (prepare(xt[:1000]), yt[:1000])


# ---------------------------------------------------------------- the model


def test_resnet_cnn_shapes_and_residual_blocks():
    model = models.resnet_cnn((8, 16, 32))
    assert model.output_shape == (None, 10)
    adds = [layer for layer in model.layers if isinstance(layer, keras.layers.Add)]
    assert len(adds) == 3  # one residual block per stage
    # stem pool to 14, then 14 -> 7 -> 4
    assert [tuple(layer.output.shape[1:3]) for layer in adds] == [(14, 14), (7, 7), (4, 4)]
    probs = model.predict(np.random.default_rng(0).random((4, 28, 28, 1), np.float32), verbose=0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert len(models.resnet_cnn((8, 16, 32), blocks=2).layers) > len(model.layers)
    assert "resnet_cnn" in models.BUILDERS


@pytest.mark.parametrize("name", ["reference_mlp", "reference_cnn", "fast_cnn", "resnet_cnn"])
def test_every_builder_keeps_a_float32_softmax_under_mixed_precision(name):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = models.BUILDERS[name]()
    finally:
        keras.config.set_dtype_policy(previous)
    assert model.layers[-2].compute_dtype == "bfloat16"
    assert model.output.dtype == "float32"
    x = np.random.default_rng(0).random((8, 28, 28, 1), np.float32)
    probs = keras.ops.convert_to_numpy(model(x))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)  # bfloat16 sums miss by 1e-3


# ---------------------------------------------------------------- precision per machine


def test_auto_precision_resolves_per_machine_and_an_explicit_one_is_kept(monkeypatch):
    monkeypatch.setattr(recipes.device, "choose_precision", lambda *a, **k: "mixed_bfloat16")
    assert recipes.recipe_precision(recipes.Recipe()) == "mixed_bfloat16"
    assert recipes.recipe_precision(recipes.Recipe(precision="float32")) == "float32"


# ---------------------------------------------------------------- the recipe record


def test_recipe_refuses_unknown_choices_with_the_valid_ones():
    with pytest.raises(ValueError, match="optimizer 'lion' is unknown; choose from adamw"):
        recipes.Recipe(optimizer="lion")
    with pytest.raises(ValueError, match="schedule 'step' is unknown; choose from one_cycle"):
        recipes.Recipe(schedule="step")
    with pytest.raises(ValueError, match="erasing must be a probability"):
        recipes.Recipe(erasing=1.5)
    with pytest.raises(ValueError, match="seconds must be positive"):
        recipes.Recipe(seconds=0)
    with pytest.raises(ValueError, match="translate must be a number of pixels"):
        recipes.Recipe(translate=-1)
    with pytest.raises(ValueError, match="epochs and batch_size must be at least 1"):
        recipes.Recipe(epochs=0)
    with pytest.raises(ValueError, match="model 'vgg' is unknown; choose from reference_mlp"):
        recipes.build_recipe(recipes.Recipe(model="vgg"), steps_per_epoch=10)


def test_one_field_changes_and_the_rest_stays():
    best = recipes.RECIPES["best"]
    changed = dataclasses.replace(best, flip=False)
    differing = {k for k, v in changed.as_dict().items() if best.as_dict()[k] != v}
    assert differing == {"flip"}
    assert best.augments() and not recipes.RECIPES["fast"].augments()


def test_build_recipe_compiles_its_optimizer_schedule_and_loss():
    best = dataclasses.replace(recipes.RECIPES["best"], model_kwargs={"widths": (8, 16, 32)})
    model = recipes.build_recipe(best, steps_per_epoch=50)
    assert isinstance(model.optimizer, keras.optimizers.AdamW)
    assert model.optimizer.use_ema
    assert model.optimizer.learning_rate is not None
    assert model.loss.get_config()["label_smoothing"] == pytest.approx(0.1)
    sgd = recipes.build_recipe(
        dataclasses.replace(best, optimizer="sgd_nesterov", schedule="constant", ema=False),
        steps_per_epoch=50,
    )
    assert isinstance(sgd.optimizer, keras.optimizers.SGD) and sgd.optimizer.nesterov
    assert float(sgd.optimizer.learning_rate) == pytest.approx(best.learning_rate)


# ---------------------------------------------------------------- augmentation


def test_augmenter_has_the_recipes_layers_and_keeps_images_valid(real_sets):
    (x, _), _ = real_sets
    best = recipes.RECIPES["best"]
    assert [layer.name for layer in recipes.recipe_augmenter(best).layers] == ["flip", "erasing"]
    augment = recipes.recipe_augmenter(dataclasses.replace(best, translate=2), seed=0)
    assert [layer.name for layer in augment.layers] == ["flip", "translate", "erasing"]
    out = keras.ops.convert_to_numpy(augment(x[:64], training=True))
    assert out.shape == (64, 28, 28, 1)
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert not np.allclose(out, x[:64])  # something changed
    assert recipes.recipe_augmenter(recipes.RECIPES["fast"]) is None
    flip_only = dataclasses.replace(best, translate=0, erasing=0.0)
    flipped = keras.ops.convert_to_numpy(
        recipes.recipe_augmenter(flip_only, seed=0)(x[:64], training=True)
    )
    for original, result in zip(x[:64], flipped, strict=True):  # each is itself or its mirror
        assert np.allclose(result, original) or np.allclose(result, original[:, ::-1])


def test_recipe_dataset_yields_one_hot_batches(real_sets):
    (x, y), _ = real_sets
    recipe = dataclasses.replace(recipes.RECIPES["best"], batch_size=100)
    images, targets = next(iter(recipes.recipe_dataset(recipe, x, y)))
    assert images.shape == (100, 28, 28, 1) and targets.shape == (100, 10)
    np.testing.assert_allclose(np.asarray(targets).sum(axis=1), 1.0)


# ---------------------------------------------------------------- training and prediction


def test_fit_recipe_learns_real_data_and_restores_the_dtype_policy(real_sets):
    (x, y), (x_test, y_test) = real_sets
    recipe = dataclasses.replace(recipes.RECIPES["fast"], epochs=3, batch_size=64, seconds=None)
    model, history = recipes.fit_recipe(recipe, x, y, validation_data=(x_test, y_test), verbose=0)
    assert list(history["epoch"]) == [1, 2, 3] and history.attrs["seconds"] > 0
    accuracy = np.mean(recipes.predict_recipe(recipe, model, x_test).argmax(axis=1) == y_test)
    assert accuracy > 0.6  # chance is 0.1
    assert history["val_accuracy"].iloc[-1] == pytest.approx(accuracy, abs=1e-6)
    assert keras.config.dtype_policy().name == "float32"


def test_fit_recipe_ends_with_the_averaged_weights(real_sets):
    (x, y), _ = real_sets
    recipe = dataclasses.replace(
        recipes.RECIPES["fast"], epochs=1, seconds=None, batch_size=100, ema=True, ema_momentum=0.9
    )
    model, _ = recipes.fit_recipe(recipe, x[:500], y[:500], verbose=0)
    averages = model.optimizer._model_variables_moving_average
    for variable, average in zip(model.trainable_variables, averages, strict=True):
        np.testing.assert_allclose(np.asarray(variable), np.asarray(average), rtol=1e-6)
    # the same run without averaging ends elsewhere: the last weights, not their average
    last, _ = recipes.fit_recipe(
        dataclasses.replace(recipe, ema=False), x[:500], y[:500], verbose=0
    )
    kernel = [v for v in model.trainable_variables if "kernel" in v.path][0]
    last_kernel = [v for v in last.trainable_variables if "kernel" in v.path][0]
    assert not np.allclose(np.asarray(kernel), np.asarray(last_kernel))


def test_predict_recipe_averages_an_image_and_its_mirror(real_sets):
    (x, _), _ = real_sets
    model = models.fast_cnn((4, 8, 8))
    recipe = dataclasses.replace(recipes.RECIPES["best"], tta=True)
    expected = (model.predict(x[:20], verbose=0) + model.predict(x[:20, :, ::-1], verbose=0)) / 2
    np.testing.assert_allclose(recipes.predict_recipe(recipe, model, x[:20]), expected, rtol=1e-5)
    plain = recipes.predict_recipe(dataclasses.replace(recipe, tta=False), model, x[:20])
    np.testing.assert_allclose(plain, model.predict(x[:20], verbose=0), rtol=1e-5)


# ---------------------------------------------------------------- augmentation, per image


def test_translation_moves_each_image_by_its_own_offset_with_reflected_borders(real_sets):
    (x, _), _ = real_sets
    recipe = dataclasses.replace(recipes.RECIPES["fast"], translate=2)
    out = keras.ops.convert_to_numpy(
        recipes.recipe_augmenter(recipe, seed=0)(x[:64], training=True)
    )
    offsets = []
    for original, moved in zip(x[:64], out, strict=True):
        found = [
            (dy, dx)
            for dy in range(-3, 4)
            for dx in range(-3, 4)
            if np.allclose(np.roll(original, (dy, dx), axis=(0, 1))[4:-4, 4:-4], moved[4:-4, 4:-4])
        ]
        assert found, "every image is its original shifted by whole pixels"
        offsets.append(found[0])
    assert max(max(abs(dy), abs(dx)) for dy, dx in offsets) <= 2
    assert len(set(offsets)) >= 10  # one offset per image, not one per batch
    # reflection, not black: the border rows of a shifted image are rows of the image
    assert out[:, 0].max() > 0 or x[:64, 0].max() == 0


def test_erasing_hits_the_share_of_images_the_recipe_asks_for(real_sets):
    (x, _), _ = real_sets
    recipe = dataclasses.replace(recipes.RECIPES["fast"], erasing=0.5)
    out = keras.ops.convert_to_numpy(recipes.recipe_augmenter(recipe, seed=0)(x, training=True))
    erased = np.mean(np.any(out != x, axis=(1, 2, 3)))
    assert 0.45 < erased < 0.55  # 2,000 images; Keras' U(0, 0.5) reading would give 0.25


# ---------------------------------------------------------------- a budget in seconds


def test_steps_for_budget_measures_the_speed_and_sizes_the_run(real_sets):
    (x, y), _ = real_sets
    recipe = dataclasses.replace(recipes.RECIPES["fast"], batch_size=100)
    short = recipes.steps_for_budget(recipe, x, y, seconds=4.0, probe_steps=5)
    long = recipes.steps_for_budget(recipe, x, y, seconds=40.0, probe_steps=5)
    assert short["seconds_per_step"] > 0 and short["images_per_second"] > 0
    assert long["steps"] > short["steps"] >= 2
    # ten times the budget buys about ten times the steps after the fixed costs
    assert long["steps"] * long["seconds_per_step"] == pytest.approx(
        40.0 - long["probe_seconds"] - long["startup_seconds"], rel=0.05
    )
    with pytest.raises(ValueError, match="seconds must be positive"):
        recipes.steps_for_budget(recipe, x, y, seconds=0)


def test_fit_recipe_with_seconds_trains_the_measured_steps_within_the_budget(real_sets):
    (x, y), (x_test, y_test) = real_sets
    recipe = dataclasses.replace(recipes.RECIPES["fast"], batch_size=100, seconds=12.0)
    model, history = recipes.fit_recipe(recipe, x, y, verbose=0)
    steps = history.attrs["steps"]
    assert steps == history.attrs["budget"]["steps"] - history.attrs["budget"]["steps"] % len(
        history
    )
    assert steps > len(x) // 100  # more than one pass over 2,000 images in 12 s
    assert history.attrs["seconds"] < 12.0 * 1.5
    assert model.optimizer.iterations.numpy() == steps
    accuracy = np.mean(recipes.predict_recipe(recipe, model, x_test).argmax(axis=1) == y_test)
    assert accuracy > 0.6


def test_photos_recipe_tilts_and_zooms_with_a_black_border():
    photos = recipes.RECIPES["photos"]
    assert photos.rotation == 15.0 and photos.zoom == 0.15 and photos.augments()
    augment = recipes.recipe_augmenter(photos, seed=0)
    assert [layer.name for layer in augment.layers] == ["flip", "rotation", "zoom", "translate"]
    rotation = augment.get_layer("rotation")
    assert rotation.factor == (-15 / 360, 15 / 360) and rotation.fill_mode == "constant"
    assert dataclasses.replace(photos, flip=False, translate=0, rotation=0, zoom=0.1).augments()
    # a white square on black: a tilt moves its corners, the uncovered border stays black
    square = np.zeros((16, 28, 28, 1), np.float32)
    square[:, 8:20, 8:20] = 1.0
    tilted = np.asarray(augment.get_layer("rotation")(square, training=True))
    assert not np.allclose(tilted, square) and tilted[:, :2, :2].max() == 0.0
    for bad in ({"rotation": -1.0}, {"zoom": 1.0}):
        with pytest.raises(ValueError, match="rotation must be"):
            dataclasses.replace(photos, **bad)
