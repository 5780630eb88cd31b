"""Out of distribution: telling "no garment" from "a garment", and images to test that with.

A classifier's softmax always names one of its ten classes, so a checkerboard, a cat or a digit
gets a garment label, often a confident one. An out-of-distribution (OOD) *score* says how much
an input looks like the training data; below a threshold the service answers "not a garment /
unsure" instead of a class. Three scores, all computed from one forward pass:

* **max softmax probability** (Hendrycks & Gimpel 2017) after temperature scaling: how sure the
  model is of its top class;
* **energy** (Liu et al. 2020): ``T * logsumexp(logits / T)``, the softmax's normaliser, which
  keeps the logits' overall size that the probabilities throw away;
* **Mahalanobis distance** (Lee et al. 2018) of the penultimate features to the nearest class
  mean under one shared covariance (Ledoit-Wolf shrinkage): how far the image's internal
  description is from every class the model knows.

Every score here is "higher = more like Fashion-MNIST". The threshold is fitted on validation
images (:func:`fit_threshold`: the score that a share ``reject`` of them fall below), never on the
test set or on the OOD images themselves; which score to use is decided on a *validation* OOD
set (other seeds, MNIST training digits), and the verdicts are reported on separate test sets.

Images that are no garment (:func:`no_garment_images`): uniform and smooth noise, discs, rings,
rectangles and triangles, checkerboards and stripes, random strokes, and MNIST digits, each a
28x28 uint8 image, light on black like Fashion-MNIST.

Example:
    >>> probs = np.array([[0.98, 0.02], [0.55, 0.45]])
    >>> max_softmax(probs).round(2)
    array([0.98, 0.55])
    >>> fit_threshold(np.array([0.9, 0.8, 0.95, 0.2]), reject=0.25) > 0.2
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: The kinds of image :func:`no_garment_images` draws, besides ``mnist`` (real digits).
SYNTHETIC_KINDS = ("noise", "smooth_noise", "shapes", "checkerboard", "stripes", "strokes")
#: The scores :func:`scores` computes.
SCORES = ("max_softmax", "energy", "mahalanobis")


# --------------------------------------------------------------------------------------------
# Scores (higher = more like the training data)
# --------------------------------------------------------------------------------------------
def max_softmax(probabilities: np.ndarray) -> np.ndarray:
    """The largest class probability of each row: the baseline OOD score.

    Example:
        >>> max_softmax(np.array([[0.1, 0.9], [0.5, 0.5]])).tolist()
        [0.9, 0.5]
    """
    return np.asarray(probabilities, dtype=np.float64).max(axis=1)


def energy(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Negative free energy ``T * logsumexp(logits / T)`` of each row (Liu et al. 2020).

    Example:
        >>> energy(np.array([[10.0, 0.0], [1.0, 0.0]])).round(3).tolist()
        [10.0, 1.313]
    """
    from scipy.special import logsumexp

    logits = np.asarray(logits, dtype=np.float64)
    return temperature * logsumexp(logits / temperature, axis=1)


@dataclass
class Mahalanobis:
    """Class means and one shared precision matrix of penultimate features (Lee et al. 2018).

    :meth:`fit` on the training features and labels; :meth:`score` is minus the squared
    Mahalanobis distance to the nearest class mean (higher = closer to a known class). The
    covariance is shrunk with Ledoit-Wolf (:class:`sklearn.covariance.LedoitWolf`), so a few
    thousand images are enough even for a thousand features.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> features = np.concatenate([rng.normal(0, 1, (200, 3)), rng.normal(5, 1, (200, 3))])
        >>> maha = Mahalanobis.fit(features, np.repeat([0, 1], 200))
        >>> maha.score(np.array([[0.0, 0, 0], [20.0, 20, 20]])).round(0) < -50
        array([False,  True])
    """

    means: np.ndarray
    precision: np.ndarray

    def __post_init__(self) -> None:
        # what every score needs, computed once: P in float64, P mu_k and mu_k' P mu_k
        self._precision = np.asarray(self.precision, dtype=np.float64)
        means = np.asarray(self.means, dtype=np.float64)
        self._projected_means = means @ self._precision
        self._means_term = np.sum(self._projected_means * means, axis=1)

    @classmethod
    def fit(cls, features: np.ndarray, labels: np.ndarray) -> Mahalanobis:
        from sklearn.covariance import LedoitWolf

        features = np.asarray(features, dtype=np.float64)
        labels = np.asarray(labels)
        classes = np.unique(labels)
        means = np.stack([features[labels == c].mean(axis=0) for c in classes])
        centred = features - means[np.searchsorted(classes, labels)]
        precision = LedoitWolf(assume_centered=True).fit(centred).precision_
        return cls(means=means.astype(np.float32), precision=precision.astype(np.float32))

    def score(self, features: np.ndarray) -> np.ndarray:
        """Minus the smallest squared distance of each row of ``features`` to a class mean.

        Expanded as ``f'Pf - 2 f'P mu_k + mu_k'P mu_k`` with the class terms computed once,
        so one image costs one product with the precision matrix, not one per class.
        """
        features = np.asarray(features, dtype=np.float64)
        distances = (
            np.sum((features @ self._precision) * features, axis=1)[:, None]
            - 2.0 * features @ self._projected_means.T
            + self._means_term[None, :]
        )
        return -distances.min(axis=1)


