"""Metrics equal scikit-learn's."""

import numpy as np
import pytest

from nnlib import metrics


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_against_sklearn_on_random_labels(seed):
    skm = pytest.importorskip("sklearn.metrics")  # absent where nnlib is installed alone
    rng = np.random.default_rng(seed)
    k = 6
    y_true, y_pred = rng.integers(0, k, 300), rng.integers(0, k, 300)
    y_pred[y_pred == 5] = 4  # a class that is never predicted: zero-division path
    labels = list(range(k))
    assert metrics.accuracy(y_true, y_pred) == skm.accuracy_score(y_true, y_pred)
    np.testing.assert_array_equal(
        metrics.confusion_matrix(y_true, y_pred, k),
        skm.confusion_matrix(y_true, y_pred, labels=labels),
    )
    got = metrics.precision_recall_f1(y_true, y_pred, k)
    p, r, f, s = skm.precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    np.testing.assert_allclose(got["precision"], p, rtol=1e-12)
    np.testing.assert_allclose(got["recall"], r, rtol=1e-12)
    np.testing.assert_allclose(got["f1"], f, rtol=1e-12)
    np.testing.assert_array_equal(got["support"], s)
    for key, name in (
        ("precision_macro", "precision"),
        ("recall_macro", "recall"),
        ("f1_macro", "f1"),
    ):
        want = getattr(skm, f"{name}_score")(
            y_true, y_pred, labels=labels, average="macro", zero_division=0
        )
        assert got[key] == pytest.approx(want, rel=1e-12)


def test_bad_labels():
    with pytest.raises(ValueError, match="equal length"):
        metrics.accuracy([0, 1], [0])
    with pytest.raises(ValueError, match="n_classes is 2"):
        metrics.confusion_matrix([0, 2], [0, 1], n_classes=2)
    with pytest.raises(ValueError, match="integers"):
        metrics.accuracy([0.5], [1.0])
