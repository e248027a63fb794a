"""BatchNorm1d and LayerNorm: torch.nn's formulas (by hand, and against torch itself in
float64 when installed), gradient checks, buffers that optimizers do not see but save/load,
checkpoints and best-weights restoration keep, and their place in MLP."""

import numpy as np
import pytest
from helpers import Interrupt

from nnlib import (
    MLP,
    BatchNorm1d,
    ForwardStateError,
    LayerNorm,
    Sequential,
    fit,
    get_loss,
    get_norm,
    get_optimizer,
    gradcheck_module,
    load_model,
    save_model,
)

TOL = 1e-7


def batch(rng, n=8, c=5, dtype=np.float64):
    return (rng.standard_normal((n, c)) * 3 + 1).astype(dtype)


# ---- the formulas, by hand -------------------------------------------------------------


def test_batchnorm_training_and_running_statistics_by_hand(rng):
    bn = BatchNorm1d(5, dtype=np.float64)
    bn.weight.data[:] = rng.standard_normal(5)
    bn.bias.data[:] = rng.standard_normal(5)
    xs = [batch(rng) for _ in range(3)]
    mean, var = np.zeros(5), np.ones(5)
    for x in xs:
        out = bn.forward(x, training=True)
        mu, v = x.mean(axis=0), x.var(axis=0)
        want = (x - mu) / np.sqrt(v + 1e-5) * bn.weight.data + bn.bias.data
        np.testing.assert_allclose(out, want, rtol=1e-13, atol=1e-13)
        mean = 0.9 * mean + 0.1 * mu
        var = 0.9 * var + 0.1 * x.var(axis=0, ddof=1)  # the running variance is unbiased
    np.testing.assert_allclose(bn.running_mean, mean, rtol=1e-13)
    np.testing.assert_allclose(bn.running_var, var, rtol=1e-13)
    assert int(bn.num_batches_tracked) == 3
    x = batch(rng)
    want = (x - mean) / np.sqrt(var + 1e-5) * bn.weight.data + bn.bias.data
    np.testing.assert_allclose(bn.forward(x), want, rtol=1e-13, atol=1e-13)


def test_batchnorm_cumulative_average_and_without_running_statistics(rng):
    bn = BatchNorm1d(5, momentum=None, dtype=np.float64)
    xs = [batch(rng) for _ in range(4)]
    for x in xs:
        bn.forward(x, training=True)
    np.testing.assert_allclose(bn.running_mean, np.mean([x.mean(0) for x in xs], 0), rtol=1e-13)
    free = BatchNorm1d(5, track_running_stats=False, affine=False, dtype=np.float64)
    assert free.buffers() == [] and free.parameters() == []
    x = batch(rng)
    want = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5)
    np.testing.assert_allclose(free.forward(x), want, rtol=1e-13, atol=1e-13)  # eval: batch's
    with pytest.raises(ValueError, match="more than 1 sample"):
        bn.forward(x[:1], training=True)


def test_layernorm_by_hand_same_in_training_and_evaluation(rng):
    ln = LayerNorm(5, dtype=np.float64)
    ln.weight.data[:] = rng.standard_normal(5)
    ln.bias.data[:] = rng.standard_normal(5)
    x = batch(rng)
    mu, v = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
    want = (x - mu) / np.sqrt(v + 1e-5) * ln.weight.data + ln.bias.data
    np.testing.assert_allclose(ln.forward(x, training=True), want, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(ln.forward(x), want, rtol=1e-13, atol=1e-13)
    assert ln.buffers() == []
    assert len(LayerNorm(5, bias=False).parameters()) == 1
    assert LayerNorm(5, elementwise_affine=False).parameters() == []


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cls", [BatchNorm1d, LayerNorm])
def test_dtype_is_kept_and_another_dtype_refused(cls, dtype, rng):
    layer = cls(5, dtype=dtype)
    x = batch(rng, dtype=dtype)
    out = layer.forward(x, training=True)
    g = layer.backward(np.ones_like(out))
    assert out.dtype == dtype and g.dtype == dtype
    assert all(p.data.dtype == dtype and p.grad.dtype == dtype for p in layer.parameters())
    assert all(b.dtype == dtype for b in layer.buffers()[:2])
    other = np.float32 if dtype == np.float64 else np.float64
    with pytest.raises(ValueError, match=f"expects {np.dtype(dtype).name} input"):
        layer.forward(x.astype(other))
    with pytest.raises(ValueError, match=r"shape \(n, 5\)"):
        layer.forward(x[:, :3])


@pytest.mark.parametrize("cls", [BatchNorm1d, LayerNorm])
def test_backward_before_a_training_forward_is_refused(cls, rng):
    layer = cls(5, dtype=np.float64)
    with pytest.raises(ForwardStateError, match="before backward"):
        layer.backward(np.ones((8, 5)))
    layer.forward(batch(rng))
    with pytest.raises(ForwardStateError):
        layer.backward(np.ones((8, 5)))


# ---- gradients ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "layer",
    [
        BatchNorm1d(5, dtype=np.float64),
        BatchNorm1d(5, affine=False, dtype=np.float64),
        BatchNorm1d(5, track_running_stats=False, dtype=np.float64),
        LayerNorm(5, dtype=np.float64),
        LayerNorm(5, bias=False, dtype=np.float64),
        LayerNorm(5, elementwise_affine=False, dtype=np.float64),
    ],
    ids=repr,
)
def test_gradcheck(layer, rng):
    for p in layer.parameters():
        p.data[:] = rng.standard_normal(p.shape)
    assert gradcheck_module(layer, batch(rng)) < TOL


