"""float64 central-difference checks of every backward: relative error < 1e-7."""

import numpy as np
import pytest

from nnlib import (
    GELU,
    MLP,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    Dense,
    Dropout,
    Identity,
    LeakyReLU,
    MixedActivation,
    MSELoss,
    ReLU,
    Residual,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
    gradcheck,
    gradcheck_module,
)

TOL = 1e-7


def away_from_kinks(rng, shape):
    """Inputs with |x| >= 0.1 so finite differences never straddle ReLU's kink."""
    x = rng.standard_normal(shape)
    return np.where(np.abs(x) < 0.1, np.sign(x) * 0.1 + x, x)


@pytest.mark.parametrize(
    "act",
    [Identity(), ReLU(), LeakyReLU(0.1), Sigmoid(), Tanh(), GELU(), GELU("tanh"), Softmax()],
    ids=lambda a: repr(a),
)
def test_activations(act, rng):
    assert gradcheck_module(act, away_from_kinks(rng, (6, 5))) < TOL


def test_mixed_activation(rng):
    act = MixedActivation(["relu", "tanh", "sigmoid", "relu", "gelu"])
    assert gradcheck_module(act, away_from_kinks(rng, (4, 5))) < TOL


@pytest.mark.parametrize("bias", [True, False])
def test_dense(bias, rng):
    layer = Dense(5, 3, init="xavier_normal", bias=bias, dtype=np.float64, rng=rng)
    if bias:
        layer.bias.data[:] = rng.standard_normal(3)
    assert gradcheck_module(layer, rng.standard_normal((7, 5))) < TOL


def test_dropout_with_fixed_mask(rng):
    drop = Dropout(0.4, rng=np.random.default_rng(3))
    x = rng.standard_normal((8, 6))
    assert gradcheck_module(drop, x) < TOL
    # the mask really drops units and scales the rest by 1 / (1 - p)
    drop.rng = np.random.default_rng(3)
    out = drop.forward(x, training=True)
    kept = out != 0
    assert 0 < kept.mean() < 1
    np.testing.assert_allclose(out[kept], x[kept] / 0.6)
    np.testing.assert_array_equal(drop.backward(np.ones_like(x)), kept / 0.6)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_dropout_drops_the_requested_share(p):
    # 2**20 units (odd batch: one 64-bit draw holds two units); the share dropped is p
    # within 5 standard deviations, and draws continue from one forward to the next.
    drop = Dropout(p, rng=np.random.default_rng(0))
    x = np.ones((1025, 1023), np.float32)
    first = drop.forward(x, training=True).copy()
    dropped = (first == 0).mean()
    assert abs(dropped - p) < 5 * np.sqrt(p * (1 - p) / x.size)
    assert set(np.unique(first)) == {0, np.float32(1 / (1 - p))}
    assert not np.array_equal(drop.forward(x, training=True), first)
    assert drop.forward(x) is x


def test_residual(rng):
    block = Residual(
        Sequential(
            Dense(4, 4, dtype=np.float64, rng=1), Tanh(), Dense(4, 4, dtype=np.float64, rng=2)
        )
    )
    assert gradcheck_module(block, rng.standard_normal((5, 4))) < TOL


def test_deep_mlp(rng):
    model = MLP(
        [6, 8, 8, 8, 8, 3],
        activation=["tanh", "gelu", "sigmoid", ["leaky_relu", "tanh"] * 4],
        init="xavier_uniform",
        dropout=0.2,
        dtype=np.float64,
        rng=rng,
    )
    assert gradcheck_module(model, rng.standard_normal((5, 6))) < TOL


def loss_gradcheck(loss, pred, target, params=None):
    loss.forward(pred, target)
    return gradcheck(lambda p: loss.forward(p, target), pred, loss.backward().copy())


def test_cross_entropy_labels_and_probabilities(rng):
    z = rng.standard_normal((6, 4)) * 3
    assert loss_gradcheck(CrossEntropyLoss(), z, rng.integers(0, 4, 6)) < TOL
    soft = rng.dirichlet(np.ones(4), 6)
    assert loss_gradcheck(CrossEntropyLoss(), z, soft) < TOL


def test_bce_and_mse(rng):
    z = rng.standard_normal(7) * 3
    assert loss_gradcheck(BCEWithLogitsLoss(), z, rng.integers(0, 2, 7).astype(float)) < TOL
    assert loss_gradcheck(BCEWithLogitsLoss(), z[:, None], rng.random(7)) < TOL
    assert loss_gradcheck(MSELoss(), rng.standard_normal((5, 3)), rng.standard_normal((5, 3))) < TOL


def test_unfused_softmax_cross_entropy_matches_fused(rng):
    z = rng.standard_normal((6, 4))
    y = rng.integers(0, 4, 6)
    fused = CrossEntropyLoss()
    value = fused.forward(z, y)
    g_fused = fused.backward()
    softmax, probs = Softmax(), CrossEntropyLoss(from_logits=False)
    assert probs.forward(softmax.forward(z, training=True), y) == pytest.approx(value, rel=1e-12)
    g_unfused = softmax.backward(probs.backward())
    np.testing.assert_allclose(g_unfused, g_fused, rtol=1e-10, atol=1e-14)
    assert loss_gradcheck(CrossEntropyLoss(from_logits=False), softmax.forward(z), y) < TOL


def test_l2_penalty_value_and_gradient(rng):
    model = MLP([3, 4, 2], dtype=np.float64, rng=rng)
    x, y = rng.standard_normal((5, 3)), rng.integers(0, 2, 5)
    loss = CrossEntropyLoss(l2=0.3)
    params = model.parameters()

    def total():
        return loss.forward(model.forward(x, training=True), y, params)

    plain = CrossEntropyLoss().forward(model.forward(x), y)
    weights = sum(float(np.sum(p.data**2)) for p in params if p.data.ndim == 2)
    assert total() == pytest.approx(plain + 0.15 * weights, rel=1e-12)
    total()
    model.backward(loss.backward())
    loss.penalty_backward(params)
    for p in params:
        assert gradcheck(lambda _: total(), p.data, p.grad.copy()) < TOL
