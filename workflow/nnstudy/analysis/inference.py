"""The statistics of one comparison (an experiment on a dataset) and of each experiment across
its datasets, as table rows (columns: :mod:`nnstudy.analysis.columns`).

Per comparison, from ``correct[v, s, i]`` (did variant v's seed-s final classify test example
i correctly) and the finals' validation accuracies:

- the reference is selected on validation (:func:`nnstudy.analysis.comparisons.select_reference`);
- every interval, rank probability and probability of improvement comes from one paired
  two-level bootstrap over seeds and test examples (:mod:`nnstudy.analysis.uncertainty`),
  seeded by the comparison's own name, so its numbers do not depend on any other comparison;
- each variant is tested against the reference, and each factor's leading level against its
  runner-up, by the paired test of :mod:`nnstudy.analysis.uncertainty`; Holm's correction runs
  over all of them (the tests the report's sentences state for this comparison);
- what the comparison can detect: the minimum detectable difference at 80 % power.

Across datasets (:mod:`nnstudy.analysis.ranks`): average ranks, the Friedman test and Nemenyi's
critical difference, for each experiment with two datasets or more.
"""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pandas as pd

from nnstudy.analysis import ranks, uncertainty
from nnstudy.analysis.columns import (
    ACROSS_COLUMNS,
    COMPARISON_COLUMNS,
    EFFECT_COLUMNS,
    INTERACTION_COLUMNS,
    VARIANT_COLUMNS,
)
from nnstudy.analysis.comparisons import Comparison, Selection, select_reference

ALPHA = 0.05
POWER = 0.8
N_BOOT = 2000
# The effect the report says how many seeds would need (1 point of accuracy).
EFFECT = 0.01
TABLES = ("comparisons", "variants", "main_effects", "interaction")
COLUMNS = {
    "comparisons": COMPARISON_COLUMNS,
    "variants": VARIANT_COLUMNS,
    "main_effects": EFFECT_COLUMNS,
    "interaction": INTERACTION_COLUMNS,
}


def comparison_seed(comparison: Comparison) -> int:
    """The bootstrap's seed: a hash of the comparison's name (stable across studies)."""
    digest = hashlib.sha256(f"{comparison.experiment}\0{comparison.dataset}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def _verdict(p_holm: float, diff: float, alpha: float) -> str:
    if not math.isfinite(p_holm):
        return "not testable"
    if p_holm < alpha:
        return "worse" if diff < 0 else "better"
    return "not distinguishable"


def _level_weights(comparison: Comparison, factor: str, level: str) -> np.ndarray:
    w = np.array([comparison.levels[v][factor] == level for v in comparison.variants], float)
    return w / w.sum()


def summarize(
    comparison: Comparison,
    runs: pd.DataFrame,
    correct: np.ndarray,
    present: np.ndarray,
    n_boot: int = N_BOOT,
    alpha: float = ALPHA,
) -> dict[str, pd.DataFrame]:
    """The rows of comparisons, variants, main_effects and interaction for one comparison;
    ``runs``: its runs (runs.csv rows indexed by run id)."""
    usable = runs.index[runs["status"] != "failed"]
    selection = select_reference(comparison, runs["val_accuracy"].to_dict(), usable)
    V = len(comparison.variants)
    boot = uncertainty.two_level_bootstrap(
        correct, present, n_boot=n_boot, rng=np.random.default_rng(comparison_seed(comparison))
    )
    acc = uncertainty.seed_accuracies(correct, present)  # (V, S), NaN where missing
    means = np.nanmean(np.where(present, acc, np.nan), axis=1) if V else np.zeros(0)
    low, high = uncertainty.percentile_interval(boot.means, 0.95)
    p_first, rank_low, rank_high = uncertainty.rank_summary(boot.means)
    ref = comparison.variants.index(selection.reference) if selection else None
    # The family: every variant against the reference, then each factor's lead over its
    # runner-up.
    tests, contrasts = [], []
    if ref is not None:
        for j in range(V):
            if j != ref:
                w = np.zeros(V)
                w[j], w[ref] = 1.0, -1.0
                tests.append(("variant", j, w))
        for factor in comparison.factors:
            lead, runner = _lead_and_runner(comparison, factor, selection)
            w = _level_weights(comparison, factor, lead) - _level_weights(
                comparison, factor, runner
            )
            tests.append(("factor", factor, w))
            contrasts.append((factor, lead, runner))
    results = [uncertainty.paired_test(correct, present, w) for _, _, w in tests]
    p_holm = uncertainty.holm([r.p for r in results])
    by_test = {(kind, key): (r, p) for (kind, key, _), r, p in zip(tests, results, p_holm, strict=True)}
    variants = _variant_rows(
        comparison, runs, selection, means, acc, present, low, high, p_first, rank_low,
        rank_high, boot, by_test, ref, alpha,
    )  # fmt: skip
    effects = _effect_rows(comparison, selection, boot, means, contrasts, by_test, alpha)
    pair_mde = [r.mde(alpha, POWER) for (kind, _, _), r in zip(tests, results, strict=True) if kind == "variant"]
    family = len(tests)
    row = {
        "experiment": comparison.experiment,
        "dataset": comparison.dataset,
        "slug": comparison.slug,
        "factors": ";".join(comparison.factors),
        "fixed": json.dumps([list(p) for p in comparison.fixed]),
        "variants": V,
        "seeds": ";".join(str(s) for s in comparison.seeds),
        "n_test": correct.shape[2],
        "runs": len(runs),
        "usable": len(usable),
        "reference": selection.reference if selection else None,
        "tied": ";".join(selection.best) if selection else None,
        "reference_val": selection.means[selection.reference] if selection else math.nan,
        "reference_mean": means[ref] if ref is not None else math.nan,
        "reference_low": low[ref] if ref is not None else math.nan,
        "reference_high": high[ref] if ref is not None else math.nan,
        "reference_p_first": p_first[ref] if ref is not None else math.nan,
        "family": family,
        "alpha": alpha,
        "mde": _median(pair_mde),
        "mde_holm": _median(
            [r.mde(alpha / max(family, 1), POWER) for (k, _, _), r in zip(tests, results, strict=True) if k == "variant"]
        ),
        "effect": EFFECT if pair_mde else math.nan,
        "seeds_needed": _median(
            [r.seeds_needed(EFFECT, alpha, POWER) for (k, _, _), r in zip(tests, results, strict=True) if k == "variant"]
        ),
        "n_boot": n_boot,
        "method": uncertainty.TEST_NAME,
    }
    return {
        "comparisons": pd.DataFrame([row], columns=list(COMPARISON_COLUMNS)),
        "variants": variants,
        "main_effects": effects,
        "interaction": _interaction_rows(comparison, boot, means),
    }


def _median(values) -> float:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.median(finite)) if finite else math.nan


