# Aggregate all runs -> figures per dataset -> report (HTML + LaTeX) -> PDF when TeX exists.
# The Snakefile adds REPORT_TARGETS to `rule all`. Logic lives in nnstudy.{aggregate,figures,report}.
from nnstudy.aggregate import TABLES
from nnstudy.config import selected
from nnstudy.figures import FIGURE_TYPES, TITLES, figure_paths
from nnstudy.report import config_hash, tex_engine


report: "../../report/workflow.rst"


REPORT_DATASETS = sorted({run["dataset"] for run in RUNS.values()})
TEX_ENGINE = tex_engine()
REPORT_TARGETS = ["results/report/report.html", "results/report/report.tex"]
if TEX_ENGINE:
    REPORT_TARGETS.append("results/report/report.pdf")
else:
    logger.warning(
        "No TeX engine (latexmk, pdflatex, tectonic) found: the report is built as HTML and "
        "LaTeX only (results/report/report.tex); install TeX Live for report.pdf."
    )


def table_outputs():
    return {
        name: report(
            f"results/tables/{name}.csv",
            caption="../../report/tables.rst",
            category="Tables",
            labels={"table": name},
        )
        for name in TABLES
    }


def figure_outputs():
    """PNG (flagged for `snakemake --report`) and PDF of every figure type of one dataset."""
    out = {}
    for kind, paths in figure_paths("results/figures", "{dataset}").items():
        factor = kind.removeprefix("curves_") if kind.startswith("curves_") else "all"
        out[f"{kind}_png"] = report(
            str(paths["png"]),
            caption=f"../../report/fig_{kind}.rst",
            category="{dataset}",
            subcategory=TITLES[kind],
            labels={"dataset": "{dataset}", "figure": kind, "factor": factor},
        )
        out[f"{kind}_pdf"] = str(paths["pdf"])
    return out


def dataset_run_files(name):
    """Input function: one file of every run of the job's dataset."""

    def files(wildcards):
        return [
            f"results/runs/{wildcards.dataset}/{rid}/{name}"
            for rid, run in RUNS.items()
            if run["dataset"] == wildcards.dataset
        ]

    return files


rule aggregate:
    input:
        membership="results/runs/experiments.csv",
        metrics=run_files("metrics.json"),
        histories=run_files("history.csv"),
    output:
        **table_outputs(),
    log:
        "results/logs/aggregate.log",
    params:
        runs_root="results/runs",
    script:
        "../scripts/aggregate.py"


rule figures:
    input:
        **rules.aggregate.output,
        snapshots=dataset_run_files("snapshots.npz"),
    output:
        **figure_outputs(),
    log:
        "results/logs/figures/{dataset}.log",
    wildcard_constraints:
        dataset="|".join(REPORT_DATASETS),
    params:
        runs_root="results/runs",
        figures_dir="results/figures",
    script:
        "../scripts/figures.py"


rule report:
    input:
        **rules.aggregate.output,
        figures=expand(rules.figures.output, dataset=REPORT_DATASETS),
        cards=expand("data/processed/{dataset}/card.json", dataset=REPORT_DATASETS),
    output:
        html=report(
            "results/report/report.html",
            caption="../../report/report_html.rst",
            category="Report",
            labels={"file": "report.html"},
        ),
        tex="results/report/report.tex",
        fragments=directory("results/tables/fragments"),
    log:
        "results/logs/report.log",
    params:
        figures_dir="results/figures",
        study={
            "data": config.get("data", {}),
            "experiments": {n: config["experiments"][n] for n in selected(config)},
        },
        selected=selected(config),
        config_hash=config_hash(config),
    script:
        "../scripts/report.py"


rule report_pdf:
    input:
        tex=rules.report.output.tex,
        figures=expand(rules.figures.output, dataset=REPORT_DATASETS),
    output:
        pdf=report(
            "results/report/report.pdf",
            caption="../../report/report_html.rst",
            category="Report",
            labels={"file": "report.pdf"},
        ),
    log:
        "results/logs/report_pdf.log",
    script:
        "../scripts/report_pdf.py"
