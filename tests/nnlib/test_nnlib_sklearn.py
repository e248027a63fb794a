"""scikit-learn habits: predict_proba and score (against SciPy/scikit-learn when installed),
and early stopping on a chosen metric with min_delta (against a replay of the rule)."""

import functools
import json

import numpy as np
import pytest
from helpers import Interrupt, StopAt, blobs, without_time

from nnlib import MLP, evaluate, fit, get_loss, get_optimizer, metrics


def softmax(z, axis):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_predict_proba_is_the_softmax_of_the_logits_in_batches(dtype):
    x, _ = blobs(50)
    model = MLP([4, 8, 3], dtype=dtype, rng=0)
    proba = model.predict_proba(x, batch_size=7)  # float32 data: converted for float64
    logits = model.forward(x.astype(dtype))
    try:
        from scipy.special import softmax as reference
    except ImportError:  # nnlib alone: the formula by hand
        reference = softmax
    np.testing.assert_allclose(proba, reference(logits.astype(np.float64), axis=1), rtol=1e-5)
    assert proba.shape == (50, 3) and proba.dtype == dtype
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_array_equal(proba, model.predict_proba(x))  # batching changes nothing
    np.testing.assert_array_equal(proba.argmax(axis=1), model.predict(x))
    assert model.predict_proba(x[:0]).shape == (0, 3)


def test_a_single_output_is_a_binary_classifier():
    x, y = blobs(80)
    y = (y == 0).astype(np.int64)
    model = MLP([4, 8, 1], rng=0)
    fit(model, get_loss("bce_with_logits"), get_optimizer("adam", model.parameters()), x, y, 5)
    logit = model.forward(x)[:, 0].astype(np.float64)
    proba = model.predict_proba(x)
    np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp(-logit)), rtol=1e-5)
    np.testing.assert_allclose(proba[:, 0], 1 - proba[:, 1], rtol=1e-6)
    np.testing.assert_array_equal(model.predict(x), (logit > 0).astype(int))
    assert model.score(x, y) == np.mean((logit > 0) == y)


def test_score_is_accuracy():
    x, y = blobs()
    model = MLP([4, 8, 3], rng=0)
    fit(model, get_loss("cross_entropy"), get_optimizer("adam", model.parameters()), x, y, 3)
    acc = model.score(x.astype(np.float64), y)
    assert (
        acc
        == metrics.accuracy(y, model.predict(x))
        == evaluate(model, get_loss("cross_entropy"), x, y)[1]
    )
    skm = pytest.importorskip("sklearn.metrics")
    assert acc == skm.accuracy_score(y, model.predict(x))
    with pytest.raises(ValueError, match="equal length"):
        model.score(x, y[:-1])
    with pytest.raises(ValueError, match="integers"):
        model.score(x, y.astype(float))


# ---- early stopping on a metric, with min_delta ----------------------------------------


def replay(history, monitor, min_delta, patience):
    """Early stopping's rule, brute force: (best epoch, epochs run)."""
    sign = 1 if monitor == "val_accuracy" else -1
    best, best_epoch, bad = None, None, 0
    for row in history:
        value = row[monitor]
        if best is None or sign * (value - best) > min_delta:  # no ties at these deltas
            best, best_epoch, bad = value, row["epoch"], 0
        else:
            bad += 1
            if bad >= patience:
                return best_epoch, row["epoch"]
    return best_epoch, len(history)


def es_fit(**kw):
    x, y = blobs(200, spread=2.0)
    val = blobs(100, seed=1, spread=2.0)
    model = MLP([4, 32, 3], rng=0)
    opt = get_optimizer("adam", model.parameters(), lr=0.003)
    loss = get_loss("cross_entropy")
    result = fit(model, loss, opt, x, y, 60, batch_size=16, validation_data=val, **kw)
    return model, loss, val, result


@functools.cache
def unstopped_history():
    """The history the same fit has without early stopping: early stopping changes nothing
    until it stops."""
    return es_fit(early_stopping=1000)[3].history


ES_CASES = [
    ("val_loss", 0.0, 3),
    ("val_loss", 0.02, 3),
    ("val_accuracy", 0.0, 4),
    ("val_accuracy", 0.015, 2),  # accuracies are hundredths: never a tie with 0.015
]


@pytest.mark.parametrize(("monitor", "min_delta", "patience"), ES_CASES)
def test_early_stopping_follows_the_monitor_and_min_delta(monitor, min_delta, patience):
    full = unstopped_history()
    best_epoch, stop = replay(full, monitor, min_delta, patience)
    model, loss, val, result = es_fit(early_stopping=patience, monitor=monitor, min_delta=min_delta)
    assert stop < 60 and result.status == "early_stopped"
    assert (result.best_epoch, result.epochs_run) == (best_epoch, stop)
    assert result.monitor == monitor
    assert result.best_score == full[best_epoch - 1][monitor]
    assert result.best_val_loss == full[best_epoch - 1]["val_loss"]
    # the best epoch's weights are back
    val_loss, val_accuracy = evaluate(model, loss, *val)
    restored = {"val_loss": val_loss, "val_accuracy": val_accuracy}
    assert restored[monitor] == pytest.approx(result.best_score, rel=1e-6)


def test_min_delta_and_the_monitor_change_where_the_fit_stops():
    # each case above stops elsewhere, so each tests something of its own
    stops = [replay(unstopped_history(), *case) for case in ES_CASES]
    assert len(set(stops)) == len(ES_CASES)


def test_monitor_errors_and_the_fingerprint(tmp_path):
    with pytest.raises(ValueError, match="monitor must be one of val_loss, val_accuracy"):
        es_fit(early_stopping=2, monitor="val_f1")
    with pytest.raises(ValueError, match="min_delta must be a finite number >= 0"):
        es_fit(early_stopping=2, min_delta=-0.1)
    with pytest.raises(ValueError, match="set early_stopping"):
        es_fit(monitor="val_accuracy")
    x = np.zeros((10, 4), np.float32)
    model = MLP([4, 3, 1], rng=0)
    with pytest.raises(ValueError, match="needs integer class labels"):
        fit(
            model,
            get_loss("mse"),
            get_optimizer("sgd", model.parameters()),
            x,
            np.zeros(10, np.float32),
            2,
            validation_data=(x, np.zeros(10, np.float32)),
            early_stopping=2,
            monitor="val_accuracy",
        )


def test_checkpoints_know_the_monitor_and_resume_the_old_state_key(tmp_path):
    ref = es_fit(early_stopping=3)[3]
    ckpt = tmp_path / "c.npz"
    with pytest.raises(Interrupt):
        es_fit(early_stopping=3, checkpoint=ckpt, callbacks=[StopAt(4)])
    with pytest.raises(ValueError, match="other settings"):
        es_fit(early_stopping=3, checkpoint=ckpt, monitor="val_accuracy")
    # As a checkpoint of before the monitor existed stores it: best_val_loss, no digest.
    with np.load(ckpt, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    state = json.loads(arrays.pop("state").item())
    state["best_val_loss"] = state.pop("best_score")
    arrays.pop("digest")
    np.savez(ckpt, state=np.array(json.dumps(state)), **arrays)
    resumed = es_fit(early_stopping=3, checkpoint=ckpt)[3]
    assert without_time(resumed.history) == without_time(ref.history)
    assert (resumed.best_epoch, resumed.best_score) == (ref.best_epoch, ref.best_score)