def _lead_and_runner(comparison: Comparison, factor: str, selection: Selection):
    """The factor's two levels with the highest marginal validation accuracy (the mean over
    the level's variants of their mean over seeds), ties in the experiment's order."""
    levels = comparison.factor_levels(factor)
    val = {
        level: np.mean(
            [selection.means[v] for v in comparison.variants
             if comparison.levels[v][factor] == level and v in selection.means] or [math.nan]
        )
        for level in levels
    }  # fmt: skip
    order = sorted(levels, key=lambda lv: (-np.nan_to_num(val[lv], nan=-np.inf), levels.index(lv)))
    return order[0], order[1]


def _variant_rows(
    comparison, runs, selection, means, acc, present, low, high, p_first, rank_low, rank_high,
    boot, by_test, ref, alpha,
) -> pd.DataFrame:  # fmt: skip
    rows = []
    for j, v in enumerate(comparison.variants):
        ids = [comparison.runs[v, s] for s in comparison.seeds if (v, s) in comparison.runs]
        status = runs.loc[ids, "status"]
        seed_acc = acc[j][present[j]]
        row = {
            "experiment": comparison.experiment,
            "dataset": comparison.dataset,
            "variant": v,
            "order": j,
            "levels": json.dumps(comparison.levels[v], separators=(",", ":")),
            "runs": len(ids),
            "usable": int(present[j].sum()),
            "diverged": int(status.eq("diverged").sum()),
            "failed": int(status.eq("failed").sum()),
            "val_mean": selection.means.get(v, math.nan) if selection else math.nan,
            "test_mean": means[j],
            "seed_sd": float(np.std(seed_acc, ddof=1)) if seed_acc.size > 1 else math.nan,
            "low": low[j],
            "high": high[j],
            "p_first": p_first[j],
            "rank_low": rank_low[j],
            "rank_high": rank_high[j],
        }
        if ref is None:
            row["verdict"] = "not testable"
        elif j == ref or (selection and v in selection.best):
            row["verdict"] = "reference" if j == ref else "tied best"
        if ref is not None and j != ref:
            result, p_holm = by_test["variant", j]
            d_low, d_high = uncertainty.percentile_interval(
                boot.means[:, j] - boot.means[:, ref], 0.95
            )
            poi = uncertainty.probability_of_improvement(acc[j][present[j]], acc[ref][present[ref]])
            poi_low, poi_high = uncertainty.poi_interval(boot, j, ref, 0.95)
            row |= {
                "diff": means[j] - means[ref],
                "diff_low": d_low,
                "diff_high": d_high,
                "p": result.p,
                "p_holm": p_holm,
                "poi": poi,
                "poi_low": poi_low,
                "poi_high": poi_high,
                "mde": result.mde(alpha, POWER),
            }
            row.setdefault("verdict", _verdict(p_holm, row["diff"], alpha))
        rows.append(row)
    frame = pd.DataFrame(rows, columns=list(VARIANT_COLUMNS))
    if selection is None:
        return frame
    # Validation order (how the study selects), ties in the experiment's order.
    key = frame["val_mean"].fillna(-np.inf)
    return frame.assign(_k=-key).sort_values(["_k", "order"], kind="stable").drop(columns="_k")


