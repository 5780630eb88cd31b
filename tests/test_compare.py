"""evaluate.compare and compare_table: differences, intervals and verdicts (every notebook)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from fmnist_utils import evaluate
from fmnist_utils.data import load_fashion_mnist


def test_paired_seeds_interval_is_the_t_interval_of_the_differences():
    a = np.array([0.912, 0.918, 0.915, 0.921])
    b = np.array([0.901, 0.909, 0.902, 0.911])
    c = evaluate.compare(a, b, ("fast CNN", "MLP"))
    d = a - b
    half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
    assert c.difference == pytest.approx(d.mean())
    assert (c.low, c.high) == pytest.approx((d.mean() - half, d.mean() + half))
    assert c.p_value == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert c.verdict == evaluate.BETTER
    assert c.method == "paired t over seeds"
    assert str(c).endswith("-> fast CNN is better.")
    assert "4 seeds each" in str(c)


def test_pairing_removes_what_the_seed_does_to_both():
    # Seeds move both arms together; a is always 0.002 ahead: paired, that is clear;
    # unpaired (Welch), the seed-to-seed spread of 0.01 swamps it.
    seed_effect = np.array([0.0, 0.01, -0.01, 0.005, -0.005])
    a, b = 0.9 + seed_effect + 0.002, 0.9 + seed_effect
    a = a + np.array([0.0002, -0.0001, 0.0, 0.0001, -0.0002])
    assert evaluate.compare(a, b).verdict == evaluate.BETTER
    welch = evaluate.compare(a, b, paired=False)
    assert welch.verdict == evaluate.NO_DIFFERENCE
    assert welch.method == "Welch t"
    assert welch.p_value == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)


def test_a_difference_inside_the_noise_is_no_measurable_difference():
    c = evaluate.compare([0.8427, 0.8301, 0.8390], [0.8363, 0.8412, 0.8335], ("no flip", "full"))
    assert c.low < 0 < c.high
    assert c.verdict == evaluate.NO_DIFFERENCE
    assert str(c).endswith("-> no measurable difference at this budget.")


def test_one_seed_gives_no_conclusion_and_no_interval():
    c = evaluate.compare([0.8833], [0.8766], ("mild shifts", "none"))
    assert c.verdict == evaluate.NO_CONCLUSION == "one seed: no conclusion"
    assert math.isnan(c.low) and math.isnan(c.high)
    assert c.difference == pytest.approx(0.0067)
    assert "CI" not in str(c) and str(c).endswith("-> one seed: no conclusion.")
    # one seed on one side only: still no conclusion
    assert evaluate.compare([0.9], [0.8, 0.81, 0.82]).verdict == evaluate.NO_CONCLUSION


def test_lower_is_better_turns_the_verdict_round():
    fast, slow = [3.0, 3.2, 3.1], [5.0, 5.1, 5.3]
    c = evaluate.compare(
        fast, slow, ("tf.data", "arrays"), metric="seconds", higher_is_better=False
    )
    assert c.difference < 0 and c.verdict == evaluate.BETTER
    assert evaluate.compare(slow, fast, higher_is_better=False).verdict == evaluate.WORSE
    assert evaluate.compare([0.8, 0.81, 0.8], [0.9, 0.91, 0.9]).verdict == evaluate.WORSE


def test_identical_differences_give_a_point_interval():
    c = evaluate.compare([0.9, 0.91, 0.92], [0.9, 0.91, 0.92])
    assert c.difference == 0 and c.verdict == evaluate.NO_DIFFERENCE
    c = evaluate.compare([0.91, 0.92, 0.93], [0.9, 0.91, 0.92])
    assert (c.low, c.high) == pytest.approx((0.01, 0.01)) and c.verdict == evaluate.BETTER


def test_folds_are_named_as_folds():
    c = evaluate.compare([0.8, 0.82, 0.81], [0.7, 0.71, 0.72], unit="fold")
    assert "3 folds each" in str(c) and c.method == "paired t over folds"


def test_bad_input_says_what_is_wrong():
    with pytest.raises(ValueError, match="at least one score"):
        evaluate.compare([], [0.9])
    with pytest.raises(ValueError, match="one per seed"):
        evaluate.compare([0.9, 0.8], [0.9], paired=True)
    with pytest.raises(ValueError, match="confidence"):
        evaluate.compare([0.9], [0.8], confidence=95)
    with pytest.raises(ValueError, match="same images"):
        evaluate.compare(np.zeros(5), np.zeros(4), y_true=np.zeros(5))


@pytest.fixture(scope="module")
def test_labels():
    _, (_, y_test) = load_fashion_mnist(download=False)
    return y_test


def _with_errors(labels, wrong):
    pred = labels.copy()
    pred[wrong] = (labels[wrong] + 1) % 10
    return pred


def test_predictions_mode_counts_disagreements_and_runs_mcnemar(test_labels):
    y = test_labels
    rng = np.random.default_rng(1)
    wrong_b = rng.random(len(y)) < 0.12
    wrong_a = wrong_b.copy()
    fixed = np.flatnonzero(wrong_b)[:300]  # a gets 300 of b's mistakes right...
    wrong_a[fixed] = False
    broken = np.flatnonzero(~wrong_b)[:100]  # ...and breaks 100 that b had right
    wrong_a[broken] = True
    pred_a, pred_b = _with_errors(y, wrong_a), _with_errors(y, wrong_b)
    c = evaluate.compare(pred_a, pred_b, ("best", "plain"), y_true=y)
    assert c.n_a == c.n_b == len(y) == 10_000
    assert c.difference == pytest.approx(200 / len(y))
    assert c.p_value == pytest.approx(stats.binomtest(300, 400, 0.5).pvalue)
    assert "300 right only by best, 100 only by plain" in c.method
    assert c.low < c.difference < c.high and c.low > 0
    assert c.verdict == evaluate.BETTER
    assert "on the same 10,000 images" in str(c)
    # probabilities are turned into labels
    probs_a = np.eye(10)[pred_a]
    assert evaluate.compare(probs_a, pred_b, y_true=y).difference == pytest.approx(c.difference)


def test_paired_bootstrap_interval_matches_resampling_images(test_labels):
    y = test_labels[:2000]
    rng = np.random.default_rng(2)
    pred_a = _with_errors(y, rng.random(len(y)) < 0.10)
    pred_b = _with_errors(y, rng.random(len(y)) < 0.11)
    c = evaluate.compare(pred_a, pred_b, y_true=y, n_resamples=4000)
    delta = (pred_a == y).astype(float) - (pred_b == y)
    index = np.random.default_rng(3).integers(0, len(y), (4000, len(y)))
    low, high = np.quantile(delta[index].mean(axis=1), [0.025, 0.975])
    assert c.low == pytest.approx(low, abs=0.003) and c.high == pytest.approx(high, abs=0.003)
    # the interval of independent models' difference is wider than either model's own
    # sampling error alone would suggest, and it contains the truth here (no real difference
    # beyond 1 point of error rate)
    assert c.high - c.low > 0.02


def test_same_predictions_are_no_measurable_difference(test_labels):
    y = test_labels[:500]
    c = evaluate.compare(y, y.copy(), y_true=y)
    assert c.difference == 0 and c.p_value == 1.0 and c.verdict == evaluate.NO_DIFFERENCE


def test_compare_table_compares_every_row_with_the_baseline():
    scores = {
        "full recipe": [0.836, 0.841, 0.839],
        "no flip": [0.843, 0.835, 0.838],
        "no TTA": [0.826, 0.829, 0.830],
    }
    table = evaluate.compare_table(scores, "full recipe")
    assert list(table.index) == list(scores)
    assert table.loc["full recipe", "verdict"] == "(baseline)"
    assert table.loc["no flip", "verdict"] == evaluate.NO_DIFFERENCE
    assert table.loc["no TTA", "verdict"] == evaluate.WORSE
    expected = evaluate.compare(scores["no TTA"], scores["full recipe"])
    assert table.loc["no TTA", "difference"] == pytest.approx(expected.difference)
    assert table.loc["no TTA", "low"] == pytest.approx(expected.low)
    assert table.loc["no TTA", "std"] == pytest.approx(np.std(scores["no TTA"], ddof=1))
    assert table.loc["no TTA", "runs"] == 3
    with pytest.raises(KeyError, match="baseline"):
        evaluate.compare_table(scores, "nope")


def test_as_dict_holds_every_field_for_the_report():
    d = evaluate.compare([0.9, 0.91], [0.8, 0.81], ("a", "b")).as_dict()
    assert d["verdict"] == evaluate.BETTER and d["a"] == "a" and d["n_a"] == 2


def test_plot_differences_draws_each_row_at_its_difference_with_its_interval():
    import matplotlib

    matplotlib.use("Agg")
    from fmnist_utils import viz

    table = evaluate.compare_table(
        {
            "base": [0.80, 0.81, 0.80],
            "flip": [0.83, 0.84, 0.83],
            "noise": [0.80, 0.79, 0.82],
            "one": [0.9],
        },
        baseline="base",
    )
    fig = viz.plot_differences(table, xlabel="accuracy difference")
    ax = fig.axes[0]
    assert [label.get_text() for label in ax.get_yticklabels()] == ["flip", "noise", "one"]
    dots = {
        round(float(line.get_ydata()[0])): line for line in ax.lines if line.get_marker() == "o"
    }
    assert float(dots[2].get_xdata()[0]) == pytest.approx(table.loc["flip", "difference"])
    bars = [line for line in ax.lines if len(line.get_xdata()) == 2 and line.get_marker() != "o"]
    spans = sorted(tuple(np.round(line.get_xdata(), 6)) for line in bars)
    assert (round(table.loc["flip", "low"], 6), round(table.loc["flip", "high"], 6)) in spans
    assert dots[2].get_color() == "C2"  # better: green; the one-seed row has no bar
    assert dots[0].get_color() == "0.45"
    assert ax.get_xlabel() == "accuracy difference"
