"""Metrics tables with scikit-learn, and verdicts: is one model or trick really better?

``compare`` is the course's one way to say that one thing beats another: it takes the scores of
several seeds (or the predictions of two models on the same test images), and returns the
difference, its confidence interval and a verdict from :data:`VERDICTS`.

Example:
    >>> y_true = np.array([0, 0, 1, 1]); y_pred = np.array([0, 1, 1, 1])
    >>> per_class_accuracy(y_true, y_pred, class_names=["a", "b"]).round(2).tolist()
    [0.5, 1.0]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from fmnist_utils.data import CLASS_NAMES


def predict_classes(model, images: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """The class with the highest probability for each prepared image.

    Example:
        >>> y_pred = predict_classes(model, prepare(x_test))  # doctest: +SKIP
    """
    return np.argmax(model.predict(images, batch_size=batch_size, verbose=0), axis=1)


def summary_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Accuracy and macro precision, recall and F1 (scikit-learn).

    Example:
        >>> summary_metrics(np.array([0, 1, 1]), np.array([0, 1, 0]))["accuracy"]
        0.6666666666666666
    """
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, y_pred, average="macro", zero_division=0
    )
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision_macro": float(precision),
        "recall_macro": float(recall),
        "f1_macro": float(f1),
    }


def per_class_accuracy(
    y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str] = CLASS_NAMES
) -> pd.Series:
    """The share of each class's images that were classified correctly (its recall).

    Example:
        >>> per_class_accuracy(np.array([0, 1]), np.array([0, 0]), ["a", "b"]).tolist()
        [1.0, 0.0]
    """
    from sklearn.metrics import recall_score

    labels = list(range(len(class_names)))
    scores = recall_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    return pd.Series(scores, index=pd.Index(class_names, name="class"), name="accuracy")


def confused_pairs(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    class_names: Sequence[str] = CLASS_NAMES,
    top: int = 5,
) -> pd.DataFrame:
    """The most frequent (true class, predicted class) mistakes, most frequent first.

    Example:
        >>> confused_pairs(np.array([0, 0, 1]), np.array([1, 1, 1]), ["a", "b"])
          true predicted  count  share of true class
        0    a         b      2                  1.0
    """
    from sklearn.metrics import confusion_matrix

    labels = list(range(len(class_names)))
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    off = cm.copy()
    np.fill_diagonal(off, 0)
    rows = [
        {
            "true": class_names[i],
            "predicted": class_names[j],
            "count": int(off[i, j]),
            "share of true class": off[i, j] / max(cm[i].sum(), 1),
        }
        for i, j in zip(*np.nonzero(off), strict=True)  # row-major: ties keep class order
    ]
    rows.sort(key=lambda row: -row["count"])  # stable
    return pd.DataFrame(rows[:top], columns=["true", "predicted", "count", "share of true class"])


# --- error analysis and calibration (09) ---


def classification_table(
    y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str] = CLASS_NAMES
) -> pd.DataFrame:
    """scikit-learn's ``classification_report`` as a table: one row per class, then accuracy.

    Columns: precision, recall, f1-score and support (images of the class). After the classes
    come ``accuracy`` (in the f1-score column, as scikit-learn prints it), ``macro avg`` (every
    class counts the same) and ``weighted avg`` (classes weighted by their support).

    Example:
        >>> table = classification_table(np.array([0, 0, 1]), np.array([0, 1, 1]), ["a", "b"])
        >>> table.round(2)
                      precision  recall  f1-score  support
        a                  1.00    0.50      0.67        2
        b                  0.50    1.00      0.67        1
        accuracy            NaN     NaN      0.67        3
        macro avg          0.75    0.75      0.67        3
        weighted avg       0.83    0.67      0.67        3
    """
    from sklearn.metrics import classification_report

    report = classification_report(
        y_true,
        y_pred,
        labels=list(range(len(class_names))),
        target_names=list(class_names),
        output_dict=True,
        zero_division=0,
    )
    accuracy = report.pop("accuracy", None)
    averages = [key for key in report if key.endswith(" avg")]
    table = pd.DataFrame([report[name] for name in class_names], index=list(class_names))
    if accuracy is not None:
        table.loc["accuracy"] = [np.nan, np.nan, accuracy, len(np.asarray(y_true))]
    for key in averages:
        table.loc[key] = report[key]
    table["support"] = table["support"].astype(int)
    return table


