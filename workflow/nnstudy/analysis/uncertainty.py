"""How sure are we: the uncertainty of one comparison from its per-example test outcomes.

Data
----
One *comparison* (one experiment on one dataset) trains V variants with the same S seeds and
evaluates each model on the same N test examples: ``correct[v, s, i]`` (bool, or 0/1) says
whether variant v's seed-s model classified test example i correctly. A failed run has no
predictions: ``present[v, s]`` (bool, default all True) marks the runs that exist, and the rows
of ``correct`` for missing runs are ignored whatever they hold. The reference variant (the
"best") is chosen by the caller on the validation split, never here and never on test.

Two sources of noise
--------------------
A reported accuracy varies with the training seed *and* with the sample of test examples (the
test set is a sample of the data distribution). Everything here accounts for both; intervals
over seeds alone ignore the second, which dominates on small test sets.

The test of "variant v vs the reference" (chosen by simulation)
---------------------------------------------------------------
For the paired differences ``d[s, i] = correct[v, s, i] - correct[ref, s, i]`` (seeds x examples,
a crossed random design; seeds paired by index), the two-way ANOVA without replication has the
mean squares MS_seed (df S-1), MS_example (df N-1) and MS_error (df (S-1)(N-1)), and

    Var(mean d) = sigma2_seed / S + sigma2_example / N + sigma2_error / (S N)
    sigma2_seed = (MS_seed - MS_error) / N,  sigma2_example = (MS_example - MS_error) / S,
    sigma2_error = MS_error,

i.e. Var = (MS_seed + MS_example - MS_error) / (S N) (Searle, Casella & McCulloch 1992, ch. 4;
Owen 2007 for the seeds x examples view). Each component is clipped at zero (the floor: the
variance is then never below what either source alone shows, MS_seed / (S N) is the seed-only t
test's variance and MS_example / (S N) the example-level one); t = mean d / sqrt(Var) is referred
to a t distribution with Satterthwaite's degrees of freedom (Satterthwaite 1946) over the mean
squares that enter after clipping: df = Var^2 / sum_k (c_k MS_k)^2 / df_k.

Simulation (``tests/analysis/uncertainty_sim.py``, run as a script; probit model with seed effects,
example difficulties and variant-by-example effects, accuracy 0.95, seed sd of accuracy 0.7 to
1.2 points; 2,000 null repetitions, Monte Carlo sd 0.005; power at a planted difference of
3 points for N = 360 and 1 point for N = 10,000, 1,000 repetitions; the bootstrap with B = 400
and 500 repetitions). Rejection rate at level 0.05:

    N       S   size: crossed  seed t  example z  bootstrap | power: crossed  seed t  bootstrap
    360     3         0.045    0.074   0.102      0.021     |        0.30     0.30    0.17
    360     5         0.045    0.082   0.105      0.015     |        0.47     0.56    0.31
    360     10        0.048    0.122   0.091      0.016     |        0.64     0.79    0.46
    10,000  3         0.052    0.047   0.593      0.195     |        0.18     0.16    0.50
    10,000  5         0.051    0.050   0.608      0.112     |        0.41     0.40    0.57
    10,000  10        0.052    0.051   0.542      0.069     |        0.79     0.79    0.82

The seed-only t test (the old report's) ignores the test-set noise: on 360 examples it rejects a
true null 7 to 12 % of the time, and its higher "power" there is that excess. The example-level
(McNemar-type) z test ignores the seeds and fails whenever seed noise matters. The two-level
percentile bootstrap double-counts the seed-by-example term (conservative on small test sets)
and underestimates the seed part with few seeds (anti-conservative, 20 % at S = 3). The crossed
estimator is the only candidate within Monte Carlo error of 5 % everywhere, and where the others
hold their size it has their power: it is the test used here. Its interval covers the true
difference at 95 % in the same simulation (``tests/analysis/test_calibration.py``).

The bootstrap's role is therefore the quantities without a closed form (rank probabilities, rank
intervals, the probability of improvement) and descriptive per-variant intervals; for inference
on a difference or a contrast use :func:`paired_test` / :func:`crossed_interval`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

CONFIDENCE = 0.95
ALPHA = 0.05
POWER = 0.8
# Memory bound of the bootstrap's example-weight block (float32, N x chunk).
CHUNK_BYTES = 64 * 2**20


# --- input -----------------------------------------------------------------------------------


def _outcomes(correct, present=None) -> tuple[np.ndarray, np.ndarray]:
    """``correct`` as a (V, S, N) bool array and ``present`` as a (V, S) bool mask, checked."""
    c = np.asarray(correct)
    if c.ndim != 3 or 0 in c.shape:
        raise ValueError(f"correct must have shape (variants, seeds, examples), got {c.shape}")
    if c.dtype != bool:
        if not np.issubdtype(c.dtype, np.number) or not np.isin(c, (0, 1)).all():
            raise ValueError(
                "correct must hold booleans or 0/1 (mark missing runs in present, not with NaN)"
            )
        c = c.astype(bool)
    if present is None:
        return c, np.ones(c.shape[:2], dtype=bool)
    p = np.asarray(present)
    if p.shape != c.shape[:2] or p.dtype != bool:
        raise ValueError(
            f"present must be a bool array of shape {c.shape[:2]}, got {p.dtype} {p.shape}"
        )
    return c, p


def _variant_names(variants, n_variants: int) -> tuple[str, ...]:
    if variants is None:
        return tuple(str(v) for v in range(n_variants))
    names = tuple(str(v) for v in variants)
    if len(names) != n_variants or len(set(names)) != n_variants:
        raise ValueError(f"variants must be {n_variants} distinct names, got {len(names)}")
    return names


def _index(variant, names: Sequence[str]) -> int:
    """Position of ``variant`` given by position or by name."""
    if isinstance(variant, (int, np.integer)) and 0 <= variant < len(names):
        return int(variant)
    if str(variant) in names:
        return names.index(str(variant))
    raise ValueError(f"unknown variant {variant!r}; valid: {', '.join(names)}")


# --- paired two-level bootstrap --------------------------------------------------------------


@dataclass(frozen=True)
class PairedBootstrap:
    """Replicates of a comparison under the paired two-level bootstrap (see :func:`paired_bootstrap`).

    ``seed_accuracy`` (V, S): each run's accuracy on the full test set, NaN for missing runs.
    ``replicate_accuracy`` (B, V, S): each run's accuracy on the replicate's resampled examples.
    ``seed_counts`` (B, V, S): how often the replicate drew each run of each variant (0 for
    missing runs). ``replicate_means`` (B, V): each variant's mean accuracy in each replicate;
    a variant without any run is NaN throughout.
    """

    variants: tuple[str, ...]
    seed_accuracy: np.ndarray
    replicate_accuracy: np.ndarray
    seed_counts: np.ndarray
    replicate_means: np.ndarray

    @property
    def observed(self) -> np.ndarray:
        """Each variant's mean accuracy over its runs on the full test set, (V,)."""
        acc = self.seed_accuracy
        n = np.isfinite(acc).sum(axis=1)
        total = np.where(np.isfinite(acc), acc, 0.0).sum(axis=1)
        return np.divide(total, n, out=np.full(n.shape, np.nan), where=n > 0)


