"""Notebook 13's helpers: the small ResNet, training recipes, their augmentation and TTA."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import fmnist_utils

fmnist_utils.quiet_tensorflow()

import keras  # noqa: E402

from fmnist_utils import models, train  # noqa: E402
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


def test_resnet_cnn_keeps_a_float32_output_under_mixed_precision():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = models.resnet_cnn((8, 16, 32))
    finally:
        keras.config.set_dtype_policy(previous)
    assert model.layers[1].compute_dtype == "bfloat16"
    assert model.output.dtype == "float32"


# ---------------------------------------------------------------- the recipe record


def test_recipe_refuses_unknown_choices_with_the_valid_ones():
    with pytest.raises(ValueError, match="optimizer 'lion' is unknown; choose from adamw"):
        train.Recipe(optimizer="lion")
    with pytest.raises(ValueError, match="schedule 'step' is unknown; choose from one_cycle"):
        train.Recipe(schedule="step")
    with pytest.raises(ValueError, match="erasing must be a probability"):
        train.Recipe(erasing=1.5)
    with pytest.raises(ValueError, match="epochs and batch_size must be at least 1"):
        train.Recipe(epochs=0)
    with pytest.raises(ValueError, match="model 'vgg' is unknown; choose from reference_mlp"):
        train.build_recipe(train.Recipe(model="vgg"), steps_per_epoch=10)


def test_one_field_changes_and_the_rest_stays():
    best = train.RECIPES["best"]
    changed = dataclasses.replace(best, flip=False)
    differing = {k for k, v in changed.as_dict().items() if best.as_dict()[k] != v}
    assert differing == {"flip"}
    assert best.augments() and not train.RECIPES["fast"].augments()


def test_build_recipe_compiles_its_optimizer_schedule_and_loss():
    best = dataclasses.replace(train.RECIPES["best"], model_kwargs={"widths": (8, 16, 32)})
    model = train.build_recipe(best, steps_per_epoch=50)
    assert isinstance(model.optimizer, keras.optimizers.AdamW)
    assert model.optimizer.use_ema
    assert model.optimizer.learning_rate is not None
    assert model.loss.get_config()["label_smoothing"] == pytest.approx(0.1)
    sgd = train.build_recipe(
        dataclasses.replace(best, optimizer="sgd_nesterov", schedule="constant", ema=False),
        steps_per_epoch=50,
    )
    assert isinstance(sgd.optimizer, keras.optimizers.SGD) and sgd.optimizer.nesterov
    assert float(sgd.optimizer.learning_rate) == pytest.approx(best.learning_rate)


# ---------------------------------------------------------------- augmentation


def test_augmenter_has_the_recipes_layers_and_keeps_images_valid(real_sets):
    (x, _), _ = real_sets
    best = train.RECIPES["best"]
    assert [layer.name for layer in train.recipe_augmenter(best).layers] == ["flip", "erasing"]
    augment = train.recipe_augmenter(dataclasses.replace(best, crop=2), seed=0)
    assert [layer.name for layer in augment.layers] == ["flip", "pad", "crop", "erasing"]
    out = keras.ops.convert_to_numpy(augment(x[:64], training=True))
    assert out.shape == (64, 28, 28, 1)
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert not np.allclose(out, x[:64])  # something changed
    assert train.recipe_augmenter(train.RECIPES["fast"]) is None
    flip_only = dataclasses.replace(best, crop=0, erasing=0.0)
    flipped = keras.ops.convert_to_numpy(
        train.recipe_augmenter(flip_only, seed=0)(x[:64], training=True)
    )
    for original, result in zip(x[:64], flipped, strict=True):  # each is itself or its mirror
        assert np.allclose(result, original) or np.allclose(result, original[:, ::-1])


def test_recipe_dataset_yields_one_hot_batches(real_sets):
    (x, y), _ = real_sets
    recipe = dataclasses.replace(train.RECIPES["best"], batch_size=100)
    images, targets = next(iter(train.recipe_dataset(recipe, x, y)))
    assert images.shape == (100, 28, 28, 1) and targets.shape == (100, 10)
    np.testing.assert_allclose(np.asarray(targets).sum(axis=1), 1.0)


# ---------------------------------------------------------------- training and prediction


def test_fit_recipe_learns_real_data_and_restores_the_dtype_policy(real_sets):
    (x, y), (x_test, y_test) = real_sets
    recipe = dataclasses.replace(train.RECIPES["fast"], epochs=3, batch_size=64)
    model, history = train.fit_recipe(recipe, x, y, validation_data=(x_test, y_test), verbose=0)
    assert list(history["epoch"]) == [1, 2, 3] and history.attrs["seconds"] > 0
    accuracy = np.mean(train.predict_recipe(recipe, model, x_test).argmax(axis=1) == y_test)
    assert accuracy > 0.6  # chance is 0.1
    assert history["val_accuracy"].iloc[-1] == pytest.approx(accuracy, abs=1e-6)
    assert keras.config.dtype_policy().name == "float32"


def test_fit_recipe_ends_with_the_averaged_weights(real_sets):
    (x, y), _ = real_sets
    recipe = dataclasses.replace(
        train.RECIPES["fast"], epochs=1, batch_size=100, ema=True, ema_momentum=0.9
    )
    model, _ = train.fit_recipe(recipe, x[:500], y[:500], verbose=0)
    averages = model.optimizer._model_variables_moving_average
    for variable, average in zip(model.trainable_variables, averages, strict=True):
        np.testing.assert_allclose(np.asarray(variable), np.asarray(average), rtol=1e-6)
    # the same run without averaging ends elsewhere: the last weights, not their average
    last, _ = train.fit_recipe(dataclasses.replace(recipe, ema=False), x[:500], y[:500], verbose=0)
    kernel = [v for v in model.trainable_variables if "kernel" in v.path][0]
    last_kernel = [v for v in last.trainable_variables if "kernel" in v.path][0]
    assert not np.allclose(np.asarray(kernel), np.asarray(last_kernel))


def test_predict_recipe_averages_an_image_and_its_mirror(real_sets):
    (x, _), _ = real_sets
    model = models.fast_cnn((4, 8, 8))
    recipe = dataclasses.replace(train.RECIPES["best"], tta=True)
    expected = (model.predict(x[:20], verbose=0) + model.predict(x[:20, :, ::-1], verbose=0)) / 2
    np.testing.assert_allclose(train.predict_recipe(recipe, model, x[:20]), expected, rtol=1e-5)
    plain = train.predict_recipe(dataclasses.replace(recipe, tta=False), model, x[:20])
    np.testing.assert_allclose(plain, model.predict(x[:20], verbose=0), rtol=1e-5)
