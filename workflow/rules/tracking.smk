# Weights & Biases: one W&B run per training run, logged after evaluation from the run's files
# (off the training's critical path). One job per dataset logs all its runs in one process:
# a fresh process pays 1.5-3 s for wandb, a batch ~0.1 s per further run (bench_wandb.py).
# Needs ROWS, TUNED and RUN_DIR from common.smk, whose schema has already checked `wandb:`.
import os

from nnstudy.tracking import batch, batch_inputs, runs_by_dataset, wandb_markers
from nnstudy.tuning import read_record

WANDB = config["wandb"]
WANDB_RUNS = runs_by_dataset(ROWS)
# What `rule all` adds for W&B: one marker per dataset, none when the mode is disabled.
WANDB_TARGETS = wandb_markers(
    [*WANDB_RUNS, *(t.dataset for t in TUNED.tunings)], WANDB["mode"], WANDB["dir"]
)


def wandb_batch(wildcards):
    """The dataset's runs to log: the untuned experiments' and the tuned experiments' finals
    (known once their search is done: workflow/rules/tune.smk)."""
    runs = {
        rid: list(names) for rid, names in WANDB_RUNS.get(wildcards.dataset, {}).items()
    }
    for tuning in TUNED.tunings:
        if tuning.dataset == wildcards.dataset:
            top = checkpoints.tune.get(
                dataset=tuning.dataset, key=tuning.key, rung=tuning.top
            )
            for run in TUNED.add(tuning, tuning.top, read_record(top.output[0])):
                names = runs.setdefault(run["run_id"], [])
                if tuning.experiment not in names:
                    names.append(tuning.experiment)
    return batch(runs, wildcards.dataset, RUN_DIR)


rule log_wandb:
    input:
        unpack(lambda w: batch_inputs(wandb_batch(w))),
    output:
        f"{WANDB['dir']}/{{dataset}}.json",
    log:
        "results/logs/log_wandb/{dataset}.log",
    wildcard_constraints:
        dataset="[^/]+",
    # Light work; runs where `wandb login` and the network are (the submit host on a cluster).
    localrule: True
    conda:
        "../envs/study.yaml"
    threads: 1
    params:
        # [run folder, experiments]; the first experiment is the run's W&B group.
        runs=wandb_batch,
        wandb_dir=lambda w, output: os.path.dirname(output[0]),
        mode=WANDB["mode"],
        project=WANDB["project"],
        entity=WANDB["entity"],
    script:
        "../scripts/log_wandb.py"
