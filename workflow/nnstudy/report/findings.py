"""The report's findings, generated from the statistics: a difference is called clear only
when its 95 % CI excludes 0, and nothing is claimed when a CI is not available (one seed)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from nnstudy.analysis import stats
from nnstudy.analysis.aggregate import METRIC
from nnstudy.report.templating import (
    pct,
    pct_ci,
    points,
)
from nnstudy.tuning import stats as tuning_stats


def _verdict(c: dict) -> str:
    if not np.isfinite(c["diff_low"]):
        return "no CI: fewer than two seeds"
    if c["diff_low"] > 0 or c["diff_high"] < 0:
        return "95 % CI excludes 0"
    return "95 % CI includes 0: not a clear difference"


def best_variants(variants: pd.DataFrame, ranking: pd.DataFrame):
    """(dataset, its ranking rows, the best variant's row in ``variants``) per dataset."""
    for dataset, rank in ranking.groupby("dataset", sort=True):
        best = rank.sort_values("rank").iloc[0]
        row = variants[(variants["dataset"] == dataset) & (variants["variant"] == best["variant"])]
        yield dataset, rank, row.iloc[0]


def best_variant_findings(variants: pd.DataFrame, ranking: pd.DataFrame) -> list[str]:
    out = []
    for dataset, rank, v in best_variants(variants, ranking):
        text = (
            f"{dataset}: the best variant is {v['variant']} with {pct(v['mean'])} % test "
            f"accuracy (95 % CI {pct_ci(v['ci_low'], v['ci_high'])}, {int(v['n'])} seed"
            f"{'s' if v['n'] != 1 else ''})."
        )
        others = rank[rank["variant"] != v["variant"]]
        tested = others["indistinguishable"].notna()
        if others.empty:
            text += " It is the only variant."
        elif not tested.any():
            text += " No variant could be tested against it (fewer than two seeds), so the ranking is not statistically supported."
        else:
            same = int(others["indistinguishable"].fillna(False).sum())
            text += (
                f" {same} of {int(tested.sum())} tested other variants are statistically "
                f"indistinguishable from it (Holm-corrected t tests against the best, α = {stats.ALPHA})."
            )
            if (~tested).any():
                text += f" {int((~tested).sum())} could not be tested (fewer than two seeds)."
        out.append(text)
    return out


def factor_findings(runs: pd.DataFrame, effects: pd.DataFrame) -> list[str]:
    """One sentence per factor: which level has the highest marginal mean, and by how much."""
    out = []
    for factor in dict.fromkeys(effects["factor"]):
        eff = effects[effects["factor"] == factor]
        per_dataset = []
        for dataset, e in eff.groupby("dataset", sort=True):
            if e["level"].nunique() < 2:
                continue
            top = e.sort_values(["mean", "level"], ascending=[False, True])
            best, runner = top["level"].iloc[0], top["level"].iloc[1]
            c = stats.level_contrast(runs, dataset, factor, best, runner, METRIC)
            per_dataset.append((dataset, best, runner, c))
        if not per_dataset:
            continue
        bests = {b for _, b, _, _ in per_dataset}
        details = "; ".join(
            f"{d}: {b} {points(c['diff'], c['diff_low'], c['diff_high'])} points over {r} ({_verdict(c)})"
            for d, b, r, c in per_dataset
        )
        n = len(per_dataset)
        if len(bests) == 1:
            (level,) = bests
            n_clear = sum(bool(c["diff_low"] > 0) for *_, c in per_dataset)
            where = f"on all {n} datasets" if n > 1 else f"on {per_dataset[0][0]}"
            if n_clear == n:
                lead = "ahead of the runner-up by a margin whose 95 % CI excludes 0"
            elif n_clear == 0:
                lead = "but its lead over the runner-up is not clear (no CI that excludes 0)"
            else:
                lead = f"with a lead whose 95 % CI excludes 0 on {n_clear} of {n} datasets"
            text = (
                f"{factor}: {level} has the highest mean test accuracy {where}, {lead} ({details})."
            )
            if n > 1:
                diffs = [c["diff"] for *_, c in per_dataset]
                text += f" Mean lead over the runner-up: {points(np.mean(diffs))} points."
        else:
            text = f"{factor}: the best level depends on the dataset ({details})."
        out.append(text)
    return out


def tuning_findings(table: pd.DataFrame) -> list[str]:
    """Per dataset: whether tuning changed the ranking at the default settings (from
    ``tuning_stats.default_vs_tuned``)."""
    out = []
    for dataset, t in table.groupby("dataset", sort=True):
        change = tuning_stats.ranking_change(t)
        labels = dict(zip(t["variant"], t["label"], strict=True))
        if change["n"] < 2:
            out.append(
                f"{dataset}: fewer than two variants have a trial at the default settings, so "
                "the ranking at the defaults cannot be compared with the tuned one."
            )
            continue
        tau = "n/a" if math.isnan(change["tau"]) else f"{change['tau']:.2f}"
        text = f"{dataset}: ranked by validation accuracy, tuning " + (
            f"reversed the order of {change['reversed']} of the {change['pairs']} pairs of "
            f"variants ({change['moved']} of {change['n']} changed rank; Kendall's tau-b = "
            f"{tau})."
            if change["changed"]
            else f"reversed no pair of the {change['n']} variants ({change['moved']} changed "
            f"rank through ties; Kendall's tau-b = {tau})."
        )
        tops = {
            side: " = ".join(labels[v] for v in top)
            if len(top) <= 2
            else f"{len(top)} variants tied"
            for side, top in (("default", change["top_default"]), ("tuned", change["top_tuned"]))
        }
        if tops["default"] != tops["tuned"]:
            text += f" Best at the default settings: {tops['default']}; tuned: {tops['tuned']}."
        else:
            text += f" Best either way: {tops['tuned']}."
        out.append(text)
    return out


def status_findings(runs: pd.DataFrame) -> list[str]:
    n_div = int(runs["status"].eq("diverged").sum())
    n_fail = int(runs["status"].eq("failed").sum())
    if not n_div and not n_fail:
        return [f"All {len(runs)} runs finished without diverging or failing."]
    return [
        f"{n_div} of {len(runs)} runs diverged and {n_fail} failed; they are listed under "
        "'Diverged and failed runs'. Diverged runs that produced a test accuracy count in the "
        "statistics; failed runs do not."
    ]
