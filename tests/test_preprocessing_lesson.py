"""train.throughput, the helper notebook 03 uses to time input pipelines, on real images."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fmnist_utils import data, preprocess, train


@pytest.fixture(scope="module")
def test_set():
    return data.load_fashion_mnist(download=False)[1]


def test_throughput_counts_the_timed_images_of_a_pipeline(test_set):
    x, y = test_set
    ds = preprocess.make_dataset(x[:100], y[:100], batch_size=32, shuffle=False)
    # 100 images in batches of 32: 32, 32, 32, 4. Skip three, time the short last batch.
    result = train.throughput(ds, n_batches=1, warmup=3)
    assert (result["batches"], result["images"]) == (1, 4)
    result = train.throughput(ds.repeat(), n_batches=10, warmup=2)
    # Draws 3-12 of 32, 32, 32, 4, 32, 32, 32, 4, ...: seven full batches and three of 4 images.
    assert result["images"] == 7 * 32 + 3 * 4
    assert result["seconds"] > 0
    assert math.isclose(result["images_per_second"], result["images"] / result["seconds"])


def test_throughput_works_on_numpy_batches_and_says_when_they_run_out(test_set):
    x, y = test_set
    prepared = preprocess.prepare(x[:256])
    batches = [(prepared[i : i + 64], y[i : i + 64]) for i in range(0, 256, 64)]
    assert train.throughput(batches, n_batches=3)["images"] == 192
    with pytest.raises(ValueError, match="ran out after 4 batches; 5 were needed"):
        train.throughput(batches, n_batches=4)
    with pytest.raises(ValueError, match="at least 1"):
        train.throughput(batches, n_batches=0)


def test_throughput_is_faster_for_a_cheaper_source(test_set):
    x, _ = test_set
    prepared = preprocess.prepare(x[:128])

    def slow():
        while True:
            np.sort(np.random.default_rng(0).random(300_000))  # deliberate work per batch
            yield prepared, None

    def fast():
        while True:
            yield prepared, None

    slow_rate = train.throughput(slow(), n_batches=5)["images_per_second"]
    fast_rate = train.throughput(fast(), n_batches=5)["images_per_second"]
    assert fast_rate > 5 * slow_rate


def test_throughput_reports_the_fastest_of_several_runs(test_set):
    x, _ = test_set
    prepared = preprocess.prepare(x[:64])
    delays = iter([0.0] + [0.05] * 4 + [0.0] * 4 + [0.05] * 4)  # warm-up, slow, fast, slow

    def source():
        import time

        while True:
            time.sleep(next(delays))
            yield prepared, None

    result = train.throughput(source(), n_batches=4, repeats=3)
    assert result["images"] == 4 * 64
    assert result["seconds"] < 0.1  # the fast run (the slow ones take at least 0.2 s)
    with pytest.raises(ValueError, match="ran out after 9 batches; 13 were needed"):
        train.throughput([(prepared, None)] * 9, n_batches=4, repeats=3)