def top_k_accuracy(y_true: np.ndarray, probs: np.ndarray, k: int = 2) -> float:
    """The share of images whose true class is among the ``k`` most probable ones (sklearn).

    Example:
        >>> probs = np.array([[0.5, 0.3, 0.2], [0.5, 0.3, 0.2], [0.5, 0.3, 0.2]])
        >>> top_k_accuracy(np.array([0, 1, 2]), probs, k=2)
        0.6666666666666666
    """
    from sklearn.metrics import top_k_accuracy_score

    probs = np.asarray(probs)
    return float(
        top_k_accuracy_score(y_true, probs, k=k, labels=list(range(probs.shape[1])))
    )


def _bin_index(confidence: np.ndarray, n_bins: int) -> np.ndarray:
    """Equal-width bins over (0, 1]: bin ``b`` holds confidences in (b/n_bins, (b+1)/n_bins]."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)


def reliability_table(probs: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> pd.DataFrame:
    """Calibration per confidence bin: mean confidence, accuracy and count of the predictions.

    Each prediction's confidence is its highest probability. The range (0, 1] is cut into
    ``n_bins`` equal-width bins (bin ``b`` holds (b/n_bins, (b+1)/n_bins]); for each bin the
    table gives ``lower``, ``upper``, ``count``, the mean ``confidence`` and the ``accuracy``
    (share of its predictions that are right), and ``gap`` = accuracy - confidence (negative:
    over-confident). Empty bins have count 0 and NaN elsewhere.

    Example:
        >>> probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.4, 0.6]])
        >>> reliability_table(probs, np.array([0, 1, 1, 1]), n_bins=2)[["count", "accuracy"]]
           count  accuracy
        0      0       NaN
        1      4      0.75
    """
    probs = np.asarray(probs, dtype=float)
    labels = np.asarray(labels)
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == labels).astype(float)
    bins = _bin_index(confidence, n_bins)
    count = np.bincount(bins, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.bincount(bins, confidence, minlength=n_bins) / count
        accuracy = np.bincount(bins, correct, minlength=n_bins) / count
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return pd.DataFrame(
        {
            "lower": edges[:-1],
            "upper": edges[1:],
            "count": count,
            "confidence": mean_confidence,
            "accuracy": accuracy,
            "gap": accuracy - mean_confidence,
        }
    )


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> float:
    """ECE: the gap between confidence and accuracy, averaged over bins weighted by their size.

    ECE = sum over bins of (count / n) * |accuracy - mean confidence| (Guo et al., 2017), with
    the bins of :func:`reliability_table`. 0 is perfectly calibrated.

    Example:
        >>> probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.4, 0.6]])
        >>> round(expected_calibration_error(probs, np.array([0, 1, 1, 1]), n_bins=2), 4)
        0.0
        >>> round(expected_calibration_error(probs, np.array([0, 0, 0, 0]), n_bins=2), 4)
        0.25
    """
    table = reliability_table(probs, labels, n_bins)
    used = table["count"] > 0
    weights = table.loc[used, "count"] / table["count"].sum()
    return float(np.sum(weights * np.abs(table.loc[used, "gap"])))


def _log_probabilities(values: np.ndarray) -> np.ndarray:
    """Logits as they are; rows of probabilities (non-negative, summing to 1) as their logs.

    The log of a softmax output is the logits minus a per-row constant, which the softmax
    ignores, so temperature scaling gives the same result from either.
    """
    values = np.asarray(values, dtype=np.float64)
    is_probs = values.min() >= 0 and np.allclose(values.sum(axis=1), 1.0, atol=1e-3)
    return np.log(np.clip(values, 1e-12, None)) if is_probs else values


def apply_temperature(logits_or_probs: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities softmax(z / T) from logits ``z`` (or from softmax outputs, via their log).

    ``T > 1`` softens over-confident probabilities, ``T < 1`` sharpens them; the most probable
    class (so the accuracy) never changes.

    Example:
        >>> apply_temperature(np.array([[0.8, 0.2]]), 2.0).round(3)
        array([[0.667, 0.333]])
    """
    from scipy.special import softmax

    if temperature <= 0:
        raise ValueError(f"the temperature must be positive; got {temperature}")
    return softmax(_log_probabilities(logits_or_probs) / temperature, axis=1)


