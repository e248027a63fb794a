"""Performance against tuning budget: the expected best validation score of n trials.

Sivaprasad et al. 2020 compare optimizers by how good they are for a given tuning budget;
Dodge et al. 2019 ("Show Your Work") estimate the expected best score of n trials from the N
trials that ran. With the N scores sorted, v_(1) <= ... <= v_(N):

- *with replacement* (the trials are draws from a distribution, which the N scores sample):
  P(best of n <= v_(i)) = (i / N)^n, so E = sum_i v_(i) [(i/N)^n - ((i-1)/N)^n]; defined
  for any n, and below the observed maximum at n = N;
- *without replacement* (the N trials are a finite pool and n of them are picked):
  P(best of n = v_(i)) = C(i-1, n-1) / C(N, n), so E = sum_i v_(i) C(i-1, n-1) / C(N, n);
  n <= N, and at n = N it is the observed maximum.

The standard deviation uses the same weights (E[v^2] - E[v]^2); the band is mean +- std,
clipped to the observed range (no best of n lies outside it).

Which estimator (:func:`estimator_for`): ``grid`` trials are the whole pool of the space's
points, so n trials of it are n points picked without replacement -> without; ``random``
and ``sobol`` trials are (quasi-)independent draws from the search distribution, whose
scores the N trials sample -> with replacement. ``tpe`` trials are neither: each depends on
the ones before, so no subset of them is a smaller search; its curve is the best score of
its first n trials in proposal order (``best_so_far``: one realisation, no band).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.special import gammaln

from .search import GOALS

ESTIMATORS = ("with_replacement", "without_replacement", "best_so_far")
_BY_METHOD = {
    "grid": "without_replacement",
    "random": "with_replacement",
    "sobol": "with_replacement",
    "tpe": "best_so_far",
}
CURVE_COLUMNS = ["n", "mean", "std", "lower", "upper"]


def estimator_for(method: str) -> str:
    """The estimator of a search method's curve (see the module docstring)."""
    if method not in _BY_METHOD:
        raise ValueError(f"unknown search method {method!r}; valid: {', '.join(_BY_METHOD)}")
    return _BY_METHOD[method]


def _signed(scores: Sequence[float], goal: str) -> np.ndarray:
    if goal not in GOALS:
        raise ValueError(f"unknown goal {goal!r}; valid: {', '.join(GOALS)}")
    v = np.asarray(scores, dtype=float)
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"expected best needs a non-empty list of scores, got shape {v.shape}")
    bad = int((~np.isfinite(v)).sum())
    if bad:
        raise ValueError(
            f"{bad} of {v.size} scores are not finite; give a failed trial its score "
            "(e.g. 0 accuracy, or the worst loss)"
        )
    return v if goal == "maximize" else -v


def _weights(n_total: int, n: np.ndarray, replace: bool) -> np.ndarray:
    """[len(n), N] probabilities that the best of n is the i-th smallest of the N scores."""
    i = np.arange(1, n_total + 1)
    if replace:
        cdf = (np.arange(n_total + 1) / n_total)[None, :] ** n[:, None]
        return np.diff(cdf, axis=1)

    def log_comb(a, b):
        return gammaln(a + 1) - gammaln(b + 1) - gammaln(a - b + 1)

    nn = n[:, None]
    possible = i[None, :] >= nn
    log_w = log_comb(i[None, :] - 1, np.where(possible, nn - 1, 0)) - log_comb(n_total, nn)
    return np.where(possible, np.exp(log_w), 0.0)


