"""Optimizers against hand-derived values and an element-by-element transcription of
torch.optim's documented algorithms (and against torch itself when it is installed), on
both paths (NumPy and, where an optimizer has one, the fused numba kernel)."""

import itertools
import math
import subprocess
import sys

import numpy as np
import pytest

from nnlib import (
    SGD,
    Adagrad,
    Adam,
    AdamW,
    NAdam,
    Optimizer,
    Parameter,
    RMSprop,
    clip_grad_norm,
    get_optimizer,
    kernels,
)


def param(values):
    return Parameter(np.array(values, dtype=np.float64))


def run(opt_cls, p0, grads, lrs, path="numpy", **kw):
    """Apply grads[t] with learning rate lrs[t] on ``path``; return the parameter after
    every step."""
    p = param(p0)
    opt = opt_cls([p], lr=lrs[0], **kw)
    opt.path = path
    out = []
    for g, lr in zip(grads, lrs, strict=True):
        opt.lr = lr
        p.grad[...] = g
        opt.step()
        out.append(p.data.copy())
    return out


# ---- hand-derived values ------------------------------------------------------------


@pytest.mark.parametrize("path", ["numpy", "numba"])
def test_sgd_momentum_by_hand(path):
    # b1 = g = 1 -> p = 1 - 0.1; b2 = 0.9 * 1 + 1 = 1.9 -> p = 0.9 - 0.19
    p = run(SGD, [1.0], [[1.0], [1.0]], [0.1, 0.1], path, momentum=0.9)
    np.testing.assert_allclose(np.ravel(p), [0.9, 0.71], rtol=1e-15)


@pytest.mark.parametrize("path", ["numpy", "numba"])
def test_sgd_nesterov_by_hand(path):
    # step 1: b = 1, g' = 1 + 0.9 * 1 = 1.9; step 2: b = 1.9, g' = 1 + 0.9 * 1.9 = 2.71
    p = run(SGD, [1.0], [[1.0], [1.0]], [0.1, 0.1], path, momentum=0.9, nesterov=True)
    np.testing.assert_allclose(np.ravel(p), [0.81, 0.539], rtol=1e-14)


@pytest.mark.parametrize("path", ["numpy", "numba"])
def test_sgd_weight_decay_and_dampening_by_hand(path):
    # g' = g + 0.5 p = 1 + 0.5 = 1.5 -> p = 1 - 0.15 = 0.85;
    # step 2: g' = 1 + 0.425 = 1.425, b = 0.9 * 1.5 + 0.5 * 1.425 = 2.0625 -> p = 0.85 - 0.20625
    p = run(
        SGD, [1.0], [[1.0], [1.0]], [0.1, 0.1], path, momentum=0.9, dampening=0.5, weight_decay=0.5
    )
    np.testing.assert_allclose(np.ravel(p), [0.85, 0.64375], rtol=1e-14)


@pytest.mark.parametrize("path", ["numpy", "numba"])
def test_adam_tiny_gradients_and_lr_change_by_hand(path):
    # With a constant gradient g the bias-corrected moments are g and g^2, so every step
    # moves by lr * g / (|g| + eps): lr / 1.01 for g = 1e-6 and eps = 1e-8.
    g = [[1e-6]] * 3
    p = run(Adam, [0.5], g, [1e-3, 1e-2, 5e-3], path)
    expected = 0.5 - np.cumsum([1e-3, 1e-2, 5e-3]) / 1.01
    np.testing.assert_allclose(np.ravel(p), expected, rtol=1e-12)


@pytest.mark.parametrize("path", ["numpy", "numba"])
def test_adamw_decoupled_decay_by_hand(path):
    # p1 = 2 * (1 - 0.1 * 0.5) - 0.1 * 1 / (1 + 1e-8)
    p = run(AdamW, [2.0], [[1.0]], [0.1], path, weight_decay=0.5)
    assert p[0][0] == pytest.approx(2 * 0.95 - 0.1 / (1 + 1e-8), rel=1e-14)