@pytest.mark.parametrize("residual", [False, True])
def test_gradcheck_mlp_with_norms(residual, rng):
    def mlp(bias):
        return MLP(
            [6, 7, 7, 3],
            activation="tanh",
            norm=["batch", "layer"],
            dropout=0.1,
            residual=residual,
            bias=bias,
            dtype=np.float64,
            rng=0,
        )

    x = rng.standard_normal((9, 6))
    # Batch normalization cancels the bias of the Dense before it (its exact gradient is
    # zero, so a relative error against finite-difference noise means nothing): gradcheck
    # without biases, and check that one is zero with them.
    assert gradcheck_module(mlp(False), x) < TOL
    model = mlp(True)
    model.forward(x, training=True)
    model.backward(rng.standard_normal((9, 3)))
    dense = next(m for m in model.modules() if type(m).__name__ == "Dense")
    assert np.abs(dense.bias.grad).max() < 1e-12 < np.abs(dense.weight.grad).max()


# ---- against torch ------------------------------------------------------------------------


def to_torch(torch, a):
    return torch.tensor(np.asarray(a), dtype=torch.float64)


@pytest.mark.parametrize("momentum", [0.1, 0.3, None])
@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm_equals_torch(momentum, affine, rng):
    torch = pytest.importorskip("torch")
    ours = BatchNorm1d(5, eps=1e-3, momentum=momentum, affine=affine, dtype=np.float64)
    theirs = torch.nn.BatchNorm1d(5, eps=1e-3, momentum=momentum, affine=affine).double()
    if affine:
        w, b = rng.standard_normal(5), rng.standard_normal(5)
        ours.weight.data[:], ours.bias.data[:] = w, b
        with torch.no_grad():
            theirs.weight.copy_(to_torch(torch, w))
            theirs.bias.copy_(to_torch(torch, b))
    theirs.train()
    for _ in range(4):
        x, g = batch(rng), rng.standard_normal((8, 5))
        tx = to_torch(torch, x).requires_grad_(True)
        out = theirs(tx)
        out.backward(to_torch(torch, g))
        np.testing.assert_allclose(ours.forward(x, training=True), out.detach().numpy(), 1e-12)
        np.testing.assert_allclose(ours.backward(g), tx.grad.numpy(), rtol=1e-11, atol=1e-13)
        if affine:
            np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), 1e-12)
            np.testing.assert_allclose(ours.bias.grad, theirs.bias.grad.numpy(), 1e-12)
            theirs.weight.grad = theirs.bias.grad = None
        np.testing.assert_allclose(ours.running_mean, theirs.running_mean.numpy(), 1e-13)
        np.testing.assert_allclose(ours.running_var, theirs.running_var.numpy(), 1e-13)
    assert int(ours.num_batches_tracked) == int(theirs.num_batches_tracked) == 4
    theirs.eval()
    x = batch(rng)
    want = theirs(to_torch(torch, x)).detach().numpy()
    np.testing.assert_allclose(ours.forward(x), want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(("affine", "bias"), [(True, True), (True, False), (False, False)])
def test_layernorm_equals_torch(affine, bias, rng):
    torch = pytest.importorskip("torch")
    ours = LayerNorm(5, eps=1e-4, elementwise_affine=affine, bias=bias, dtype=np.float64)
    theirs = torch.nn.LayerNorm(5, eps=1e-4, elementwise_affine=affine, bias=bias).double()
    for p, tp in zip(ours.parameters(), theirs.parameters(), strict=True):
        p.data[:] = rng.standard_normal(5)
        with torch.no_grad():
            tp.copy_(to_torch(torch, p.data))
    x, g = batch(rng), rng.standard_normal((8, 5))
    tx = to_torch(torch, x).requires_grad_(True)
    out = theirs(tx)
    out.backward(to_torch(torch, g))
    np.testing.assert_allclose(ours.forward(x, training=True), out.detach().numpy(), 1e-12)
    np.testing.assert_allclose(ours.backward(g), tx.grad.numpy(), rtol=1e-11, atol=1e-13)
    for p, tp in zip(ours.parameters(), theirs.parameters(), strict=True):
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-12)


# ---- in MLP, optimizers, save/load and fit ---------------------------------------------


