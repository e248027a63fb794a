"""One run through the real DAG on the real Fashion-MNIST against nnlib's ``fit`` alone.

A temporary study (the repository's Snakefile and default profile) trains the ``paper``
experiment's shape -- 784-1024-1024-10, Adam, ReLU, He, dropout 0.2, batch 128, cosine
schedule -- for 2 epochs on Debian's dataset-fashion-mnist and evaluates it. In the same
process, interleaved with the jobs, the same ``fit`` runs on the same splits held in memory
(np.load), with one BLAS thread as the job has. Printed: the job's seconds per epoch (its
history.csv) over nnlib's (target <= 1.05; per round, their median, and the fastest epoch of
each, the least disturbed on a shared machine) and the job's fixed cost: wall time of Snakemake's
train job (training, then evaluation) minus the epochs (process start, loading, snapshots,
evaluation).

    .venv/bin/python benchmarks/bench_real_data.py [--rounds 2] [--epochs 2]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import yaml
from nnstudy.training.job import build
from record import recorded
from study_cli import timed_snakemake
from threadpoolctl import threadpool_limits

from nnlib import fit

MIRROR = Path("/usr/share/datasets")
TARGET = 1.05


def study(epochs: int) -> dict:
    return {
        "data": {"local_dirs": [str(MIRROR)]},
        "experiments": {
            "bench": {
                "datasets": ["fashion_mnist"],
                "fixed": {
                    "hidden": [1024, 1024],
                    "epochs": epochs,
                    "batch_size": 128,
                    "dropout": 0.2,
                    "optimizer": "adam",
                    "activation": "relu",
                    "initializer": "he",
                    "schedule": {"name": "cosine", "warmup_epochs": 1, "min_lr": 0.0},
                },
                "seeds": [0],
            }
        },
        "select": ["bench"],
        "wandb": {"mode": "disabled"},
    }


def job_round(workdir: Path) -> tuple[float, list[float], dict]:
    """Train (and evaluate) the run as a job (forced); wall seconds, epoch seconds, its config."""
    wall = timed_snakemake(
        workdir, "--cores", "1", "--until", "train", "--forcerun", "train"
    ).seconds
    [run_dir] = (workdir / "results" / "runs" / "fashion_mnist").iterdir()
    with open(run_dir / "history.csv", newline="") as f:
        seconds = [float(row["seconds"]) for row in csv.DictReader(f)]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    run = json.loads((run_dir / "config.json").read_text())
    return wall, seconds, {"run": run, "test_accuracy": metrics["test_accuracy"]}


def library_round(run: dict, data: Path) -> list[float]:
    """The same fit on in-memory arrays; its epoch seconds."""
    arrays = {}
    for split in ("train", "val"):
        with np.load(data / f"{split}.npz", allow_pickle=False) as f:
            arrays[split] = (f["x"], f["y"])
    card = json.loads((data / "card.json").read_text())
    x, y = arrays["train"]
    with threadpool_limits(limits=1):
        model, loss, optimizer, schedule = build(run, x.shape[1], int(card["n_classes"]))
        result = fit(
            model,
            loss,
            optimizer,
            x,
            y,
            epochs=run["epochs"],
            batch_size=run["batch_size"],
            validation_data=arrays["val"],
            schedule=schedule,
            seed=run["seed"],
        )
    return [row["seconds"] for row in result.history]


def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="job/library pairs (interleaved)")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    if not (MIRROR / "fashion-mnist" / "train-images-idx3-ubyte.gz").is_file():
        print("skipped: Debian package dataset-fashion-mnist is not installed", file=sys.stderr)
        return 0
    base = Path(tempfile.mkdtemp(prefix="bench_real_data_"))
    try:
        (base / "config.yaml").write_text(yaml.safe_dump(study(args.epochs), sort_keys=False))
        prep = timed_snakemake(base, "--cores", "1", "--until", "prepare").seconds
        data = base / "data" / "processed" / "fashion_mnist"
        print(f"prepared fashion_mnist through the DAG in {prep:.1f} s ({load()})")
        ratios, fixed, all_job, all_lib = [], [], [], []
        for i in range(args.rounds):
            started = load()
            wall, job_epochs, info = job_round(base)
            lib_epochs = library_round(info["run"], data)
            all_job += job_epochs
            all_lib += lib_epochs
            job_s, lib_s = statistics.mean(job_epochs), statistics.mean(lib_epochs)
            ratios.append(job_s / lib_s)
            fixed.append(wall - sum(job_epochs))
            print(
                f"round {i + 1}: job {job_s:.2f} s/epoch, nnlib in memory {lib_s:.2f} s/epoch, "
                f"ratio {ratios[-1]:.3f}; job fixed cost {fixed[-1]:.1f} s of {wall:.1f} s; "
                f"test accuracy {info['test_accuracy']:.4f} ({started})"
            )
        ratio = statistics.median(ratios)
        print(
            f"784-1024-1024-10 adam, dropout 0.2, batch 128, {args.epochs} epochs: "
            f"job s/epoch / nnlib s/epoch = {ratio:.3f} (target <= {TARGET}; median of "
            f"{args.rounds}), job fixed cost {statistics.median(fixed):.1f} s ({load()})"
        )
        # On a shared machine the fastest epoch of each is the least disturbed one.
        print(
            f"fastest epoch: job {min(all_job):.2f} s, nnlib {min(all_lib):.2f} s, "
            f"ratio {min(all_job) / min(all_lib):.3f}"
        )
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    with recorded(__file__):
        code = main()
    sys.exit(code)
