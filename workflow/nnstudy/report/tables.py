"""The report's tables (variants, main effects, interaction, time to target, tuning, problems,
every run), as :class:`nnstudy.report.templating.Table` for both templates."""

from __future__ import annotations

import json
import math

import pandas as pd

from nnstudy.analysis import stats
from nnstudy.analysis.aggregate import METRIC
from nnstudy.report.templating import (
    NA,
    Table,
    number,
    pct,
    pct_ci,
    points,
    pvalue,
    seconds,
)
from nnstudy.tuning import stats as tuning_stats


def variant_table(dataset, variants, ranking, factors) -> Table:
    rank = ranking[ranking["dataset"] == dataset].set_index("variant")
    v = variants[variants["dataset"] == dataset].copy()
    v["rank"] = v["variant"].map(rank["rank"])
    v = v.sort_values(["rank", "variant"], na_position="last")
    rows, marked = [], set()
    for i, (_, r) in enumerate(v.iterrows()):
        k = rank.loc[r["variant"]] if r["variant"] in rank.index else None
        flag = (
            NA
            if k is None or pd.isna(k["indistinguishable"])
            else ("yes" if k["indistinguishable"] else "no")
        )
        if k is not None and k["test"] == "best":
            flag = "best"
            marked.add(i)
        rows.append(
            [
                NA if pd.isna(r["rank"]) else str(int(r["rank"])),
                *[str(r[f]) for f in factors],
                f"{int(r['n'])}/{int(r['n_runs'])}",
                pct(r["mean"]),
                pct(r["std"], 2),
                pct_ci(r["ci_low"], r["ci_high"]),
                NA if k is None else points(k["diff"]) if k["test"] != "best" else "",
                NA if k is None else ("" if k["test"] == "best" else k["test"]),
                NA if k is None else ("" if k["test"] == "best" else pvalue(k["p_holm"])),
                flag,
                str(int(r["n_diverged"])),
            ]
        )
    return Table(
        name=f"variants-{dataset}",
        caption=f"{dataset}: test accuracy (%) per variant over seeds, ranked; each variant is tested against the best (Holm-corrected).",
        columns=[
            "rank",
            *factors,
            "seeds",
            "mean",
            "sd",
            "95 % CI",
            "diff",
            "test",
            "p (Holm)",
            "≈ best",
            "div.",
        ],
        rows=rows,
        align="r" + "l" * len(factors) + "rrrrrlrlr",
        marked=marked,
    )


def effects_table(dataset, effects) -> Table:
    e = effects[effects["dataset"] == dataset]
    rows = [
        [
            str(r["factor"]),
            str(r["level"]),
            str(int(r["n"])),
            pct(r["mean"]),
            pct_ci(r["ci_low"], r["ci_high"]),
        ]
        for _, r in e.iterrows()
    ]
    return Table(
        name=f"effects-{dataset}",
        caption=f"{dataset}: main effects, marginal mean test accuracy (%) per factor level with a 95 % CI over seeds.",
        columns=["factor", "level", "seeds", "mean", "95 % CI"],
        rows=rows,
        align="llrrr",
    )


def interaction_table(dataset, inter) -> Table:
    e = inter[inter["dataset"] == dataset]
    acts = sorted(e["activation"].unique(), key=str)
    rows = []
    for opt, g in e.groupby("optimizer", sort=True):
        cells = g.set_index("activation")
        rows.append(
            [str(opt)]
            + [
                f"{pct(cells.loc[a, 'mean'])} [{pct_ci(cells.loc[a, 'ci_low'], cells.loc[a, 'ci_high'])}]"
                if a in cells.index
                else NA
                for a in acts
            ]
        )
    return Table(
        name=f"interaction-{dataset}",
        caption=f"{dataset}: optimizer x activation, mean test accuracy (%) [95 % CI over seeds], averaged over the other factors.",
        columns=["optimizer", *[str(a) for a in acts]],
        rows=rows,
        align="l" + "r" * len(acts),
    )


def _steps(value, unit: str) -> str:
    if pd.isna(value):
        return NA
    return "not reached" if math.isinf(value) else unit.format(value)


def time_to_target_table(dataset, histories, variants) -> Table:
    picks = stats.best_variant_per_level(variants, dataset, "optimizer")
    ttt = tuning_stats.time_to_target(histories[histories["dataset"] == dataset], picks)
    best = ttt["best"].iloc[0] if len(ttt) else math.nan
    rows = [
        [
            str(r["level"]),
            str(r["variant"]),
            f"{100 * r['fraction']:g} % ({pct(r['target'])})",
            f"{int(r['reached'])}/{int(r['runs'])}",
            _steps(r["epochs"], "{:g}"),
            _steps(r["seconds"], "{:.2f} s"),
        ]
        for _, r in ttt.iterrows()
    ]
    return Table(
        name=f"time-to-target-{dataset}",
        caption=(
            f"{dataset}: time to target. Per optimizer its best variant; the target is a "
            "fraction of the best validation accuracy, the highest point of these variants' "
            f"median curves over seeds ({pct(best)} %). Median over the variant's seeds of "
            "the first epoch, and of the "
            "training seconds until then, at which the validation accuracy reached the "
            "target; 'not reached' when half of the seeds or more never did."
        ),
        columns=["optimizer", "variant", "target (val. acc. %)", "reached", "epochs", "time"],
        rows=rows,
        align="llrrrr",
    )


