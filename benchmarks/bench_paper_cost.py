"""What the ``paper`` experiment costs: runs x epochs x seconds per epoch -> core-hours.

Reads the ``paper`` block of config.yaml (resolved through the study's own run table) and
times, per dataset, nnlib's ``fit`` with the run's exact settings (Adam, its hidden sizes,
dropout, batch size, augmentation) on one BLAS thread, as the train job runs it, on generated
arrays of the real split sizes (MNIST, Fashion-MNIST: 54,000 x 784 train, 6,000 val;
CIFAR-10: 45,000 x 3,072 train, 5,000 val). To keep it short, one epoch is timed on the first
``--fraction`` of the rows (validation included) and scaled to the full split. CPU seconds
are what a quiet machine's wall time would be; both are printed with the load.

    .venv/bin/python benchmarks/bench_paper_cost.py [--fraction 0.1] [--nodes 10 --cores-per-node 32]
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import time
from pathlib import Path

import numpy as np
import yaml
from nnstudy.config.runs import study_rows, unique_runs
from nnstudy.config.validation import validate_config
from nnstudy.datasets import get_spec
from nnstudy.training.job import batch_transform, build
from record import recorded
from threadpoolctl import threadpool_limits

from nnlib import fit

ROOT = Path(__file__).resolve().parents[1]
# Training and validation rows of each split as prepare makes it (val_fraction 0.1).
SPLITS = {"fashion_mnist": (54_000, 6_000), "mnist": (54_000, 6_000), "cifar10": (45_000, 5_000)}


def paper_runs() -> dict[str, list[dict]]:
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config = {**copy.deepcopy(config), "select": ["paper"]}
    validate_config(config)
    by_dataset: dict[str, list[dict]] = {}
    for run in unique_runs(study_rows(config)).values():
        by_dataset.setdefault(run["dataset"], []).append(run)
    return by_dataset


def epoch_seconds(run: dict, fraction: float) -> tuple[float, float]:
    """(CPU s, wall s) of one full epoch of ``run``, scaled from ``fraction`` of the rows."""
    spec = get_spec(run["dataset"])
    n_train, n_val = (max(run["batch_size"], round(n * fraction)) for n in SPLITS[spec.name])
    features = int(np.prod(spec.image_shape))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n_train + n_val, features), dtype=np.float32)
    y = rng.integers(0, spec.n_classes, n_train + n_val)
    card = {"image_shape": list(spec.image_shape)}
    with threadpool_limits(limits=1):
        model, loss, optimizer, schedule = build(run, features, spec.n_classes)
        # numba's start-up is paid once per job, not per epoch: out of the time scaled below
        # (it made the first dataset's epoch look twice as long).
        optimizer.warm_up()
        cpu, wall = time.process_time(), time.perf_counter()
        fit(
            model,
            loss,
            optimizer,
            x[:n_train],
            y[:n_train],
            epochs=1,
            batch_size=run["batch_size"],
            validation_data=(x[n_train:], y[n_train:]),
            schedule=schedule,
            seed=0,
            batch_transform=batch_transform(run, card),
        )
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    scale = SPLITS[spec.name][0] / n_train
    return cpu * scale, wall * scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fraction", type=float, default=0.1, help="share of rows timed")
    parser.add_argument("--nodes", type=int, default=10, help="SLURM nodes")
    parser.add_argument("--cores-per-node", type=int, default=32)
    args = parser.parse_args()
    cluster = args.nodes * args.cores_per_node
    rows = []
    for dataset, runs in paper_runs().items():
        run = next(r for r in runs if r["optimizer"] == "adam")
        cpu, wall = epoch_seconds(run, args.fraction)
        core_hours = len(runs) * run["epochs"] * cpu / 3600
        rows.append((dataset, run, len(runs), cpu, wall, core_hours))
        print(
            f"{dataset}: {'-'.join(map(str, run['hidden']))} batch {run['batch_size']}, "
            f"one epoch {cpu:.1f} CPU s ({wall:.1f} s wall, load "
            "{:.2f} {:.2f} {:.2f})".format(*os.getloadavg()),
            flush=True,
        )
    print(
        f"\n| dataset | hidden | runs | epochs | s/epoch (1 core) | core-hours "
        f"| --cores 2 (h) | SLURM {args.nodes} x {args.cores_per_node} cores (h) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for dataset, run, n, cpu, _, core_hours in rows:
        # Whole runs are the unit of work: the cluster runs them in waves of `cluster`.
        cluster_h = math.ceil(n / cluster) * run["epochs"] * cpu / 3600
        print(
            f"| {dataset} | {'-'.join(map(str, run['hidden']))} | {n} | {run['epochs']} "
            f"| {cpu:.1f} | {core_hours:.1f} | {core_hours / 2:.1f} | {cluster_h:.2f} |"
        )
    total = sum(r[5] for r in rows)
    print(
        f"| all | | {sum(r[2] for r in rows)} | | | {total:.1f} | {total / 2:.1f} "
        f"| {max(total / cluster, max(r[3] * r[1]['epochs'] for r in rows) / 3600):.2f} |"
    )


if __name__ == "__main__":
    with recorded(__file__):
        main()