def _effect_rows(comparison, selection, boot, means, contrasts, by_test, alpha) -> pd.DataFrame:
    rows = []
    lead_of = {factor: (lead, runner) for factor, lead, runner in contrasts}
    for factor in comparison.factors:
        for level in comparison.factor_levels(factor):
            w = _level_weights(comparison, factor, level)
            members = [v for v in comparison.variants if comparison.levels[v][factor] == level]
            val = [selection.means[v] for v in members if selection and v in selection.means]
            low, high = uncertainty.percentile_interval(boot.means @ w, 0.95)
            row = {
                "experiment": comparison.experiment,
                "dataset": comparison.dataset,
                "factor": factor,
                "level": level,
                "variants": len(members),
                "val_mean": float(np.mean(val)) if val else math.nan,
                "test_mean": float(np.nansum(means * w)),
                "low": low,
                "high": high,
                "lead": lead_of.get(factor, (None,))[0] == level,
            }
            lead, runner = lead_of.get(factor, (None, None))
            if level == runner:
                result, p_holm = by_test["factor", factor]
                contrast = _level_weights(comparison, factor, lead) - w
                d_low, d_high = uncertainty.percentile_interval(boot.means @ contrast, 0.95)
                diff = float(np.nansum(means * contrast))
                row |= {
                    "diff": diff,
                    "diff_low": d_low,
                    "diff_high": d_high,
                    "p": result.p,
                    "p_holm": p_holm,
                    "mde": result.mde(alpha, POWER),
                    # The lead's difference over the runner-up: positive = the lead is ahead.
                    "verdict": _verdict(p_holm, -diff, alpha),
                }
            rows.append(row)
    return pd.DataFrame(rows, columns=list(EFFECT_COLUMNS))


def _interaction_rows(comparison, boot, means) -> pd.DataFrame:
    if len(comparison.factors) < 2:
        return pd.DataFrame(columns=list(INTERACTION_COLUMNS))
    rf, cf = comparison.factors[:2]
    rows = []
    for a in comparison.factor_levels(rf):
        for b in comparison.factor_levels(cf):
            w = np.array(
                [comparison.levels[v][rf] == a and comparison.levels[v][cf] == b
                 for v in comparison.variants], float,
            )  # fmt: skip
            if not w.any():
                continue
            w /= w.sum()
            low, high = uncertainty.percentile_interval(boot.means @ w, 0.95)
            rows.append(
                {
                    "experiment": comparison.experiment,
                    "dataset": comparison.dataset,
                    "row_factor": rf,
                    "row_level": a,
                    "col_factor": cf,
                    "col_level": b,
                    "test_mean": float(np.nansum(means * w)),
                    "low": low,
                    "high": high,
                }
            )
    return pd.DataFrame(rows, columns=list(INTERACTION_COLUMNS))


def across_datasets(
    comparisons: list[Comparison], variants: pd.DataFrame, alpha: float = ALPHA
) -> pd.DataFrame:
    """Per experiment with two datasets or more: its variants' average ranks over the datasets
    (by mean test accuracy), the Friedman test and the critical difference. Only variants that
    every dataset has are ranked."""
    rows = []
    for experiment in dict.fromkeys(c.experiment for c in comparisons):
        mine = [c for c in comparisons if c.experiment == experiment]
        if len(mine) < 2:
            continue
        shared = [v for v in mine[0].variants if all(v in c.variants for c in mine[1:])]
        table = variants[variants["experiment"] == experiment]
        scores = np.array(
            [
                [
                    table[(table["dataset"] == c.dataset) & (table["variant"] == v)]["test_mean"].iloc[0]
                    for v in shared
                ]
                for c in mine
            ],
            dtype=float,
        )
        result = ranks.across(scores, alpha=alpha)
        for v, mean_rank in zip(shared, result.mean_ranks, strict=True):
            rows.append(
                {
                    "experiment": experiment,
                    "variant": v,
                    "mean_rank": mean_rank,
                    "datasets": len(mine),
                    "variants": len(shared),
                    "friedman_stat": result.statistic,
                    "friedman_p": result.p,
                    "cd": result.cd,
                    "never": result.never,
                    "note": result.note,
                }
            )
    return pd.DataFrame(rows, columns=list(ACROSS_COLUMNS))
