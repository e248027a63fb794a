"""The study report: context from the tables, findings from the statistics, HTML/LaTeX/PDF.

``build_context`` turns the aggregate tables, the study config, the dataset cards and the
figures into one plain dict that both templates (report/report.{html,tex}.j2) render. Every
claim in the findings is generated from the numbers, and the wording follows the tests: a
difference is called clear only when its 95 % CI excludes 0, and nothing is claimed when a CI
is not available (one seed).
"""

from __future__ import annotations

import base64
import json
import math
import os
import platform
import shlex
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from nnstudy import stats, tuning_stats
from nnstudy.aggregate import METRIC, read_tables, setting_columns, varying_factors
from nnstudy.names import FIGURE_TYPES, TITLES, TUNING_FIGURES, figure_paths, tex_engine
from nnstudy.provenance import git_state
from nnstudy.templating import (
    NA,
    TEMPLATE_DIR,
    Table,
    html_env,
    latex_env,
    number,
    pct,
    pct_ci,
    points,
    pvalue,
    render_table,
    seconds,
)

PACKAGES = ("numpy", "scipy", "pandas", "matplotlib", "jinja2", "snakemake", "nnlib-study")


# ---------------------------------------------------------------- findings from the statistics


def _verdict(c: dict) -> str:
    if not np.isfinite(c["diff_low"]):
        return "no CI: fewer than two seeds"
    if c["diff_low"] > 0 or c["diff_high"] < 0:
        return "95 % CI excludes 0"
    return "95 % CI includes 0: not a clear difference"


def best_variant_findings(variants: pd.DataFrame, ranking: pd.DataFrame) -> list[str]:
    out = []
    for dataset, rank in ranking.groupby("dataset", sort=True):
        best = rank.sort_values("rank").iloc[0]
        v = variants[
            (variants["dataset"] == dataset) & (variants["variant"] == best["variant"])
        ].iloc[0]
        text = (
            f"{dataset}: the best variant is {best['variant']} with {pct(v['mean'])} % test "
            f"accuracy (95 % CI {pct_ci(v['ci_low'], v['ci_high'])}, {int(v['n'])} seed"
            f"{'s' if v['n'] != 1 else ''})."
        )
        others = rank[rank["variant"] != best["variant"]]
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


# ---------------------------------------------------------------- tables


def _variant_table(dataset, variants, ranking, factors) -> Table:
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


def _effects_table(dataset, effects) -> Table:
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


def _interaction_table(dataset, inter) -> Table:
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


def _time_to_target_table(dataset, histories, variants) -> Table:
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


def _default_vs_tuned_table(dataset, table) -> Table:
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


def _tuning_budget_table(dataset, trials) -> Table:
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


# ---------------------------------------------------------------- methods and provenance


def _distinct(values) -> str:
    seen = list(
        dict.fromkeys(str(v) for v in values if not (isinstance(v, float) and math.isnan(v)))
    )
    return ", ".join(seen) if seen else NA


def methods(config: dict, runs: pd.DataFrame, cards: dict[str, dict], selected: list[str]) -> dict:
    experiments = []
    for name in selected:
        exp = (config.get("experiments") or {}).get(name, {})
        members = runs[runs["experiments"].map(lambda e, n=name: n in json.loads(e))]
        experiments.append(
            {
                "name": name,
                "datasets": _distinct(exp.get("datasets", members["dataset"].unique())),
                "grid": [(k, _distinct(v)) for k, v in (exp.get("grid") or {}).items()],
                "fixed": [(k, json.dumps(v)) for k, v in (exp.get("fixed") or {}).items()],
                "seeds": _distinct(exp.get("seeds", sorted(members["seed"].unique()))),
                "n_runs": len(members),
            }
        )
    settings = [(c, _distinct(runs[c].unique())) for c in setting_columns(runs)]
    data = config.get("data") or {}
    datasets = [
        _card_summary(name, cards.get(name) or {}) for name in sorted(runs["dataset"].unique())
    ]
    return {
        "experiments": experiments,
        "settings": settings,
        "datasets": datasets,
        "split": (
            f"configured validation fraction {data.get('val_fraction', NA)}, split seed "
            f"{data.get('split_seed', NA)} (per dataset below, from its card); the validation "
            "split drives early stopping and the learning curves, the test split is used only "
            "for the final metrics"
        ),
        "n_runs": len(runs),
        "n_variants": int(runs.groupby(["dataset", "variant"]).ngroups),
    }


