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

ALPHA = uncertainty.ALPHA
POWER = uncertainty.POWER
CONFIDENCE = uncertainty.CONFIDENCE
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
    names = list(comparison.variants)
    boot = uncertainty.paired_bootstrap(
        correct, present, n_boot=n_boot, variants=names,
        rng=np.random.default_rng(comparison_seed(comparison)),
    )  # fmt: skip
    spread = uncertainty.percentile_intervals(boot, CONFIDENCE)
    ranked = uncertainty.rank_probabilities(boot, CONFIDENCE)
    ref = (
        names.index(selection.reference)
        if selection and present[names.index(selection.reference)].any()
        else None
    )
    # The family Holm's correction is over: every variant against the reference, then each
    # factor's leading level (on validation) against its runner-up.
    tests, contrasts = {}, []
    if ref is not None:
        for j, v in enumerate(names):
            if j != ref and present[j].any():
                tests["variant", v] = uncertainty.paired_test(
                    correct, j, ref, present, alpha, POWER, names
                )
        for factor in comparison.factors:
            lead, runner = _lead_and_runner(comparison, factor, selection)
            levels = [comparison.levels[v][factor] for v in names]
            w = uncertainty.level_weights(levels, lead, runner)
            contrasts.append((factor, lead, runner, w))
            if len(comparison.factors) == 1 and lead == comparison.levels[names[ref]][factor]:
                continue  # one variant per level: the pair test of the runner-up says it all
            tests["factor", factor] = uncertainty.contrast_test(correct, w, present, alpha, POWER)
    keys = list(tests)
    p_holm = dict(zip(keys, uncertainty.holm([tests[k]["p"] for k in keys]), strict=True))
    family = int(sum(math.isfinite(tests[k]["p"]) for k in keys))
    poi = uncertainty.improvement_probabilities(boot, ref) if ref is not None else None
    variants = _variant_rows(
        comparison, runs, selection, boot, spread, ranked, poi, tests, p_holm, ref, alpha
    )
    effects = _effect_rows(comparison, selection, boot, contrasts, tests, p_holm, alpha)
    pairs = [tests[k] for k in keys if k[0] == "variant"]
    needed = [
        uncertainty.seeds_needed(r["components"], EFFECT, alpha, POWER)["n_seeds"]
        for r in pairs
        if r["components"] is not None and r["components"].n_seeds > 1
    ]
    ref_row = spread.iloc[ref] if ref is not None else None
    row = {
        "experiment": comparison.experiment,
        "dataset": comparison.dataset,
        "slug": comparison.slug,
        "factors": ";".join(comparison.factors),
        "fixed": json.dumps([list(p) for p in comparison.fixed]),
        "variants": len(names),
        "seeds": ";".join(str(s) for s in comparison.seeds),
        "n_test": correct.shape[2],
        "runs": len(runs),
        "usable": len(usable),
        "reference": names[ref] if ref is not None else None,
        "tied": ";".join(selection.best) if selection else None,
        "reference_val": selection.means[names[ref]] if ref is not None else math.nan,
        "reference_mean": ref_row["accuracy"] if ref_row is not None else math.nan,
        "reference_low": ref_row["low"] if ref_row is not None else math.nan,
        "reference_high": ref_row["high"] if ref_row is not None else math.nan,
        "reference_p_first": ranked["p_first"].iloc[ref] if ref is not None else math.nan,
        "family": family,
        "alpha": alpha,
        "mde": _median([r["mde"] for r in pairs]),
        "mde_holm": _median(
            [
                uncertainty.detectable_difference(r["se"], r["df"], alpha / family, POWER)
                for r in pairs
            ]
            if family
            else []
        ),
        "effect": EFFECT if pairs else math.nan,
        # Empty when more seeds cannot reach EFFECT (the test set's own noise is larger).
        "seeds_needed": _median([n for n in needed if n is not None])
        if needed and all(n is not None for n in needed)
        else math.nan,
        "n_boot": n_boot,
        # The tests' methods, as the report's sentences name them.
        "method": "; ".join(
            dict.fromkeys(
                r["method"]
                for r in tests.values()
                if r["method"] not in ("not tested", "no difference observed")
            )
        ),
    }
    return {
        "comparisons": pd.DataFrame([row], columns=list(COMPARISON_COLUMNS)),
        "variants": variants,
        "main_effects": effects,
        "interaction": _interaction_rows(comparison, boot),
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


def _verdict(result: dict, p_holm: float, alpha: float) -> str:
    """``better``/``worse`` (the first side minus the second) when Holm rejects; otherwise
    what the data show, never "equal"."""
    if result["method"] == "no difference observed":
        return "no difference observed"
    if not math.isfinite(p_holm):
        return "not testable"
    if p_holm <= alpha:
        return "better" if result["estimate"] > 0 else "worse"
    return "not distinguishable"  # at this sample size: never "equal"


def _variant_rows(
    comparison, runs, selection, boot, spread, ranked, poi, tests, p_holm, ref, alpha
) -> pd.DataFrame:
    rows = []
    for j, v in enumerate(comparison.variants):
        ids = [comparison.runs[v, s] for s in comparison.seeds if (v, s) in comparison.runs]
        status = runs.loc[ids, "status"]
        seed_acc = boot.seed_accuracy[j][np.isfinite(boot.seed_accuracy[j])]
        row = {
            "experiment": comparison.experiment,
            "dataset": comparison.dataset,
            "variant": v,
            "order": j,
            "levels": json.dumps(comparison.levels[v], separators=(",", ":")),
            "runs": len(ids),
            "usable": int(seed_acc.size),
            "diverged": int(status.eq("diverged").sum()),
            "failed": int(status.eq("failed").sum()),
            "val_mean": selection.means.get(v, math.nan) if selection else math.nan,
            "test_mean": spread["accuracy"].iloc[j],
            "seed_sd": float(np.std(seed_acc, ddof=1)) if seed_acc.size > 1 else math.nan,
            "low": spread["low"].iloc[j],
            "high": spread["high"].iloc[j],
            "p_first": ranked["p_first"].iloc[j],
            "rank_low": ranked["rank_low"].iloc[j],
            "rank_high": ranked["rank_high"].iloc[j],
        }
        if ref is None or not seed_acc.size:
            row["verdict"] = "not testable"
        elif j == ref:
            row["verdict"] = "reference"
        else:
            result = tests["variant", v]
            row |= {
                "diff": result["estimate"],
                "diff_low": result["ci_low"],
                "diff_high": result["ci_high"],
                "p": result["p"],
                "p_holm": p_holm["variant", v],
                "poi": poi["poi"].iloc[j],
                "poi_low": poi["low"].iloc[j],
                "poi_high": poi["high"].iloc[j],
                "mde": result["mde"],
                "verdict": _verdict(result, p_holm["variant", v], alpha),
            }
        rows.append(row)
    frame = pd.DataFrame(rows, columns=list(VARIANT_COLUMNS))
    if selection is None:
        return frame
    # Validation order (how the study selects), ties in the experiment's order.
    key = frame["val_mean"].fillna(-np.inf)
    return frame.assign(_k=-key).sort_values(["_k", "order"], kind="stable").drop(columns="_k")


def _effect_rows(comparison, selection, boot, contrasts, tests, p_holm, alpha) -> pd.DataFrame:
    rows = []
    lead_of = {factor: (lead, runner) for factor, lead, runner, _ in contrasts}
    for factor in comparison.factors:
        levels = [comparison.levels[v][factor] for v in comparison.variants]
        for level in comparison.factor_levels(factor):
            members = [v for v, lv in zip(comparison.variants, levels, strict=True) if lv == level]
            w = np.array([lv == level for lv in levels], float)
            if not np.isfinite(boot.observed[w > 0]).all():
                w = w * np.isfinite(boot.observed)  # the level's variants that ran
            mean = uncertainty.contrast_interval(boot, w / w.sum(), CONFIDENCE)
            val = [selection.means[v] for v in members if selection and v in selection.means]
            lead, runner = lead_of.get(factor, (None, None))
            row = {
                "experiment": comparison.experiment,
                "dataset": comparison.dataset,
                "factor": factor,
                "level": level,
                "variants": len(members),
                "val_mean": float(np.mean(val)) if val else math.nan,
                "test_mean": mean["estimate"],
                "low": mean["low"],
                "high": mean["high"],
                "lead": lead == level,
            }
            if level == runner:
                key = ("factor", factor) if ("factor", factor) in tests else ("variant", members[0])
                result = _lead_side(tests[key], key[0] == "variant")
                row |= {
                    # The lead's difference over the runner-up: positive = the lead is ahead.
                    "diff": result["estimate"],
                    "diff_low": result["ci_low"],
                    "diff_high": result["ci_high"],
                    "p": result["p"],
                    "p_holm": p_holm[key],
                    "mde": result["mde"],
                    "verdict": _verdict(result, p_holm[key], alpha),
                }
            rows.append(row)
    return pd.DataFrame(rows, columns=list(EFFECT_COLUMNS))


def _lead_side(result: dict, flip: bool) -> dict:
    """A test's result as "lead minus runner-up" (a pair test is runner-up minus reference)."""
    if not flip:
        return result
    lo, hi = result["ci_low"], result["ci_high"]
    return result | {"estimate": -result["estimate"], "ci_low": -hi, "ci_high": -lo}


def _interaction_rows(comparison, boot) -> pd.DataFrame:
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
            if not w.any() or not np.isfinite(boot.observed[w > 0]).all():
                continue
            cell = uncertainty.contrast_interval(boot, w / w.sum(), CONFIDENCE)
            rows.append(
                {
                    "experiment": comparison.experiment,
                    "dataset": comparison.dataset,
                    "row_factor": rf,
                    "row_level": a,
                    "col_factor": cf,
                    "col_level": b,
                    "test_mean": cell["estimate"],
                    "low": cell["low"],
                    "high": cell["high"],
                }
            )
    return pd.DataFrame(rows, columns=list(INTERACTION_COLUMNS))


def across_datasets(
    comparisons: list[Comparison], variants: pd.DataFrame, alpha: float = ALPHA
) -> pd.DataFrame:
    """Per experiment with two datasets or more: its variants' average ranks over the datasets
    (by mean test accuracy), the Friedman test (chi-square reference; with few datasets
    Iman-Davenport's F is far from its reference distribution) and Nemenyi's critical
    difference (:mod:`nnstudy.analysis.ranks`). Only variants with a score on every dataset
    are ranked; ``never``/``note`` say when the design cannot reach significance at all."""
    rows = []
    for experiment in dict.fromkeys(c.experiment for c in comparisons):
        mine = [c for c in comparisons if c.experiment == experiment]
        if len(mine) < 2:
            continue
        table = variants[variants["experiment"] == experiment]
        scores = table.pivot(index="dataset", columns="variant", values="test_mean")
        shared = [v for v in mine[0].variants if v in scores.columns]
        scores = scores.loc[[c.dataset for c in mine], shared].dropna(axis=1)
        if scores.shape[1] < 2:
            continue
        test = ranks.friedman(scores)
        post = ranks.nemenyi(scores, alpha)
        limits = ranks.design_limits(scores.shape[1], scores.shape[0], alpha)
        for v, mean_rank in post["average_ranks"].items():
            rows.append(
                {
                    "experiment": experiment,
                    "variant": v,
                    "mean_rank": mean_rank,
                    "datasets": scores.shape[0],
                    "variants": scores.shape[1],
                    "friedman_stat": test["statistic"],
                    "friedman_p": test["p"],
                    "cd": post["cd"],
                    "alpha": alpha,
                    "never": not limits["nemenyi_possible"],
                    "note": " ".join(limits["reasons"]),
                }
            )
    return pd.DataFrame(rows, columns=list(ACROSS_COLUMNS))
