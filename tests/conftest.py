"""Fixtures shared by the service tests (test_serve, test_browser, test_load_serve)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def small_model_path(tmp_path_factory) -> Path:
    """A small fast_cnn trained for seconds on real data, once per test session: the "fast"
    recipe (no augmentation: the service's mechanics are under test, not the photos recipe),
    calibrated and given its "not a garment" detector by serve.train_model."""
    from fmnist_utils import serve

    path = tmp_path_factory.getbasetemp() / "serve-model" / "small.keras"
    if not path.is_file():
        serve.train_model(
            path, recipe="fast", epochs=2, per_class=400, filters=(16, 32, 64), batch_size=64,
            validation=1000, verbose=0,
        )  # fmt: skip
    return path
