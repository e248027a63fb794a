# Train and evaluate one run each; the logic is in nnstudy.train_job / nnstudy.evaluate_job.
from nnstudy.train_job import TRAIN_OUTPUTS, train_outputs


rule train:
    input:
        train=rules.prepare.output.train,
        val=rules.prepare.output.val,
        card=rules.prepare.output.card,
    output:
        **train_outputs(RUN_DIR),
    log:
        "results/logs/train/{dataset}/{run_id}.log",
    conda:
        "../envs/study.yaml"
    threads: 1
    params:
        run=run_config,
        # Outside the outputs: Snakemake does not delete it when a job is killed.
        checkpoint="results/checkpoints/{dataset}/{run_id}",
    script:
        "../scripts/train.py"


rule evaluate:
    input:
        model=rules.train.output.model,
        train=rules.train.output.train,
        test=rules.prepare.output.test,
        card=rules.prepare.output.card,
    output:
        metrics=f"{RUN_DIR}/metrics.json",
    log:
        "results/logs/evaluate/{dataset}/{run_id}.log",
    conda:
        "../envs/study.yaml"
    threads: 1
    script:
        "../scripts/evaluate.py"