def temperature_nll(logits_or_probs: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    """Mean negative log-likelihood of the true labels after temperature scaling.

    Example:
        >>> round(temperature_nll(np.array([[0.5, 0.5]]), np.array([0]), 1.0), 4)
        0.6931
    """
    from scipy.special import log_softmax

    log_p = log_softmax(_log_probabilities(logits_or_probs) / temperature, axis=1)
    return float(-np.mean(log_p[np.arange(len(log_p)), np.asarray(labels)]))


def fit_temperature(
    logits_or_probs: np.ndarray, labels: np.ndarray, bounds: tuple[float, float] = (0.05, 20.0)
) -> float:
    """The temperature ``T`` that minimises the negative log-likelihood on a held-out split.

    Temperature scaling (Guo et al., 2017) divides the logits by one number ``T`` fitted on
    data the model was not trained on (the validation split), then reports calibration on
    the test set. Softmax outputs are accepted: their logs are the logits up to a per-row
    constant. ``scipy.optimize.minimize_scalar`` searches ``log T`` within ``bounds``.

    Example:
        >>> probs = np.array([[0.99, 0.01], [0.01, 0.99], [0.99, 0.01]])  # one of 3 wrong
        >>> fit_temperature(probs, np.array([0, 1, 1])) > 1  # over-confident: soften
        True
    """
    from scipy.optimize import minimize_scalar

    log_p = _log_probabilities(logits_or_probs)
    low, high = np.log(bounds[0]), np.log(bounds[1])
    result = minimize_scalar(
        lambda log_t: temperature_nll(log_p, labels, float(np.exp(log_t))),
        bounds=(low, high),
        method="bounded",
        options={"xatol": 1e-5},
    )
    return float(np.exp(result.x))


def bootstrap_accuracy_ci(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, float]:
    """Accuracy with a bootstrap percentile confidence interval (``scipy.stats.bootstrap``).

    The test set is resampled with replacement ``n_resamples`` times; the interval holds the
    middle ``confidence`` share of the resampled accuracies. It says how much the accuracy
    would move on another test set of the same size drawn the same way. Returns
    ``accuracy``, ``low``, ``high``, ``confidence`` and ``n_resamples``.

    Example:
        >>> y = np.arange(1000) % 10
        >>> ci = bootstrap_accuracy_ci(y, np.where(np.arange(1000) % 5 == 0, -1, y))
        >>> ci["accuracy"], ci["low"] < 0.8 < ci["high"]
        (0.8, True)
    """
    from scipy.stats import bootstrap

    correct = (np.asarray(y_true) == np.asarray(y_pred)).astype(float)
    result = bootstrap(
        (correct,),
        np.mean,
        n_resamples=n_resamples,
        confidence_level=confidence,
        method="percentile",
        random_state=np.random.default_rng(seed),
    )
    return {
        "accuracy": float(correct.mean()),
        "low": float(result.confidence_interval.low),
        "high": float(result.confidence_interval.high),
        "confidence": float(confidence),
        "n_resamples": int(n_resamples),
    }


# --- comparisons: differences with their uncertainty, and a verdict (every notebook) ---

#: The verdicts :func:`compare` gives, from ``a``'s point of view.
BETTER = "better"
WORSE = "worse"
NO_DIFFERENCE = "no measurable difference at this budget"
NO_CONCLUSION = "one seed: no conclusion"
VERDICTS: tuple[str, ...] = (BETTER, WORSE, NO_DIFFERENCE, NO_CONCLUSION)


@dataclass(frozen=True)
class Comparison:
    """The result of :func:`compare`: ``a`` minus ``b``, its interval, and the verdict.

    ``difference`` is ``mean_a - mean_b``; ``low`` and ``high`` bound it with the given
    ``confidence`` (NaN when one seed cannot say how much runs vary). ``verdict`` is one of
    :data:`VERDICTS` and speaks for ``a``: "better" means ``a`` is better than ``b`` (higher, or
    lower when ``higher_is_better`` is False). ``method`` names how the interval was made;
    ``p_value`` is McNemar's exact test for two models' predictions on one test set, else the
    t-test's. ``str()`` is one sentence that a notebook can print; :meth:`as_dict` goes into
    ``metrics.json``.
    """

    a: str
    b: str
    metric: str
    mean_a: float
    mean_b: float
    n_a: int
    n_b: int
    difference: float
    low: float
    high: float
    confidence: float
    method: str
    p_value: float
    higher_is_better: bool
    verdict: str
    digits: int = 4
    unit: str = "seed"

    def sentence(self) -> str:
        """``a`` vs ``b``: the two means, the difference with its interval, the verdict."""
        d = self.digits
        if self.method.startswith("McNemar"):
            sizes = f"on the same {self.n_a:,} images"
        elif self.n_a == self.n_b:
            sizes = f"{self.n_a} {_plural(self.unit, self.n_a)} each"
        else:
            sizes = f"{self.n_a} vs {self.n_b} {_plural(self.unit, 2)}"
        text = (
            f"{self.a} vs {self.b}, {self.metric}: {self.mean_a:.{d}f} vs {self.mean_b:.{d}f} "
            f"({sizes}); difference {self.difference:+.{d}f}"
        )
        if np.isfinite(self.low):
            text += (
                f", {self.confidence:.0%} CI [{self.low:+.{d}f}, {self.high:+.{d}f}] "
                f"({self.method}"
                + (f", p = {self.p_value:.2g}" if np.isfinite(self.p_value) else "")
                + ")"
            )
        verdict = {
            BETTER: f"{self.a} is better",
            WORSE: f"{self.a} is worse",
        }.get(self.verdict, self.verdict)
        return f"{text} -> {verdict}."

    def __str__(self) -> str:
        return self.sentence()

    def _repr_pretty_(self, printer, cycle) -> None:  # IPython shows the sentence
        printer.text(self.sentence())

    def as_dict(self) -> dict:
        """Every field, for ``metrics.json`` (NaN becomes None there)."""
        return asdict(self)


def _plural(unit: str, n: int) -> str:
    if n == 1:
        return unit
    if unit.endswith("y") and unit[-2:-1] not in ("a", "e", "i", "o", "u"):
        return f"{unit[:-1]}ies"  # query -> queries (but day -> days)
    return f"{unit}s"


def _verdict(low: float, high: float, higher_is_better: bool) -> str:
    if low > 0:
        return BETTER if higher_is_better else WORSE
    if high < 0:
        return WORSE if higher_is_better else BETTER
    return NO_DIFFERENCE


def _as_labels(values: np.ndarray) -> np.ndarray:
    """Predicted labels: a 1-D array as it is, rows of probabilities as their argmax."""
    values = np.asarray(values)
    return values.argmax(axis=1) if values.ndim == 2 else values


def compare(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    names: tuple[str, str] = ("A", "B"),
    *,
    metric: str = "accuracy",
    y_true: np.ndarray | None = None,
    higher_is_better: bool = True,
    paired: bool | None = None,
    unit: str = "seed",
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
    digits: int = 4,
) -> Comparison:
    """Is ``a`` better than ``b``? The difference, its confidence interval, and a verdict.

    Two kinds of evidence:

    * **Scores of several runs** (seeds, or cross-validation folds): ``a`` and ``b`` are
      sequences of numbers, one per run (``unit="fold"`` for folds). Runs with the same seed
      (or fold) are *paired* when both have the same length (``paired=None``): the interval
      is the t-interval of the per-seed differences, which removes what the seed does to
      both. Otherwise, Welch's t-interval of the two means (scipy.stats). With a single run
      on either side nothing says how much runs vary, and the verdict is
      ``"one seed: no conclusion"``.
    * **Two models' predictions on the same test images**: pass ``y_true``; ``a`` and ``b``
      are predicted labels (or rows of probabilities). The difference of accuracies gets a
      paired bootstrap interval (the same resampled images for both), and McNemar's exact
      test (scipy's binomial test on the images exactly one model gets right) gives the
      p-value. This measures test-set sampling noise only: one training run each says
      nothing about another seed.

    The verdict follows the interval: ``"better"`` when it lies above 0 (below 0 when
    ``higher_is_better`` is False, as for a loss or a time), ``"worse"`` when it lies on the
    other side, ``"no measurable difference at this budget"`` when it contains 0.

    Example:
        >>> c = compare([0.91, 0.92, 0.915], [0.88, 0.885, 0.89], ("fast CNN", "MLP"))
        >>> c.verdict, round(c.difference, 3)
        ('better', 0.03)
        >>> print(compare([0.851], [0.845], ("flip", "no flip")))
        flip vs no flip, accuracy: 0.8510 vs 0.8450 (1 seed each); difference +0.0060 -> one seed: no conclusion.
    """  # noqa: E501
    from scipy import stats

    name_a, name_b = names
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1; got {confidence}")
    if y_true is not None:
        y_true, pred_a, pred_b = np.asarray(y_true), _as_labels(a), _as_labels(b)
        if not len(pred_a) == len(pred_b) == len(y_true):
            raise ValueError(
                f"predictions and labels differ in length: {len(pred_a)}, {len(pred_b)} "
                f"predictions for {len(y_true)} labels; both models must predict the same images"
            )
        right_a, right_b = pred_a == y_true, pred_b == y_true
        n = len(y_true)
        only_a = int(np.sum(right_a & ~right_b))
        only_b = int(np.sum(right_b & ~right_a))
        # Resampling n images with replacement only changes how many of them fall among the
        # "only a right" and "only b right" ones: a multinomial draw gives the same bootstrap
        # distribution of the difference without materialising the resampled images.
        counts = np.random.default_rng(seed).multinomial(
            n, [only_a / n, only_b / n, 1 - (only_a + only_b) / n], size=n_resamples
        )
        means = (counts[:, 0] - counts[:, 1]) / n
        tail = (1 - confidence) / 2
        low, high = np.quantile(means, [tail, 1 - tail])
        p_value = stats.binomtest(only_a, only_a + only_b, 0.5).pvalue if only_a + only_b else 1.0
        return Comparison(
            a=name_a, b=name_b, metric=metric, mean_a=float(right_a.mean()),
            mean_b=float(right_b.mean()), n_a=n, n_b=n, difference=(only_a - only_b) / n,
            low=float(low), high=float(high), confidence=confidence,
            method=f"McNemar: {only_a} right only by {name_a}, {only_b} only by {name_b}; "
            "paired bootstrap",
            p_value=float(p_value), higher_is_better=higher_is_better,
            verdict=_verdict(float(low), float(high), higher_is_better), digits=digits,
        )

    a = np.asarray(a, dtype=float).ravel()
    b = np.asarray(b, dtype=float).ravel()
    if len(a) == 0 or len(b) == 0:
        raise ValueError("each side needs at least one score")
    paired = len(a) == len(b) if paired is None else paired
    if paired and len(a) != len(b):
        raise ValueError(f"paired scores need one per seed on each side; got {len(a)}, {len(b)}")
    difference = float(a.mean() - b.mean())
    low = high = p_value = float("nan")
    method = f"one {unit}"
    if min(len(a), len(b)) >= 2:
        method = f"paired t over {_plural(unit, 2)}" if paired else "Welch t"
        spread = np.ptp(a - b) if paired else max(np.ptp(a), np.ptp(b))
        if spread <= 1e-12 * max(1.0, abs(difference)):
            # no spread at all (deterministic runs): the interval is the point itself
            low = high = difference
            p_value = 1.0 if difference == 0 else 0.0
        else:
            result = stats.ttest_rel(a, b) if paired else stats.ttest_ind(a, b, equal_var=False)
            interval = result.confidence_interval(confidence)
            low, high, p_value = float(interval.low), float(interval.high), float(result.pvalue)
    verdict = NO_CONCLUSION if np.isnan(low) else _verdict(low, high, higher_is_better)
    return Comparison(
        a=name_a, b=name_b, metric=metric, mean_a=float(a.mean()), mean_b=float(b.mean()),
        n_a=len(a), n_b=len(b), difference=difference, low=low, high=high,
        confidence=confidence, method=method, p_value=p_value,
        higher_is_better=higher_is_better, verdict=verdict, digits=digits, unit=unit,
    )


def compare_table(
    scores: Mapping[str, Sequence[float]],
    baseline: str,
    *,
    metric: str = "accuracy",
    higher_is_better: bool = True,
    unit: str = "seed",
    confidence: float = 0.95,
    digits: int = 4,
) -> pd.DataFrame:
    """Every entry of ``scores`` against ``baseline`` with :func:`compare`, one row each.

    ``scores`` maps a name (a model, a trick, an ablation row) to its per-seed scores, in seed
    order. Columns: ``runs``, ``mean``, ``std`` (between seeds), and for every row but the
    baseline the ``difference`` from it, the interval ``low`` and ``high`` and the
    ``verdict`` (the row against the baseline). With many rows, a few intervals will miss 0
    by chance alone: read a lone "better" among many rows with care.

    Example:
        >>> table = compare_table({"plain": [0.80, 0.81, 0.80], "flip": [0.82, 0.83, 0.83]},
        ...                       baseline="plain")
        >>> table.loc["flip", "verdict"]
        'better'
    """
    if baseline not in scores:
        raise KeyError(f"baseline {baseline!r} is not among the scores: {list(scores)}")
    rows = {}
    for name, values in scores.items():
        values = np.asarray(values, dtype=float).ravel()
        row = {
            "runs": len(values),
            "mean": float(values.mean()),
            "std": float(values.std(ddof=1)) if len(values) > 1 else float("nan"),
        }
        if name == baseline:
            row.update(difference=0.0, low=np.nan, high=np.nan, verdict="(baseline)")
        else:
            c = compare(
                values,
                scores[baseline],
                (name, baseline),
                metric=metric,
                higher_is_better=higher_is_better,
                unit=unit,
                confidence=confidence,
                digits=digits,
            )
            row.update(difference=c.difference, low=c.low, high=c.high, verdict=c.verdict)
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = metric
    return table


def paired_bootstrap(
    a: np.ndarray,
    b: np.ndarray,
    y_true: np.ndarray,
    statistic: Callable[[np.ndarray, np.ndarray], float],
    names: tuple[str, str] = ("A", "B"),
    *,
    metric: str = "statistic",
    higher_is_better: bool = True,
    confidence: float = 0.95,
    n_resamples: int = 1000,
    seed: int = 0,
    digits: int = 4,
) -> Comparison:
    """Any test-set statistic of two models (e.g. the ECE), compared on the SAME test images.

    ``a`` and ``b`` are the two models' outputs for the same images (probabilities, rows in
    the order of ``y_true``); ``statistic(outputs, y_true)`` is computed on the full test set
    for each, then on ``n_resamples`` bootstrap resamples of the images, the same resample for
    both, and the percentile interval of ``statistic(a) - statistic(b)`` gives the verdict (as
    :func:`compare`, from ``a``'s point of view). Use it for statistics that :func:`compare`
    cannot pair image by image, such as :func:`expected_calibration_error` before and after
    temperature scaling. Like McNemar's test it measures test-set sampling noise only.

    Example:
        >>> y = np.arange(200) % 2
        >>> good, bad = np.eye(2)[y] * 0.8 + 0.1, np.full((200, 2), 0.5)
        >>> c = paired_bootstrap(good, bad, y, lambda p, t: float(np.mean(p.argmax(1) == t)),
        ...                      ("good", "bad"), metric="accuracy", n_resamples=200)
        >>> c.verdict, round(c.difference, 2)
        ('better', 0.5)
    """
    a, b, y_true = np.asarray(a), np.asarray(b), np.asarray(y_true)
    if not len(a) == len(b) == len(y_true):
        raise ValueError(
            f"a, b and y_true differ in length: {len(a)}, {len(b)}, {len(y_true)}; "
            "both models must be scored on the same images"
        )
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1; got {confidence}")
    value_a, value_b = float(statistic(a, y_true)), float(statistic(b, y_true))
    rng = np.random.default_rng(seed)
    draws = np.empty(n_resamples)
    for k in range(n_resamples):
        i = rng.integers(0, len(y_true), len(y_true))
        draws[k] = statistic(a[i], y_true[i]) - statistic(b[i], y_true[i])
    tail = (1 - confidence) / 2
    low, high = (float(v) for v in np.quantile(draws, [tail, 1 - tail]))
    return Comparison(
        a=names[0], b=names[1], metric=metric, mean_a=value_a, mean_b=value_b,
        n_a=len(y_true), n_b=len(y_true), difference=value_a - value_b, low=low, high=high,
        confidence=confidence,
        method=f"paired bootstrap over the same {len(y_true):,} images, {n_resamples} resamples",
        p_value=float("nan"), higher_is_better=higher_is_better,
        verdict=_verdict(low, high, higher_is_better), digits=digits, unit="image",
    )


def most_confident_mistakes(
    probs: np.ndarray,
    labels: np.ndarray,
    top: int = 10,
    class_names: Sequence[str] = CLASS_NAMES,
) -> pd.DataFrame:
    """The wrong predictions the model was surest of, most confident first.

    Candidates for label noise, for a human to judge: the model may be wrong, or the label
    may be. Columns: ``index`` (position in ``probs``), ``true``, ``predicted``,
    ``confidence`` (probability of the predicted class), ``second choice`` and its
    ``second probability``, and ``true-class probability``.

    Example:
        >>> probs = np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4]])
        >>> table = most_confident_mistakes(probs, np.array([1, 1, 1]), class_names=["a", "b"])
        >>> table[["index", "true", "predicted", "confidence", "second choice"]]
           index true predicted  confidence second choice
        0      0    b         a         0.9             b
        1      2    b         a         0.6             b
    """
    probs = np.asarray(probs)
    labels = np.asarray(labels)
    ranked = np.argsort(-probs, axis=1, kind="stable")
    predicted, second = ranked[:, 0], ranked[:, 1]
    rows = np.arange(len(probs))
    confidence = probs[rows, predicted]
    wrong = np.flatnonzero(predicted != labels)
    wrong = wrong[np.argsort(-confidence[wrong], kind="stable")][:top]
    names = np.asarray(class_names, dtype=object)
    return pd.DataFrame(
        {
            "index": wrong,
            "true": names[labels[wrong]],
            "predicted": names[predicted[wrong]],
            "confidence": confidence[wrong],
            "second choice": names[second[wrong]],
            "second probability": probs[wrong, second[wrong]],
            "true-class probability": probs[wrong, labels[wrong]],
        }
    )


def label_issue_candidates(
    probs: np.ndarray,
    labels: np.ndarray,
    top: int = 20,
    class_names: Sequence[str] = CLASS_NAMES,
) -> pd.DataFrame:
    """The images whose given label the model finds least probable: candidates for a person to
    check, not proven label errors.

    ``probs`` must be *out-of-sample* probabilities, e.g. out-of-fold from k-fold
    cross-validation, so that no image was scored by a model that learned its label. Images are
    ranked by the probability of their given label ("self-confidence", cleanlab's default
    ranking; Northcutt et al. 2021, "Confident learning"), lowest first. Columns: ``index``
    (position in ``probs``), ``given`` label, ``given probability``, ``suggested`` (the most
    probable *other* class), ``suggested probability``, and ``above threshold``: whether the
    suggested class's probability reaches that class's threshold in confident learning, the
    mean probability the model gives that class on the images labelled with it.

    Example:
        >>> probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3], [0.1, 0.9]])
        >>> table = label_issue_candidates(probs, np.array([0, 1, 1, 1]), 2, ["a", "b"])
        >>> table[["index", "given", "given probability", "suggested"]]
           index given  given probability suggested
        0      2     b                0.3         a
        1      1     b                0.8         a
    """
    probs = np.asarray(probs, dtype=float)
    labels = np.asarray(labels).astype(int)
    if probs.ndim != 2 or len(probs) != len(labels):
        raise ValueError(
            f"probs must be (n, classes) with one row per label; got {probs.shape} for "
            f"{len(labels)} labels"
        )
    rows = np.arange(len(labels))
    given = probs[rows, labels]
    others = probs.copy()
    others[rows, labels] = -np.inf
    suggested = others.argmax(axis=1)
    # confident learning's per-class threshold: mean self-confidence of each class's images
    thresholds = np.array(
        [given[labels == k].mean() if np.any(labels == k) else np.inf
         for k in range(probs.shape[1])]
    )
    order = np.argsort(given, kind="stable")[:top]
    names = np.asarray(list(class_names), dtype=object)
    return pd.DataFrame(
        {
            "index": order,
            "given": names[labels[order]],
            "given probability": given[order],
            "suggested": names[suggested[order]],
            "suggested probability": probs[order, suggested[order]],
            "above threshold": probs[order, suggested[order]] >= thresholds[suggested[order]],
        }
    )


# --- transfer and embeddings (11) ---


def nearest_neighbours(
    embeddings: np.ndarray, k: int = 5, metric: str = "cosine"
) -> tuple[np.ndarray, np.ndarray]:
    """Every item's ``k`` nearest *other* items (scikit-learn ``NearestNeighbors``).

    Each row of ``embeddings`` is one item (images are flattened). Returns ``(distances,
    indices)``, both ``(n, k)``, nearest first. An item is never its own neighbour: scikit-learn's
    ``kneighbors()`` without a query drops it, even when exact duplicates tie with it.
    ``metric="cosine"`` compares directions (1 - cosine similarity), so an embedding's overall
    size does not matter.

    Example:
        >>> points = np.array([[0.0, 1.0], [0.1, 1.0], [1.0, 0.0]])
        >>> nearest_neighbours(points, k=1, metric="euclidean")[1].ravel().tolist()
        [1, 0, 1]
    """
    from sklearn.neighbors import NearestNeighbors

    x = np.asarray(embeddings, dtype=np.float32).reshape(len(embeddings), -1)
    if not 1 <= k < len(x):
        raise ValueError(f"k must be between 1 and {len(x) - 1} (the other items); got {k}")
    search = NearestNeighbors(n_neighbors=k, metric=metric, algorithm="brute").fit(x)
    distances, indices = search.kneighbors()
    return distances, indices


def precision_at_k(
    embeddings: np.ndarray, labels: np.ndarray, k: int = 10, metric: str = "cosine"
) -> float:
    """Mean precision@k of "more like this": the share of each item's ``k`` nearest other items
    that have its class, averaged over every item used as the query.

    Example:
        >>> points = np.array([[0.0, 1.0], [0.1, 1.0], [1.0, 0.0], [1.0, 0.1]])
        >>> precision_at_k(points, np.array([0, 0, 1, 1]), k=1)
        1.0
    """
    _, indices = nearest_neighbours(embeddings, k, metric)
    labels = np.asarray(labels)
    return float(np.mean(labels[indices] == labels[:, None]))


def precision_per_query(
    embeddings: np.ndarray, labels: np.ndarray, k: int = 10, metric: str = "cosine"
) -> np.ndarray:
    """precision@k of every item used as the query: the share of its ``k`` nearest other items
    that have its class. Their mean is :func:`precision_at_k`; two representations of the same
    items give per-query values that :func:`compare` can pair (``unit="query"``).

    Example:
        >>> points = np.array([[0.0, 1.0], [0.1, 1.0], [1.0, 0.0], [1.0, 0.1]])
        >>> precision_per_query(points, np.array([0, 0, 1, 0]), k=1).tolist()
        [1.0, 1.0, 0.0, 0.0]
    """
    _, indices = nearest_neighbours(embeddings, k, metric)
    labels = np.asarray(labels)
    return (labels[indices] == labels[:, None]).mean(axis=1)


def retrieval_table(
    representations: dict[str, np.ndarray],
    labels: np.ndarray,
    ks: Sequence[int] = (1, 5, 10),
    metric: str = "cosine",
) -> pd.DataFrame:
    """precision@k of several representations of the same items, one row each.

    ``representations`` maps a name (``"raw pixels"``, ``"PCA"``, ``"CNN embedding"``) to an
    array with one row per item, in the same order as ``labels``. One neighbour search of
    ``max(ks)`` per representation gives every column. Columns: ``dimensions`` and
    ``precision@k`` for each ``k``.

    Example:
        >>> points = np.array([[0.0, 1.0], [0.1, 1.0], [1.0, 0.0], [1.0, 0.1]])
        >>> retrieval_table({"xy": points}, np.array([0, 0, 1, 1]), ks=(1, 2))
            dimensions  precision@1  precision@2
        xy           2          1.0          0.5
    """
    labels = np.asarray(labels)
    rows = {}
    for name, values in representations.items():
        values = np.asarray(values).reshape(len(values), -1)
        _, indices = nearest_neighbours(values, max(ks), metric)
        same = labels[indices] == labels[:, None]
        rows[name] = {"dimensions": values.shape[1]}
        rows[name].update({f"precision@{k}": float(same[:, :k].mean()) for k in ks})
    return pd.DataFrame.from_dict(rows, orient="index")


# --- classic baselines (05) ---
def fit_and_score(
    estimators: dict[str, object],
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    train_sizes: dict[str, int] | int | None = None,
    verbose: bool = True,
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Fit scikit-learn estimators one by one; time fit and predict; score on the test set.

    Images are flattened to rows of pixels (``(n, 28, 28)`` becomes ``(n, 784)``). Each
    estimator is fitted on the first ``train_sizes[name]`` training images (an ``int`` applies
    to all, ``None`` or a missing name means all of them), so pass a shuffled, class-balanced
    training set such as the one :func:`fmnist_utils.data.subset` returns. Fit and predict
    times are wall-clock seconds (``time.perf_counter``) on this machine. With ``verbose``,
    one line is printed per model as soon as it is done.

    Returns ``(table, predictions)``: the table has one row per model (index ``model``) with
    ``train images``, ``test images``, ``test accuracy``, ``fit seconds`` and
    ``predict seconds``; ``predictions`` maps each name to its predicted test labels. The
    estimators are fitted in place.

    Example:
        >>> from sklearn.dummy import DummyClassifier
        >>> x, y = np.zeros((6, 28, 28), np.uint8), np.array([0, 0, 0, 1, 1, 0])
        >>> table, _ = fit_and_score({"majority": DummyClassifier()}, x, y, x, y, verbose=False)
        >>> table["test accuracy"].round(3).tolist(), table["train images"].tolist()
        ([0.667], [6])
    """
    import time

    from sklearn.metrics import accuracy_score

    x_train = np.asarray(x_train).reshape(len(x_train), -1)
    x_test = np.asarray(x_test).reshape(len(x_test), -1)
    rows, predictions = [], {}
    for name, estimator in estimators.items():
        size = train_sizes
        if size is not None and not isinstance(size, int | np.integer):
            size = train_sizes.get(name)  # a mapping of model names to sizes
        size = len(x_train) if size is None else min(int(size), len(x_train))
        start = time.perf_counter()
        estimator.fit(x_train[:size], y_train[:size])
        fit_seconds = time.perf_counter() - start
        start = time.perf_counter()
        y_pred = np.asarray(estimator.predict(x_test))
        predict_seconds = time.perf_counter() - start
        accuracy = float(accuracy_score(y_test, y_pred))
        predictions[name] = y_pred
        rows.append(
            {
                "model": name,
                "train images": size,
                "test images": len(x_test),
                "test accuracy": accuracy,
                "fit seconds": fit_seconds,
                "predict seconds": predict_seconds,
            }
        )
        if verbose:
            print(
                f"{name}: {size:,} train images, fit {fit_seconds:.1f} s, "
                f"predict {predict_seconds:.1f} s, test accuracy {accuracy:.4f}",
                flush=True,
            )
    return pd.DataFrame(rows).set_index("model"), predictions
