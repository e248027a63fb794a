from snakemake.utils import min_version

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


# Every run's metrics reach `all` through the report (aggregate needs them all); listing them here
# too would make Snakemake resolve each run a second time when it plans the DAG.
rule all:
    default_target: True
    input:
        "results/runs/experiments.csv",
        WANDB_TARGETS,
        report_targets(),