def _moved(default_rank, tuned_rank) -> str:
    if pd.isna(default_rank) or pd.isna(tuned_rank):
        return NA
    step = int(default_rank) - int(tuned_rank)
    return "same" if step == 0 else f"{'up' if step > 0 else 'down'} {abs(step)}"


def _rank_text(rank) -> str:
    return NA if pd.isna(rank) else str(int(rank))


def default_vs_tuned_table(dataset, table) -> Table:
    t = table[table["dataset"] == dataset]
    rows, marked = [], set()
    for i, (_, r) in enumerate(t.iterrows()):
        if r["tuned_rank"] == 1:
            marked.add(i)
        rows.append(
            [
                _rank_text(r["tuned_rank"]),
                str(r["label"]),
                "" if pd.isna(r["tuned_setting"]) else str(r["tuned_setting"]),
                pct(r["tuned_value"]),
                _rank_text(r["default_rank"]),
                NA if pd.isna(r["default_setting"]) else str(r["default_setting"]),
                pct(r["default_value"]),
                _moved(r["default_rank"], r["tuned_rank"]),
            ]
        )
    budgets = ", ".join(
        f"{name} {int(b)} epochs"
        for name, b in (
            ("tuned", t["tuned_budget"].max()),
            ("default", t["default_budget"].max()),
        )
        if pd.notna(b)
    )
    return Table(
        name=f"tuned-vs-default-{dataset}",
        caption=(
            f"{dataset}: tuned against default. Validation accuracy (%) of each variant with "
            "its selected (tuned) settings and at its optimizer's default settings, each "
            f"ranked at one budget per column ({budgets or NA}); 'moved' is the change of rank "
            "from the default to the tuned ranking; equal values share a rank."
        ),
        columns=[
            "tuned rank",
            "variant",
            "tuned",
            "val. acc.",
            "default rank",
            "default",
            "val. acc.",
            "moved",
        ],
        rows=rows,
        align="rllrrlrl",
        marked=marked,
    )


def tuning_budget_table(dataset, trials) -> Table:
    budget = tuning_stats.tuning_budget(trials[trials["dataset"] == dataset])
    rows = [
        [
            str(r["optimizer"]),
            str(int(r["variants"])),
            str(int(r["settings"])),
            str(int(r["trials"])),
            f"{r['epochs']:g}",
            seconds(r["seconds"]),
            str(int(r["failed"])),
        ]
        for _, r in budget.iterrows()
    ]
    names = ", ".join(tuning_stats.tuned_names(trials)) or NA
    return Table(
        name=f"tuning-budget-{dataset}",
        caption=(
            f"{dataset}: tuning budget per optimizer (tuned: {names}). Settings tried per "
            "variant, trials run (all rungs), epochs trained by them and their training time."
        ),
        columns=["optimizer", "variants", "settings", "trials", "epochs", "time", "failed"],
        rows=rows,
        align="lrrrrrr",
    )


def problems_table(runs: pd.DataFrame) -> Table:
    bad = runs[runs["status"].isin(["diverged", "failed"])]
    rows = [
        [
            str(r["dataset"]),
            str(r["run_id"]),
            str(r["variant"]),
            str(r["seed"]),
            str(r["status"]),
            str(int(r["epochs_run"])) if pd.notna(r["epochs_run"]) else NA,
            pct(r[METRIC]),
            "" if pd.isna(r.get("error")) else str(r["error"]),
        ]
        for _, r in bad.iterrows()
    ]
    return Table(
        name="problems",
        caption="Diverged and failed runs (test accuracy where one was measured).",
        columns=["dataset", "run", "variant", "seed", "status", "epochs", "test acc.", "error"],
        rows=rows,
        align="llXrlrrX",
    )


def runs_table(runs: pd.DataFrame) -> Table:
    rows, marked = [], set()
    for i, (_, r) in enumerate(runs.iterrows()):
        if r["status"] != "ok" and r["status"] != "early_stopped":
            marked.add(i)
        rows.append(
            [
                str(r["dataset"]),
                str(r["run_id"]),
                ", ".join(json.loads(r["experiments"])),
                str(r["variant"]),
                str(r["seed"]),
                str(r["status"]),
                pct(r[METRIC]),
                number(r["f1_macro"]),
                seconds(r["train_seconds"]),
            ]
        )
    return Table(
        name="runs",
        caption="Every run of the study (results/tables/runs.csv).",
        columns=[
            "dataset",
            "run",
            "experiments",
            "variant",
            "seed",
            "status",
            "test acc.",
            "F1",
            "time",
        ],
        rows=rows,
        align="llXXlrrrr",
        marked=marked,
    )
