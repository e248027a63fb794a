"""The report's tables (summary, each comparison's variants, main effects, interaction, time to
target and tuning, each experiment's ranks across datasets, problems, every run), as
:class:`nnstudy.report.templating.Table` for both templates. Every cell is formatted here:
a missing value reads "n/a", never "nan"."""

from __future__ import annotations

import json
import math

import pandas as pd

from nnstudy.analysis.aggregate import METRIC
from nnstudy.report.templating import (
    NA,
    Table,
    interval,
    number,
    p_is,
    pct,
    plural,
    points,
    pvalue,
    seconds,
)
from nnstudy.report.view import ComparisonView
from nnstudy.tuning import stats as tuning_stats


def _key(view: ComparisonView, what: str) -> str:
    return f"{what}-{view.slug}-{view.dataset}"


def _title(view: ComparisonView) -> str:
    return f"{view.experiment} / {view.dataset}"


def _prob(p) -> str:
    return NA if pd.isna(p) else f"{float(p):.2f}"


def _ranks(low, high) -> str:
    if pd.isna(low) or pd.isna(high):
        return NA
    return str(int(low)) if int(low) == int(high) else f"{int(low)}–{int(high)}"


def _count(x) -> str:
    return NA if pd.isna(x) else str(int(x))


def _undecided(verdicts: pd.Series) -> int:
    """Variants the test could not tell from the reference (identical outcomes included)."""
    return int(verdicts.get("not distinguishable", 0) + verdicts.get("no difference observed", 0))


def summary_table(views: list[ComparisonView]) -> Table:
    rows, marked = [], set()
    for view in views:
        row = view.row
        verdicts = view.variants["verdict"].value_counts()
        others = len(view.variants) - 1
        rows.append(
            [
                str(view.experiment),
                str(view.dataset),
                " = ".join(view.tied) if len(view.tied) > 1 else str(view.reference or NA),
                pct(row["reference_val"]),
                pct(row["reference_mean"]),
                interval(row["reference_low"], row["reference_high"]),
                _prob(row["reference_p_first"]),
                f"{int(verdicts.get('worse', 0))} of {others}" if others > 0 else NA,
                f"{_undecided(verdicts)} of {others}" if others > 0 else NA,
                points(row["mde"], sign=False),
            ]
        )
    return Table(
        name="summary",
        caption=(
            "Per comparison (an experiment on a dataset): the variant chosen on the validation "
            "split, its validation and test accuracy (%) with the test accuracy's 95 % interval "
            "over seeds and test examples, its probability of ranking first on test, how many "
            "other variants are worse than it (Holm-corrected) and how many are not "
            "distinguishable from it at this sample size, with the smallest difference (points) "
            "the comparison detects with 80 % power."
        ),
        columns=[
            "experiment",
            "dataset",
            "chosen on validation",
            "val. %",
            "test %",
            "95 % interval",
            "P(first)",
            "worse",
            "not distinguishable",
            "detectable",
        ],
        rows=rows,
        align="llXrrrrrrr",
        marked=marked,
    )


def variant_table(view: ComparisonView) -> Table:
    rows, marked = [], set()
    for i, (_, v) in enumerate(view.variants.iterrows()):
        is_ref = v["verdict"] == "reference"
        if is_ref or v["variant"] in view.tied:
            marked.add(i)
        rows.append(
            [
                str(v["variant"]),
                f"{_count(v['usable'])}/{_count(v['runs'])}",
                pct(v["val_mean"]),
                pct(v["test_mean"]),
                interval(v["low"], v["high"]),
                pct(v["seed_sd"], 2),
                _prob(v["p_first"]),
                _ranks(v["rank_low"], v["rank_high"]),
                "" if is_ref else points(v["diff"]),
                "" if is_ref else interval(v["diff_low"], v["diff_high"], sign=True),
                "" if is_ref else pvalue(v["p_holm"]),
                "" if is_ref else _prob(v["poi"]),
                str(v["verdict"]),
                str(int(v["diverged"])),
            ]
        )
    row = view.row
    return Table(
        name=_key(view, "variants"),
        caption=(
            f"{_title(view)}: every variant in validation order (how the study selects; "
            f"{view.reference} is the reference). Test accuracy (%) with its 95 % interval over "
            "seeds and test examples, the seeds' standard deviation, the probability of ranking "
            "first and the 95 % rank interval (bootstrap), and against the reference: the "
            "difference (points) with its 95 % interval, the Holm-corrected p-value "
            f"({view.method}) and the probability of improvement (a seed of the variant beats "
            "a seed of the reference). 'not distinguishable' means the test did not reject at "
            f"this sample size ({_mde_text(row)}), not that the variants are equal."
        ),
        columns=[
            "variant",
            "runs",
            "val. %",
            "test %",
            "95 % interval",
            "sd",
            "P(first)",
            "rank",
            "diff",
            "95 % interval",
            "p (Holm)",
            "P(improve)",
            "verdict",
            "div.",
        ],
        rows=rows,
        align="Xrrrrrrrrrrrlr",
        marked=marked,
    )


