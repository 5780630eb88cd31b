"""Error analysis and calibration helpers (notebook 09): metrics, ECE, temperature, bootstrap."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure
from scipy.special import softmax
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    precision_recall_fscore_support,
    top_k_accuracy_score,
)

from fmnist_utils import evaluate, viz
from fmnist_utils.data import CLASS_NAMES, load_fashion_mnist


@pytest.fixture(scope="module")
def fmnist():
    return load_fashion_mnist(download=False)


def _noisy_predictions(labels: np.ndarray, error_rate: float, seed: int = 0) -> np.ndarray:
    """``labels`` with a random ``error_rate`` share replaced by another class."""
    rng = np.random.default_rng(seed)
    pred = labels.copy()
    wrong = rng.random(len(labels)) < error_rate
    pred[wrong] = (labels[wrong] + rng.integers(1, 10, wrong.sum())) % 10
    return pred


# ---------------------------------------------------------------------------------------------
# Metrics against scikit-learn and hand-worked numbers
# ---------------------------------------------------------------------------------------------
def test_classification_table_matches_sklearn_and_hand_worked_numbers():
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 1, 1, 2, 2])
    table = evaluate.classification_table(y_true, y_pred, ["a", "b", "c"])
    assert list(table.index) == ["a", "b", "c", "accuracy", "macro avg", "weighted avg"]
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred)
    np.testing.assert_allclose(table.loc[["a", "b", "c"], "precision"], precision)
    np.testing.assert_allclose(table.loc[["a", "b", "c"], "recall"], recall)
    np.testing.assert_allclose(table.loc[["a", "b", "c"], "f1-score"], f1)
    assert table.loc[["a", "b", "c"], "support"].tolist() == support.tolist() == [3, 2, 1]
    # by hand: class a precision 2/2, recall 2/3; b 1/2, 1/2; c 1/2, 1/1
    np.testing.assert_allclose(table["precision"].iloc[:3], [1.0, 0.5, 0.5])
    np.testing.assert_allclose(table["recall"].iloc[:3], [2 / 3, 0.5, 1.0])
    assert table.loc["accuracy", "f1-score"] == pytest.approx(4 / 6)
    assert table.loc["accuracy", "support"] == 6
    assert table.loc["macro avg", "f1-score"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)


def test_classification_table_on_real_labels_agrees_with_summary_metrics(fmnist):
    _, (_, y_test) = fmnist
    y_pred = _noisy_predictions(y_test, 0.15)
    table = evaluate.classification_table(y_test, y_pred)
    summary = evaluate.summary_metrics(y_test, y_pred)
    assert list(table.index[:10]) == list(CLASS_NAMES)
    assert table.loc["accuracy", "f1-score"] == pytest.approx(summary["accuracy"])
    assert table.loc["macro avg", "f1-score"] == pytest.approx(summary["f1_macro"])
    assert table.loc["macro avg", "f1-score"] == pytest.approx(
        f1_score(y_test, y_pred, average="macro")
    )
    np.testing.assert_allclose(
        table["recall"].iloc[:10], evaluate.per_class_accuracy(y_test, y_pred)
    )
    assert table["support"].iloc[:10].sum() == len(y_test)


def test_top_k_accuracy_by_hand_and_against_sklearn():
    probs = np.array([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.5, 0.1, 0.4], [0.1, 0.2, 0.7]])
    labels = np.array([1, 1, 2, 0])  # top-1 right: 1 of 4; top-2 right: 3 of 4
    assert evaluate.top_k_accuracy(labels, probs, k=1) == pytest.approx(0.25)
    assert evaluate.top_k_accuracy(labels, probs, k=2) == pytest.approx(0.75)
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(10), size=300)
    labels = rng.integers(0, 10, 300)
    assert evaluate.top_k_accuracy(labels, probs, k=1) == pytest.approx(
        accuracy_score(labels, probs.argmax(axis=1))
    )
    assert evaluate.top_k_accuracy(labels, probs, k=2) == pytest.approx(
        top_k_accuracy_score(labels, probs, k=2)
    )


def test_ece_and_reliability_table_on_a_hand_worked_example():
    probs = np.array([[0.95, 0.05], [0.95, 0.05], [0.85, 0.15], [0.35, 0.65], [0.45, 0.55]])
    labels = np.array([0, 1, 0, 1, 0])  # right, wrong, right, right, wrong
    table = evaluate.reliability_table(probs, labels, n_bins=5)
    assert table["count"].tolist() == [0, 0, 1, 1, 3]
    # bin (0.8, 1]: confidences .95 .95 .85 (mean 0.9167), 2 of 3 right
    assert table.loc[4, "confidence"] == pytest.approx((0.95 + 0.95 + 0.85) / 3)
    assert table.loc[4, "accuracy"] == pytest.approx(2 / 3)
    assert table.loc[3, "accuracy"] == 1.0 and table.loc[2, "accuracy"] == 0.0
    assert table["accuracy"].iloc[:2].isna().all()
    # ECE = 3/5 * |2/3 - 0.9167| + 1/5 * |1 - 0.65| + 1/5 * |0 - 0.55| = 0.15 + 0.07 + 0.11
    assert evaluate.expected_calibration_error(probs, labels, n_bins=5) == pytest.approx(0.33)
    # one bin: |accuracy - mean confidence| = |3/5 - 3.95/5| = 0.19
    assert evaluate.expected_calibration_error(probs, labels, n_bins=1) == pytest.approx(0.19)


def test_ece_is_zero_for_calibrated_bins_and_large_for_overconfidence():
    probs = np.tile([0.8, 0.2], (10, 1))
    labels = np.array([0] * 8 + [1] * 2)  # 80% right at 80% confidence
    assert evaluate.expected_calibration_error(probs, labels) == pytest.approx(0.0)
    labels = np.array([0] * 5 + [1] * 5)  # 50% right at 80% confidence
    assert evaluate.expected_calibration_error(probs, labels) == pytest.approx(0.3)


# ---------------------------------------------------------------------------------------------
# Temperature scaling
# ---------------------------------------------------------------------------------------------
def _calibrated_logits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Logits and labels drawn from softmax(logits): calibrated by construction."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2.0, size=(n, 10))
    probs = softmax(logits, axis=1)
    labels = np.array([rng.choice(10, p=p) for p in probs])
    return logits, labels


def test_temperature_recovers_a_known_overconfidence():
    logits, labels = _calibrated_logits(6000, seed=0)
    sharp = softmax(logits / 0.4, axis=1)  # over-confident: true temperature 1 / 0.4 = 2.5
    val, test = slice(0, 3000), slice(3000, None)
    temperature = evaluate.fit_temperature(sharp[val], labels[val])
    assert 2.1 < temperature < 2.9
    # logits and softmax outputs give the same temperature
    assert evaluate.fit_temperature(logits[val] / 0.4, labels[val]) == pytest.approx(
        temperature, rel=1e-3
    )
    fixed = evaluate.apply_temperature(sharp[test], temperature)
    np.testing.assert_allclose(fixed.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(fixed.argmax(axis=1), sharp[test].argmax(axis=1))
    before = evaluate.expected_calibration_error(sharp[test], labels[test])
    after = evaluate.expected_calibration_error(fixed, labels[test])
    assert before > 0.15 and after < min(0.05, before / 4)
    nll = [evaluate.temperature_nll(sharp[test], labels[test], t) for t in (1.0, temperature)]
    assert nll[1] < nll[0]


def test_temperature_lowers_ece_of_a_small_model_on_real_data(fmnist):
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    (x_train, y_train), (x_test, y_test) = fmnist

    def features(x):  # 14x14 averages of the 28x28 images, scaled to [0, 1]
        return x.reshape(len(x), 14, 2, 14, 2).mean(axis=(2, 4)).reshape(len(x), -1) / 255.0

    model = LinearDiscriminantAnalysis(solver="lsqr", shrinkage=0.01)  # fits in a second
    model.fit(features(x_train[:1000]), y_train[:1000])
    x_val, y_val = features(x_train[50_000:52_000]), y_train[50_000:52_000]
    x_held, y_held = features(x_test[:2000]), y_test[:2000]
    temperature = evaluate.fit_temperature(model.predict_proba(x_val), y_val)
    assert temperature > 1.5  # a linear model fitted on 1,000 images is over-confident
    probs = model.predict_proba(x_held)
    before = evaluate.expected_calibration_error(probs, y_held)
    after = evaluate.expected_calibration_error(
        evaluate.apply_temperature(probs, temperature), y_held
    )
    assert after < 0.5 * before


def test_apply_temperature_by_hand_and_rejects_bad_values():
    # probabilities (0.8, 0.2) at T = 2: sqrt ratios, (2/3, 1/3)
    np.testing.assert_allclose(
        evaluate.apply_temperature(np.array([[0.8, 0.2]]), 2.0), [[2 / 3, 1 / 3]]
    )
    np.testing.assert_allclose(
        evaluate.apply_temperature(np.array([[0.8, 0.2]]), 1.0), [[0.8, 0.2]]
    )
    with pytest.raises(ValueError, match="positive"):
        evaluate.apply_temperature(np.array([[0.8, 0.2]]), 0.0)


# ---------------------------------------------------------------------------------------------
# Bootstrap interval
# ---------------------------------------------------------------------------------------------
def test_bootstrap_interval_contains_estimate_and_narrows_with_more_data(fmnist):
    _, (_, y_test) = fmnist
    y_pred = _noisy_predictions(y_test, 0.1, seed=3)
    small = evaluate.bootstrap_accuracy_ci(y_test[:500], y_pred[:500], n_resamples=1000, seed=0)
    large = evaluate.bootstrap_accuracy_ci(y_test, y_pred, n_resamples=1000, seed=0)
    for ci in (small, large):
        assert ci["low"] < ci["accuracy"] < ci["high"]
        assert ci["confidence"] == 0.95 and ci["n_resamples"] == 1000
    assert large["accuracy"] == pytest.approx(accuracy_score(y_test, y_pred))
    width_small = small["high"] - small["low"]
    width_large = large["high"] - large["low"]
    assert width_large < 0.5 * width_small  # 20x the data: about 1/sqrt(20) the width
    # close to the normal approximation 2 * 1.96 * sqrt(p (1 - p) / n)
    p = large["accuracy"]
    assert width_large == pytest.approx(2 * 1.96 * np.sqrt(p * (1 - p) / len(y_test)), rel=0.15)
    again = evaluate.bootstrap_accuracy_ci(y_test, y_pred, n_resamples=1000, seed=0)
    assert again == large
    narrower = evaluate.bootstrap_accuracy_ci(y_test, y_pred, 1000, confidence=0.5, seed=0)
    assert narrower["high"] - narrower["low"] < width_large


# ---------------------------------------------------------------------------------------------
# Most confident mistakes
# ---------------------------------------------------------------------------------------------
def test_most_confident_mistakes_are_wrong_and_sorted(fmnist):
    _, (_, y_test) = fmnist
    labels = y_test[:500]
    rng = np.random.default_rng(2)
    probs = rng.dirichlet(np.full(10, 0.3), size=len(labels))
    table = evaluate.most_confident_mistakes(probs, labels, top=15)
    assert len(table) == 15
    assert list(table.columns) == [
        "index", "true", "predicted", "confidence", "second choice", "second probability",
        "true-class probability",
    ]
    idx = table["index"].to_numpy()
    assert (probs[idx].argmax(axis=1) != labels[idx]).all()
    assert table["true"].tolist() == [CLASS_NAMES[c] for c in labels[idx]]
    assert table["predicted"].tolist() == [CLASS_NAMES[c] for c in probs[idx].argmax(axis=1)]
    np.testing.assert_allclose(table["confidence"], probs[idx].max(axis=1))
    assert table["confidence"].is_monotonic_decreasing
    assert (table["second choice"] != table["predicted"]).all()
    assert (table["second probability"] <= table["confidence"]).all()
    np.testing.assert_allclose(table["true-class probability"], probs[idx, labels[idx]])
    # the most confident mistake of all comes first
    wrong = np.flatnonzero(probs.argmax(axis=1) != labels)
    assert idx[0] == wrong[np.argmax(probs[wrong].max(axis=1))]
    # no mistakes, no rows
    perfect = np.eye(10)[labels]
    assert evaluate.most_confident_mistakes(perfect, labels).empty


# ---------------------------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------------------------
def test_error_analysis_plots_return_figures(fmnist):
    _, (x_test, y_test) = fmnist
    x, labels = x_test[:400], y_test[:400]
    rng = np.random.default_rng(0)
    probs = softmax(3 * np.eye(10)[labels] + rng.normal(0, 1.5, (400, 10)), axis=1)
    y_pred = probs.argmax(axis=1)

    fig = viz.plot_reliability_diagram(
        {"before": probs, "after": evaluate.apply_temperature(probs, 1.5)}, labels
    )
    assert isinstance(fig, Figure) and len(fig.axes) == 4
    assert fig.axes[0].get_title().startswith("before: ECE = ")
    plt.close(fig)

    wrong = np.flatnonzero(y_pred != labels)[:7]
    fig = viz.plot_mistakes(x, labels, probs, wrong, ncols=4, top2=True)
    assert isinstance(fig, Figure) and len(fig.axes) == 8
    title = fig.axes[0].get_title()
    assert f"true: {CLASS_NAMES[labels[wrong[0]]]}" in title and "2nd: " in title
    plt.close(fig)

    pairs = evaluate.confused_pairs(labels, y_pred, top=3)
    fig = viz.plot_confused_pairs(x, labels, y_pred, pairs, per_pair=4)
    assert isinstance(fig, Figure) and len(fig.axes) == 12
    first = fig.axes[0].get_ylabel()
    assert first.startswith(pairs.loc[0, "true"]) and f"({pairs.loc[0, 'count']} images)" in first
    plt.close(fig)


# ---------------------------------------------------------------------------------------------
# Label-issue candidates, paired bootstrap, masked confusion matrix, precision-recall curves
# ---------------------------------------------------------------------------------------------
def test_label_issue_candidates_find_flipped_labels(fmnist):
    _, (_, y_test) = fmnist
    true = y_test[:1000]
    rng = np.random.default_rng(4)
    # out-of-sample probabilities of a good model of the TRUE classes
    probs = softmax(4 * np.eye(10)[true] + rng.normal(0, 0.5, (1000, 10)), axis=1)
    flipped = rng.choice(1000, size=20, replace=False)
    given = true.copy()
    given[flipped] = (true[flipped] + 1 + rng.integers(0, 9, 20)) % 10
    table = evaluate.label_issue_candidates(probs, given, top=20)
    assert list(table.columns) == [
        "index", "given", "given probability", "suggested", "suggested probability",
        "above threshold",
    ]
    assert set(table["index"]) == set(flipped)  # the 20 least likely given labels
    assert table["given probability"].is_monotonic_increasing
    idx = table["index"].to_numpy()
    assert table["given"].tolist() == [CLASS_NAMES[c] for c in given[idx]]
    assert table["suggested"].tolist() == [CLASS_NAMES[c] for c in true[idx]]
    np.testing.assert_allclose(table["given probability"], probs[idx, given[idx]])
    # confident learning's threshold of a class: its images' mean probability of that class
    thresholds = np.array([probs[given == k, k].mean() for k in range(10)])
    expected = probs[idx, true[idx]] >= thresholds[true[idx]]
    assert table["above threshold"].tolist() == expected.tolist() and expected.any()
    assert len(evaluate.label_issue_candidates(probs, given, top=5)) == 5
    with pytest.raises(ValueError, match="one row per label"):
        evaluate.label_issue_candidates(probs[:10], given)


def test_paired_bootstrap_of_the_ece_gives_verdicts():
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 10, 3000)
    right = rng.random(3000) < 0.8
    pred = np.where(right, labels, (labels + 1) % 10)
    calibrated = np.full((3000, 10), 0.2 / 9)
    calibrated[np.arange(3000), pred] = 0.8  # confidence 0.8, accuracy 0.8
    overconfident = evaluate.apply_temperature(calibrated, 0.3)
    c = evaluate.paired_bootstrap(
        calibrated, overconfident, labels, evaluate.expected_calibration_error,
        ("calibrated", "over-confident"), metric="test ECE", higher_is_better=False,
        n_resamples=200,
    )
    assert c.verdict == "better" and c.low <= c.difference <= c.high < 0
    assert c.mean_b == pytest.approx(evaluate.expected_calibration_error(overconfident, labels))
    assert "paired bootstrap" in str(c) and "calibrated is better" in str(c)
    same = evaluate.paired_bootstrap(
        calibrated, calibrated, labels, evaluate.expected_calibration_error, n_resamples=50
    )
    assert same.difference == 0 and same.verdict == evaluate.NO_DIFFERENCE
    with pytest.raises(ValueError, match="same images"):
        evaluate.paired_bootstrap(calibrated[:10], calibrated, labels, np.mean)


def test_confusion_matrix_can_mask_the_diagonal():
    y_true, y_pred = np.array([0, 1, 1, 1, 0]), np.array([0, 1, 0, 1, 1])
    fig = viz.plot_confusion_matrix(y_true, y_pred, ["a", "b"], mask_diagonal=True)
    assert sorted(t.get_text() for t in fig.axes[0].texts) == ["1", "1"]  # mistakes only
    plt.close(fig)
    fig = viz.plot_confusion_matrix(y_true, y_pred, ["a", "b"])
    assert sorted(t.get_text() for t in fig.axes[0].texts) == ["1", "1", "1", "2"]
    plt.close(fig)


def test_precision_recall_plot_has_a_curve_and_an_ap_per_class(fmnist):
    from sklearn.metrics import average_precision_score

    _, (_, y_test) = fmnist
    labels = y_test[:500]
    rng = np.random.default_rng(6)
    probs = softmax(2 * np.eye(10)[labels] + rng.normal(0, 1.0, (500, 10)), axis=1)
    fig = viz.plot_precision_recall(labels, probs)
    full, zoom = fig.axes
    assert len(full.get_lines()) == len(zoom.get_lines()) == 10
    legend = [t.get_text() for t in zoom.get_legend().get_texts()]
    shirt_ap = average_precision_score(labels == 6, probs[:, 6])
    assert f"Shirt (AP {shirt_ap:.3f})" in legend
    assert zoom.get_xlim() == (0.5, 1.0) and zoom.get_ylim()[0] > 0
    plt.close(fig)


def test_label_issue_gallery_titles_say_given_and_suggested(fmnist):
    (x_train, y_train), _ = fmnist
    probs = np.full((50, 10), 0.02)
    probs[np.arange(50), (y_train[:50] + 1) % 10] = 0.82
    table = evaluate.label_issue_candidates(probs, y_train[:50], top=7)
    fig = viz.plot_label_issues(x_train, table, ncols=4)
    assert isinstance(fig, Figure) and len(fig.axes) == 8
    title = fig.axes[0].get_title()
    first = int(table.loc[0, "index"])
    assert title.startswith(f"#{first}\ngiven: {CLASS_NAMES[y_train[first]]} (2%)")
    assert f"suggested: {CLASS_NAMES[(y_train[first] + 1) % 10]} (82%)" in title
    assert fig.axes[7].get_title() == ""  # an empty slot
    plt.close(fig)
    probs[0] = 0.0
    probs[0, (y_train[0] + 1) % 10] = 1.0  # given label: probability 0
    fig = viz.plot_label_issues(x_train, evaluate.label_issue_candidates(probs, y_train[:50], 1))
    assert "(<1%)" in fig.axes[0].get_title() and "(100%)" in fig.axes[0].get_title()
    plt.close(fig)