def _values(series) -> str:
    return "{" + ", ".join(f"{v:.3g}" for v in sorted(series.dropna().unique())) + "}"


def tuning_methods(trials: pd.DataFrame) -> list[str]:
    """How the study tuned, from its trials: settings and values tried, rungs and budgets."""
    parts = []
    for name in tuning_stats.tuned_names(trials):
        per_opt = {o: _values(g[name]) for o, g in trials.groupby("optimizer", sort=True)}
        if len(set(per_opt.values())) == 1:
            parts.append(f"{name} in {next(iter(per_opt.values()))}")
        else:
            parts.append(f"{name}: " + ", ".join(f"{o} {v}" for o, v in per_opt.items()))
    values = "; ".join(parts)
    rungs = trials.groupby("rung")["budget_epochs"].agg(
        lambda b: "/".join(f"{x:g}" for x in sorted(b.unique()))
    )
    per_rung = ", ".join(f"rung {int(k)}: {v} epochs" for k, v in rungs.items())
    return [
        f"Tuned settings: {values or NA}, searched separately for every variant; each "
        "dataset's tuning-budget table shows what each optimizer got "
        f"({trials['run_id'].nunique()} trial runs, {trials['variant'].nunique()} variants; "
        f"{per_rung}"
        + (
            "; successive halving keeps the better trials for the next rung"
            if len(rungs) > 1
            else ""
        )
        + "). Trials read only the training and validation splits; each variant's selected "
        "setting is then trained for every seed, and those runs make the ranking above.",
        "Tuned against default ranks the variants twice by validation accuracy, once with the "
        "selected settings and once at the optimizer's defaults from config.yaml (when they "
        "were among the trials). The learning-rate sensitivity and the expected best "
        "validation accuracy of n trials (Dodge et al. 2019, the expectation and standard "
        "deviation of the maximum of n draws from the trials' empirical distribution, in "
        "closed form) use the first rung, which every trial ran; a diverged trial without a "
        "validation accuracy counts as 0.",
    ]


def _split_text(split: dict) -> str:
    if not split:
        return NA
    test = split.get("test_fraction")
    return (
        f"{'stratified, ' if split.get('stratified') else ''}validation "
        f"{split.get('val_fraction', NA)} of train, "
        f"{'official test split' if test is None else f'test {test} held out'}, "
        f"seed {split.get('seed', NA)}"
    )


def _card_summary(name: str, card: dict) -> dict:
    """Source, shapes, normalization and checksums from a dataset card (nnstudy.datasets)."""
    sources, checksums = [], []
    for fname, rec in (card.get("source") or {}).items():
        if isinstance(rec, dict) and "source" in rec:
            sources.append(f"{fname} from {rec['source']}")
            checksums.append((f"raw {fname} (sha256)", str(rec.get("sha256", NA))))
        else:
            sources.append(f"{fname}: {json.dumps(rec, sort_keys=True)}")
    checksums += [
        (f"prepared {f} (sha256)", str(v)) for f, v in sorted((card.get("files") or {}).items())
    ]
    splits = card.get("splits") or {}
    norm = card.get("normalization") or {}
    return {
        "name": name,
        "source": "; ".join(sources) or NA,
        "shapes": ", ".join(
            f"{k} {' x '.join(map(str, v.get('shape', [])))}" for k, v in splits.items()
        )
        or NA,
        "n_classes": str(card.get("n_classes", NA)),
        "split": _split_text(card.get("split") or {}),
        "normalization": (
            f"standardized per {norm.get('per', NA)}, {norm.get('formula', NA)}, statistics from the {norm.get('computed_on', NA)} split"
            if norm
            else NA
        ),
        "checksums": checksums,
    }