def _mde_text(row) -> str:
    if pd.isna(row["mde"]):
        return "too few runs to say what it could detect"
    return f"detectable: >= {points(row['mde'], sign=False)} points with 80 % power"


def effects_table(view: ComparisonView) -> Table:
    rows, marked = [], set()
    for i, (_, e) in enumerate(view.effects.iterrows()):
        lead = str(e["lead"]).lower() == "true"
        if lead:
            marked.add(i)
        tested = pd.notna(e["verdict"])
        rows.append(
            [
                str(e["factor"]),
                str(e["level"]),
                str(int(e["variants"])),
                pct(e["val_mean"]),
                pct(e["test_mean"]),
                interval(e["low"], e["high"]),
                points(e["diff"]) if tested else "",
                interval(e["diff_low"], e["diff_high"], sign=True) if tested else "",
                pvalue(e["p_holm"]) if tested else "",
                str(e["verdict"]) if tested else ("lead" if lead else ""),
            ]
        )
    return Table(
        name=_key(view, "effects"),
        caption=(
            f"{_title(view)}: main effects. Marginal mean accuracy (%) of each level over its "
            "variants; the level with the highest validation mean leads (marked), and its test "
            "lead over the runner-up is given on the runner-up's row (points, 95 % interval, "
            "Holm-corrected p-value)."
        ),
        columns=[
            "factor",
            "level",
            "variants",
            "val. %",
            "test %",
            "95 % interval",
            "lead's diff",
            "95 % interval",
            "p (Holm)",
            "verdict",
        ],
        rows=rows,
        align="llrrrrrrrl",
        marked=marked,
    )


def interaction_table(view: ComparisonView) -> Table:
    inter = view.interaction
    rf, cf = inter["row_factor"].iloc[0], inter["col_factor"].iloc[0]
    cols = list(dict.fromkeys(inter["col_level"]))
    rows = []
    for level, g in inter.groupby("row_level", sort=False):
        cells = g.set_index("col_level")
        rows.append(
            [str(level)]
            + [
                f"{pct(cells.loc[c, 'test_mean'])} [{interval(cells.loc[c, 'low'], cells.loc[c, 'high'])}]"
                if c in cells.index
                else NA
                for c in cols
            ]
        )
    return Table(
        name=_key(view, "interaction"),
        caption=(
            f"{_title(view)}: {rf} x {cf}, mean test accuracy (%) [95 % interval] of each cell, "
            "averaged over the other factors."
        ),
        columns=[f"{rf} \\ {cf}", *[str(c) for c in cols]],
        rows=rows,
        align="l" + "r" * len(cols),
    )


def _late(value, fmt: str) -> str:
    if pd.isna(value):
        return NA
    return "not reached" if math.isinf(value) else fmt.format(value)


def time_to_target_table(view: ComparisonView) -> Table:
    ttt = view.time_to_target
    order = {v: i for i, v in enumerate(view.variants["variant"])}
    ttt = ttt.assign(_o=ttt["variant"].map(order)).sort_values(["_o", "fraction"])
    best = ttt["best"].iloc[0] if len(ttt) else math.nan
    rows = [
        [
            str(r["variant"]),
            f"{100 * r['fraction']:g} % ({pct(r['target'])})",
            f"{int(r['reached'])}/{int(r['runs'])}",
            _late(r["epochs"], "{:g}"),
            _late(r["steps"], "{:,.0f}"),
        ]
        for _, r in ttt.iterrows()
    ]
    return Table(
        name=_key(view, "time-to-target"),
        caption=(
            f"{_title(view)}: time to target, in epochs and optimizer steps (deterministic; wall "
            "seconds are not comparable between jobs that shared cores). The target is a "
            "fraction of the best validation accuracy, the highest point of any variant's median "
            f"curve over its seeds ({pct(best)} %); median over the variant's seeds of the first "
            "epoch at which the validation accuracy reached it, and of the optimizer steps until "
            "then; 'not reached' when half of the seeds or more never did."
        ),
        columns=["variant", "target (val. %)", "reached", "epochs", "steps"],
        rows=rows,
        align="Xrrrr",
    )


def _moved(default_rank, tuned_rank) -> str:
    if pd.isna(default_rank) or pd.isna(tuned_rank):
        return NA
    step = int(default_rank) - int(tuned_rank)
    return "same" if step == 0 else f"{'up' if step > 0 else 'down'} {abs(step)}"