def test_mlp_places_the_norm_after_dense_and_before_the_activation():
    model = MLP([4, 6, 6, 2], norm=["batch", None], dropout=0.1, rng=0)
    kinds = [type(m).__name__ for m in model.layers]
    assert kinds == ["Dense", "BatchNorm1d", "ReLU", "Dropout", "Dense", "ReLU", "Dropout", "Dense"]
    assert model.get_config()["norm"] == ["batch", None]
    layer = MLP([4, 6, 6, 2], norm="layer", residual=True, rng=0)
    inner = [type(m).__name__ for m in layer.layers[3].module.layers]
    assert inner == ["Dense", "LayerNorm", "ReLU"]
    # Only when set: the config of an MLP without norm is as it always was.
    assert "norm" not in MLP([4, 6, 2], rng=0).get_config()
    assert "norm" not in MLP([4, 6, 2], norm=[None], rng=0).get_config()
    with pytest.raises(ValueError, match="unknown norm 'group'; valid: batch, layer"):
        MLP([4, 6, 2], norm="group")
    with pytest.raises(ValueError, match="norm list has 1 entries but the MLP has 2"):
        MLP([4, 6, 6, 2], norm=["batch"])


def test_get_norm():
    bn = get_norm("batch", 3, momentum=0.2, dtype=np.float64)
    assert isinstance(bn, BatchNorm1d) and bn.momentum == 0.2 and bn.dtype == np.float64
    assert isinstance(get_norm("layer", 3, bias=False), LayerNorm)
    with pytest.raises(ValueError, match="does not take momentum"):
        get_norm("layer", 3, momentum=0.1)


def test_optimizers_do_not_see_the_running_statistics():
    model = MLP([4, 6, 2], norm="batch", rng=0)
    opt = get_optimizer("sgd", model.parameters(), lr=0.1)
    assert opt.flat.size == sum(p.data.size for p in model.parameters()) == 4 * 6 + 6 + 12 + 12 + 2
    assert not any(np.shares_memory(b, opt.flat) for b in model.buffers())


def wide_blobs(n=240, seed=0):
    """Blobs of larger scale and spread than helpers.blobs, for the normalization to work on."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centers = np.array([[2.0, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0]])
    return (centers[y] * 3 + rng.standard_normal((n, 4)) * 2).astype(np.float32), y


def test_save_and_load_keep_the_running_statistics(tmp_path):
    x, y = wide_blobs()
    model = MLP([4, 8, 8, 3], norm=["batch", "layer"], dtype=np.float64, rng=0)
    fit(model, get_loss("cross_entropy"), get_optimizer("adam", model.parameters()), x, y, 2)
    assert not np.array_equal(model.buffers()[0], 0)
    save_model(model, tmp_path / "m.npz")
    loaded = load_model(tmp_path / "m.npz")
    assert loaded.get_config() == model.get_config()
    for a, b in zip(loaded.buffers(), model.buffers(), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    composed = Sequential(BatchNorm1d(4, momentum=None), LayerNorm(4, bias=False))
    composed.forward(x, training=True)
    save_model(composed, tmp_path / "c.npz")
    again = load_model(tmp_path / "c.npz")
    assert again.get_config() == composed.get_config()
    np.testing.assert_array_equal(again.forward(x), composed.forward(x))


class Recorder:
    """Keeps every epoch's buffers; raises at ``stop``."""

    def __init__(self, stop=None):
        self.stop, self.buffers = stop, {}

    def on_epoch_end(self, epoch, row, model, optimizer):
        self.buffers[epoch] = [b.copy() for b in model.buffers()]
        if epoch == self.stop:
            raise Interrupt


def norm_fit(checkpoint=None, callbacks=(), epochs=6, early_stopping=None):
    x, y = wide_blobs()
    model = MLP([4, 16, 16, 3], norm=["batch", "layer"], dropout=0.1, rng=2)
    opt = get_optimizer("adam", model.parameters(), lr=0.05)
    result = fit(
        model,
        get_loss("cross_entropy"),
        opt,
        x,
        y,
        epochs=epochs,
        batch_size=16,
        validation_data=wide_blobs(100, 1),
        early_stopping=early_stopping,
        checkpoint=checkpoint,
        callbacks=callbacks,
    )
    return model, result


def test_a_checkpointed_fit_with_batchnorm_resumes_bit_identically(tmp_path):
    ref_model, ref = norm_fit()
    ckpt = tmp_path / "c.npz"
    with pytest.raises(Interrupt):
        norm_fit(ckpt, [Recorder(stop=3)])
    model, resumed = norm_fit(ckpt)
    assert [r["val_loss"] for r in resumed.history] == [r["val_loss"] for r in ref.history]
    for a, b in zip(
        model.buffers() + model.parameters(),
        ref_model.buffers() + ref_model.parameters(),
        strict=True,
    ):
        np.testing.assert_array_equal(getattr(a, "data", a), getattr(b, "data", b))


def test_early_stopping_restores_the_best_epochs_running_statistics():
    rec = Recorder()
    model, result = norm_fit(callbacks=[rec], epochs=40, early_stopping=2)
    assert result.status == "early_stopped" and result.epochs_run > result.best_epoch
    assert not all(
        np.array_equal(a, b)
        for a, b in zip(rec.buffers[result.epochs_run], rec.buffers[result.best_epoch], strict=True)
    )
    for a, b in zip(model.buffers(), rec.buffers[result.best_epoch], strict=True):
        np.testing.assert_array_equal(a, b)
