"""Across datasets: which variants of one experiment rank better over n >= 2 datasets.

The input is ``scores``: a DataFrame with one row per dataset and one column per variant, each
cell the variant's mean test accuracy on that dataset (higher is better), every cell filled.
Following Demsar (2006), variants are ranked within each dataset (rank 1 the best, ties get the
average rank), the Friedman test asks whether the average ranks differ at all, and the Nemenyi
critical difference says which pairs differ. With few datasets these tests may be unable to
reject whatever the data: :func:`design_limits` says when and why.

References: Friedman 1937, 1940; Iman & Davenport 1980; Nemenyi 1963; Demsar 2006, "Statistical
comparisons of classifiers over multiple data sets", JMLR 7:1-30.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
from scipy import stats

ALPHA = 0.05


def _scores(scores: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(scores, pd.DataFrame):
        raise ValueError("scores must be a DataFrame: one row per dataset, one column per variant")
    n, k = scores.shape
    if n < 2 or k < 2:
        raise ValueError(f"need >= 2 datasets and >= 2 variants, got {n} datasets, {k} variants")
    if not scores.columns.is_unique:
        raise ValueError("scores has repeated variant columns")
    values = scores.apply(pd.to_numeric, errors="coerce")
    missing = [(d, v) for d, v in zip(*np.nonzero(~np.isfinite(values.to_numpy())), strict=True)]
    if missing:
        d, v = missing[0]
        raise ValueError(
            f"variant {scores.columns[v]!r} has no score on dataset {scores.index[d]!r} "
            f"({len(missing)} missing cells): the Friedman test needs complete blocks"
        )
    return values.astype(float)


def rank_table(scores: pd.DataFrame) -> pd.DataFrame:
    """Each variant's rank within each dataset: 1 = highest score, ties averaged."""
    values = _scores(scores)
    ranks = stats.rankdata(-values.to_numpy(), method="average", axis=1)
    return pd.DataFrame(ranks, index=values.index, columns=values.columns)


def average_ranks(scores: pd.DataFrame) -> pd.Series:
    """R_j = (1/n) sum_i r_ij, the variants' average ranks over the n datasets (Demsar 2006, 3.2.2)."""
    return rank_table(scores).mean(axis=0).rename("average_rank")


def iman_davenport(chi2: float, n_datasets: int, n_variants: int) -> tuple[float, float]:
    """Iman-Davenport's F_F = (n-1) chi2 / (n(k-1) - chi2) ~ F(k-1, (k-1)(n-1)) and its p-value.

    Less conservative than the chi-square reference (Iman & Davenport 1980; Demsar 2006, eq. 3).
    At complete agreement (chi2 = n(k-1)) F_F is infinite and p = 0.
    """
    n, k = n_datasets, n_variants
    den = n * (k - 1) - chi2
    f = (n - 1) * chi2 / den if den > 0 else math.inf
    return float(f), float(stats.f.sf(f, k - 1, (k - 1) * (n - 1)))


def friedman(scores: pd.DataFrame) -> dict:
    """Friedman's test that all variants have the same average rank.

    chi2_F = [12 n / (k (k+1))] [sum_j R_j^2 - k (k+1)^2 / 4], divided by the tie correction
    1 - sum (t^3 - t) / (n k (k^2 - 1)) over the groups of t tied scores within a dataset (as
    scipy.stats.friedmanchisquare; without ties it is Demsar's eq. 2), referred to chi-square
    with k-1 df; and Iman-Davenport's F (:func:`iman_davenport`). Returns statistic, p,
    f_statistic, f_p, n_datasets, n_variants.
    """
    ranks = rank_table(scores).to_numpy()
    n, k = ranks.shape
    mean_ranks = ranks.mean(axis=0)
    chi2 = 12 * n / (k * (k + 1)) * (np.sum(mean_ranks**2) - k * (k + 1) ** 2 / 4)
    ties = sum(np.sum(c**3 - c) for c in (np.unique(row, return_counts=True)[1] for row in ranks))
    correction = 1 - ties / (n * k * (k**2 - 1))
    # All scores tied within every dataset: no evidence of any difference.
    chi2 = chi2 / correction if correction > 0 else 0.0
    f, f_p = iman_davenport(chi2, n, k)
    return {
        "statistic": float(chi2),
        "p": float(stats.chi2.sf(chi2, k - 1)),
        "f_statistic": f,
        "f_p": f_p,
        "n_datasets": n,
        "n_variants": k,
    }


def nemenyi_q(n_variants: int, alpha: float = ALPHA) -> float:
    """q_alpha = studentized range quantile q_{1-alpha}(k, inf) / sqrt 2 (Demsar 2006, Table 5a)."""
    if n_variants < 2 or not 0 < alpha < 1:
        raise ValueError(f"need >= 2 variants and alpha in (0, 1), got {n_variants}, {alpha}")
    return float(stats.studentized_range.ppf(1 - alpha, n_variants, np.inf) / math.sqrt(2))


