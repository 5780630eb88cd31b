"""Metrics tables with scikit-learn: overall, per class, and the pairs a model confuses.

Example:
    >>> y_true = np.array([0, 0, 1, 1]); y_pred = np.array([0, 1, 1, 1])
    >>> per_class_accuracy(y_true, y_pred, class_names=["a", "b"]).round(2).tolist()
    [0.5, 1.0]
"""

from __future__ import annotations

from collections.abc import Sequence

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