def _run_commits(runs: pd.DataFrame) -> str:
    """The commits the runs were trained at (from their train.json), with dirty counts."""
    if "git_commit" not in runs.columns or runs["git_commit"].isna().all():
        return NA
    parts = []
    for commit, group in runs.groupby(runs["git_commit"].fillna("unknown"), sort=True):
        dirty = int(group["git_dirty"].fillna(False).astype(bool).sum())
        parts.append(
            f"{commit} ({len(group)} runs{f', {dirty} with uncommitted changes' if dirty else ''})"
        )
    return "; ".join(parts)


def provenance(cfg_hash: str, runs: pd.DataFrame, selected: list[str], repo=".") -> dict:
    commit, dirty = git_state(str(Path(repo).resolve()))
    versions = [("python", platform.python_version())]
    for pkg in PACKAGES:
        try:
            versions.append((pkg, metadata.version(pkg)))
        except metadata.PackageNotFoundError:
            versions.append((pkg, NA))
    select = json.dumps(selected, separators=(",", ":"))
    command = (
        f"git checkout {commit or '<commit>'} && "
        f"snakemake --cores all --config {shlex.quote(f'select={select}')}"
    )
    return {
        "commit": commit or "unknown (not a git checkout)",
        "dirty": NA
        if dirty is None
        else (
            "yes: uncommitted changes, the commit alone does not reproduce this" if dirty else "no"
        ),
        "run_commits": _run_commits(runs),
        "config_hash": cfg_hash,
        "packages": versions,
        "platform": f"{platform.system()} {platform.release()} {platform.machine()}",
        "command": command,
        "compute": seconds(runs["train_seconds"].sum(min_count=1)),
        "n_runs": len(runs),
    }


# ---------------------------------------------------------------- context and rendering


def caption(kind: str) -> str:
    """A figure's caption: the text of report/fig_<kind>.rst, also used by `snakemake --report`."""
    return " ".join((TEMPLATE_DIR / f"fig_{kind}.rst").read_text(encoding="utf-8").split())


def figure_entries(
    dataset: str, figure_paths: dict, tex_dir: Path, kinds=FIGURE_TYPES
) -> list[dict]:
    entries = []
    for kind in kinds:
        paths = figure_paths[kind]
        png = Path(paths["png"]).read_bytes()
        entries.append(
            {
                "kind": kind,
                "title": TITLES[kind],
                "caption": f"{dataset}: {caption(kind)}",
                "data_uri": "data:image/png;base64," + base64.b64encode(png).decode("ascii"),
                "pdf": Path(
                    os.path.relpath(Path(paths["pdf"]).resolve(), tex_dir.resolve())
                ).as_posix(),
            }
        )
    return entries


