"""Output and input lists for workflow/rules/report.smk (kept out of the .smk so it holds
only rules). Paths here are the single source: the scripts write exactly these files."""

from __future__ import annotations

from snakemake.io import report

from nnstudy.report.contents import TABLES, TITLES, figure_paths, tex_engine

# Captions are resolved relative to workflow/rules/ (where the rules are defined).
CAPTIONS = "../../report"
HTML, TEX, PDF = (f"results/report/report.{ext}" for ext in ("html", "tex", "pdf"))


def report_targets() -> list[str]:
    """What `rule all` needs for the report: HTML and LaTeX, and the PDF when TeX exists."""
    return [HTML, TEX, PDF] if tex_engine() else [HTML, TEX]


def table_outputs() -> dict:
    return {
        name: report(
            f"results/tables/{name}.csv",
            caption=f"{CAPTIONS}/tables.rst",
            category="Tables",
            labels={"table": name},
        )
        for name in TABLES
    }


def figure_outputs() -> dict:
    """PNG (flagged for `snakemake --report`) and PDF of every figure type of one dataset."""
    out = {}
    for kind, paths in figure_paths("results/figures", "{dataset}").items():
        factor = kind.removeprefix("curves_") if kind.startswith("curves_") else "all"
        out[f"{kind}_png"] = report(
            str(paths["png"]),
            caption=f"{CAPTIONS}/fig_{kind}.rst",
            category="{dataset}",
            subcategory=TITLES[kind],
            labels={"dataset": "{dataset}", "figure": kind, "factor": factor},
        )
        out[f"{kind}_pdf"] = str(paths["pdf"])
    return out


def document_output(path: str, name: str):
    return report(
        path, caption=f"{CAPTIONS}/report_html.rst", category="Report", labels={"file": name}
    )


def dataset_run_files(runs: dict, name: str):
    """Input function: file ``name`` of every run (``runs``: id -> config) of the dataset."""

    def files(wildcards):
        return [
            f"results/runs/{wildcards.dataset}/{rid}/{name}"
            for rid, run in runs.items()
            if run["dataset"] == wildcards.dataset
        ]

    return files
