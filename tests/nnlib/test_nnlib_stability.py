"""Inputs of magnitude 1e4: finite results and not a single floating-point warning."""

import numpy as np
import pytest

from nnlib import MLP, BCEWithLogitsLoss, CrossEntropyLoss, get_activation

pytestmark = pytest.mark.filterwarnings("error")

NAMES = ["identity", "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "softmax"]


def extreme(dtype):
    return np.array([[-1e4, -30.0, 0.0, 30.0, 1e4], [1e4, 1e4, -1e4, 5.0, -1e4]], dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", [*NAMES, "gelu_tanh"])
def test_activations(name, dtype):
    act = (
        get_activation("gelu", approximate="tanh") if name == "gelu_tanh" else get_activation(name)
    )
    x = extreme(dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = act.forward(x, training=True)
        g = act.backward(np.ones_like(x))
    assert y.dtype == dtype and g.dtype == dtype
    assert np.isfinite(y).all() and np.isfinite(g).all()


def test_sigmoid_and_softmax_values_at_extremes():
    x = extreme(np.float64)
    s = get_activation("sigmoid").forward(x)
    assert s[0, 0] == 0.0 and s[0, 4] == 1.0 and s[0, 2] == 0.5
    p = get_activation("softmax").forward(x)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_losses(dtype):
    z = extreme(dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        ce = CrossEntropyLoss()
        value = ce.forward(z, np.array([0, 1]))
        g = ce.backward()
        bce = BCEWithLogitsLoss()
        v2 = bce.forward(z[0], np.array([1.0, 0, 1, 0, 1]))
        g2 = bce.backward()
    # row 0: lse - z_0 = 1e4 + 1e4; row 1: two tied maxima give log(2)
    assert np.isfinite(value) and value == pytest.approx((2e4 + np.log(2)) / 2, rel=1e-6)
    assert np.isfinite(g).all() and np.isfinite(v2) and np.isfinite(g2).all()


def test_mlp_with_huge_inputs():
    model = MLP([5, 8, 8, 3], activation=["tanh", "sigmoid"], rng=0)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = model.forward(extreme(np.float32))
    assert np.isfinite(out).all()
