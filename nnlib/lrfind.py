"""``lr_find``: Smith's learning-rate range test (Smith 2017, "Cyclical Learning Rates for
Training Neural Networks", section 3.3), as fastai's ``lr_find`` runs it."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .core import as_generator
from .training import _check_data, _module_generators, _restore, _snapshot, _train_epoch


@dataclass
class LRFindResult:
    """What ``lr_find`` returns: the learning rate, loss and smoothed loss of every step it
    took, and its ``suggestion`` (see ``suggest_lr``; None when the test was too short)."""

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    suggestion: float | None


def suggest_lr(lrs, smoothed, skip_start: int = 10, skip_end: int = 5) -> float | None:
    """The learning rate where the smoothed loss falls fastest against log(lr): the argmin of
    its derivative d smoothed / d log(lr) (``np.gradient``, central differences), leaving out
    the first ``skip_start`` and the last ``skip_end`` steps as fastai does (the first
    smoothed values are single noisy losses, the last ones the blow-up). The usual rule for
    reading a range test: a rate still well below the one where the loss is lowest, where
    training makes the most progress per step. None when fewer than two steps remain."""
    stop = len(lrs) - skip_end
    if stop - skip_start < 2:
        return None
    slope = np.gradient(np.asarray(smoothed, dtype=np.float64), np.log(np.asarray(lrs)))
    return float(lrs[skip_start + int(np.argmin(slope[skip_start:stop]))])


def _check(start_lr, end_lr, num_steps, batch_size, smoothing, diverge_factor) -> None:
    def number(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

    if not (number(start_lr) and start_lr > 0):
        raise ValueError(f"start_lr must be a number > 0, got {start_lr!r}")
    if not (number(end_lr) and end_lr > start_lr):
        raise ValueError(f"end_lr must be a number > start_lr ({start_lr}), got {end_lr!r}")
    for name, v, low in (("num_steps", num_steps, 2), ("batch_size", batch_size, 1)):
        if not isinstance(v, int) or isinstance(v, bool) or v < low:
            raise ValueError(f"{name} must be an int >= {low}, got {v!r}")
    if not (number(smoothing) and 0 <= smoothing < 1):
        raise ValueError(f"smoothing must be a number in [0, 1), got {smoothing!r}")
    if not (number(diverge_factor) and diverge_factor > 1):
        raise ValueError(f"diverge_factor must be a number > 1, got {diverge_factor!r}")


def lr_find(
    model,
    loss,
    optimizer,
    x,
    y,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_steps: int = 100,
    batch_size: int = 32,
    smoothing: float = 0.98,
    diverge_factor: float = 4.0,
    seed=0,
    skip_start: int = 10,
    skip_end: int = 5,
) -> LRFindResult:
    """Train ``num_steps`` mini-batches with the learning rate growing exponentially from
    ``start_lr`` to ``end_lr`` (lr_i = start_lr * (end_lr / start_lr) ** (i / (num_steps - 1)))
    and record each step's loss, then put the model and the optimizer back as they were.

    The loss is smoothed by an exponential moving average with bias correction:
    avg_i = smoothing * avg_{i-1} + (1 - smoothing) * loss_i, smoothed_i = avg_i /
    (1 - smoothing ** (i + 1)). The test stops early after the step whose smoothed loss
    exceeds ``diverge_factor`` x the lowest one so far, or before a step whose loss is not
    finite. Mini-batches of ``batch_size`` come from ``x`` shuffled by ``seed`` (reshuffled
    when it runs out), so a seed gives the same numbers every time; ``x`` is converted to the
    model's dtype as in ``fit``. The suggestion is ``suggest_lr(lrs, smoothed, skip_start,
    skip_end)``.

    Afterwards the parameters, buffers and gradients, the optimizer's state, step count and
    hyper-parameters (lr included) and the model's dropout generators are exactly what they
    were before: a ``fit`` that follows trains as if no test had run.
    """
    _check(start_lr, end_lr, num_steps, batch_size, smoothing, diverge_factor)
    for name, v in (("skip_start", skip_start), ("skip_end", skip_end)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise ValueError(f"{name} must be an int >= 0, got {v!r}")
    x, y, _ = _check_data(model, loss, x, y, None)
    params, gens = model.parameters(), _module_generators(model)
    saved = (
        _snapshot(model),
        [p.grad.copy() for p in params],
        optimizer.state_dict(),
        [g.bit_generator.state for g in gens],
    )
    try:
        lrs, losses, smoothed = _range_test(
            model,
            loss,
            optimizer,
            x,
            y,
            start_lr,
            end_lr,
            num_steps,
            batch_size,
            seed,
            smoothing,
            diverge_factor,
        )
    finally:
        weights, grads, opt_state, gen_states = saved
        _restore(model, weights)
        for p, g in zip(params, grads, strict=True):
            p.grad[...] = g
        optimizer.load_state_dict(opt_state)
        for g, s in zip(gens, gen_states, strict=True):
            g.bit_generator.state = s
    return LRFindResult(lrs, losses, smoothed, suggest_lr(lrs, smoothed, skip_start, skip_end))


def _range_test(
    model, loss, optimizer, x, y, start_lr, end_lr, num_steps, batch_size, seed, beta, factor
):
    """(lrs, losses, smoothed losses) of the steps taken, stopping as ``lr_find`` says."""
    rng, n = as_generator(seed), len(x)
    size = min(batch_size, n)
    order, pos = rng.permutation(n), 0
    lrs, losses, smoothed, avg = [], [], [], 0.0
    for i in range(num_steps):
        if pos + size > n:
            order, pos = rng.permutation(n), 0
        idx, pos = order[pos : pos + size], pos + size
        lr = start_lr * (end_lr / start_lr) ** (i / (num_steps - 1))
        optimizer.lr = lr
        loss_sum, _, _, steps, _ = _train_epoch(model, loss, optimizer, x, y, idx, size, None)
        if not steps:  # a non-finite loss or gradient: the step was not applied
            break
        value = loss_sum / size
        avg = beta * avg + (1 - beta) * value
        lrs.append(lr)
        losses.append(value)
        smoothed.append(avg / (1 - beta ** (i + 1)))
        if smoothed[-1] > factor * min(smoothed):
            break
    return lrs, losses, smoothed