def build_context(
    tables: dict[str, pd.DataFrame],
    config: dict,
    figures: dict[str, dict],
    cards: dict[str, dict],
    selected: list[str],
    tex_dir: Path | str,
    cfg_hash: str,
    repo: Path | str = ".",
) -> dict:
    """Everything the two templates render; ``figures`` maps dataset -> figure_paths()."""
    runs, variants, ranking = tables["runs"], tables["variants"], tables["ranking"]
    effects, inter = tables["main_effects"], tables["interaction"]
    trials = tables.get("trials")
    trials = trials if trials is not None else pd.DataFrame()  # a study without tuning
    tuned = tuning_stats.default_vs_tuned(trials) if len(trials) else None
    factors = varying_factors(runs)
    datasets = []
    for dataset in sorted(runs["dataset"].unique()):
        r = runs[runs["dataset"] == dataset]
        ds_trials = tuning_stats.dataset_trials(trials, dataset)
        tuning = (
            [_default_vs_tuned_table(dataset, tuned), _tuning_budget_table(dataset, trials)]
            if len(ds_trials)
            else []
        )
        # Tuning figures only with trials; the sensitivity one only when lr was tuned.
        shown = set(TUNING_FIGURES) if len(ds_trials) else set()
        if "lr" not in tuning_stats.tuned_names(ds_trials):
            shown.discard("lr_sensitivity")
        kinds = [k for k in FIGURE_TYPES if k not in TUNING_FIGURES or k in shown]
        datasets.append(
            {
                "name": dataset,
                "counts": f"{len(r)} runs, {r['variant'].nunique()} variants, seeds {_distinct(sorted(r['seed'].unique()))}; status: "
                + ", ".join(f"{k} {v}" for k, v in r["status"].value_counts().sort_index().items()),
                "tables": [
                    _variant_table(dataset, variants, ranking, factors),
                    _effects_table(dataset, effects),
                    _interaction_table(dataset, inter),
                    _time_to_target_table(dataset, tables["histories"], variants),
                    *tuning,
                ],
                "figures": figure_entries(dataset, figures[dataset], Path(tex_dir), kinds),
            }
        )
    best = []
    for dataset, rank in ranking.groupby("dataset", sort=True):
        top = rank.sort_values("rank").iloc[0]
        v = variants[
            (variants["dataset"] == dataset) & (variants["variant"] == top["variant"])
        ].iloc[0]
        best.append(
            [
                str(dataset),
                str(top["variant"]),
                pct(v["mean"]),
                pct_ci(v["ci_low"], v["ci_high"]),
                str(int(v["n"])),
                str(int(rank["indistinguishable"].fillna(False).sum()) - 1),
            ]
        )
    engine = tex_engine()
    return {
        "title": "Optimizers, activations and initializers: study report",
        "experiments": ", ".join(selected),
        "best": Table(
            name="best",
            caption="Best variant per dataset: mean test accuracy (%) over seeds with its 95 % CI, and how many other variants are statistically indistinguishable from it.",
            columns=["dataset", "best variant", "mean", "95 % CI", "seeds", "≈ best (others)"],
            rows=best,
            align="llrrrr",
        ),
        "findings": best_variant_findings(variants, ranking)
        + factor_findings(runs, effects)
        + (tuning_findings(tuned) if tuned is not None else [])
        + status_findings(runs),
        "tuning": tuning_methods(trials) if len(trials) else None,
        "targets": " and ".join(f"{100 * f:g} %" for f in tuning_stats.TARGET_FRACTIONS),
        "methods": methods(config, runs, cards, selected),
        "datasets": datasets,
        "problems": problems_table(runs),
        "runs": runs_table(runs),
        "provenance": provenance(cfg_hash, runs, selected, repo),
        "pdf_note": (
            f"A PDF version (report.pdf) is built with {engine}."
            if engine
            else "No TeX engine (latexmk, pdflatex or tectonic) was found on this machine, so only report.tex was written; install TeX Live and rerun to get report.pdf."
        ),
    }


def render(context: dict, html_path, tex_path) -> None:
    """Write report.html (self-contained) and report.tex from one context."""
    html = html_env().get_template("report.html.j2").render(**context)
    tex = latex_env().get_template("report.tex.j2").render(**context)
    for path, text in ((html_path, html), (tex_path, tex)):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text, encoding="utf-8")


def write_table_files(context: dict, outdir) -> list[Path]:
    """Every report table also as a standalone HTML and LaTeX (booktabs) fragment."""
    tables = [context["best"], context["problems"], context["runs"]]
    tables += [t for d in context["datasets"] for t in d["tables"]]
    written = []
    for table in tables:
        for fmt in ("html", "tex"):
            path = Path(outdir) / f"{table.name}.{fmt}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render_table(table, fmt), encoding="utf-8")
            written.append(path)
    return written


def read_cards(paths) -> dict[str, dict]:
    """Dataset cards keyed by dataset name (the card's parent folder)."""
    return {Path(p).parent.name: json.loads(Path(p).read_text()) for p in paths}


def write_report(
    table_paths: dict,
    figures_dir,
    card_paths,
    config: dict,
    selected: list[str],
    cfg_hash: str,
    html,
    tex,
    fragments,
    repo=".",
) -> dict:
    """Entry point of the `report` rule: report.html, report.tex and the table fragments."""
    tables = read_tables(table_paths)
    datasets = sorted(tables["runs"]["dataset"].unique())
    figs = {ds: figure_paths(figures_dir, ds) for ds in datasets}
    context = build_context(
        tables, config, figs, read_cards(card_paths), selected, Path(tex).parent, cfg_hash, repo
    )
    render(context, html, tex)
    write_table_files(context, fragments)
    return context
