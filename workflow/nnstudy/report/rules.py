"""Output and input lists for workflow/rules/report.smk (kept out of the .smk so it holds
only rules). Paths here are the single source: the scripts write exactly these files."""

from __future__ import annotations

from snakemake.io import report

from nnstudy.config.runs import experiment_slug
from nnstudy.report.contents import FIGURE_KINDS, TABLES, figure_paths, tex_engine
from nnstudy.training.runfolder import RUN_DIR

# Captions are resolved relative to workflow/rules/ (where the rules are defined).
CAPTIONS = "../../report"
HTML, TEX, PDF = (f"results/report/report.{ext}" for ext in ("html", "tex", "pdf"))
TABLES_DIR = "results/tables"
FIGURES_DIR = "results/figures"


def report_targets() -> list[str]:
    """What `rule all` needs for the report: HTML and LaTeX, and the PDF when TeX exists."""
    return [HTML, TEX, PDF] if tex_engine() else [HTML, TEX]


def table_outputs() -> dict:
    return {
        name: report(
            f"{TABLES_DIR}/{name}.csv",
            caption=f"{CAPTIONS}/tables.rst",
            category="Tables",
            labels={"table": name},
        )
        for name in TABLES
    }


def _figure_outputs(paths: dict, category: str, subcategory: str, labels: dict) -> dict:
    """PNG (flagged for `snakemake --report`) and PDF of every figure kind in ``paths``."""
    out = {}
    for kind, files in paths.items():
        out[f"{kind}_png"] = report(
            str(files["png"]),
            caption=f"{CAPTIONS}/fig_{kind}.rst",
            category=category,
            subcategory=subcategory.format(title=FIGURE_KINDS[kind].title),
            labels={**labels, "figure": kind},
        )
        out[f"{kind}_pdf"] = str(files["pdf"])
    return out


def figure_outputs() -> dict:
    """Every comparison figure of one comparison (wildcards ``experiment``: the experiment's
    folder name, and ``dataset``)."""
    paths = figure_paths(FIGURES_DIR, "{experiment}", "{dataset}")
    labels = {"experiment": "{experiment}", "dataset": "{dataset}"}
    return _figure_outputs(paths, "{experiment} / {dataset}", "{title}", labels)


def experiment_figure_outputs() -> dict:
    """The across-dataset figures of one experiment (wildcard ``experiment``)."""
    paths = figure_paths(FIGURES_DIR, "{experiment}")
    return _figure_outputs(paths, "{experiment}", "{title}", {"experiment": "{experiment}"})


def document_output(path: str, name: str):
    return report(
        path, caption=f"{CAPTIONS}/report_html.rst", category="Report", labels={"file": name}
    )


def comparisons(rows, tunings) -> list[tuple[str, str]]:
    """(experiment folder, dataset) of every comparison of the study, in the order its
    experiments and datasets first appear (``rows``: the untuned run table; ``tunings``: the
    tuned searches)."""
    pairs = [(r.experiment, r.dataset) for r in rows] + [(t.experiment, t.dataset) for t in tunings]
    return [(experiment_slug(e), d) for e, d in dict.fromkeys(pairs)]


def across_experiments(comparison_list) -> list[str]:
    """The experiment folders with two datasets or more (they get the across-dataset figures)."""
    counts: dict[str, int] = {}
    for slug, _ in comparison_list:
        counts[slug] = counts.get(slug, 0) + 1
    return [slug for slug, n in counts.items() if n >= 2]


def figure_targets(comparison_list) -> list[str]:
    """Every figure file of the study (`rule all` and the report need them all)."""
    files = [
        str(f[ext])
        for slug, dataset in comparison_list
        for f in figure_paths(FIGURES_DIR, slug, dataset).values()
        for ext in ("png", "pdf")
    ]
    files += [
        str(f[ext])
        for slug in across_experiments(comparison_list)
        for f in figure_paths(FIGURES_DIR, slug).values()
        for ext in ("png", "pdf")
    ]
    return files


def comparison_run_files(rows, name: str):
    """Input function: file ``name`` of every untuned run of the comparison in the wildcards
    (a tuned experiment's finals are reached through aggregate's inputs)."""
    by_comparison: dict[tuple[str, str], list[str]] = {}
    for r in rows:
        key = (experiment_slug(r.experiment), r.dataset)
        folder = RUN_DIR.format(dataset=r.dataset, run_id=r.run_id)
        by_comparison.setdefault(key, []).append(f"{folder}/{name}")

    def files(wildcards):
        return by_comparison.get((wildcards.experiment, wildcards.dataset), [])

    return files