def logits_and_features(model, images: np.ndarray, batch_size: int = 1000):
    """The logits and the penultimate features (the last layer's input) of prepared images.

    For a model ending in a softmax Dense layer the logits are that layer's output before the
    softmax; for any other model the log of its output stands in for them.

    Example:
        >>> logits, features = logits_and_features(model, prepare(x_val))  # doctest: +SKIP
        >>> logits.shape, features.shape  # doctest: +SKIP
        ((5000, 10), (5000, 1152))
    """
    import keras

    from fmnist_utils import explain

    last = model.layers[-1]
    head = explain._logit_head(last)
    if head is None:
        sub = keras.Model(model.inputs[0], model.outputs[0])
        features = sub.predict(images, batch_size=batch_size, verbose=0)
        return np.log(np.clip(features, 1e-12, None)).astype(np.float64), features
    sub = keras.Model(model.inputs[0], last.input)
    features = sub.predict(images, batch_size=batch_size, verbose=0)
    logits = features @ np.asarray(last.kernel)
    if last.bias is not None:
        logits = logits + np.asarray(last.bias)
    return logits.astype(np.float64), features


def scores(
    logits: np.ndarray,
    features: np.ndarray | None = None,
    temperature: float = 1.0,
    mahalanobis: Mahalanobis | None = None,
) -> pd.DataFrame:
    """Every score of :data:`SCORES` that the inputs allow, one column each.

    ``logits`` are the model's pre-softmax outputs; ``temperature`` scales them before the
    softmax (the max-softmax score) and in the energy; ``mahalanobis`` needs ``features``.

    Example:
        >>> scores(np.array([[4.0, 0.0], [0.1, 0.0]])).columns.tolist()
        ['max_softmax', 'energy']
    """
    from scipy.special import softmax

    logits = np.asarray(logits, dtype=np.float64)
    table = {
        "max_softmax": max_softmax(softmax(logits / temperature, axis=1)),
        "energy": energy(logits, temperature),
    }
    if mahalanobis is not None and features is not None:
        table["mahalanobis"] = mahalanobis.score(features)
    return pd.DataFrame(table)


def fit_threshold(validation_scores: np.ndarray, reject: float = 0.05) -> float:
    """The score below which a share ``reject`` of the validation images fall.

    Images scoring below it get "not a garment / unsure"; on images like the validation set,
    about ``reject`` of them are turned away.

    Example:
        >>> fit_threshold(np.arange(100.0), reject=0.05)
        4.95
    """
    if not 0.0 < reject < 1.0:
        raise ValueError(f"reject must be a share between 0 and 1; got {reject}")
    return float(np.quantile(np.asarray(validation_scores, dtype=np.float64), reject))


def detection_table(
    in_scores: pd.DataFrame,
    out_scores: pd.DataFrame,
    out_kinds: np.ndarray,
    thresholds: dict[str, float],
) -> pd.DataFrame:
    """How each score separates garments (``in_scores``) from no-garments (``out_scores``).

    One row per score: the share of in-distribution images rejected at its threshold, the
    share of OOD images flagged (all and per kind) and the AUROC
    (:func:`sklearn.metrics.roc_auc_score`, 1.0 = perfect ranking, 0.5 = chance).

    Example:
        >>> inside = pd.DataFrame({"s": [0.9, 0.8, 0.95, 0.7]})
        >>> outside = pd.DataFrame({"s": [0.1, 0.75]})
        >>> table = detection_table(inside, outside, np.array(["a", "b"]), {"s": 0.72})
        >>> table.loc["s", "auroc"].item(), table.loc["s", "flagged_a"].item()
        (0.875, 1.0)
    """
    from sklearn.metrics import roc_auc_score

    out_kinds = np.asarray(out_kinds)
    rows = {}
    for name, threshold in thresholds.items():
        inside, outside = in_scores[name].to_numpy(), out_scores[name].to_numpy()
        row = {
            "threshold": threshold,
            "garments_rejected": float(np.mean(inside < threshold)),
            "no_garments_flagged": float(np.mean(outside < threshold)),
            "auroc": float(
                roc_auc_score(
                    np.r_[np.ones(len(inside)), np.zeros(len(outside))], np.r_[inside, outside]
                )
            ),
        }
        for kind in dict.fromkeys(out_kinds):
            row[f"flagged_{kind}"] = float(np.mean(outside[out_kinds == kind] < threshold))
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")


