"""Statistics over the tidy runs table: variant summaries, main effects, interaction, tests.

Conventions used throughout:
- A *variant* is a run configuration without its seed; its runs are the seeds.
- A run counts towards the statistics when its metric is finite (ok, early_stopped and diverged
  runs that still produced a test metric). Failed runs and runs without a metric are counted
  (``n_failed``/``n_missing``) but never averaged in.
- Anything that needs two or more seeds (standard deviation, confidence interval, test) is NaN
  when there are fewer: "not available", never zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.special import stdtrit

CONFIDENCE = 0.95
ALPHA = 0.05


def t_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> dict:
    """Mean, sample std and the two-sided t confidence interval of the mean.

    NaN entries are ignored. With fewer than two values std and CI are NaN.
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = int(x.size)
    out = {"n": n, "mean": math.nan, "std": math.nan, "ci_low": math.nan, "ci_high": math.nan}
    if n == 0:
        return out
    out["mean"] = float(x.mean())
    if n < 2:
        return out
    std = float(x.std(ddof=1))
    # The t quantile (scipy.stats.t.ppf's own kernel), without a second of scipy.stats import.
    half = float(stdtrit(n - 1, 0.5 + confidence / 2)) * std / math.sqrt(n)
    out.update(std=std, ci_low=out["mean"] - half, ci_high=out["mean"] + half)
    return out


def usable(runs: pd.DataFrame, metric: str = "test_accuracy") -> pd.DataFrame:
    """Runs whose metric can be averaged (finite, and the run did not fail)."""
    ok = runs["status"].ne("failed") & np.isfinite(pd.to_numeric(runs[metric], errors="coerce"))
    return runs[ok]


def summarize_variants(
    runs: pd.DataFrame, factors: Sequence[str], metric: str = "test_accuracy"
) -> pd.DataFrame:
    """One row per (dataset, variant): run counts by status and the metric's mean/std/CI."""
    rows = []
    for (dataset, variant), group in runs.groupby(["dataset", "variant"], sort=True):
        good = usable(group, metric)
        row = {"dataset": dataset, "variant": variant}
        row.update({f: group[f].iloc[0] for f in factors})
        row.update(
            n_runs=len(group),
            n_diverged=int(group["status"].eq("diverged").sum()),
            n_failed=int(group["status"].eq("failed").sum()),
        )
        row.update(t_interval(good[metric].astype(float)))
        row["train_seconds"] = float(group["train_seconds"].astype(float).mean())
        rows.append(row)
    cols = ["dataset", "variant", *factors, "n_runs", "n_diverged", "n_failed", "n"]
    cols += ["mean", "std", "ci_low", "ci_high", "train_seconds"]
    return pd.DataFrame(rows, columns=cols)


def _per_seed_means(runs: pd.DataFrame, keys: list[str], metric: str) -> pd.DataFrame:
    """Average the metric over everything but ``keys`` and the seed (seed acts as a block)."""
    good = usable(runs, metric).astype({metric: float})
    return good.groupby([*keys, "seed"], sort=True)[metric].mean().reset_index()


def main_effects(
    runs: pd.DataFrame, factors: Sequence[str], metric: str = "test_accuracy"
) -> pd.DataFrame:
    """Marginal mean of each factor level per dataset, with a t-CI over seeds.

    For each seed the metric is averaged over all other factors; the CI then reflects the
    seed-to-seed variation of that marginal mean (NaN with a single seed).
    """
    rows = []
    for factor in factors:
        seeds = _per_seed_means(runs, ["dataset", factor], metric)
        for (dataset, level), group in seeds.groupby(["dataset", factor], sort=True):
            rows.append(
                {"dataset": dataset, "factor": factor, "level": level} | t_interval(group[metric])
            )
    cols = ["dataset", "factor", "level", "n", "mean", "std", "ci_low", "ci_high"]
    return pd.DataFrame(rows, columns=cols)


