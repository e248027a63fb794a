"""The report document: ``build_context`` turns the aggregate tables, the study config, the
dataset cards and the figures into one plain dict that both templates
(report/report.{html,tex}.j2) render; ``write_report`` writes HTML, LaTeX and the table files."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pandas as pd

from nnstudy.analysis.aggregate import read_tables, varying_factors
from nnstudy.jobs.provenance import study_provenance
from nnstudy.report.contents import FIGURE_TYPES, TITLES, TUNING_FIGURES, figure_paths, tex_engine
from nnstudy.report.findings import (
    best_variant_findings,
    best_variants,
    factor_findings,
    status_findings,
    tuning_findings,
)
from nnstudy.report.methods import distinct, methods, tuning_methods
from nnstudy.report.tables import (
    default_vs_tuned_table,
    effects_table,
    interaction_table,
    problems_table,
    runs_table,
    time_to_target_table,
    tuning_budget_table,
    variant_table,
)
from nnstudy.report.templating import (
    TEMPLATE_DIR,
    Table,
    html_env,
    latex_env,
    pct,
    pct_ci,
    render_table,
)
from nnstudy.tuning import stats as tuning_stats


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
            [default_vs_tuned_table(dataset, tuned), tuning_budget_table(dataset, trials)]
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
                "counts": f"{len(r)} runs, {r['variant'].nunique()} variants, seeds {distinct(sorted(r['seed'].unique()))}; status: "
                + ", ".join(f"{k} {v}" for k, v in r["status"].value_counts().sort_index().items()),
                "tables": [
                    variant_table(dataset, variants, ranking, factors),
                    effects_table(dataset, effects),
                    interaction_table(dataset, inter),
                    time_to_target_table(dataset, tables["histories"], variants),
                    *tuning,
                ],
                "figures": figure_entries(dataset, figures[dataset], Path(tex_dir), kinds),
            }
        )
    best = []
    for dataset, rank, v in best_variants(variants, ranking):
        best.append(
            [
                str(dataset),
                str(v["variant"]),
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
        "provenance": study_provenance(cfg_hash, runs, selected, repo),
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
