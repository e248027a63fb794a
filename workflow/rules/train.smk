# Train and evaluate one run each; the logic is in nnstudy.train_job / nnstudy.evaluate_job,
# run as plain modules (`python -m`): Snakemake's `script:` preamble would import Snakemake in
# every job, about 0.2 s of CPU each, more than a core-study run spends training.
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
        run=run_json,
        data=lambda wildcards, input: os.path.dirname(input.card),
        out=lambda wildcards, output: os.path.dirname(output.model),
        # Outside the outputs: Snakemake does not delete it when a job is killed.
        checkpoint="results/checkpoints/{dataset}/{run_id}",
    shell:
        "python -m nnstudy.train_job --run {params.run:q} --data {params.data:q}"
        " --out {params.out:q} --checkpoint {params.checkpoint:q} --threads {threads}"
        " --log {log:q}"


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
    params:
        data=lambda wildcards, input: os.path.dirname(input.card),
    shell:
        "python -m nnstudy.evaluate_job --model {input.model:q}"
        " --train-record {input.train:q} --data {params.data:q} --out {output.metrics:q}"
        " --threads {threads} --log {log:q}"
