"""Training actually learns: XOR, least squares, 2-D spirals and the 8x8 digits."""

import numpy as np
import pytest

from nnlib import MLP, Dense, Sequential, fit, get_loss, get_optimizer, metrics


def test_xor():
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([0, 1, 1, 0])
    model = MLP([2, 8, 2], activation="tanh", init="xavier_normal", rng=0)
    opt = get_optimizer("adam", model.parameters(), lr=0.05)
    result = fit(model, get_loss("cross_entropy"), opt, x, y, epochs=200, batch_size=4, seed=0)
    assert result.status == "ok"
    np.testing.assert_array_equal(model.predict(x), y)
    assert result.history[-1]["train_loss"] < 0.05


def test_least_squares_with_sgd_momentum():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((256, 5))
    w_true, b_true = rng.standard_normal(5), 0.7
    y = x @ w_true + b_true
    model = Sequential(Dense(5, 1, init="zeros", dtype=np.float64))
    opt = get_optimizer("sgd", model.parameters(), lr=0.05, momentum=0.9)
    result = fit(model, get_loss("mse"), opt, x, y, epochs=60, batch_size=32, seed=0)
    assert result.status == "ok"
    solution, *_ = np.linalg.lstsq(np.c_[x, np.ones(len(x))], y, rcond=None)
    np.testing.assert_allclose(model.layers[0].weight.data[:, 0], solution[:5], atol=1e-6)
    assert model.layers[0].bias.data[0] == pytest.approx(solution[5], abs=1e-6)
    assert result.history[-1]["train_loss"] < 1e-10


def spirals(n_per_class, n_classes, rng):
    """Interleaved arms of a 2-D spiral with a little noise."""
    xs, ys = [], []
    for k in range(n_classes):
        r = np.linspace(0.05, 1, n_per_class)
        theta = 3.5 * r + 2 * np.pi * k / n_classes + rng.normal(0, 0.08, n_per_class)
        xs.append(np.c_[r * np.sin(theta), r * np.cos(theta)])
        ys.append(np.full(n_per_class, k))
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys)


def test_spirals_above_95_percent():
    rng = np.random.default_rng(2)
    x, y = spirals(400, 3, rng)
    perm = rng.permutation(len(x))
    train, test = perm[:900], perm[900:]
    model = MLP([2, 64, 64, 3], activation="relu", rng=3)
    opt = get_optimizer("adam", model.parameters(), lr=0.01)
    result = fit(
        model,
        get_loss("cross_entropy"),
        opt,
        x[train],
        y[train],
        epochs=60,
        batch_size=32,
        validation_data=(x[test], y[test]),
        seed=4,
    )
    assert result.status == "ok"
    assert metrics.accuracy(y[test], model.predict(x[test])) > 0.95


def test_digits_at_least_97_percent():
    load_digits = pytest.importorskip("sklearn.datasets").load_digits

    digits = load_digits()
    x, y = digits.data.astype(np.float32), digits.target
    perm = np.random.default_rng(0).permutation(len(x))
    train, test = perm[:1347], perm[1347:]
    mean, std = x[train].mean(axis=0), x[train].std(axis=0) + 1e-6
    x = (x - mean) / std
    model = MLP([64, 128, 10], activation="relu", rng=0)
    opt = get_optimizer("adam", model.parameters(), lr=1e-3)
    loss = get_loss("cross_entropy", l2=1e-4)
    result = fit(model, loss, opt, x[train], y[train], epochs=30, batch_size=32, seed=0)
    assert result.status == "ok"
    assert metrics.accuracy(y[test], model.predict(x[test])) >= 0.97
