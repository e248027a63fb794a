from snakemake.utils import min_version

from nnstudy.jobs.integrity import force_rerun

min_version("9.0")


configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/tune.smk"
include: "workflow/rules/tracking.smk"
include: "workflow/rules/report.smk"


# Cheap rules stay on the submit host on a cluster (download, log_wandb, report and report_pdf
# are marked local in their own files).
localrules:
    aggregate,
    figures,
    experiment_figures,


# Every output the study keeps, so that Snakemake rebuilds any of them that is deleted (with
# what was made from it): it does not rerun a job for a missing file that only up-to-date jobs
# read.
rule all:
    default_target: True
    input:
        "results/runs/experiments.csv",
        [
            f"{RAW_DIR}/{name}/source.json"
            for name in REPORT_DATASETS
            if name in DOWNLOADED
        ],
        expand(rules.prepare.output, dataset=REPORT_DATASETS),
        [run_files(name) for name in (*TRAIN_OUTPUTS.values(), METRICS, PREDICTIONS)],
        *TUNED_KEPT,
        rules.aggregate.output,
        figure_targets(COMPARISONS),
        WANDB_TARGETS,
        report_targets(),
        rules.report.output.fragments,
        # Outputs that lost a part (a file of a folder output, a W&B run folder): rerun.
        lambda wildcards: force_rerun(workflow, INCOMPLETE),