@pytest.mark.parametrize("path", ["numpy", "numba"])
def test_rmsprop_by_hand(path):
    # v1 = 0.01 -> step lr / (0.1 + eps); v2 = 0.99 * 0.01 + 0.01 = 0.0199
    p = run(RMSprop, [0.0], [[1.0], [1.0]], [0.01, 0.01], path)
    s1 = 0.01 / (0.1 + 1e-8)
    s2 = 0.01 / (math.sqrt(0.0199) + 1e-8)
    np.testing.assert_allclose(np.ravel(p), [-s1, -s1 - s2], rtol=1e-14)


# ---- element-wise transcription of torch.optim's documented algorithms -------------


def ref_sgd(p, grads, lrs, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
    p, b, out = list(p), None, []
    for t, (g, lr) in enumerate(zip(grads, lrs, strict=True), 1):
        g = [gi + weight_decay * pi for gi, pi in zip(g, p, strict=True)]
        if momentum:
            b = (
                list(g)
                if t == 1
                else [momentum * bi + (1 - dampening) * gi for bi, gi in zip(b, g, strict=True)]
            )
            g = [gi + momentum * bi for gi, bi in zip(g, b, strict=True)] if nesterov else b
        p = [pi - lr * gi for pi, gi in zip(p, g, strict=True)]
        out.append(p)
    return out


def ref_rmsprop(
    p, grads, lrs, alpha=0.99, eps=1e-8, momentum=0.0, weight_decay=0.0, centered=False
):
    p = list(p)
    v, gavg, b, out = [0.0] * len(p), [0.0] * len(p), [0.0] * len(p), []
    for g, lr in zip(grads, lrs, strict=True):
        for i in range(len(p)):
            gi = g[i] + weight_decay * p[i]
            v[i] = alpha * v[i] + (1 - alpha) * gi * gi
            if centered:
                gavg[i] = alpha * gavg[i] + (1 - alpha) * gi
                avg = math.sqrt(v[i] - gavg[i] ** 2) + eps
            else:
                avg = math.sqrt(v[i]) + eps
            if momentum:
                b[i] = momentum * b[i] + gi / avg
                p[i] -= lr * b[i]
            else:
                p[i] -= lr * gi / avg
        out.append(list(p))
    return out


def ref_adam(p, grads, lrs, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False):
    (b1, b2), p = betas, list(p)
    m, v, out = [0.0] * len(p), [0.0] * len(p), []
    for t, (g, lr) in enumerate(zip(grads, lrs, strict=True), 1):
        for i in range(len(p)):
            gi = g[i]
            if decoupled:
                p[i] *= 1 - lr * weight_decay
            else:
                gi += weight_decay * p[i]
            m[i] = b1 * m[i] + (1 - b1) * gi
            v[i] = b2 * v[i] + (1 - b2) * gi * gi
            mhat, vhat = m[i] / (1 - b1**t), v[i] / (1 - b2**t)
            p[i] -= lr * mhat / (math.sqrt(vhat) + eps)
        out.append(list(p))
    return out


BASE_CASES = [
    (SGD, ref_sgd, {}),
    (SGD, ref_sgd, {"weight_decay": 0.01}),
    (SGD, ref_sgd, {"momentum": 0.9}),
    (SGD, ref_sgd, {"momentum": 0.8, "dampening": 0.3, "weight_decay": 0.05}),
    (SGD, ref_sgd, {"momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    (RMSprop, ref_rmsprop, {}),
    (RMSprop, ref_rmsprop, {"momentum": 0.9, "weight_decay": 0.01}),
    (RMSprop, ref_rmsprop, {"centered": True, "alpha": 0.9}),
    (Adam, ref_adam, {}),
    (Adam, ref_adam, {"betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
    (AdamW, lambda *a, **k: ref_adam(*a, decoupled=True, **k), {"weight_decay": 0.1}),
]
# Every case on both paths.
CASES = [(cls, ref, kw, path) for cls, ref, kw in BASE_CASES for path in ("numpy", "numba")]


def gradient_sequence(rng, steps=6, size=5):
    g = rng.standard_normal((steps, size))
    g[1] *= 1e-6  # tiny gradients: eps matters
    g[3, :2] = 1e-6
    return g


@pytest.mark.parametrize(
    ("cls", "ref", "kw", "path"), CASES, ids=lambda c: getattr(c, "__name__", str(c))
)
def test_against_reference(cls, ref, kw, path, rng):
    p0 = rng.standard_normal(5)
    grads = gradient_sequence(rng)
    lrs = [0.1, 0.1, 0.05, 0.02, 0.2, 0.01]  # the learning rate changes between steps
    got = run(cls, p0, grads, lrs, path, **kw)
    want = ref(p0.tolist(), grads.tolist(), lrs, **kw)
    np.testing.assert_allclose(np.array(got), np.array(want), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("path", ["numpy", "numba"])
@pytest.mark.parametrize("cls", [Adam, AdamW])
def test_adam_zero_learning_rate_still_updates_moments(cls, path, rng):
    # lr = 0 skips the parameter update (lr sits in a denominator) but not the moments.
    p0, grads = rng.standard_normal(5), gradient_sequence(rng)
    lrs = [0.1, 0.0, 0.05, 0.0, 0.2, 0.01]
    kw = {"weight_decay": 0.1}
    got = run(cls, p0, grads, lrs, path, **kw)
    want = ref_adam(p0.tolist(), grads.tolist(), lrs, decoupled=cls is AdamW, **kw)
    np.testing.assert_allclose(np.array(got), np.array(want), rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(got[1], got[0])


@pytest.mark.parametrize(
    ("cls", "ref", "kw", "path"), CASES, ids=lambda c: getattr(c, "__name__", str(c))
)
def test_against_torch_when_installed(cls, ref, kw, path, rng):
    torch = pytest.importorskip("torch")
    p0, grads = rng.standard_normal(5), gradient_sequence(rng)
    lrs = [0.1, 0.1, 0.05, 0.02, 0.2, 0.01]
    tp = torch.tensor(p0, requires_grad=True)
    topt = getattr(torch.optim, cls.__name__)([tp], lr=lrs[0], **kw)
    want = []
    for g, lr in zip(grads, lrs, strict=True):
        for group in topt.param_groups:
            group["lr"] = lr
        tp.grad = torch.tensor(g)
        topt.step()
        want.append(tp.detach().numpy().copy())
    got = run(cls, p0, grads, lrs, path, **kw)
    np.testing.assert_allclose(np.array(got), np.array(want), rtol=1e-12, atol=1e-15)


def test_several_parameters_and_float32():
    a, b = Parameter(np.ones((2, 3), np.float32)), Parameter(np.zeros(3, np.float32))
    opt = Adam([a, b], lr=0.1)
    a.grad[...] = 1
    b.grad[...] = -1
    opt.step()
    assert a.data.dtype == np.float32 and b.data.dtype == np.float32
    np.testing.assert_allclose(a.data, 0.9, rtol=1e-6)
    np.testing.assert_allclose(b.data, 0.1, rtol=1e-6)


def test_state_dict_round_trip(rng):
    grads = gradient_sequence(rng)
    p1, p2 = param(np.ones(5)), param(np.ones(5))
    o1 = Adam([p1], lr=0.01)
    for g in grads[:3]:
        p1.grad[...] = g
        o1.step()
    p2.data[...] = p1.data
    o2 = Adam([p2], lr=0.5)
    o2.load_state_dict(o1.state_dict())
    assert o2.lr == 0.01 and o2.step_count == 3
    for g in grads[3:]:
        for p, o in ((p1, o1), (p2, o2)):
            p.grad[...] = g
            o.step()
    np.testing.assert_array_equal(p1.data, p2.data)
    with pytest.raises(ValueError, match="not Adam"):
        o2.load_state_dict(SGD([param([0.0] * 5)]).state_dict())


def test_clip_grad_norm():
    a, b = param([3.0, 0.0]), param([4.0])
    a.grad[...], b.grad[...] = [3.0, 0.0], [4.0]
    assert clip_grad_norm([a, b], 1.0) == pytest.approx(5.0)
    total = math.sqrt(float(np.sum(a.grad**2) + np.sum(b.grad**2)))
    assert total == pytest.approx(1.0, rel=1e-6)
    assert clip_grad_norm([a, b], 10.0) == pytest.approx(total)


def test_registry_aliases_and_bad_hyperparameters():
    opt = get_optimizer("nesterov", [param([1.0])], lr=0.1)
    assert isinstance(opt, SGD) and opt.nesterov and opt.momentum == 0.9
    with pytest.raises(ValueError, match="valid: adagrad, adam, adamw"):
        get_optimizer("adamax", [param([1.0])])
    with pytest.raises(ValueError, match="does not take momentum"):
        get_optimizer("adam", [param([1.0])], momentum=0.9)
    with pytest.raises(ValueError, match="lr must be"):
        Adam([param([1.0])], lr=-1)
    with pytest.raises(ValueError, match="betas"):
        Adam([param([1.0])], betas=(0.9, 1.0))


@pytest.mark.parametrize(
    "name", ["sgd", "nesterov", "rmsprop", "adam", "adamw", "adagrad", "nadam"]
)
def test_updates_are_in_place_and_keep_views(name):
    layer_w, layer_b = Parameter(np.ones((3, 2), np.float32)), Parameter(np.ones(2, np.float32))
    opt = get_optimizer(name, [layer_w, layer_b], lr=0.1)
    data, grad = layer_w.data, layer_w.grad
    for _ in range(3):
        layer_w.grad[...] = 0.5
        layer_b.grad[...] = -0.5
        opt.step()
    assert layer_w.data is data and layer_w.grad is grad
    assert np.shares_memory(layer_w.data, opt.flat) and np.shares_memory(
        layer_b.grad, opt.flat_grad
    )
    assert (layer_w.data < 1).all() and (layer_b.data > 1).all()
    assert layer_w.data.dtype == np.float32


@pytest.mark.parametrize(
    ("name", "kw"),
    [
        ("sgd", {"momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01}),
        ("nesterov", {}),
        ("rmsprop", {"momentum": 0.5, "centered": True, "weight_decay": 0.01}),
        ("adam", {"weight_decay": 0.01}),
        ("adamw", {}),
        ("adagrad", {"lr_decay": 0.01, "weight_decay": 0.01}),
        ("nadam", {"weight_decay": 0.01}),
    ],
)
def test_threaded_update_is_bit_identical(name, kw):
    rng = np.random.default_rng(0)
    init, grads = rng.standard_normal(70_001), rng.standard_normal((3, 70_001)).astype(np.float32)
    results = []
    numba = kernels.numba_installed() and name not in ("adagrad", "nadam")  # NumPy path only
    paths = ("numpy", "numba") if numba else ("numpy",)
    for path, threads in itertools.product(paths, (1, 3)):
        p = Parameter(init.astype(np.float32))
        opt = get_optimizer(name, [p], lr=0.01, **kw)
        opt.threads, opt.path = threads, path
        for g in grads:
            p.grad[...] = g
            opt.step()
        results.append(p.data.copy())
    assert len(opt._chunks) == 3
    for other in results[1:]:
        np.testing.assert_array_equal(results[0], other)


PATH_CASES = [
    ("sgd", {}),
    ("sgd", {"momentum": 0.8, "dampening": 0.3, "weight_decay": 0.05}),
    ("nesterov", {"weight_decay": 0.01}),
    ("adam", {}),
    ("adam", {"betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
    ("adamw", {"weight_decay": 0.1}),
    ("rmsprop", {"weight_decay": 0.01}),
    ("rmsprop", {"momentum": 0.5, "centered": True, "alpha": 0.9}),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("name", "kw"), PATH_CASES)
def test_numba_path_is_bit_identical_to_numpy(name, kw, dtype):
    pytest.importorskip("numba")
    # The fused kernel does the NumPy path's float operations in its order (no fastmath):
    # parameters and state agree exactly (tolerance 0) in float32 and float64, also after a
    # state_dict moves from one path to the other halfway.
    rng = np.random.default_rng(1)
    init = rng.standard_normal(10_001).astype(dtype)
    grads = rng.standard_normal((6, 10_001)).astype(dtype)
    grads[1] *= 1e-6
    lrs = [0.01, 0.0, 0.05, 0.02, 0.1, 0.03]
    results = {}
    for paths in (["numpy"] * 6, ["numba"] * 6, ["numba"] * 3 + ["numpy"] * 3):
        p = Parameter(init.copy())
        opt = get_optimizer(name, [p], lr=0.01, **kw)
        for i, (g, lr, path) in enumerate(zip(grads, lrs, paths, strict=True)):
            if i and path != paths[i - 1]:  # continue on the other path from a state_dict
                state = opt.state_dict()
                p = Parameter(p.data.copy())
                opt = get_optimizer(name, [p], lr=0.5, **kw)
                opt.load_state_dict(state)
            opt.path, opt.lr = path, lr
            p.grad[...] = g
            opt.step()
        results[tuple(paths)] = (p.data, opt.state)
    (p_ref, s_ref), *others = results.values()
    assert p_ref.dtype == dtype
    for p_other, s_other in others:
        np.testing.assert_array_equal(p_other, p_ref)
        for k, v in s_ref.items():
            np.testing.assert_array_equal(s_other[k], v)


def test_path_is_chosen_by_size_and_can_be_forced():
    pytest.importorskip("numba")
    small, large = param(np.zeros(10)), param(np.zeros(kernels.MIN_PARAMETERS))
    assert get_optimizer("adam", [small]).path == "numpy"
    assert get_optimizer("sgd", [large]).path == "numba"
    assert get_optimizer("rmsprop", [param(np.zeros(kernels.MIN_PARAMETERS))]).path == "numba"
    opt = get_optimizer("adam", [small])
    opt.path = "numba"
    assert opt.path == "numba"
    with pytest.raises(ValueError, match="path must be one of numpy, numba"):
        opt.path = "cuda"

    class Halving(Optimizer):  # a user's optimizer with only a NumPy kernel
        def _kernel(self, t, p, g, state, scratch):
            p *= 0.5

    halving = Halving([param(np.ones(kernels.MIN_PARAMETERS))], lr=0.1)
    assert halving.path == "numpy"
    with pytest.raises(ValueError, match="Halving has no numba kernel"):
        halving.path = "numba"


def test_without_numba_every_optimizer_runs_the_numpy_path(monkeypatch):
    monkeypatch.setattr(kernels, "numba_installed", lambda: False)
    opt = get_optimizer("adam", [param(np.zeros(kernels.MIN_PARAMETERS))])
    assert opt.path == "numpy"
    with pytest.raises(ValueError, match="needs numba, which is not installed"):
        opt.path = "numba"


def test_small_models_never_import_numba():
    # The study's many small jobs must not pay numba's start-up: a whole fit of a 64-64 MLP
    # (and the import of nnlib) leaves numba unimported.
    code = (
        "import sys, numpy as np, nnlib\n"
        "x = np.random.default_rng(0).standard_normal((256, 64)).astype(np.float32)\n"
        "y = (x[:, 0] > 0).astype(np.int64)\n"
        "m = nnlib.MLP([64, 64, 64, 2], rng=0)\n"
        "opt = nnlib.get_optimizer('adam', m.parameters())\n"
        "nnlib.fit(m, nnlib.get_loss('cross_entropy'), opt, x, y, epochs=2)\n"
        "assert opt.path == 'numpy', opt.path\n"
        "assert 'numba' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_warm_up_loads_the_kernel_and_changes_nothing():
    # fit warms the optimizer before its first epoch: numba's start-up must land in warm_up
    # (the kernel already specialised for the parameters' dtype), not in the first step, and
    # warm_up must leave parameters, state and step count as they were.
    pytest.importorskip("numba")
    code = (
        "import sys, numpy as np\n"
        "from nnlib import kernels, get_optimizer\n"
        "from nnlib import Parameter\n"
        "for name in ('sgd', 'rmsprop', 'adam', 'adamw'):\n"
        "    p = Parameter(np.ones(kernels.MIN_PARAMETERS, np.float32))\n"
        "    p.grad[...] = 0.5\n"
        "    kw = {'momentum': 0.9} if name == 'sgd' else {}\n"
        "    opt = get_optimizer(name, [p], lr=0.1, **kw)\n"
        "    assert opt.path == 'numba'\n"
        "    before = {k: v.copy() for k, v in opt.state.items()}\n"
        "    opt.warm_up()\n"
        "    assert opt.step_count == 0 and (p.data == 1).all() and (p.grad == 0.5).all()\n"
        "    assert all((opt.state[k] == v).all() for k, v in before.items())\n"
        "    assert 'numba' in sys.modules\n"
        "    assert kernels.compiled()[{'adamw': 'adam'}.get(name, name)].signatures, name\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# ---- Adagrad and NAdam (NumPy path only) ---------------------------------------------


def ref_adagrad(
    p, grads, lrs, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10
):
    p, out = list(p), []
    total = [initial_accumulator_value] * len(p)
    for t, (g, lr) in enumerate(zip(grads, lrs, strict=True), 1):
        clr = lr / (1 + (t - 1) * lr_decay)
        for i in range(len(p)):
            gi = g[i] + weight_decay * p[i]
            total[i] += gi * gi
            p[i] -= clr * gi / (math.sqrt(total[i]) + eps)
        out.append(list(p))
    return out


def ref_nadam(
    p,
    grads,
    lrs,
    betas=(0.9, 0.999),
    eps=1e-8,
    weight_decay=0.0,
    momentum_decay=4e-3,
    decoupled_weight_decay=False,
):
    (b1, b2), p = betas, list(p)
    m, v, mu_product, out = [0.0] * len(p), [0.0] * len(p), 1.0, []
    for t, (g, lr) in enumerate(zip(grads, lrs, strict=True), 1):
        mu = b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        mu_product *= mu
        for i in range(len(p)):
            gi = g[i]
            if decoupled_weight_decay:
                p[i] *= 1 - lr * weight_decay
            else:
                gi += weight_decay * p[i]
            m[i] = b1 * m[i] + (1 - b1) * gi
            v[i] = b2 * v[i] + (1 - b2) * gi * gi
            den = math.sqrt(v[i] / (1 - b2**t)) + eps
            p[i] -= lr * (1 - mu) / (1 - mu_product) * gi / den
            p[i] -= lr * mu_next / (1 - mu_product * mu_next) * m[i] / den
        out.append(list(p))
    return out


NEW_CASES = [
    (Adagrad, ref_adagrad, {}),
    (Adagrad, ref_adagrad, {"weight_decay": 0.1}),
    (
        Adagrad,
        ref_adagrad,
        {"lr_decay": 0.05, "initial_accumulator_value": 0.3, "eps": 1e-6, "weight_decay": 0.01},
    ),
    (NAdam, ref_nadam, {}),
    (NAdam, ref_nadam, {"weight_decay": 0.1}),
    (NAdam, ref_nadam, {"weight_decay": 0.1, "decoupled_weight_decay": True}),
    (NAdam, ref_nadam, {"betas": (0.8, 0.99), "eps": 1e-6, "momentum_decay": 0.01}),
]


@pytest.mark.parametrize(
    ("cls", "ref", "kw"), NEW_CASES, ids=lambda c: getattr(c, "__name__", str(c))
)
def test_adagrad_and_nadam_against_reference(cls, ref, kw, rng):
    p0 = rng.standard_normal(5)
    grads = gradient_sequence(rng)
    lrs = [0.1, 0.1, 0.05, 0.02, 0.2, 0.01]
    got = run(cls, p0, grads, lrs, **kw)
    want = ref(p0.tolist(), grads.tolist(), lrs, **kw)
    np.testing.assert_allclose(np.array(got), np.array(want), rtol=1e-12, atol=1e-15)


@pytest.fixture
def torch64():
    """torch with float64 as its default dtype: NAdam's mu_product and the step counts are
    tensors of the default dtype, float32 otherwise."""
    torch = pytest.importorskip("torch")
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield torch
    torch.set_default_dtype(before)


@pytest.mark.parametrize(
    ("cls", "ref", "kw"), NEW_CASES, ids=lambda c: getattr(c, "__name__", str(c))
)
def test_adagrad_and_nadam_equal_torch_over_50_steps(cls, ref, kw, torch64):
    torch, rng = torch64, np.random.default_rng(7)
    p0 = rng.standard_normal(20)
    grads = rng.standard_normal((50, 20))
    grads[10:15] *= 1e-6  # tiny gradients: eps matters
    lrs = rng.uniform(0.001, 0.1, 50)
    tp = torch.tensor(p0, requires_grad=True)
    topt = getattr(torch.optim, cls.__name__)([tp], lr=lrs[0], **kw)
    want = []
    for g, lr in zip(grads, lrs, strict=True):
        topt.param_groups[0]["lr"] = lr
        tp.grad = torch.tensor(g)
        topt.step()
        want.append(tp.detach().numpy().copy())
    got = run(cls, p0, grads, lrs, **kw)
    np.testing.assert_allclose(np.array(got), np.array(want), rtol=1e-12, atol=1e-15)


def test_torch_defaults_of_adagrad_and_nadam():
    p = [param([1.0])]
    assert Adagrad(p).hyper == {
        "lr": 1e-2,
        "lr_decay": 0.0,
        "weight_decay": 0.0,
        "initial_accumulator_value": 0.0,
        "eps": 1e-10,
    }
    assert NAdam(p).hyper == {
        "lr": 2e-3,
        "betas": (0.9, 0.999),
        "eps": 1e-8,
        "weight_decay": 0.0,
        "momentum_decay": 4e-3,
        "decoupled_weight_decay": False,
    }
    with pytest.raises(ValueError, match="initial_accumulator_value must be in"):
        Adagrad(p, initial_accumulator_value=-1.0)
    # a NumPy path only ("has no numba kernel", or where numba is absent, "needs numba")
    with pytest.raises(ValueError, match="numba"):
        NAdam(p).path = "numba"


def test_nadam_state_dict_carries_its_momentum_product(rng):
    grads = gradient_sequence(rng)
    p1 = param(np.ones(5))
    o1 = NAdam([p1], lr=0.01)
    for g in grads[:3]:
        p1.grad[...] = g
        o1.step()
    state = o1.state_dict()
    assert state["scalars"]["mu_product"] == o1.mu_product < 1
    p2 = param(p1.data.copy())
    o2 = NAdam([p2], lr=0.5)
    o2.load_state_dict(state)
    for g in grads[3:]:
        for p, o in ((p1, o1), (p2, o2)):
            p.grad[...] = g
            o.step()
    np.testing.assert_array_equal(p1.data, p2.data)
    with pytest.raises(ValueError, match="needs the scalars"):
        o2.load_state_dict({k: v for k, v in state.items() if k != "scalars"})


@pytest.mark.parametrize("name", ["adagrad", "nadam"])
def test_fits_with_adagrad_and_nadam_resume_bit_identically(tmp_path, name):
    from nnlib import MLP, fit, get_loss

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((120, 4)).astype(np.float32), rng.integers(0, 3, 120)

    class Stop(Exception):
        pass

    def on_epoch_end(epoch, row, model, optimizer):
        if epoch == 3:
            raise Stop

    def train(checkpoint=None, callbacks=()):
        model = MLP([4, 8, 3], rng=0)
        opt = get_optimizer(name, model.parameters(), lr=0.05, weight_decay=0.01)
        fit(
            model,
            get_loss("cross_entropy"),
            opt,
            x,
            y,
            5,
            checkpoint=checkpoint,
            callbacks=callbacks,
        )
        return model, opt

    ref, ref_opt = train()
    ckpt = tmp_path / "c.npz"
    stop = type("StopAt3", (), {"on_epoch_end": staticmethod(on_epoch_end)})()
    with pytest.raises(Stop):
        train(ckpt, [stop])
    model, opt = train(ckpt)
    for a, b in zip(model.parameters(), ref.parameters(), strict=True):
        np.testing.assert_array_equal(a.data, b.data)
    assert opt.state_dict()["step"] == ref_opt.state_dict()["step"] == 20
    assert getattr(opt, "mu_product", 0) == getattr(ref_opt, "mu_product", 0)