def critical_difference(n_variants: int, n_datasets: int, alpha: float = ALPHA) -> float:
    """Nemenyi's critical difference CD = q_alpha sqrt(k (k+1) / (6 n)) (Demsar 2006, 3.2.2)."""
    if n_datasets < 1:
        raise ValueError(f"need >= 1 dataset, got {n_datasets}")
    k = n_variants
    return nemenyi_q(k, alpha) * math.sqrt(k * (k + 1) / (6 * n_datasets))


def cliques(average: pd.Series, cd: float) -> list[list[str]]:
    """Groups of variants not significantly different (Demsar's bars in the CD diagram).

    With the variants sorted by average rank, each group is a maximal run whose ranks span at
    most ``cd`` (differences > CD are significant); groups of one and groups inside a larger
    one are left out. Ties in rank keep the given column order.
    """
    order = average.sort_values(kind="stable")
    names, values = list(order.index), order.to_numpy()
    spans = []
    for i in range(len(values)):
        j = int(np.searchsorted(values, values[i] + cd, side="right")) - 1
        if j > i and not (spans and spans[-1][1] >= j):
            spans.append((i, j))
    return [[str(n) for n in names[i : j + 1]] for i, j in spans]


def nemenyi(scores: pd.DataFrame, alpha: float = ALPHA) -> dict:
    """Nemenyi's post-hoc comparison of all pairs over the datasets.

    Returns ``average_ranks`` (Series), ``cd`` (:func:`critical_difference`), ``pairs`` (a
    DataFrame of every pair a, b with their rank difference R_a - R_b and ``significant`` =
    |R_a - R_b| > CD) and ``cliques`` (:func:`cliques`). Demsar recommends reading it only when
    the Friedman test rejects.
    """
    avg = average_ranks(scores)
    n, k = scores.shape
    cd = critical_difference(k, n, alpha)
    rows = [
        {"a": str(a), "b": str(b), "rank_difference": avg[a] - avg[b]}
        for a, b in itertools.combinations(avg.index, 2)
    ]
    pairs = pd.DataFrame(rows)
    pairs["significant"] = pairs["rank_difference"].abs() > cd
    return {"average_ranks": avg, "cd": cd, "pairs": pairs, "cliques": cliques(avg, cd)}


def design_limits(n_variants: int, n_datasets: int, alpha: float = ALPHA) -> dict:
    """Whether this design (k variants, n datasets) can ever show a difference, and why not.

    - Nemenyi: no pair can differ when CD >= k - 1, the largest possible rank gap (the same
      variant best and another worst on every dataset). ``min_datasets_nemenyi`` is the smallest
      n with CD(k, n) < k - 1.
    - Friedman, chi-square reference: its largest statistic is n(k-1) (identical rankings on every
      dataset), so its smallest attainable p is P(chi2_{k-1} >= n(k-1)); above alpha it can never
      reject. (The exact permutation distribution's smallest p is (k!)^(1-n), reported as
      ``friedman_min_p_exact``; Iman-Davenport's F gives p = 0 at complete agreement, so it alone
      is no sign of a usable design.)

    Returns cd, max_rank_gap, nemenyi_possible, min_datasets_nemenyi, friedman_min_p,
    friedman_min_p_exact, friedman_possible, and ``reasons`` (sentences; empty when both can).
    """
    k, n = int(n_variants), int(n_datasets)
    if n < 2:
        raise ValueError(f"need >= 2 datasets for an across-dataset analysis, got {n}")
    cd = critical_difference(k, n, alpha)
    q = nemenyi_q(k, alpha)
    # CD(k, n) < k - 1  <=>  n > q^2 k (k+1) / (6 (k-1)^2).
    min_n = math.floor(q**2 * k * (k + 1) / (6 * (k - 1) ** 2)) + 1
    min_p = float(stats.chi2.sf(n * (k - 1), k - 1))
    min_p_exact = math.exp(-(n - 1) * math.lgamma(k + 1))
    reasons = []
    if cd >= k - 1:
        reasons.append(
            f"Nemenyi: with {k} variants and {n} datasets the critical difference is {cd:.2f}, "
            f"more than the largest possible rank gap {k - 1}: no pair can ever differ "
            f"(needs at least {min_n} datasets)."
        )
    if min_p > alpha:
        reasons.append(
            f"Friedman: even identical rankings on all {n} datasets give p = {min_p:.3g} > "
            f"{alpha:g} (chi-square reference): it can never reject."
        )
    return {
        "cd": cd,
        "max_rank_gap": k - 1,
        "nemenyi_possible": cd < k - 1,
        "min_datasets_nemenyi": min_n,
        "friedman_min_p": min_p,
        "friedman_min_p_exact": min_p_exact,
        "friedman_possible": min_p <= alpha,
        "reasons": reasons,
    }