def _seed_counts(u: np.ndarray, present: np.ndarray) -> np.ndarray:
    """(B, V, S) draw counts: variant v with k present runs P draws P[floor(u[:, :k] * k)]."""
    n_boot, n_seeds = u.shape
    counts = np.zeros((n_boot, *present.shape), dtype=np.int32)
    rows = n_seeds * np.arange(n_boot)[:, None]
    for v, mask in enumerate(present):
        runs = np.flatnonzero(mask)
        if runs.size:
            drawn = runs[(u[:, : runs.size] * runs.size).astype(np.intp)]
            counts[:, v] = np.bincount((drawn + rows).ravel(), minlength=n_boot * n_seeds).reshape(
                n_boot, n_seeds
            )
    return counts


def paired_bootstrap(
    correct,
    present=None,
    *,
    n_boot: int = 2000,
    rng: np.random.Generator,
    variants: Sequence[str] | None = None,
) -> PairedBootstrap:
    """Paired two-level bootstrap over seeds and test examples (one comparison).

    Replicate b draws, in this order, ``u = rng.random(S)`` and ``idx = rng.integers(0, N, N)``.
    The examples ``idx`` (with replacement) are the same for every variant. The seeds are the
    same for every variant too: a variant with k present runs P (sorted) takes the k runs
    ``P[floor(u[:k] * k)]``, so variants with all runs share the resampled seeds exactly and a
    variant with a missing run resamples its own k runs (its sample size) as closely paired as
    possible. The replicate's mean accuracy of variant v is

        m_b[v] = (1/k) sum_s w_b[v, s] * (1/N) sum_i e_b[i] correct[v, s, i]

    with the multinomial seed counts w_b and example counts e_b (a matrix product over chunks of
    replicates whose example block stays under ``CHUNK_BYTES``; exact, the sums are integers).
    References: Efron & Tibshirani 1993; Owen 2007 ("pigeonhole" bootstrap of crossed data);
    Bouthillier et al. 2021 (both sources of variation in ML benchmarks).
    """
    c, present = _outcomes(correct, present)
    names = _variant_names(variants, c.shape[0])
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng must be a numpy.random.Generator (seeded)")
    if int(n_boot) < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    n_boot = int(n_boot)
    n_variants, n_seeds, n_examples = c.shape
    flat = (c & present[:, :, None]).reshape(n_variants * n_seeds, n_examples).astype(np.float32)
    chunk = max(1, min(n_boot, CHUNK_BYTES // (4 * n_examples)))
    u = np.empty((n_boot, n_seeds))
    hits = np.empty((n_boot, n_variants * n_seeds))
    weights = np.empty((chunk, n_examples), dtype=np.float32)
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        for j, b in enumerate(range(start, stop)):
            u[b] = rng.random(n_seeds)
            weights[j] = np.bincount(rng.integers(0, n_examples, n_examples), minlength=n_examples)
        hits[start:stop] = (flat @ weights[: stop - start].T).T
    replicate_accuracy = hits.reshape(n_boot, n_variants, n_seeds) / n_examples
    replicate_accuracy[:, ~present] = np.nan
    counts = _seed_counts(u, present)
    k = present.sum(axis=1)
    drawn = np.where(counts > 0, replicate_accuracy, 0.0) * counts
    means = np.divide(drawn.sum(axis=2), k, out=np.full((n_boot, n_variants), np.nan), where=k > 0)
    seed_accuracy = np.where(present, c.mean(axis=2), np.nan)
    return PairedBootstrap(names, seed_accuracy, replicate_accuracy, counts, means)


def percentile_intervals(boot: PairedBootstrap, confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Each variant's observed mean accuracy and its bootstrap percentile interval.

    [q_{(1-c)/2}, q_{(1+c)/2}] of ``replicate_means`` (Efron & Tibshirani 1993, ch. 13).
    Descriptive: with few seeds it is too narrow when seed noise dominates, and somewhat wide on
    small test sets (module docstring).
    """
    low, high = _quantiles(boot.replicate_means, confidence)
    return pd.DataFrame(
        {
            "variant": boot.variants,
            "n_seeds": np.isfinite(boot.seed_accuracy).sum(axis=1),
            "accuracy": boot.observed,
            "low": low,
            "high": high,
        }
    )


def _quantiles(values: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    tail = (1 - confidence) / 2
    return np.quantile(values, tail, axis=0), np.quantile(values, 1 - tail, axis=0)


def difference_weights(n_variants: int, a: int, b: int) -> np.ndarray:
    """Contrast weights of "variant a minus variant b": +1 at a, -1 at b."""
    if not (0 <= a < n_variants and 0 <= b < n_variants) or a == b:
        raise ValueError(
            f"a and b must be two distinct variants in 0..{n_variants - 1}, got {a}, {b}"
        )
    w = np.zeros(n_variants)
    w[a], w[b] = 1.0, -1.0
    return w


def level_weights(levels: Sequence, level, versus=None) -> np.ndarray:
    """Contrast weights of a main effect of one factor.

    ``levels[v]`` is variant v's level of the factor. The contrast is the mean over the variants
    at ``level`` minus the mean over the variants at ``versus``, or, when ``versus`` is None,
    minus the mean over all variants (effect coding: the level's marginal mean minus the grand
    mean).
    """
    lv = np.asarray([str(x) for x in levels])
    valid = sorted(set(lv))

    def mean_of(value) -> np.ndarray:
        mask = lv == str(value)
        if not mask.any():
            raise ValueError(f"unknown level {value!r}; valid: {', '.join(valid)}")
        return mask / mask.sum()

    other = np.full(lv.size, 1 / lv.size) if versus is None else mean_of(versus)
    if versus is not None and str(versus) == str(level):
        raise ValueError(f"level and versus must differ, both are {level!r}")
    return mean_of(level) - other


def _weights(weights, n_variants: int) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    if w.shape != (n_variants,) or not np.isfinite(w).all() or not w.any():
        raise ValueError(f"weights must be {n_variants} finite numbers, not all zero")
    return w


def contrast_interval(boot: PairedBootstrap, weights, confidence: float = CONFIDENCE) -> dict:
    """Bootstrap percentile interval of the linear contrast sum_v w[v] * mean[v].

    Because every replicate resamples the same seeds and examples for all variants, the
    replicates of the contrast, ``replicate_means @ w``, keep the pairing between variants.
    Returns ``estimate`` (on the observed means), ``low`` and ``high``.
    """
    w = _weights(weights, len(boot.variants))
    used = w != 0
    if not np.isfinite(boot.observed[used]).all():
        missing = [boot.variants[v] for v in np.flatnonzero(used & ~np.isfinite(boot.observed))]
        raise ValueError(f"variants without any run in the contrast: {', '.join(missing)}")
    reps = boot.replicate_means[:, used] @ w[used]
    low, high = _quantiles(reps, confidence)
    return {
        "estimate": float(boot.observed[used] @ w[used]),
        "low": float(low),
        "high": float(high),
    }


def rank_probabilities(boot: PairedBootstrap, confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Each variant's probability of ranking first and its rank interval, over the replicates.

    Rank 1 is the highest mean accuracy; ties get the average rank. P(first) = mean over
    replicates of 1[m_b[v] = max_u m_b[u]] / #(variants tied at the max), so tied variants split
    the replicate evenly and the probabilities sum to 1. The rank interval is the
    [(1-c)/2, (1+c)/2] quantile pair of the replicates' ranks (inverted-CDF, so both ends are
    ranks that occurred). Variants without runs are left out of the ranking (NaN). Reference:
    Agarwal et al. 2021 (rliable) for rank distributions over bootstrap replicates.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    ranked = np.isfinite(boot.observed)
    out = pd.DataFrame({"variant": boot.variants})
    out[["rank", "p_first", "rank_low", "rank_high"]] = np.nan
    if not ranked.any():
        return out
    means = boot.replicate_means[:, ranked]
    best = means == means.max(axis=1, keepdims=True)
    p_first = (best / best.sum(axis=1, keepdims=True)).mean(axis=0)
    ranks = stats.rankdata(-means, method="average", axis=1)
    tail = (1 - confidence) / 2
    out.loc[ranked, "rank"] = stats.rankdata(-boot.observed[ranked], method="average")
    out.loc[ranked, "p_first"] = p_first
    out.loc[ranked, "rank_low"] = np.quantile(ranks, tail, axis=0, method="inverted_cdf")
    out.loc[ranked, "rank_high"] = np.quantile(ranks, 1 - tail, axis=0, method="inverted_cdf")
    return out


def probability_of_improvement(x, y) -> float:
    """P(X > Y): the chance that a run of X beats a run of Y, ties counting 1/2.

    POI = (1 / (m n)) sum_i sum_j (1[x_i > y_j] + 1/2 1[x_i = y_j]) = U / (m n) with U the
    Mann-Whitney statistic of x over y (Agarwal et al. 2021, rliable; Bouthillier et al. 2021).
    ``x`` and ``y`` are the per-seed scores of the two variants.
    """
    a = np.asarray(x, dtype=float)
    b = np.asarray(y, dtype=float)
    if a.ndim != 1 or b.ndim != 1 or not a.size or not b.size:
        raise ValueError("x and y must be non-empty 1-d sequences of per-seed scores")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("x and y must be finite (leave missing runs out)")
    diff = a[:, None] - b[None, :]
    return float(((diff > 0) + 0.5 * (diff == 0)).mean())


def improvement_probabilities(
    boot: PairedBootstrap, reference, confidence: float = CONFIDENCE
) -> pd.DataFrame:
    """P(variant > reference) over runs (:func:`probability_of_improvement`) with its interval.

    The estimate uses each variant's per-seed accuracies on the full test set; the interval is
    the percentile interval of the same statistic over the bootstrap replicates, whose runs are
    the replicate's drawn runs (with their multiplicities) scored on its resampled examples. The
    reference's own row is NaN.
    """
    ref = _index(reference, boot.variants)
    out = pd.DataFrame({"variant": boot.variants, "poi": np.nan, "low": np.nan, "high": np.nan})
    if not np.isfinite(boot.observed[ref]):
        raise ValueError(f"reference {boot.variants[ref]!r} has no run")
    y, wy = boot.replicate_accuracy[:, ref], boot.seed_counts[:, ref]
    y_obs = boot.seed_accuracy[ref][np.isfinite(boot.seed_accuracy[ref])]
    for v in range(len(boot.variants)):
        if v == ref or not np.isfinite(boot.observed[v]):
            continue
        x, wx = boot.replicate_accuracy[:, v], boot.seed_counts[:, v]
        diff = x[:, :, None] - y[:, None, :]
        wins = (diff > 0) + 0.5 * (diff == 0)
        pair_counts = wx[:, :, None] * wy[:, None, :]
        reps = (wins * pair_counts).sum(axis=(1, 2)) / pair_counts.sum(axis=(1, 2))
        low, high = _quantiles(reps, confidence)
        x_obs = boot.seed_accuracy[v][np.isfinite(boot.seed_accuracy[v])]
        out.loc[v, ["poi", "low", "high"]] = probability_of_improvement(x_obs, y_obs), low, high
    return out


# --- variance components of a crossed seeds x examples design -------------------------------


@dataclass(frozen=True)
class VarianceComponents:
    """Mean squares of a seeds x examples table d[s, i] and the variance of its grand mean.

    ``ms_seed`` (df S-1), ``ms_example`` (df N-1) and ``ms_error`` (df (S-1)(N-1)) are the two-way
    ANOVA's mean squares without replication; with one seed ``ms_seed`` and ``ms_error`` are NaN
    and ``ms_example`` is the sample variance of d over the examples.
    """

    n_seeds: int
    n_examples: int
    ms_seed: float
    ms_example: float
    ms_error: float

    @property
    def seed(self) -> float:
        """sigma2_seed = max(0, (MS_seed - MS_error) / N): seed-to-seed variance."""
        return max(0.0, (self.ms_seed - self.ms_error) / self.n_examples)

    @property
    def example(self) -> float:
        """sigma2_example = max(0, (MS_example - MS_error) / S): example-to-example variance."""
        return max(0.0, (self.ms_example - self.ms_error) / self.n_seeds)

    @property
    def error(self) -> float:
        """sigma2_error = MS_error: the seed-by-example interaction (and Bernoulli noise)."""
        return self.ms_error

    def _terms(self, n_seeds: int | None) -> list[tuple[float, float]]:
        """(c_k * E[MS_k], df_k) of the variance at ``n_seeds`` seeds (observed MS at S)."""
        s = self.n_seeds if n_seeds is None else int(n_seeds)
        n = self.n_examples
        if s < 1 or (s == 1 and self.n_seeds > 1):
            raise ValueError(f"n_seeds must be >= 2 to include the seed variance, got {s}")
        if self.n_seeds == 1:
            if s != 1:
                return [(math.nan, math.nan)]
            return [(self.ms_example / n, n - 1)]
        seed_in, example_in = self.ms_seed > self.ms_error, self.ms_example > self.ms_error
        ms_seed = self.ms_error + n * self.seed
        ms_example = self.ms_error + s * self.example
        error_coef = 1.0 - seed_in - example_in
        scale = 1.0 / (s * n)
        terms = [(scale * ms_seed, s - 1)] if seed_in else []
        terms += [(scale * ms_example, n - 1)] if example_in else []
        if error_coef:
            terms.append((error_coef * scale * self.ms_error, (s - 1) * (n - 1)))
        return terms

    def variance(self, n_seeds: int | None = None) -> float:
        """Var(mean d) = sigma2_seed/S + sigma2_example/N + sigma2_error/(S N), components
        clipped at zero, at the observed S or projected to ``n_seeds`` (N fixed). With one seed
        only the example-level variance MS_example / N is available (seed noise left out), and
        no projection (NaN)."""
        return float(sum(value for value, _ in self._terms(n_seeds)))

    def df(self, n_seeds: int | None = None) -> float:
        """Satterthwaite's df = Var^2 / sum_k (c_k MS_k)^2 / df_k over the mean squares that
        enter the clipped variance (expected mean squares when projected)."""
        terms = self._terms(n_seeds)
        den = sum(value**2 / dof for value, dof in terms)
        var = sum(value for value, _ in terms)
        if not math.isfinite(var):
            return math.nan
        return float(var**2 / den) if den > 0 else math.inf


def variance_components(d) -> VarianceComponents:
    """Two-way ANOVA mean squares of a seeds x examples table ``d`` (S, N), S >= 1, N >= 2.

    SS_seed = N sum_s (dbar_s. - dbar)^2, SS_example = S sum_i (dbar_.i - dbar)^2,
    SS_error = sum (d - dbar)^2 - SS_seed - SS_example; MS = SS / df.
    """
    x = np.asarray(d, dtype=float)
    if x.ndim != 2 or x.shape[1] < 2 or x.shape[0] < 1 or not np.isfinite(x).all():
        raise ValueError(
            f"d must be a finite (seeds, examples) table with >= 2 examples, got {x.shape}"
        )
    s, n = x.shape
    grand = x.mean()
    ss_example = s * ((x.mean(axis=0) - grand) ** 2).sum()
    if s == 1:
        return VarianceComponents(1, n, math.nan, ss_example / (n - 1), math.nan)
    ss_seed = n * ((x.mean(axis=1) - grand) ** 2).sum()
    ss_error = max(0.0, ((x - grand) ** 2).sum() - ss_seed - ss_example)
    return VarianceComponents(
        s, n, ss_seed / (s - 1), ss_example / (n - 1), ss_error / ((s - 1) * (n - 1))
    )


def _contrast_table(c: np.ndarray, present: np.ndarray, w: np.ndarray) -> np.ndarray:
    """d[s, i] = sum_v w[v] correct[v, s, i] over the seeds where every weighted variant ran."""
    used = w != 0
    seeds = present[used].all(axis=0)
    return np.tensordot(w[used], c[used][:, seeds].astype(float), axes=1)


def crossed_interval(correct, weights, present=None, confidence: float = CONFIDENCE) -> dict:
    """Interval of a linear contrast (or of one variant's mean) from both sources of noise.

    d = sum_v w[v] correct[v] on the seeds where all weighted variants ran; estimate = mean d,
    se = sqrt(Var) from :func:`variance_components`, interval estimate -/+ t_{(1+c)/2, df} se
    with Satterthwaite's df. Returns estimate, se, df, low, high, n_seeds, n_examples and
    ``seed_noise_included`` (False with one seed: only the test-set noise is in the interval).
    Without any variation in d the interval is not estimable (NaN bounds).
    """
    c, present = _outcomes(correct, present)
    w = _weights(weights, c.shape[0])
    d = _contrast_table(c, present, w)
    if d.shape[0] == 0:
        raise ValueError("no seed on which every variant of the contrast has a run")
    comp = variance_components(d)
    se, df = math.sqrt(comp.variance()), comp.df()
    half = stats.t.ppf(0.5 + confidence / 2, df) * se if se > 0 else math.nan
    est = float(d.mean())
    return {
        "estimate": est,
        "se": se,
        "df": df,
        "low": est - half,
        "high": est + half,
        "n_seeds": comp.n_seeds,
        "n_examples": comp.n_examples,
        "seed_noise_included": comp.n_seeds > 1,
    }


# --- tests against the reference -------------------------------------------------------------


def minimum_detectable_difference(
    se: float, df: float, alpha: float = ALPHA, power: float = POWER
) -> float:
    """Smallest true difference a two-sided level-alpha test detects with probability ``power``:

        MDE = (t_{1-alpha/2, df} + t_{power, df}) * se

    (the usual normal-theory power approximation with t quantiles; e.g. Cohen 1988, ch. 2).
    """
    if not (0 < alpha < 1 and 0 < power < 1):
        raise ValueError(f"alpha and power must be in (0, 1), got {alpha}, {power}")
    if not (np.isfinite(se) and se > 0 and df > 0):
        return math.nan
    return float((stats.t.ppf(1 - alpha / 2, df) + stats.t.ppf(power, df)) * se)


def detectable_difference(
    se: float, df: float, alpha: float = ALPHA, power: float = POWER
) -> float:
    """:func:`minimum_detectable_difference` from an *estimated* standard error: ``se`` is first
    made median-unbiased for the true spread, se * sqrt(df / chi2_{0.5, df}) (with few df the
    estimate is skewed low, and a difference at the plain formula's value is found less often
    than ``power``; tests/analysis/test_calibration.py measures the rate)."""
    if not (np.isfinite(se) and se > 0 and np.isfinite(df) and df > 0):
        return math.nan
    return minimum_detectable_difference(
        se * math.sqrt(df / stats.chi2.ppf(0.5, df)), df, alpha, power
    )


def seeds_needed(
    components: VarianceComponents,
    effect: float,
    alpha: float = ALPHA,
    power: float = POWER,
    max_seeds: int = 10**6,
) -> dict:
    """How many seeds (with the same N test examples) detect ``effect`` at ``alpha``, ``power``.

    The smallest S' with MDE(S') = (t_{1-a/2,df'} + t_{power,df'}) sqrt(Var(S')) <= effect, where
    Var(S') = sigma2_seed/S' + sigma2_example/N + sigma2_error/(S' N) from the estimated
    components and df' is Satterthwaite's at S'. Only the seed part shrinks with more seeds: as
    S' grows the MDE falls to (t + t) sqrt(sigma2_example / N) (df N-1), and an effect at or
    below that floor needs a larger test set whatever the number of seeds.

    Returns ``n_seeds`` (int, or None) and ``reason`` (None when a number was found).
    """
    if not (np.isfinite(effect) and effect > 0):
        raise ValueError(f"effect must be a positive difference in accuracy, got {effect}")
    if components.n_seeds < 2:
        return {"n_seeds": None, "reason": "seed variance not estimable from one seed"}
    n = components.n_examples
    floor_mde = minimum_detectable_difference(
        math.sqrt(components.example / n), n - 1, alpha, power
    )
    if components.example > 0 and effect <= floor_mde:
        return {
            "n_seeds": None,
            "reason": (
                f"needs a larger test set: with {n} test examples even infinitely many seeds "
                f"leave a minimum detectable difference of {floor_mde:.4g}"
            ),
        }

    def detects(s: int) -> bool:
        var = components.variance(s)
        return (
            var == 0
            or minimum_detectable_difference(math.sqrt(var), components.df(s), alpha, power)
            <= effect
        )

    high = 2
    while not detects(high):
        if high >= max_seeds:
            return {"n_seeds": None, "reason": f"needs more than {max_seeds} seeds"}
        high = min(2 * high, max_seeds)
    low = high // 2 if high > 2 else 1
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if detects(mid) else (mid, high)
    return {"n_seeds": high, "reason": None}


def _record(**fields) -> dict:
    base = dict.fromkeys(
        ["estimate", "se", "df", "ci_low", "ci_high", "statistic", "p", "mde"], math.nan
    )
    return base | fields


def paired_test(
    correct,
    variant,
    reference,
    present=None,
    alpha: float = ALPHA,
    power: float = POWER,
    variants: Sequence[str] | None = None,
) -> dict:
    """Test "variant vs reference" with both sources of noise (module docstring).

    d[s, i] = correct[variant, s, i] - correct[reference, s, i] on the seeds where both ran.
    With two or more seeds: the crossed t test (Satterthwaite df), CI estimate -/+ t se.
    Degenerate cases, each named in ``method`` and ``note``:
    - identical predictions (d = 0 everywhere): estimate 0, p = 1, "no difference observed";
      the interval is -/+ the Clopper-Pearson upper bound 1 - (alpha/2)^(1/N) of the share of
      examples on which they could disagree (0 of N observed), never zero width;
    - one common seed: only the test-set noise is available; exact McNemar test on the
      discordant examples (McNemar 1947; Dietterich 1998), the CI and MDE from the example-level
      variance, ``seed_noise_included`` False;
    - every d equal and non-zero: zero variance, exact sign test over the N examples.
    ``mde`` is :func:`minimum_detectable_difference` at ``alpha``/``power`` (NaN when the
    spread is zero). ``components`` holds the :class:`VarianceComponents` (None untested).
    """
    c, present = _outcomes(correct, present)
    names = _variant_names(variants, c.shape[0])
    v, ref = _index(variant, names), _index(reference, names)
    if v == ref:
        raise ValueError(f"variant and reference are the same ({names[v]!r})")
    d = _contrast_table(c, present, difference_weights(len(names), v, ref))
    n_seeds, n_examples = d.shape
    out = {"variant": names[v], "reference": names[ref], "n_seeds": n_seeds}
    out |= {"n_examples": n_examples, "components": None, "seed_noise_included": n_seeds > 1}
    if n_seeds == 0:
        return out | _record(
            method="not tested", note="no seed on which both have a run", seed_noise_included=False
        )
    comp = variance_components(d)
    out["components"] = comp
    est = float(d.mean())
    if not d.any():
        bound = 1 - (alpha / 2) ** (1 / n_examples)
        return out | _record(
            estimate=0.0, se=0.0, ci_low=-bound, ci_high=bound, statistic=0.0, p=1.0,
            method="no difference observed",
            note=f"identical predictions on all {n_examples} examples for every seed",
        )  # fmt: skip
    var, df = comp.variance(), comp.df()
    if var == 0:
        p = stats.binomtest(n_examples, n_examples).pvalue
        return out | _record(
            estimate=est, se=0.0, df=df, p=float(p), method="sign test (zero variance)",
            note="every paired difference is equal: exact sign test over the examples",
        )  # fmt: skip
    se = math.sqrt(var)
    half = stats.t.ppf(1 - alpha / 2, df) * se
    rec = out | _record(
        estimate=est, se=se, df=df, ci_low=est - half, ci_high=est + half, statistic=est / se,
        mde=detectable_difference(se, df, alpha, power),
    )  # fmt: skip
    if n_seeds > 1:
        p = 2 * stats.t.sf(abs(est / se), df)
        return rec | {"p": float(p), "method": "crossed seeds x examples t", "note": ""}
    wins, losses = int((d > 0).sum()), int((d < 0).sum())
    p = stats.binomtest(wins, wins + losses).pvalue
    return rec | {
        "p": float(p),
        "method": "exact McNemar (one seed)",
        "note": "one seed: only the test-set noise is accounted for, seed variation not estimable",
    }


def contrast_test(
    correct, weights, present=None, alpha: float = ALPHA, power: float = POWER
) -> dict:
    """Test that the contrast sum_v w[v] accuracy[v] is zero, with both sources of noise.

    The generalisation of :func:`paired_test` to any weights (e.g. a main effect: the mean of
    one level's variants minus the mean of another's, :func:`level_weights`), on the seeds where
    every weighted variant ran. Two seeds or more: the crossed t test; one seed: the
    example-level t test (``seed_noise_included`` False); no variation in d at all: p = 1
    when d is zero everywhere ("no difference observed"), else not testable. Returns the
    fields of :func:`paired_test` (without the variant names).
    """
    c, present = _outcomes(correct, present)
    w = _weights(weights, c.shape[0])
    d = _contrast_table(c, present, w)
    n_seeds, n_examples = d.shape
    out = {"n_seeds": n_seeds, "n_examples": n_examples, "components": None}
    out["seed_noise_included"] = n_seeds > 1
    if n_seeds == 0:
        return out | _record(method="not tested", note="no seed on which all its variants ran")
    comp = variance_components(d)
    out["components"] = comp
    est = float(d.mean())
    var, df = comp.variance(), comp.df()
    if var == 0:
        if not d.any():
            return out | _record(
                estimate=0.0, se=0.0, statistic=0.0, p=1.0, method="no difference observed",
                note=f"the same outcome on all {n_examples} examples for every seed",
            )  # fmt: skip
        return out | _record(
            estimate=est, se=0.0, method="not tested", note="every difference is equal"
        )
    se = math.sqrt(var)
    half = stats.t.ppf(1 - alpha / 2, df) * se
    return out | _record(
        estimate=est, se=se, df=df, ci_low=est - half, ci_high=est + half, statistic=est / se,
        p=float(2 * stats.t.sf(abs(est / se), df)),
        mde=detectable_difference(se, df, alpha, power),
        method="crossed seeds x examples t" if n_seeds > 1 else "example-level t (one seed)",
        note="" if n_seeds > 1 else "one seed: seed variation not estimable",
    )  # fmt: skip


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjusted p-values (Holm 1979); NaN entries are not in the family.

    With the m finite p-values sorted, p_(1) <= ... <= p_(m):
    adj_(j) = min(1, max_{l <= j} (m - l + 1) p_(l)). Reject where adj <= alpha.
    """
    p = np.asarray(pvalues, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    idx = np.flatnonzero(np.isfinite(p))
    if idx.size:
        order = idx[np.argsort(p[idx], kind="stable")]
        steps = (idx.size - np.arange(idx.size)) * p[order]
        adjusted[order] = np.minimum(1.0, np.maximum.accumulate(steps))
    return adjusted


def compare_to_reference(
    correct,
    reference,
    present=None,
    alpha: float = ALPHA,
    power: float = POWER,
    variants: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Every variant vs the reference (:func:`paired_test`), Holm-corrected over the family.

    One row per other variant: the paired test's fields, ``p_holm``, ``significant``
    (p_holm <= alpha), ``mde`` at the per-test level alpha and ``mde_holm`` at Holm's first step
    alpha/m (m = number of tests: what the strictest step could detect), and ``verdict``:
    "better" / "worse" (significant), "no difference detected" (not significant: an absence of
    evidence, never "equal"), "no difference observed" (identical predictions) or "not tested".
    ``statement`` says the same in words with the detectable difference in accuracy points.
    """
    c, present = _outcomes(correct, present)
    names = _variant_names(variants, c.shape[0])
    ref = _index(reference, names)
    rows = [
        paired_test(c, v, ref, present, alpha, power, names) for v in range(len(names)) if v != ref
    ]
    table = pd.DataFrame(rows)
    table["p_holm"] = holm(table["p"])
    m = int(np.isfinite(table["p"]).sum())
    table["significant"] = table["p_holm"] <= alpha
    table["mde_holm"] = [
        detectable_difference(se, df, alpha / max(m, 1), power)
        for se, df in zip(table["se"], table["df"], strict=True)
    ]
    verdicts = [_verdict(row, names[ref]) for row in table.itertuples()]
    table["verdict"] = [v for v, _ in verdicts]
    table["statement"] = [s for _, s in verdicts]
    return table


def _verdict(row, reference: str) -> tuple[str, str]:
    if row.method == "not tested":
        return "not tested", f"{row.variant}: not tested ({row.note})"
    if row.method == "no difference observed":
        return "no difference observed", (
            f"{row.variant}: no difference observed: identical predictions to {reference} "
            f"(|difference| < {100 * row.ci_high:.2g} points)"
        )
    if row.significant:
        word = "better" if row.estimate > 0 else "worse"
        return word, (
            f"{row.variant}: {word} than {reference} by {100 * abs(row.estimate):.2g} points "
            f"(Holm-adjusted p = {row.p_holm:.2g})"
        )
    detect = (
        f"; differences under about {100 * row.mde:.2g} points would likely be missed"
        if np.isfinite(row.mde)
        else ""
    )
    return "no difference detected", (
        f"{row.variant}: no difference from {reference} detected "
        f"(difference {100 * row.estimate:+.2g} points, Holm-adjusted p = {row.p_holm:.2g}){detect}"
    )