def default_vs_tuned_table(view: ComparisonView, table: pd.DataFrame) -> Table:
    rows, marked = [], set()
    for i, (_, r) in enumerate(table.iterrows()):
        if r["tuned_rank"] == 1:
            marked.add(i)
        rows.append(
            [
                _count(r["tuned_rank"]),
                str(r["label"]),
                "" if pd.isna(r["tuned_setting"]) else str(r["tuned_setting"]),
                pct(r["tuned_value"]),
                _count(r["default_rank"]),
                NA if pd.isna(r["default_setting"]) else str(r["default_setting"]),
                pct(r["default_value"]),
                _moved(r["default_rank"], r["tuned_rank"]),
            ]
        )
    budget = table["budget"].dropna()
    return Table(
        name=_key(view, "tuned-vs-default"),
        caption=(
            f"{_title(view)}: tuned against default, at equal epochs "
            f"({plural(int(budget.iloc[0]), 'epoch') if len(budget) else NA}). Validation accuracy "
            "(%) of each variant's trial with its selected (tuned) settings and of its trial at "
            "its optimizer's default settings, both at the same budget (the highest rung every "
            "default trial reached); 'moved' is the change of rank from the default to the "
            "tuned ranking; equal values share a rank."
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


def tuning_budget_table(view: ComparisonView) -> Table:
    budget = tuning_stats.tuning_budget(view.trials)
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
    names = ", ".join(tuning_stats.tuned_names(view.trials)) or NA
    return Table(
        name=_key(view, "tuning-budget"),
        caption=(
            f"{_title(view)}: tuning budget per optimizer (tuned: {names}). Settings tried per "
            "variant, trials run (all rungs), epochs trained by them and their core-seconds of "
            "training."
        ),
        columns=["optimizer", "variants", "settings", "trials", "epochs", "time", "failed"],
        rows=rows,
        align="lrrrrrr",
    )


def across_table(experiment: str, slug: str, across: pd.DataFrame) -> Table:
    rows = across.sort_values("mean_rank")
    first = rows.iloc[0]
    return Table(
        name=f"across-{slug}",
        caption=(
            f"{experiment}: average rank of each variant over its {int(first['datasets'])} "
            f"datasets (1 = the best test accuracy on a dataset). Friedman test "
            f"{p_is(first['friedman_p'])}; Nemenyi critical difference {float(first['cd']):.2f} "
            "ranks (two variants whose average ranks differ by less are not distinguishable)."
        ),
        columns=["variant", "average rank"],
        rows=[[str(r["variant"]), f"{float(r['mean_rank']):.2f}"] for _, r in rows.iterrows()],
        align="Xr",
    )


def problems_table(runs: pd.DataFrame) -> Table:
    bad = runs[runs["status"].isin(["diverged", "failed"])]
    rows = [
        [
            str(r["dataset"]),
            str(r["run_id"]),
            ", ".join(json.loads(r["experiments"])),
            str(r["seed"]),
            str(r["status"]),
            _count(r["epochs_run"]),
            pct(r[METRIC]),
            "" if pd.isna(r.get("error")) else str(r["error"]),
        ]
        for _, r in bad.iterrows()
    ]
    return Table(
        name="problems",
        caption="Diverged and failed runs (test accuracy where one was measured).",
        columns=["dataset", "run", "experiments", "seed", "status", "epochs", "test acc.", "error"],
        rows=rows,
        align="llXrlrrX",
    )


def runs_table(runs: pd.DataFrame, members: pd.DataFrame) -> Table:
    labels = (
        members.assign(_name=members["experiment"] + ": " + members["variant"])
        .groupby("run_id", sort=False)["_name"]
        .agg("; ".join)
    )
    rows, marked = [], set()
    for i, (_, r) in enumerate(runs.iterrows()):
        if r["status"] not in ("ok", "early_stopped"):
            marked.add(i)
        rows.append(
            [
                str(r["dataset"]),
                str(r["run_id"]),
                str(labels.get(r["run_id"], NA)),
                str(r["seed"]),
                str(r["status"]),
                pct(r["val_accuracy"]),
                pct(r[METRIC]),
                number(r["f1_macro"]),
                seconds(r["train_seconds"]),
            ]
        )
    return Table(
        name="runs",
        caption="Every run of the study (results/tables/runs.csv), with the variant it is in each experiment.",
        columns=[
            "dataset",
            "run",
            "experiment: variant",
            "seed",
            "status",
            "val. acc.",
            "test acc.",
            "F1",
            "time",
        ],
        rows=rows,
        align="llXrlrrrr",
        marked=marked,
    )