def expected_best(
    scores: Sequence[float],
    replace: bool,
    goal: str = "maximize",
    n_max: int | None = None,
) -> pd.DataFrame:
    """Expected best of n trials for n = 1 .. n_max (default N = len(scores)), with or
    without replacement (module docstring). Columns: n, mean, std, lower, upper (the band
    mean +- std clipped to the observed range); for ``minimize`` the best is the least."""
    signed = np.sort(_signed(scores, goal))
    n_total = signed.size
    n_max = n_total if n_max is None else n_max
    if not isinstance(n_max, int) or n_max < 1 or (not replace and n_max > n_total):
        limit = "" if replace else f" <= {n_total} (without replacement)"
        raise ValueError(f"n_max must be an integer >= 1{limit}, got {n_max!r}")
    n = np.arange(1, n_max + 1)
    w = _weights(n_total, n, replace)
    mean = w @ signed
    std = np.sqrt(np.maximum(w @ signed**2 - mean**2, 0.0))
    lower = np.maximum(mean - std, signed[0])
    upper = np.minimum(mean + std, signed[-1])
    if goal == "minimize":
        mean, lower, upper = -mean, -upper, -lower
    return pd.DataFrame({"n": n, "mean": mean, "std": std, "lower": lower, "upper": upper})


def best_so_far(scores: Sequence[float], goal: str = "maximize") -> pd.DataFrame:
    """The best of the first n trials in proposal order (a sequential search's curve);
    std is NaN and the band the value itself."""
    signed = _signed(scores, goal)
    best = np.maximum.accumulate(signed) * (1.0 if goal == "maximize" else -1.0)
    n = np.arange(1, signed.size + 1)
    return pd.DataFrame({"n": n, "mean": best, "std": np.nan, "lower": best, "upper": best})


def budget_curves(
    trials: pd.DataFrame,
    method: str,
    goal: str = "maximize",
    by: str = "optimizer",
    score: str = "score",
    order: str = "trial",
) -> pd.DataFrame:
    """One curve per ``by`` level (e.g. optimizer) from one row per trial (``score``, and
    ``order``: the trial's proposal number, which ``best_so_far`` follows), with the
    estimator of ``method``. Columns: ``by``, n_trials (N), estimator, then the curve's."""
    estimator = estimator_for(method)
    missing = sorted({by, score, order} - set(trials.columns))
    if missing:
        raise ValueError(f"trials need the columns {', '.join(missing)}")
    frames = []
    for level, group in trials.groupby(by, sort=True):
        values = group.sort_values(order)[score].to_numpy(float)
        if estimator == "best_so_far":
            curve = best_so_far(values, goal)
        else:
            curve = expected_best(values, estimator == "with_replacement", goal)
        curve.insert(0, "estimator", estimator)
        curve.insert(0, "n_trials", values.size)
        curve.insert(0, by, level)
        frames.append(curve)
    if not frames:
        return pd.DataFrame(columns=[by, "n_trials", "estimator", *CURVE_COLUMNS])
    return pd.concat(frames, ignore_index=True)


def leaders(curves: pd.DataFrame, goal: str = "maximize", by: str = "optimizer") -> pd.DataFrame:
    """The finding "with n trials, X leads": per n that every level reached, ``leader`` (the
    highest expected best; for ``minimize`` the least; levels with equal means tie and are
    joined with ";", sorted), its ``mean``, ``runner_up`` (the best level below the leader,
    "" when none), ``margin`` (how much better the leader is than it, NaN when none) and
    ``changed`` where the leader differs from the one at the n before."""
    if goal not in GOALS:
        raise ValueError(f"unknown goal {goal!r}; valid: {', '.join(GOALS)}")
    sign = 1.0 if goal == "maximize" else -1.0
    reached = curves.groupby(by)["n"].max().min() if len(curves) else 0
    rows = []
    previous = None
    for n, group in curves[curves["n"] <= reached].groupby("n", sort=True):
        signed = sign * group["mean"].to_numpy(float)
        levels = group[by].astype(str).to_numpy()
        top = signed.max()
        leader = ";".join(sorted(levels[signed == top]))
        below = signed < top
        second = signed[below].max() if below.any() else np.nan
        runner_up = sorted(levels[below & (signed == second)])
        rows.append(
            {
                "n": int(n),
                "leader": leader,
                "mean": sign * top,
                "runner_up": ";".join(runner_up),
                "margin": top - second,
                "changed": previous is not None and leader != previous,
            }
        )
        previous = leader
    return pd.DataFrame(rows, columns=["n", "leader", "mean", "runner_up", "margin", "changed"])
