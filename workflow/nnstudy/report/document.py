"""The report document: ``build_context`` turns the aggregate tables, the study config, the
dataset cards and the figures into one plain dict that both templates
(report/report.{html,tex}.j2) render; ``write_report`` writes HTML, LaTeX and the table files.

The report is organised as the study is: per experiment, one section per comparison (the
experiment on one of its datasets), then the experiment's ranks across its datasets."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pandas as pd

from nnstudy.analysis.aggregate import read_cards, read_tables
from nnstudy.analysis.progress import TARGET_FRACTIONS
from nnstudy.config.runs import experiment_slug
from nnstudy.jobs.provenance import study_provenance
from nnstudy.report import findings as find
from nnstudy.report.contents import (
    Figure,
    comparison_figures,
    experiment_figures,
    figure_paths,
    tex_engine,
)
from nnstudy.report.figures import applies
from nnstudy.report.methods import methods, statistics, tuning_methods
from nnstudy.report.tables import (
    across_table,
    default_vs_tuned_table,
    effects_table,
    interaction_table,
    problems_table,
    runs_table,
    summary_table,
    time_to_target_table,
    tuning_budget_table,
    variant_table,
)
from nnstudy.report.templating import (
    TEMPLATE_DIR,
    html_env,
    latex_env,
    plural,
    render_table,
)
from nnstudy.report.view import ComparisonView, comparison_views
from nnstudy.tuning import stats as tuning_stats


def caption(kind: str) -> str:
    """A figure's caption: the text of report/fig_<kind>.rst, also used by `snakemake --report`."""
    return " ".join((TEMPLATE_DIR / f"fig_{kind}.rst").read_text(encoding="utf-8").split())


def figure_entry(spec: Figure, paths: dict, where: str, tex_dir: Path) -> dict:
    png = Path(paths["png"]).read_bytes()
    return {
        "kind": spec.kind,
        "title": spec.title,
        "caption": f"{where}: {caption(spec.kind)}",
        "data_uri": "data:image/png;base64," + base64.b64encode(png).decode("ascii"),
        "pdf": Path(os.path.relpath(Path(paths["pdf"]).resolve(), tex_dir.resolve())).as_posix(),
    }


def _counts(view: ComparisonView) -> str:
    status = view.runs["status"].value_counts().sort_index()
    seeds = str(view.row["seeds"]).replace(";", ", ")
    return (
        f"{plural(len(view.runs), 'run')}, {plural(len(view.variants), 'variant')}, seeds "
        f"{seeds}, {int(view.row['n_test'])} test examples; status: "
        + ", ".join(f"{k} {v}" for k, v in status.items())
    )


def comparison_section(view: ComparisonView, figures_dir, tex_dir: Path) -> dict:
    tables = [variant_table(view)]
    if view.factors:
        tables.append(effects_table(view))
    if len(view.factors) >= 2:
        tables.append(interaction_table(view))
    tables.append(time_to_target_table(view))
    if view.tuned:
        versus = tuning_stats.default_vs_tuned(view.trials)
        if len(versus):
            tables.append(default_vs_tuned_table(view, versus))
        tables.append(tuning_budget_table(view))
    paths = figure_paths(figures_dir, view.slug, view.dataset)
    figures, statements = [], []
    where = f"{view.experiment} / {view.dataset}"
    for spec in comparison_figures():
        why = applies(spec, view)
        if why:
            statements.append(why)
        else:
            figures.append(figure_entry(spec, paths[spec.kind], where, tex_dir))
    return {
        "name": where,
        "anchor": f"{view.slug}-{view.dataset}",
        "dataset": view.dataset,
        "counts": _counts(view),
        "fixed": find.fixed_finding(view),
        "findings": find.comparison_findings(view),
        "tables": tables,
        "figures": figures,
        "statements": statements,
    }


def experiment_sections(
    views: list[ComparisonView], across: pd.DataFrame, figures_dir, tex_dir: Path, selected
) -> list[dict]:
    out = []
    for name in selected:
        mine = [v for v in views if v.experiment == name]
        if not mine:
            continue
        slug = experiment_slug(name)
        rows = across[across["experiment"] == name]
        section = {
            "name": name,
            "anchor": slug,
            "comparisons": [comparison_section(v, figures_dir, tex_dir) for v in mine],
            "across": None,
        }
        if len(rows):
            paths = figure_paths(figures_dir, slug)
            section["across"] = {
                "finding": find.across_finding(name, across),
                "table": across_table(name, slug, rows),
                "figures": [
                    figure_entry(s, paths[s.kind], name, tex_dir) for s in experiment_figures()
                ],
            }
        out.append(section)
    return out


def build_context(
    tables: dict[str, pd.DataFrame],
    config: dict,
    figures_dir,
    cards: dict[str, dict],
    selected: list[str],
    tex_dir: Path | str,
    cfg_hash: str,
    repo: Path | str = ".",
) -> dict:
    """Everything the two templates render."""
    runs = tables["runs"]
    trials = tables.get("trials")
    views = comparison_views(tables)
    experiments = experiment_sections(views, tables["across"], figures_dir, Path(tex_dir), selected)
    findings = [
        {
            "experiment": e["name"],
            "items": [f for c in e["comparisons"] for f in c["findings"]]
            + ([e["across"]["finding"]] if e["across"] and e["across"]["finding"] else []),
        }
        for e in experiments
    ]
    engine = tex_engine()
    return {
        "title": "Optimizers, activations and initializers: study report",
        "experiment_names": ", ".join(selected),
        "n_runs": len(runs),
        "n_comparisons": len(views),
        "summary": summary_table(views),
        "findings": findings,
        "status": find.status_findings(runs),
        "tuning": tuning_methods(trials) if trials is not None and len(trials) else None,
        "targets": " and ".join(f"{100 * f:g} %" for f in TARGET_FRACTIONS),
        "methods": methods(config, runs, cards, selected),
        "statistics": statistics(tables["comparisons"]),
        "experiments": experiments,
        "problems": problems_table(runs),
        "runs": runs_table(runs, tables["members"]),
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


def all_tables(context: dict) -> list:
    tables = [context["summary"], context["problems"], context["runs"]]
    for e in context["experiments"]:
        tables += [t for c in e["comparisons"] for t in c["tables"]]
        if e["across"]:
            tables.append(e["across"]["table"])
    return tables


def write_table_files(context: dict, outdir) -> list[Path]:
    """Every report table also as a standalone HTML and LaTeX (booktabs) fragment."""
    written = []
    for table in all_tables(context):
        for fmt in ("html", "tex"):
            path = Path(outdir) / f"{table.name}.{fmt}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render_table(table, fmt), encoding="utf-8")
            written.append(path)
    return written


def write_report(
    table_paths: dict,
    figures_dir,
    data_root,
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
    datasets = list(dict.fromkeys(tables["runs"]["dataset"]))
    context = build_context(
        tables,
        config,
        figures_dir,
        read_cards(data_root, datasets),
        selected,
        Path(tex).parent,
        cfg_hash,
        repo,
    )
    render(context, html, tex)
    write_table_files(context, fragments)
    return context
