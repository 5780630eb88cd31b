"""fmnist_utils.train (profiles, seeds) and fmnist_utils.viz (figures), on real images."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from fmnist_utils import device, train, viz
from fmnist_utils.data import load_fashion_mnist


@pytest.fixture(scope="module")
def test_set():
    return load_fashion_mnist(download=False)[1]


def test_profile_env_var_wins_and_is_checked(monkeypatch):
    monkeypatch.delenv(train.ENV_VAR, raising=False)
    assert train.resolve_profile("full") == "full"
    monkeypatch.setenv(train.ENV_VAR, "smoke")
    assert train.resolve_profile("default") == "smoke"
    monkeypatch.setenv(train.ENV_VAR, "fast")
    with pytest.raises(ValueError, match=r"\$FMNIST_PROFILE is 'fast'.*smoke, default, full"):
        train.resolve_profile("default")
    monkeypatch.delenv(train.ENV_VAR)
    with pytest.raises(ValueError, match="PROFILE is 'Default'"):
        train.resolve_profile("Default")


def test_set_seed_repeats_numpy_draws():
    train.set_seed(3)
    first = np.random.rand(5)
    train.set_seed(3)
    np.testing.assert_array_equal(first, np.random.rand(5))


def test_plots_return_figures_and_save(test_set, tmp_path, monkeypatch):
    x, y = test_set
    monkeypatch.setenv(viz.FIGURES_ENV_VAR, str(tmp_path))
    grid = viz.class_grid(x, y, per_class=3)
    assert isinstance(grid, Figure) and len(grid.axes) == 30
    assert [ax.get_ylabel() for ax in grid.axes[::3]][:2] == ["0 T-shirt/top", "1 Trouser"]
    images = viz.show_images(x[:5], y[:5], ncols=4)
    assert len(images.axes) == 8 and images.axes[0].get_title() == "Ankle boot"
    heat = viz.pixel_heatmap(x[0])
    texts = [t.get_text() for t in heat.axes[0].texts]
    assert len(texts) == 784 and texts[0] == str(x[0, 0, 0])
    path = viz.save_figure(grid, "grid")
    assert path == tmp_path / "grid.png" and path.stat().st_size > 10_000


def test_figures_dir_finds_the_repository(monkeypatch, tmp_path):
    monkeypatch.delenv(viz.FIGURES_ENV_VAR, raising=False)
    repo = tmp_path / "repo"
    (repo / "fmnist_utils").mkdir(parents=True)
    (repo / "pyproject.toml").write_text("")
    (repo / "notebooks").mkdir()
    monkeypatch.chdir(repo / "notebooks")
    assert viz.figures_dir() == repo.resolve() / "figures"
    monkeypatch.chdir(tmp_path)
    assert viz.figures_dir() == tmp_path.resolve() / "figures"


@pytest.mark.skipif(
    device.backend() != "tensorflow", reason="on another backend TensorFlow is not imported"
)
def test_quiet_tensorflow_drops_only_the_retracing_warning():
    import logging

    import fmnist_utils

    fmnist_utils.quiet_tensorflow()
    fmnist_utils.quiet_tensorflow()  # twice: still one filter
    import tensorflow as tf

    logger = tf.get_logger()
    assert logger.filters.count(fmnist_utils._not_a_retracing_warning) == 1
    seen: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())
    logger.addHandler(handler)
    try:
        logger.warning("5 out of the last 5 calls to <function f> triggered tf.function retracing.")
        logger.warning("something else is wrong")
    finally:
        logger.removeHandler(handler)
    assert seen == ["something else is wrong"]
