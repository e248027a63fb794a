"""Simulated comparisons with a known truth, for the calibration tests and the method choice.

Probit model of one comparison: run (v, s) classifies example i correctly when

    mu_v + seed_sd z[v, s] + example_sd b[i] + variant_example_sd c[v, i] + eps[v, s, i] > 0

with independent standard normals z (seed effects), b (example difficulty, shared by all
variants), c (which examples suit variant v) and eps (the seed-by-example noise). The population
accuracy of variant v is then exactly Phi(mu_v / sqrt(1 + tau2)), tau2 the sum of the three
variances, so ``mu_v`` is set from the wanted accuracy and a planted difference is known
exactly. Variants with the same accuracy are draws from the same distribution (a null that is
not identical predictions).

Run as a script, it prints the size/power table of the candidate tests that the docstring of
``nnstudy.analysis.uncertainty`` reports:

    python tests/analysis/uncertainty_sim.py [repetitions]
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np
from nnstudy.analysis import uncertainty as unc
from scipy import special, stats

# Realistic defaults: accuracy 0.95, seed sd of a run's accuracy about 0.7 (N = 10,000) to
# 1.2 points (N = 360, where it includes the seed-by-example noise).
SEED_SD, EXAMPLE_SD, VARIANT_EXAMPLE_SD = 0.15, 1.5, 0.6


def simulate(
    rng: np.random.Generator,
    n_reps: int,
    accuracy,
    n_seeds: int,
    n_examples: int,
    seed_sd: float = SEED_SD,
    example_sd: float = EXAMPLE_SD,
    variant_example_sd: float = VARIANT_EXAMPLE_SD,
) -> np.ndarray:
    """(n_reps, V, S, N) bool outcomes; ``accuracy`` (V,) the variants' population accuracies."""
    acc = np.asarray(accuracy, dtype=float)
    scale = np.sqrt(1 + seed_sd**2 + example_sd**2 + variant_example_sd**2)
    mu = (scale * special.ndtri(acc)).astype(np.float32)
    n_variants = acc.size
    out = np.empty((n_reps, n_variants, n_seeds, n_examples), dtype=bool)
    for r in range(n_reps):
        eta = np.float32(example_sd) * rng.standard_normal(n_examples, dtype=np.float32)
        eta = eta + mu[:, None, None]
        eta = eta + seed_sd * rng.standard_normal((n_variants, n_seeds, 1), dtype=np.float32)
        eta = eta + variant_example_sd * rng.standard_normal(
            (n_variants, 1, n_examples), dtype=np.float32
        )
        out[r] = eta + rng.standard_normal(eta.shape, dtype=np.float32) > 0
    return out


def crossed_p(reps: np.ndarray) -> np.ndarray:
    """p of the chosen test (``paired_test``, variant 0 vs 1) in each repetition."""
    return np.array([unc.paired_test(x, 0, 1)["p"] for x in reps])


def seed_t_p(reps: np.ndarray) -> np.ndarray:
    """The old report's test: paired t over the per-seed accuracies."""
    acc = reps.mean(axis=3)
    d = acc[:, 0] - acc[:, 1]
    with warnings.catch_warnings():  # scipy warns on nearly constant differences
        warnings.simplefilter("ignore", RuntimeWarning)
        p = stats.ttest_rel(acc[:, 0], acc[:, 1], axis=1).pvalue
    return np.where(np.all(d == 0, axis=1), 1.0, p)


def example_z_p(reps: np.ndarray) -> np.ndarray:
    """Example-level (McNemar-type) z test on the seed-averaged per-example differences."""
    d = reps[:, 0].mean(axis=1) - reps[:, 1].mean(axis=1)
    se = d.std(axis=1, ddof=1) / np.sqrt(d.shape[1])
    z = np.divide(d.mean(axis=1), se, out=np.zeros(len(d)), where=se > 0)
    return 2 * stats.norm.sf(np.abs(z))


def bootstrap_p(reps: np.ndarray, rng: np.random.Generator, n_boot: int = 400) -> np.ndarray:
    """Two-level percentile bootstrap, p by inverting its interval: 2 min(P*(D<=0), P*(D>=0))."""
    out = np.empty(len(reps))
    for r, x in enumerate(reps):
        diff = unc.paired_bootstrap(x, n_boot=n_boot, rng=rng).replicate_means @ [1.0, -1.0]
        out[r] = min(1.0, 2 * min((diff <= 0).mean(), (diff >= 0).mean()))
    return out


def main(n_reps: int) -> None:
    rng = np.random.default_rng(20240601)
    print("N S | size: crossed seed_t example_z bootstrap | power: crossed seed_t bootstrap")
    for n_examples, effect in ((360, 0.02), (10_000, 0.005)):
        for n_seeds in (3, 5, 10):
            start = time.perf_counter()
            null = simulate(rng, n_reps, [0.95, 0.95], n_seeds, n_examples)
            alt = simulate(rng, n_reps // 2, [0.95 + effect, 0.95], n_seeds, n_examples)
            size = [np.mean(f(null) < 0.05) for f in (crossed_p, seed_t_p, example_z_p)]
            size.append(np.mean(bootstrap_p(null[: n_reps // 2], rng) < 0.05))
            power = [np.mean(f(alt) < 0.05) for f in (crossed_p, seed_t_p)]
            power.append(np.mean(bootstrap_p(alt, rng) < 0.05))
            cells = " ".join(f"{x:.3f}" for x in size) + " | " + " ".join(f"{x:.2f}" for x in power)
            print(f"{n_examples} {n_seeds} | {cells}  ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
