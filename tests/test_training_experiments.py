"""Notebook 07's helpers: schedules, LR range test, gradient norms, experiment runs, plots."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import fmnist_utils

fmnist_utils.quiet_tensorflow()

import keras  # noqa: E402

from fmnist_utils import models, train, viz  # noqa: E402
from fmnist_utils.data import load_fashion_mnist, subset  # noqa: E402
from fmnist_utils.preprocess import prepare  # noqa: E402


@pytest.fixture(scope="module")
def small_set():
    """600 real training images (60 per class), prepared, and their labels."""
    (x, y), _ = load_fashion_mnist(download=False)
    x, y = subset(x, y, per_class=60, seed=0)
    return prepare(x), y


# ---------------------------------------------------------------- schedules


def test_one_cycle_rises_to_its_peak_then_falls():
    schedule = train.OneCycle(max_lr=0.01, total_steps=200, pct_start=0.25)
    values = train.schedule_values(schedule, 201)
    assert schedule.peak_step == 50
    assert int(values.argmax()) == 50
    assert values[50] == pytest.approx(0.01)
    assert values[0] == pytest.approx(0.01 / 25)  # PyTorch's div_factor
    assert values[200] == pytest.approx(0.01 / 25 / 1e4, rel=1e-3)
    assert np.all(np.diff(values[:51]) > 0)
    assert np.all(np.diff(values[50:]) < 0)
    assert values[250 // 2] < values[50]  # halfway down the cosine: below the peak


def test_one_cycle_is_serialisable_and_drives_an_optimizer():
    schedule = train.OneCycle(max_lr=0.02, total_steps=30, pct_start=0.5, div_factor=10.0)
    restored = keras.optimizers.schedules.deserialize(
        keras.optimizers.schedules.serialize(schedule)
    )
    assert type(restored) is type(schedule)
    assert restored.get_config() == schedule.get_config()
    np.testing.assert_allclose(
        train.schedule_values(restored, 31), train.schedule_values(schedule, 31)
    )
    optimizer = keras.optimizers.SGD(learning_rate=schedule)
    variable = keras.Variable(np.ones(3, np.float32))
    for _ in range(15):
        optimizer.apply_gradients([(keras.ops.ones(3), variable)])
    assert float(optimizer.learning_rate) == pytest.approx(0.02)  # step 15 is the peak


def test_one_cycle_rejects_bad_arguments():
    with pytest.raises(ValueError, match="pct_start"):
        train.OneCycle(0.01, 100, pct_start=1.5)
    with pytest.raises(ValueError, match="total_steps"):
        train.OneCycle(0.01, 1)


def test_cosine_with_warmup_starts_at_zero_and_reaches_the_target():
    schedule = train.cosine_with_warmup(peak_lr=0.003, total_steps=100, warmup_fraction=0.2)
    values = train.schedule_values(schedule, 101)
    assert values[0] == pytest.approx(0.0, abs=1e-9)
    assert values[1] < 0.003 * 0.1
    assert int(values.argmax()) == 20
    assert values[20] == pytest.approx(0.003)
    assert values[100] == pytest.approx(0.0, abs=1e-7)
    assert np.all(np.diff(values[:21]) > 0)
    assert np.all(np.diff(values[20:]) <= 0)
    # Half-way through the decay the cosine is at half the peak.
    assert values[60] == pytest.approx(0.0015, rel=1e-3)


def test_cosine_with_warmup_checks_the_warmup_length():
    with pytest.raises(ValueError, match="warmup_steps"):
        train.cosine_with_warmup(1e-3, total_steps=10, warmup_steps=10)


def test_schedule_values_of_a_constant():
    assert train.schedule_values(0.5, 3).tolist() == [0.5, 0.5, 0.5]


# ---------------------------------------------------------------- LR range test


def test_lr_range_test_on_real_images(small_set):
    x, y = small_set
    build = lambda: models.experiment_mlp(units=32, depth=1)  # noqa: E731
    table, suggested = train.lr_range_test(build, x, y, min_lr=1e-4, max_lr=1.0, steps=40)
    assert table.columns.tolist() == ["step", "learning_rate", "loss", "smoothed_loss"]
    rates = table["learning_rate"].to_numpy()
    assert rates[0] == pytest.approx(1e-4)
    assert np.all(np.diff(rates) > 0)
    # Geometric: a constant ratio between neighbouring steps, 1e4 ** (1 / 39).
    np.testing.assert_allclose(rates[1:] / rates[:-1], 1e4 ** (1 / 39), rtol=1e-6)
    assert np.isfinite(table["loss"].iloc[:-1]).all()
    assert table["smoothed_loss"].min() < table["loss"].iloc[0]  # it learned something
    assert 1e-4 / 10 <= suggested <= 1.0 / 10
    best = table.loc[table["smoothed_loss"].idxmin(), "learning_rate"]
    assert suggested == pytest.approx(best / 10)


def test_lr_range_test_stops_when_the_loss_explodes(small_set):
    x, y = small_set
    build = lambda: models.experiment_mlp(units=32, depth=1)  # noqa: E731
    table, _ = train.lr_range_test(
        build, x, y, min_lr=1e-3, max_lr=1e4, steps=60, optimizer=keras.optimizers.SGD
    )
    assert len(table) < 60
    last = table["smoothed_loss"].iloc[-1]
    assert not np.isfinite(last) or last > 4 * table["smoothed_loss"].iloc[:-1].min()


# ---------------------------------------------------------------- gradient norms and models


def test_experiment_mlp_switches():
    plain = models.experiment_mlp(units=4, depth=1)
    # Hand count: 784 * 4 + 4 (hidden) + 4 * 10 + 10 (output).
    assert plain.count_params() == 784 * 4 + 4 + 4 * 10 + 10
    full = models.experiment_mlp(units=8, depth=3, activation="gelu", batch_norm=True, dropout=0.2)
    kinds = [type(layer).__name__ for layer in full.layers]
    assert kinds.count("BatchNormalization") == 3
    assert kinds.count("Dropout") == 3
    assert all(full.get_layer(f"dense{i}").use_bias is False for i in (1, 2, 3))
    assert full.output.shape[-1] == 10
    with pytest.raises(ValueError, match="dropout"):
        models.experiment_mlp(dropout=1.0)


def test_experiment_mlp_kernel_initializer_sets_the_weight_variance():
    keras.utils.set_random_seed(0)
    glorot = models.experiment_mlp(units=512, depth=2)
    he = models.experiment_mlp(units=512, depth=2, kernel_initializer="he_normal")
    # Glorot uniform: variance 2 / (fan_in + fan_out); He normal: 2 / fan_in (truncated normal
    # in Keras, whose stddev is corrected so the variance stays 2 / fan_in).
    glorot_std = np.std(glorot.get_layer("dense2").kernel.numpy())
    he_std = np.std(he.get_layer("dense2").kernel.numpy())
    assert glorot_std == pytest.approx(np.sqrt(2 / (512 + 512)), rel=0.03)
    assert he_std == pytest.approx(np.sqrt(2 / 512), rel=0.03)
    assert np.std(he.get_layer("dense1").kernel.numpy()) == pytest.approx(
        np.sqrt(2 / 784), rel=0.03
    )
    # the output layer keeps Keras' default (Glorot uniform) either way
    assert np.std(he.get_layer("probabilities").kernel.numpy()) == pytest.approx(
        np.sqrt(2 / (512 + 10)), rel=0.05
    )


def test_gradient_norms_one_row_per_kernel(small_set):
    x, y = small_set
    model = models.experiment_mlp(units=16, depth=3, batch_norm=True)
    norms = train.gradient_norms(model, x[:64], y[:64])
    assert norms["layer"].tolist() == ["dense1", "dense2", "dense3", "probabilities"]
    assert norms["kernel_shape"].tolist() == [(784, 16), (16, 16), (16, 16), (16, 10)]
    assert (norms["gradient_norm"] > 0).all()
    np.testing.assert_allclose(norms["relative"], norms["gradient_norm"] / norms["weight_norm"])


def test_gradient_norms_leave_every_model_variable_unchanged(small_set):
    x, y = small_set
    train.set_seed(0)
    model = models.experiment_mlp(units=16, depth=2, batch_norm=True, dropout=0.2)
    before = {v.path: np.array(v.numpy()) for v in model.variables}
    assert any("moving_mean" in path for path in before)
    first = train.gradient_norms(model, x[:64], y[:64])
    after = {v.path: np.array(v.numpy()) for v in model.variables}
    assert before.keys() == after.keys()
    for path, value in before.items():
        np.testing.assert_array_equal(after[path], value, err_msg=path)
    # nothing moved, so the same batch gives the same norms (dropout's random state included);
    # re-seeded because an unseeded dropout layer draws from PyTorch's global generator
    train.set_seed(0)
    first = train.gradient_norms(model, x[:64], y[:64])
    train.set_seed(0)
    pd.testing.assert_frame_equal(train.gradient_norms(model, x[:64], y[:64]), first)


def test_gradients_vanish_in_a_deep_sigmoid_mlp(small_set):
    x, y = small_set
    norms = {}
    for activation in ("sigmoid", "relu"):
        train.set_seed(0)
        model = models.experiment_mlp(units=32, depth=8, activation=activation)
        norms[activation] = train.gradient_norms(model, x[:256], y[:256])["gradient_norm"]
    sigmoid, relu = norms["sigmoid"].to_numpy(), norms["relu"].to_numpy()
    assert sigmoid[0] < relu[0] / 10  # the first layer barely moves with sigmoid
    assert sigmoid[0] / sigmoid[-1] < 0.01  # ...and shrinks layer after layer towards the input
    assert sigmoid[0] / sigmoid[-1] < relu[0] / relu[-1] / 10
    assert np.all(np.diff(sigmoid[1:]) > 0)  # (dense1 has 784 inputs: not comparable)


# ---------------------------------------------------------------- runs


def test_run_experiment_is_reproducible(small_set):
    x, y = small_set

    def build():
        return models.compile_model(models.experiment_mlp(units=16, depth=1, dropout=0.2))

    histories = [
        train.run_experiment(
            build, x[:400], y[:400], validation_data=(x[400:], y[400:]), epochs=2, seed=3
        )[1]
        for _ in range(2)
    ]
    columns = ["loss", "accuracy", "val_loss", "val_accuracy"]
    np.testing.assert_allclose(histories[0][columns], histories[1][columns], rtol=1e-5)
    table = train.runs_table({"a": histories[0], "b": histories[1]})
    assert table.index.tolist() == ["a", "b"]
    assert table["epochs"].tolist() == [2, 2]


def test_runs_table_by_hand():
    h = pd.DataFrame(
        {
            "epoch": [1, 2, 3],
            "seconds": [1.0, 2.0, 3.0],
            "loss": [1.0, 0.5, 0.2],
            "val_loss": [0.9, 0.6, 0.7],
            "accuracy": [0.6, 0.8, 0.95],
            "val_accuracy": [0.62, 0.81, 0.80],
        }
    )
    row = train.runs_table({"x": h}).loc["x"]
    assert row["best val accuracy"] == 0.81 and row["best epoch"] == 2
    assert row["final val accuracy"] == 0.80
    assert row["gap"] == pytest.approx(0.15)
    assert row["seconds"] == 3.0
    loss_row = train.runs_table({"x": h}, metric="loss").loc["x"]
    assert loss_row["best val loss"] == 0.6 and loss_row["best epoch"] == 2


# ---------------------------------------------------------------- plots


def _history(offset: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "epoch": [1, 2, 3],
            "accuracy": [0.7 + offset, 0.8 + offset, 0.85 + offset],
            "val_accuracy": [0.68 + offset, 0.75 + offset, 0.8 + offset],
        }
    )


def test_plots_return_figures():
    fig = viz.plot_runs({"a": _history(0), "b": _history(0.05)}, train_metric="accuracy")
    assert isinstance(fig, Figure)
    assert len(fig.axes[0].lines) == 4
    plt.close(fig)

    table = pd.DataFrame(
        {
            "learning_rate": np.geomspace(1e-5, 1, 20),
            "loss": np.linspace(2.3, 0.5, 20),
            "smoothed_loss": np.linspace(2.3, 0.6, 20),
        }
    )
    fig = viz.plot_lr_range_test(table, suggested=1e-2)
    assert isinstance(fig, Figure) and fig.axes[0].get_xscale() == "log"
    plt.close(fig)

    norms = pd.DataFrame(
        {"sigmoid": [1e-5, 1e-3, 0.1], "relu": [0.1, 0.1, 0.1]},
        index=["dense1", "dense2", "probabilities"],
    )
    fig = viz.plot_gradient_norms(norms)
    assert isinstance(fig, Figure) and fig.axes[0].get_yscale() == "log"
    plt.close(fig)

    fig = viz.plot_lr_schedules(
        {"constant": 1e-3, "one-cycle": train.OneCycle(1e-2, 50), "log": np.linspace(0, 1, 50)},
        steps=50,
    )
    assert isinstance(fig, Figure) and len(fig.axes[0].lines) == 3
    plt.close(fig)


def test_gradient_norms_of_a_frozen_kernel_are_zero(small_set):
    x, y = small_set
    model = models.experiment_mlp(units=16, depth=2, batch_norm=False)
    model.get_layer("dense1").trainable = False
    norms = train.gradient_norms(model, x[:64], y[:64]).set_index("layer")
    assert norms.loc["dense1", "gradient_norm"] == 0.0
    assert norms.loc["dense2", "gradient_norm"] > 0
