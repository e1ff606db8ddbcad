r"""Classification metrics: accuracy, macro-F1 and the confusion matrix.

With the confusion matrix :math:`M` (rows: true class, columns: predicted class), class c's
precision :math:`P_c = M_{cc} / \sum_r M_{rc}`, recall :math:`R_c = M_{cc} / \sum_k M_{ck}` and
:math:`F1_c = 2 P_c R_c / (P_c + R_c)`; macro-F1 is the mean of :math:`F1_c` over the classes, so a
rare class counts as much as a common one. A class never predicted has precision 0, and a 0/0 F1
is 0 (scikit-learn's ``zero_division=0``).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["class_order", "classification_metrics", "label_accuracy"]


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[str]) -> dict:
    """Accuracy, macro-F1 and the confusion matrix (rows: true class, columns: predicted, in ``classes``
    order). ``y_true`` and ``y_pred`` are class indices into ``classes``. A class never predicted has
    precision 0 (scikit-learn's ``zero_division=0``).

    Returns ``{"accuracy", "macro_f1", "f1": {class: F1}, "confusion_matrix": [[...]]}``.
    """
    C = len(classes)
    cm = np.zeros((C, C), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true), np.asarray(y_pred)), 1)
    tp = np.diag(cm).astype(float)
    predicted, actual = cm.sum(0).astype(float), cm.sum(1).astype(float)
    precision = np.divide(tp, predicted, out=np.zeros(C), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros(C), where=actual > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(C), where=precision + recall > 0)
    return {"accuracy": float(tp.sum() / max(cm.sum(), 1)), "macro_f1": float(f1.mean()),
            "f1": {c: float(v) for c, v in zip(classes, f1)}, "confusion_matrix": cm.tolist()}


def class_order(labels: Sequence[str]) -> list[str]:
    """The classes of ``labels`` in a model's output order: numerically when every label is a number
    ("2" before "10"), else alphabetically."""
    unique = sorted(set(labels))
    try:
        return sorted(unique, key=float)
    except ValueError:
        return unique


def label_accuracy(logits, labels) -> float:
    """Share of rows whose highest logit is the true class: ``logits`` (N, C) and ``labels`` (N,) torch
    tensors (a :class:`lstmkit.train.Trainer` metric, computed per batch)."""
    return float((logits.argmax(-1) == labels).float().mean())
