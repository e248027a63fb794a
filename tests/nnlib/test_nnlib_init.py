"""Initializers follow torch.nn.init's formulas with fan_in = in_features."""

import math

import numpy as np
import pytest

from nnlib import Dense, calculate_gain, get_initializer


@pytest.mark.parametrize(
    ("name", "kw", "std"),
    [
        ("he_normal", {}, math.sqrt(2 / 400)),
        ("he_normal", {"mode": "fan_out"}, math.sqrt(2 / 300)),
        ("he_normal", {"nonlinearity": "tanh"}, (5 / 3) / math.sqrt(400)),
        ("he_uniform", {}, math.sqrt(2 / 400)),
        ("xavier_normal", {}, math.sqrt(2 / 700)),
        ("xavier_uniform", {"gain": 2.0}, 2 * math.sqrt(2 / 700)),
        ("normal", {"std": 0.3}, 0.3),
        ("uniform", {"a": -0.5, "b": 0.5}, 1 / math.sqrt(12)),
    ],
)
def test_standard_deviation(name, kw, std):
    w = get_initializer(name, **kw)((400, 300), np.random.default_rng(0), np.float64)
    assert w.shape == (400, 300)
    assert w.std() == pytest.approx(std, rel=0.01)
    assert abs(w.mean()) < 0.01 * std + 1e-3 * std * 10


def test_uniform_bounds():
    rng = np.random.default_rng(0)
    w = get_initializer("he_uniform")((400, 300), rng)
    bound = math.sqrt(6 / 400)
    assert w.dtype == np.float32 and np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    w = get_initializer("xavier_uniform")((400, 300), rng, np.float64)
    assert np.abs(w).max() <= math.sqrt(6 / 700)


def test_dense_uses_in_features_as_fan_in():
    layer = Dense(1000, 10, init="he_normal", dtype=np.float64, rng=0)
    assert layer.weight.data.shape == (1000, 10) and layer.bias.data.shape == (10,)
    assert layer.weight.data.std() == pytest.approx(math.sqrt(2 / 1000), rel=0.05)
    assert not layer.bias.data.any()
    assert not get_initializer("zeros")((3, 2)).any()


def test_gains_match_torch_when_installed():
    expected = {"linear": 1.0, "sigmoid": 1.0, "tanh": 5 / 3, "relu": math.sqrt(2), "selu": 0.75}
    for name, gain in expected.items():
        assert calculate_gain(name) == pytest.approx(gain)
    assert calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    torch = pytest.importorskip("torch")
    for name in expected:
        assert calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name))


def test_same_seed_same_weights_and_both_precisions_agree():
    a = Dense(7, 5, rng=3).weight.data
    b = Dense(7, 5, rng=np.random.default_rng(3)).weight.data
    c = Dense(7, 5, dtype=np.float64, rng=3).weight.data
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c.astype(np.float32))
    assert not np.array_equal(a, Dense(7, 5, rng=4).weight.data)