# --------------------------------------------------------------------------------------------
# Images that are no garment
# --------------------------------------------------------------------------------------------
def _shape(rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    cy, cx = rng.uniform(8, 20, 2)
    radius = rng.uniform(4, 12)
    kind = rng.integers(4)
    if kind == 0:  # a disc
        return ((yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2).astype(float)
    if kind == 1:  # a ring
        d = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
        return (np.abs(d - radius) <= rng.uniform(1, 3)).astype(float)
    if kind == 2:  # a rectangle
        h, w = rng.uniform(4, 12, 2)
        return ((np.abs(yy - cy) <= h) & (np.abs(xx - cx) <= w)).astype(float)
    # a triangle: below two lines through the apex
    slope = rng.uniform(0.5, 2.0)
    return ((yy >= cy - radius) & (yy <= cy + radius)
            & (np.abs(xx - cx) <= (yy - cy + radius) / slope)).astype(float)  # fmt: skip


def _synthetic(kind: str, rng: np.random.Generator) -> np.ndarray:
    from scipy import ndimage

    yy, xx = np.mgrid[0:28, 0:28].astype(float)
    if kind == "noise":
        image = rng.uniform(0, 1, (28, 28))
    elif kind == "smooth_noise":
        image = ndimage.gaussian_filter(rng.normal(0, 1, (28, 28)), rng.uniform(1.5, 3))
        image = (image - image.min()) / (np.ptp(image) + 1e-9)
    elif kind == "shapes":
        image = np.clip(sum(_shape(rng, yy, xx) * rng.uniform(0.4, 1) for _ in range(2)), 0, 1)
    elif kind == "checkerboard":
        cell = rng.integers(2, 8)
        image = ((yy // cell + xx // cell) % 2).astype(float)
    elif kind == "stripes":
        angle = rng.uniform(0, np.pi)
        period = rng.uniform(3, 9)
        image = 0.5 + 0.5 * np.sin(2 * np.pi * (xx * np.cos(angle) + yy * np.sin(angle)) / period)
    elif kind == "strokes":
        image = np.zeros((28, 28))
        for _ in range(rng.integers(2, 5)):
            (y0, x0), (y1, x1) = rng.uniform(3, 25, (2, 2))
            t = np.linspace(0, 1, 60)[:, None]
            points = np.round((1 - t) * [y0, x0] + t * [y1, x1]).astype(int)
            image[points[:, 0], points[:, 1]] = 1.0
        image = np.clip(ndimage.gaussian_filter(image, 0.8) * 2.5, 0, 1)
    else:
        raise ValueError(f"unknown kind {kind!r}; choose from {', '.join(SYNTHETIC_KINDS)}")
    return np.round(255 * image).astype(np.uint8)


def no_garment_images(
    per_kind: int = 50,
    seed: int = 0,
    digits: np.ndarray | None = None,
    kinds: tuple[str, ...] = SYNTHETIC_KINDS,
) -> tuple[np.ndarray, np.ndarray]:
    """``per_kind`` 28x28 uint8 images of each synthetic kind, plus MNIST ``digits`` if given.

    Returns ``(images (n, 28, 28), kinds (n,))``. The same ``seed`` gives the same images; use
    one seed (and the MNIST training digits) to choose a score, another (and the test digits)
    to report it. ``digits`` are used as given (pass ``x_test[:per_kind]`` of MNIST).

    Example:
        >>> images, kinds = no_garment_images(per_kind=2, seed=0)
        >>> images.shape, images.dtype, sorted(set(kinds.tolist()))[:2]
        ((12, 28, 28), dtype('uint8'), ['checkerboard', 'noise'])
    """
    rng = np.random.default_rng(seed)
    images = [_synthetic(kind, rng) for kind in kinds for _ in range(per_kind)]
    labels = [kind for kind in kinds for _ in range(per_kind)]
    if digits is not None:
        images.extend(np.asarray(digits, dtype=np.uint8))
        labels.extend(["mnist"] * len(digits))
    return np.stack(images), np.array(labels)
