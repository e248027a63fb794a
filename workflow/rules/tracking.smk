# Weights & Biases: one W&B run per training run, logged live by its training job (rules train
# and trial: nnstudy.training.tracking.LiveRun). After evaluation, one job per dataset keeps the
# finals logged completely and logs the others from their files, all in one process: a fresh
# process pays 1.5-3 s for wandb, a batch ~0.1 s per further run (bench_wandb.py).
# Needs ROWS, TUNED and RUN_DIR from common.smk, whose schema has already checked `wandb:`.
import os

from nnstudy.training.tracking import (
    batch,
    batch_inputs,
    runs_by_dataset,
    wandb_markers,
)
from nnstudy.tuning.rules import tracked_runs

WANDB = config["wandb"]
WANDB_RUNS = runs_by_dataset(ROWS)
# A dataset's runs to log: the untuned experiments' and, once searched, the tuned finals.
WANDB_BATCH = lambda w: batch(
    tracked_runs(WANDB_RUNS, TUNED, checkpoints, w.dataset), w.dataset, RUN_DIR
)
# What `rule all` adds for W&B: one marker per dataset, none when the mode is disabled.
WANDB_TARGETS = wandb_markers(
    [*WANDB_RUNS, *(t.dataset for t in TUNED.tunings)], WANDB["mode"], WANDB["dir"]
)


rule log_wandb:
    input:
        unpack(lambda w: batch_inputs(WANDB_BATCH(w))),
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
        runs=lambda w: WANDB_BATCH(w),
        wandb_dir=lambda w, output: os.path.dirname(output[0]),
        mode=WANDB["mode"],
        project=WANDB["project"],
        entity=WANDB["entity"],
    script:
        "../scripts/log_wandb.py"
