"""lr_find: the exponential range, the bias-corrected smoothing, the stop rule and the
suggestion, each recomputed independently; the model and optimizer are left exactly as they
were; seeded."""

import math

import numpy as np
import pytest
from helpers import blobs

from nnlib import MLP, fit, get_loss, get_optimizer, lr_find, suggest_lr


def make(optimizer="adam", norm=None):
    model = MLP([4, 16, 3], dropout=0.2, norm=norm, rng=0)
    return model, get_optimizer(optimizer, model.parameters(), lr=1e-3)


def find(model, opt, **kw):
    x, y = blobs()
    return lr_find(model, get_loss("cross_entropy"), opt, x, y, **kw)


def test_learning_rates_losses_and_smoothing(rng):
    model, opt = make()
    result = find(model, opt, start_lr=1e-5, end_lr=1e-2, num_steps=30, batch_size=16)
    assert len(result.lrs) == len(result.losses) == len(result.smoothed) == 30  # no divergence
    np.testing.assert_allclose(result.lrs, np.geomspace(1e-5, 1e-2, 30), rtol=1e-12)
    # bias-corrected exponential moving average, recomputed in closed form
    beta, losses = 0.98, np.array(result.losses)
    for i in range(30):
        weights = (1 - beta) * beta ** np.arange(i, -1, -1)
        want = weights @ losses[: i + 1] / (1 - beta ** (i + 1))
        assert result.smoothed[i] == pytest.approx(want, rel=1e-12)
    assert result.smoothed[0] == result.losses[0]
    # the first loss is the untouched model's on the first shuffled batch (dropout on)
    x, y = blobs()
    first = np.random.default_rng(0).permutation(len(x))[:16]
    fresh, _ = make()
    value = get_loss("cross_entropy").forward(fresh.forward(x[first], training=True), y[first])
    assert result.losses[0] == value


def test_stops_when_the_smoothed_loss_passes_diverge_factor_times_its_minimum():
    model, opt = make(optimizer="sgd")
    result = find(model, opt, start_lr=1e-3, end_lr=1e4, num_steps=200, smoothing=0.5)
    s = np.array(result.smoothed)
    assert 1 < len(s) < 200 and all(math.isfinite(v) for v in result.losses)
    assert s[-1] > 4 * s.min()  # the step that ends the test is recorded
    assert all(s[i] <= 4 * s[: i + 1].min() for i in range(len(s) - 1))
    assert result.suggestion in result.lrs and result.suggestion < result.lrs[int(s.argmin())]


def test_the_suggestion_is_the_steepest_descent_of_the_smoothed_loss():
    lrs = np.geomspace(1e-6, 1.0, 61)
    # a loss curve falling fastest at lr = 1e-3 (against log lr), rising after 1e-1
    curve = 2 - np.tanh(2 * (np.log10(lrs) + 3)) + np.where(lrs > 0.1, 50 * (lrs - 0.1), 0)
    assert suggest_lr(lrs, curve) == pytest.approx(1e-3, rel=1e-9)
    steepest = np.argmin(np.diff(curve) / np.diff(np.log(lrs)))
    assert suggest_lr(lrs, curve) in (lrs[steepest], lrs[steepest + 1])
    # the first and last steps are left out: a noisy start falling faster does not count
    noisy = curve.copy()
    noisy[1] -= 5
    assert suggest_lr(lrs, noisy) == pytest.approx(1e-3, rel=1e-9)
    assert suggest_lr(lrs, noisy, skip_start=0) == lrs[0]
    assert suggest_lr(lrs[:16], curve[:16]) is None  # nothing left between the skips
    assert suggest_lr([1e-3, 1e-2], [1.0, 0.5], 0, 0) == 1e-3


@pytest.mark.parametrize(("optimizer", "norm"), [("adam", None), ("nadam", "batch")])
def test_model_and_optimizer_are_left_exactly_as_they_were(optimizer, norm):
    x, y = blobs()
    loss = get_loss("cross_entropy")
    model, opt = make(optimizer, norm)
    fit(model, loss, opt, x, y, epochs=1)  # some optimizer state to keep
    before = (
        [p.data.copy() for p in model.parameters()],
        [p.grad.copy() for p in model.parameters()],
        [b.copy() for b in model.buffers()],
        opt.state_dict(),
        model.layers[-2].rng.bit_generator.state,
    )
    result = lr_find(model, loss, opt, x, y, num_steps=40)
    assert len(result.lrs) > 5
    weights, grads, buffers, state, gen = before
    for a, b in zip([p.data for p in model.parameters()], weights, strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip([p.grad for p in model.parameters()], grads, strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(model.buffers(), buffers, strict=True):
        np.testing.assert_array_equal(a, b)
    after = opt.state_dict()
    assert (after["step"], after["hyper"]) == (state["step"], state["hyper"]) and opt.lr == 1e-3
    assert after.get("scalars") == state.get("scalars")
    for k, v in state["state"].items():
        np.testing.assert_array_equal(after["state"][k], v)
    assert model.layers[-2].rng.bit_generator.state == gen
    # so a fit that follows trains as if no test had run
    ref_model, ref_opt = make(optimizer, norm)
    fit(ref_model, loss, ref_opt, x, y, epochs=1)
    fit(ref_model, loss, ref_opt, x, y, epochs=2, seed=3)
    fit(model, loss, opt, x, y, epochs=2, seed=3)
    for a, b in zip(model.parameters(), ref_model.parameters(), strict=True):
        np.testing.assert_array_equal(a.data, b.data)


def test_same_seed_same_numbers_other_seed_others():
    runs = [find(*make(), num_steps=20, seed=s) for s in (0, 0, 1)]
    assert runs[0] == runs[1]
    assert runs[0].losses != runs[2].losses and runs[0].lrs == runs[2].lrs


def test_float64_data_for_a_float32_model_is_converted():
    x, y = blobs()
    model, opt = make()
    a = lr_find(model, get_loss("cross_entropy"), opt, x, y, num_steps=10)
    model, opt = make()
    b = lr_find(model, get_loss("cross_entropy"), opt, x.astype(np.float64), y, num_steps=10)
    assert a == b


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"start_lr": 0.0}, "start_lr must be a number > 0"),
        ({"end_lr": 1e-8}, "end_lr must be a number > start_lr"),
        ({"num_steps": 1}, "num_steps must be an int >= 2"),
        ({"batch_size": 0}, "batch_size must be an int >= 1"),
        ({"smoothing": 1.0}, r"smoothing must be a number in \[0, 1\)"),
        ({"diverge_factor": 1.0}, "diverge_factor must be a number > 1"),
        ({"skip_start": -1}, "skip_start must be an int >= 0"),
    ],
)
def test_bad_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        find(*make(), **kw)
