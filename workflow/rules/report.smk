# Aggregate all runs -> figures per comparison (an experiment on a dataset) -> report (HTML +
# LaTeX) -> PDF when TeX exists.
# `rule all` takes report_targets(). Logic lives in nnstudy.{aggregate,figures,report}.
import sys
import time
from pathlib import Path

from nnstudy.config.validation import selected
from nnstudy.console import closing_summary
from nnstudy.jobs.frame import exit_if_interrupted
from nnstudy.config.runs import config_hash, table_csv
from nnstudy.report.rules import (
    HTML,
    PDF,
    TABLES_DIR,
    TEX,
    across_experiments,
    comparison_run_files,
    comparisons,
    document_output,
    experiment_figure_outputs,
    figure_outputs,
    figure_targets,
    report_targets,
    table_outputs,
)


report: "../../report/workflow.rst"


STUDY_STARTED = time.time()


# The last lines on the console: best variants, failed runs, where the report is (when this
# call wrote it).
onsuccess:
    print(
        closing_summary(TABLES_DIR, report_targets(), since=STUDY_STARTED),
        end="",
    )


onerror:
    exit_if_interrupted(logger.error)  # Ctrl-C: one line, exit status 130
    print(
        closing_summary(TABLES_DIR, report_targets(), since=STUDY_STARTED),
        end="",
    )
    print(
        "Some jobs failed: each has a FAILED line above with its log.",
        file=sys.stderr,
    )


REPORT_DATASETS = sorted(
    {run["dataset"] for run in RUNS.values()} | {t.dataset for t in TUNED.tunings}
)
# Every comparison (an experiment on a dataset) as (experiment folder, dataset).
COMPARISONS = comparisons(ROWS, TUNED.tunings)
# `snakemake --report` before the study has anything to show: one line instead of Snakemake's
# "marked for report but does not exist" (the command line is the only sign of report mode
# while the Snakefile is parsed).
if (
    workflow.is_main_process
    and any(arg.startswith("--report") for arg in sys.argv)
    and not Path(HTML).exists()
):
    sys.exit(
        f"No study results yet ({HTML} is missing): run the study first (make run, or "
        "snakemake), then snakemake --report report.html"
    )
if PDF not in report_targets():
    logger.warning(
        "No TeX engine (latexmk, pdflatex, tectonic) found: the report is built as HTML and "
        f"LaTeX only ({TEX}); install TeX Live to get {PDF}."
    )


# The run table is a job's output, written only after Snakemake holds its lock; it carries the
# table as a parameter, so Snakemake rewrites it exactly when the selected runs change.
rule experiments:
    output:
        "results/runs/experiments.csv",
    log:
        "results/logs/experiments.log",
    localrule: True
    conda:
        "../envs/study.yaml"
    # Params that hold experiment names are functions: Snakemake reads a plain string (or a
    # list of strings) param as a wildcard pattern, and a name may hold braces.
    params:
        table=lambda wildcards: table_csv(ROWS),
    script:
        "../scripts/experiments.py"


rule aggregate:
    input:
        # One input function per search, so each waits for its own checkpoint.
        *TUNED_INPUTS,
        membership="results/runs/experiments.csv",
        metrics=run_files(METRICS),
        histories=run_files(TRAIN_OUTPUTS["history"]),
        predictions=run_files(PREDICTIONS),
        tests=expand(rules.prepare.output.test, dataset=REPORT_DATASETS),
        cards=expand(rules.prepare.output.card, dataset=REPORT_DATASETS),
    output:
        **table_outputs(),
    log:
        "results/logs/aggregate.log",
    conda:
        "../envs/study.yaml"
    params:
        runs_root=lambda wildcards, input: str(Path(input.membership).parent),
        # data/processed/<dataset>/test.npz
        data_root=lambda wildcards, input: str(Path(input.tests[0]).parents[1]),
        tunings=TUNED.tunings,
        trials_root=str(Path(TRIAL_DIR).parents[1]),
    script:
        "../scripts/aggregate.py"


# One job per comparison (an experiment on a dataset): its figures.
rule figures:
    input:
        **rules.aggregate.output,
        snapshots=comparison_run_files(ROWS, TRAIN_OUTPUTS["snapshots"]),
        models=comparison_run_files(ROWS, TRAIN_OUTPUTS["model"]),
    output:
        **figure_outputs(),
    log:
        "results/logs/figures/{experiment}/{dataset}.log",
    wildcard_constraints:
        experiment="|".join(sorted({slug for slug, _ in COMPARISONS})),
        dataset="|".join(REPORT_DATASETS),
    conda:
        "../envs/study.yaml"
    params:
        runs_root=str(Path(RUN_DIR).parents[1]),
        # <figures>/<experiment>/<dataset>/<kind>.png
        figures_dir=lambda wildcards, output: str(Path(output[0]).parents[2]),
    script:
        "../scripts/figures.py"


# The across-dataset figures of each experiment with two datasets or more.
rule experiment_figures:
    input:
        across=rules.aggregate.output.across,
    output:
        **experiment_figure_outputs(),
    log:
        "results/logs/figures/{experiment}.log",
    wildcard_constraints:
        experiment="|".join(across_experiments(COMPARISONS)) or "(?!)",
    conda:
        "../envs/study.yaml"
    params:
        # <figures>/<experiment>/<kind>.png
        figures_dir=lambda wildcards, output: str(Path(output[0]).parents[1]),
    script:
        "../scripts/experiment_figures.py"


rule report:
    input:
        **rules.aggregate.output,
        figures=figure_targets(COMPARISONS),
        cards=expand(rules.prepare.output.card, dataset=REPORT_DATASETS),
    output:
        html=document_output(HTML, "report.html"),
        tex=TEX,
        fragments=directory(f"{TABLES_DIR}/fragments"),
    log:
        "results/logs/report.log",
    # Where the checkout (git state) and the TeX engine found at parse time are: the submit host.
    localrule: True
    conda:
        "../envs/study.yaml"
    params:
        # <figures>/<experiment>/<dataset>/<kind>.png, first of the figure targets
        figures_dir=lambda wildcards, input: str(Path(input.figures[0]).parents[2]),
        # <processed>/<dataset>/card.json
        data_root=lambda wildcards, input: str(Path(input.cards[0]).parents[1]),
        study={
            "data": config.get("data", {}),
            "experiments": {n: config["experiments"][n] for n in selected(config)},
        },
        selected=lambda wildcards: selected(config),
        config_hash=config_hash(config),
    script:
        "../scripts/report.py"


rule report_pdf:
    input:
        tex=rules.report.output.tex,
        figures=[f for f in figure_targets(COMPARISONS) if f.endswith(".pdf")],
    output:
        pdf=document_output(PDF, "report.pdf"),
    log:
        "results/logs/report_pdf.log",
    localrule: True
    conda:
        "../envs/study.yaml"
    script:
        "../scripts/report_pdf.py"