def interaction(
    runs: pd.DataFrame,
    rows: str = "optimizer",
    cols: str = "activation",
    metric: str = "test_accuracy",
) -> pd.DataFrame:
    """Cell means of ``rows`` x ``cols`` per dataset (averaged over other factors per seed)."""
    seeds = _per_seed_means(runs, ["dataset", rows, cols], metric)
    out = [
        {"dataset": d, rows: r, cols: c} | t_interval(g[metric])
        for (d, r, c), g in seeds.groupby(["dataset", rows, cols], sort=True)
    ]
    return pd.DataFrame(
        out, columns=["dataset", rows, cols, "n", "mean", "std", "ci_low", "ci_high"]
    )


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values; NaN entries stay NaN and are not in the family."""
    p = np.asarray(pvalues, dtype=float)
    adjusted = np.full_like(p, np.nan)
    idx = np.flatnonzero(np.isfinite(p))
    m = idx.size
    if m == 0:
        return adjusted
    order = idx[np.argsort(p[idx], kind="stable")]
    running = 0.0
    for k, i in enumerate(order):
        running = max(running, min(1.0, (m - k) * p[i]))
        adjusted[i] = running
    return adjusted


def compare(a: pd.Series, b: pd.Series) -> dict:
    """Test a vs b, both indexed by seed: paired t when the seed sets match, else Welch.

    Returns test name, mean difference (a - b), its CI, statistic and p-value; NaN/"n/a"
    when either side has fewer than two values.
    """
    from scipy import stats as sps  # here: a second of import the figures job does not need

    a, b = a.dropna(), b.dropna()
    out = {"test": "n/a", "diff": math.nan, "diff_low": math.nan, "diff_high": math.nan}
    out |= {"statistic": math.nan, "p": math.nan}
    if len(a) and len(b):
        out["diff"] = float(a.mean() - b.mean())
    if len(a) < 2 or len(b) < 2:
        return out
    if set(a.index) == set(b.index):
        d = a - b.loc[a.index]
        ci = t_interval(d)
        out.update(test="paired t", diff_low=ci["ci_low"], diff_high=ci["ci_high"])
        if np.all(d == 0):
            # Identical results on every seed: no evidence of a difference (scipy gives NaN).
            out.update(statistic=0.0, p=1.0)
        else:
            res = sps.ttest_rel(a.to_numpy(), b.loc[a.index].to_numpy())
            out.update(statistic=float(res.statistic), p=float(res.pvalue))
        return out
    res = sps.ttest_ind(a.to_numpy(), b.to_numpy(), equal_var=False)
    ci = res.confidence_interval(CONFIDENCE)
    out.update(test="Welch t", diff_low=float(ci.low), diff_high=float(ci.high))
    out.update(statistic=float(res.statistic), p=float(res.pvalue))
    if not np.isfinite(out["p"]) and a.std() == 0 and b.std() == 0 and out["diff"] == 0:
        out.update(statistic=0.0, p=1.0)
    return out


def rank_against_best(
    runs: pd.DataFrame, metric: str = "test_accuracy", alpha: float = ALPHA
) -> pd.DataFrame:
    """Per dataset: rank variants by mean metric and test each against the best (Holm).

    ``indistinguishable`` is True for the best itself and for variants whose Holm-adjusted
    p-value is >= alpha, False when significantly worse, and missing (pd.NA) when no test
    was possible (fewer than two seeds on either side).
    """
    good = usable(runs, metric).astype({metric: float})
    out = []
    for dataset, data in good.groupby("dataset", sort=True):
        per_variant = {v: g.set_index("seed")[metric] for v, g in data.groupby("variant")}
        means = pd.Series({v: s.mean() for v, s in per_variant.items()})
        # Ties broken by name so the ranking is deterministic.
        order = sorted(means.index, key=lambda v: (-means[v], v))
        best = order[0]
        rows = []
        for rank, variant in enumerate(order, start=1):
            row = {"dataset": dataset, "variant": variant, "rank": rank, "mean": means[variant]}
            row["n"] = int(per_variant[variant].notna().sum())
            if variant == best:
                row |= {"test": "best", "diff": 0.0, "diff_low": math.nan, "diff_high": math.nan}
                row |= {"statistic": math.nan, "p": math.nan}
            else:
                row |= compare(per_variant[variant], per_variant[best])
            rows.append(row)
        frame = pd.DataFrame(rows)
        others = frame["variant"] != best
        frame["p_holm"] = math.nan
        frame.loc[others, "p_holm"] = holm(frame.loc[others, "p"])
        flag = pd.Series(pd.NA, index=frame.index, dtype="boolean")
        flag[~others] = True
        tested = others & frame["p_holm"].notna()
        flag[tested] = frame.loc[tested, "p_holm"] >= alpha
        frame["indistinguishable"] = flag
        out.append(frame)
    cols = ["dataset", "variant", "rank", "n", "mean", "test", "diff", "diff_low", "diff_high"]
    cols += ["statistic", "p", "p_holm", "indistinguishable"]
    if not out:
        return pd.DataFrame(columns=cols)
    return pd.concat(out, ignore_index=True)[cols]


def level_contrast(
    runs: pd.DataFrame, dataset: str, factor: str, better: str, worse: str, metric: str
) -> dict:
    """Difference of two levels' per-seed marginal means on one dataset (see ``compare``)."""
    seeds = _per_seed_means(runs[runs["dataset"] == dataset], [factor], metric)
    # Levels may come back from CSV as text (mixed columns), so compare as text.
    levels = seeds[factor].astype(str)
    a = seeds[levels == str(better)].set_index("seed")[metric]
    b = seeds[levels == str(worse)].set_index("seed")[metric]
    return compare(a, b)


def best_variant_per_level(variants: pd.DataFrame, dataset: str, factor: str) -> pd.Series:
    """For one dataset, the variant with the highest mean metric among those with each level
    of ``factor`` (level as text -> variant). Variants without a mean (all runs failed) come
    last, ties go to the first name, so every level that has a variant gets one."""
    v = variants[variants["dataset"] == dataset]
    v = v.assign(_level=v[factor].astype(str)).sort_values(
        ["mean", "variant"], ascending=[False, True], na_position="last"
    )
    return v.groupby("_level", sort=True)["variant"].first()
