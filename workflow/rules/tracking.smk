# Weights & Biases: one W&B run per training run, logged after evaluation from the run's files
# (off the training's critical path). One job per dataset logs all its runs in one process:
# starting wandb costs ~1.5 s, each further run ~0.04 s (benchmarks/bench_wandb.py).
# The schema (common.smk) has already checked `wandb:` and filled its defaults.
from nnstudy.tracking import runs_by_dataset, wandb_markers

WANDB = config["wandb"]
WANDB_DIR = WANDB["dir"]
WANDB_RUNS = runs_by_dataset(ROWS)


def wandb_targets():
    """What `rule all` adds for W&B: one marker per dataset, nothing when mode is disabled."""
    return wandb_markers(WANDB_RUNS, WANDB["mode"], WANDB_DIR)


def wandb_run_inputs(wildcards):
    runs = WANDB_RUNS[wildcards.dataset]
    return {
        name: [f"results/runs/{wildcards.dataset}/{rid}/{name}.{ext}" for rid in runs]
        for name, ext in [
            ("config", "json"),
            ("history", "csv"),
            ("snapshots", "npz"),
            ("metrics", "json"),
        ]
    }


def wandb_batch(wildcards):
    """[run folder, experiments] pairs; the first experiment is the run's W&B group."""
    return [
        [f"results/runs/{wildcards.dataset}/{rid}", experiments]
        for rid, experiments in WANDB_RUNS[wildcards.dataset].items()
    ]


rule log_wandb:
    input:
        unpack(wandb_run_inputs),
    output:
        f"{WANDB_DIR}/{{dataset}}.json",
    log:
        "results/logs/log_wandb/{dataset}.log",
    wildcard_constraints:
        dataset="[^/]+",
    # Light work; runs where `wandb login` and the network are (the submit host on a cluster).
    localrule: True
    threads: 1
    params:
        runs=wandb_batch,
        wandb_dir=WANDB_DIR,
        mode=WANDB["mode"],
        project=WANDB["project"],
        entity=WANDB["entity"],
    script:
        "../scripts/log_wandb.py"
