"""Classification metrics on integer class ids (match scikit-learn with zero_division=0)."""

from __future__ import annotations

import numpy as np


def _labels(y_true, y_pred, n_classes):
    t, p = np.asarray(y_true), np.asarray(y_pred)
    if t.ndim != 1 or t.shape != p.shape:
        raise ValueError(
            f"y_true and y_pred must be 1-D of equal length, got {t.shape} and {p.shape}"
        )
    if t.dtype.kind not in "iu" or p.dtype.kind not in "iu":
        raise ValueError(f"labels must be integers, got {t.dtype} and {p.dtype}")
    if t.size and min(t.min(), p.min()) < 0:
        raise ValueError("labels must be >= 0")
    seen = int(max(t.max(), p.max())) + 1 if t.size else 0
    if n_classes is None:
        n_classes = seen
    elif seen > n_classes:
        raise ValueError(f"labels go up to {seen - 1} but n_classes is {n_classes}")
    return t, p, int(n_classes)


def accuracy(y_true, y_pred) -> float:
    """Fraction of equal entries."""
    t, p, _ = _labels(y_true, y_pred, None)
    if t.size == 0:
        raise ValueError("accuracy of an empty set is undefined")
    return float(np.mean(t == p))


def confusion_matrix(y_true, y_pred, n_classes: int | None = None) -> np.ndarray:
    """(n_classes, n_classes) int64 counts; row = true class, column = predicted class."""
    t, p, k = _labels(y_true, y_pred, n_classes)
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k).astype(np.int64)


def precision_recall_f1(y_true, y_pred, n_classes: int | None = None) -> dict:
    """Per-class and macro precision, recall and F1 over classes 0..n_classes-1.

    Returns {"precision", "recall", "f1", "support"} (per-class arrays) and
    {"precision_macro", "recall_macro", "f1_macro"} (floats). A ratio with a zero
    denominator counts as 0 (scikit-learn's zero_division=0).
    """
    cm = confusion_matrix(y_true, y_pred, n_classes)
    tp = np.diag(cm).astype(np.float64)
    pred_pos, support = cm.sum(axis=0), cm.sum(axis=1)
    precision = np.divide(tp, pred_pos, out=np.zeros_like(tp), where=pred_pos > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "support": support,
        "precision_macro": float(precision.mean()) if tp.size else 0.0,
        "recall_macro": float(recall.mean()) if tp.size else 0.0,
        "f1_macro": float(f1.mean()) if tp.size else 0.0,
    }
