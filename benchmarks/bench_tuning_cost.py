"""What ``real_small`` and ``paper`` cost in core-hours, tuning included: measured seconds per
epoch x the epochs the planner gives them.

Seconds per epoch, on one core: ``nnstudy train`` (the train job's code, one BLAS thread) for
``--epochs`` epochs in a temporary folder, on Debian's real Fashion-MNIST
(dataset-fashion-mnist in /usr/share/datasets), for real_small's shape (784-256-128-10) and
paper's Fashion-MNIST shape (784-1024-1024-10), each with the experiment's batch size,
dropout and schedule and Adam / ReLU / He; the median of the epochs' ``seconds`` in the run's
history.csv (an epoch's training and validation), and per run the job's time beside its
epochs (train.json's wall_seconds - train_seconds: loading the splits, building, saving) and
its test evaluation (metrics.json's eval_seconds; finals only). Each shape is timed in its
own run, one after the other, never two at once.
MNIST has Fashion-MNIST's shape and split sizes, so its epoch is taken to cost the same.
CIFAR-10 has no local copy here: its epoch is timed as bench_paper_cost.py times it (nnlib's
``fit`` with the run's settings, augmentation included, on generated arrays of the real split
size; a tenth of the rows, scaled).

Epochs: ``nnstudy.tuning.cost.experiment_epochs`` of each experiment as config.yaml has it
(no ``tune`` block: its runs only) and with the default study's protocol added (core's
``tune`` block: 9 lr factors from 0.0316x to 316x, successive halving with eta 3 and
min_epochs a third of the experiment's shortest epochs, so 9 candidates for a third of the
epochs and the best 3 for all of them, one trial seed; the same for every optimizer). The
tuned cost is the finals' (epochs, per-run time, evaluation) plus the trials' (epochs, per-run
time); ``tune.extend`` would add up to one more search per widening, not counted. A pooled
worker saves each DAG job the interpreter's start-up, which ``nnstudy train`` pays outside
the measured job, so nothing of it is in the numbers.

    .venv/bin/python benchmarks/bench_tuning_cost.py [--epochs 3]
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from bench_paper_cost import epoch_seconds, paper_runs
from nnstudy.config.validation import validate_config
from nnstudy.tuning.cost import experiment_epochs
from record import recorded

ROOT = Path(__file__).resolve().parents[1]
MIRROR = Path("/usr/share/datasets")
EXPERIMENTS = ("real_small", "paper")
SAME_AS = {"mnist": "fashion_mnist"}  # same shape and split sizes


def config() -> dict:
    return yaml.safe_load((ROOT / "config.yaml").read_text())


def with_protocol(study: dict, name: str) -> dict:
    """The study with core's tune block on experiment ``name`` (halving at a third of its
    shortest epochs)."""
    study = copy.deepcopy(study)
    exp = study["experiments"][name]
    epochs = [exp["fixed"]["epochs"]]
    epochs += [p["epochs"] for p in exp.get("per_dataset", {}).values() if "epochs" in p]
    tune = copy.deepcopy(study["experiments"]["core"]["tune"])
    tune["halving"] = {**tune["halving"], "min_epochs": min(epochs) // 3}
    exp["tune"] = tune
    return study


def flags(fixed: dict, epochs: int) -> list[str]:
    """``nnstudy train``'s flags for an experiment's fixed settings, Adam / ReLU / He."""
    schedule = fixed["schedule"]
    return [
        *("--dataset", "fashion_mnist", "--optimizer", "adam", "--activation", "relu"),
        *("--initializer", "he", "--epochs", str(epochs)),
        *("--hidden", ",".join(map(str, fixed["hidden"]))),
        *("--batch-size", str(fixed["batch_size"]), "--dropout", str(fixed["dropout"])),
        *("--schedule", schedule["name"], "--warmup-epochs", str(schedule["warmup_epochs"])),
        *("--min-lr", str(schedule["min_lr"])),
    ]


def timed_run(folder: Path, fixed: dict, epochs: int) -> tuple[list[float], float, float]:
    """One ``nnstudy train`` run in ``folder``: each epoch's seconds, the job's seconds beside
    its epochs (loading, building, saving: train.json's wall_seconds - train_seconds) and its
    test evaluation's (metrics.json's eval_seconds, which trials do not spend)."""
    command = [sys.executable, "-m", "nnstudy", "train", "--config", "config.yaml"]
    done = subprocess.run(
        [*command, *flags(fixed, epochs)], cwd=folder, capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise SystemExit(f"nnstudy train failed: {(done.stderr or done.stdout)[-2000:]}")
    run = folder / done.stdout.strip().splitlines()[-1].rsplit("run ", 1)[1].rstrip("/")
    with open(run / "history.csv", newline="") as fh:
        seconds = [float(r["seconds"]) for r in csv.DictReader(fh)]
    info = json.loads((run / "train.json").read_text())
    evaluation = json.loads((run / "metrics.json").read_text())["eval_seconds"]
    return seconds, info["wall_seconds"] - info["train_seconds"], evaluation


def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def measure(epochs: int) -> dict[tuple[str, str], tuple[float, float, float]]:
    """(experiment, dataset) -> (seconds per epoch, per run, per evaluation) on one core."""
    study = config()
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "config.yaml").write_text(
            yaml.safe_dump({"data": {"local_dirs": [str(MIRROR)]}, "wandb": {"mode": "disabled"}})
        )
        for name in EXPERIMENTS:
            fixed = study["experiments"][name]["fixed"]
            seconds, setup, evaluation = timed_run(folder, fixed, epochs)
            out[name, "fashion_mnist"] = (statistics.median(seconds), setup, evaluation)
            print(
                f"{name} fashion_mnist {'-'.join(map(str, fixed['hidden']))} batch "
                f"{fixed['batch_size']}: nnstudy train, {epochs} epochs on the real split, "
                f"s/epoch {', '.join(f'{s:.2f}' for s in seconds)} -> median "
                f"{statistics.median(seconds):.2f}; per run {setup:.2f} s besides the epochs, "
                f"test evaluation {evaluation:.2f} s ({load()})",
                flush=True,
            )
    cifar = next(r for r in paper_runs()["cifar10"] if r["optimizer"] == "adam")
    cpu, wall = epoch_seconds(cifar, 0.1)
    # Per run and evaluation: Fashion-MNIST's paper run's, scaled by the epoch's cost (the
    # arrays to load and the network to evaluate grow with it alike).
    _, setup, evaluation = out["paper", "fashion_mnist"]
    scale = cpu / out["paper", "fashion_mnist"][0]
    out["paper", "cifar10"] = (cpu, setup * scale, evaluation * scale)
    print(
        f"paper cifar10 {'-'.join(map(str, cifar['hidden']))} batch {cifar['batch_size']}: fit "
        f"on generated arrays (a tenth of the rows, scaled), {cpu:.2f} CPU s/epoch "
        f"({wall:.2f} s wall, {load()}); per run and evaluation: fashion_mnist's x {scale:.2f}",
        flush=True,
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="epochs timed per shape")
    args = parser.parse_args()
    seconds = measure(args.epochs)
    study = config()
    print(
        "\n| experiment | dataset | variants | finals (epochs) | trials (epochs) | s/epoch "
        "| core-h untuned | core-h tuning | core-h tuned | --cores 2 tuned (h) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in EXPERIMENTS:
        untuned = validate_config({**copy.deepcopy(study), "select": [name]})
        tuned = validate_config({**with_protocol(study, name), "select": [name]})
        plain, protocol = experiment_epochs(untuned, name), experiment_epochs(tuned, name)
        totals = [0.0, 0.0]
        for dataset, row in protocol.items():
            s, setup, evaluation = seconds[name, SAME_AS.get(dataset, dataset)]
            finals = plain[dataset]["final_epochs"] * s + plain[dataset]["finals"] * (
                setup + evaluation
            )
            tuning = (row["trial_epochs"] * s + row["trials"] * setup) / 3600
            before = finals / 3600
            after = before + tuning
            totals = [totals[0] + before, totals[1] + after]
            print(
                f"| {name} | {dataset} | {row['variants']} | {row['finals']} "
                f"({row['final_epochs']}) | {row['trials']} ({row['trial_epochs']}) | {s:.2f} "
                f"| {before:.1f} | {tuning:.1f} | {after:.1f} | {after / 2:.1f} |"
            )
        print(
            f"| {name} | all | | | | | {totals[0]:.1f} | {totals[1] - totals[0]:.1f} "
            f"| {totals[1]:.1f} | {totals[1] / 2:.1f} |"
        )


if __name__ == "__main__":
    with recorded(__file__):
        main()
