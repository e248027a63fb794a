"""A tiny real study for the report tests, made by the pipeline's own functions.

Data: nnlib.datasets.prepare (built-in gmm and spirals, a few hundred samples). Runs: the
workflow's config validation, experiment expansion, nnstudy.train_job.train_run and
nnstudy.evaluate_job.evaluate_run, so every number is from an actual fit. One variant uses a
huge SGD learning rate and really diverges; one run really fails (its data folder is missing).
A third experiment has a hostile name and shares the adam runs of `core`: the report must
render any name harmlessly.
"""

from __future__ import annotations

import csv
from pathlib import Path

import yaml
from nnstudy.config import validate_config
from nnstudy.evaluate_job import evaluate_run
from nnstudy.runs import study_rows, table_csv, unique_runs
from nnstudy.train_job import train_outputs, train_run

from nnlib.datasets import prepare

REPO = Path(__file__).resolve().parents[2]
HOSTILE = "<script>alert(1)</script> & 100%_\\x"
DATASETS = ("gmm", "spirals")
SELECT = ("core", "unstable", HOSTILE)
FIXED = {"hidden": [8], "epochs": 4, "batch_size": 32, "snapshot_every": 2}


def _config(seeds, datasets, select) -> dict:
    with open(REPO / "config.yaml") as f:
        config = yaml.safe_load(f)
    config["experiments"] = {
        "core": {
            "datasets": list(datasets),
            "grid": {
                "optimizer": ["sgd", "adam"],
                "activation": ["relu", "tanh"],
                "initializer": ["xavier", "he"],
            },
            "fixed": dict(FIXED),
            "seeds": list(seeds),
        },
        "unstable": {
            "datasets": ["gmm"],
            "grid": {"optimizer": ["sgd"], "lr": [1.0e4]},
            "fixed": dict(FIXED),
            "seeds": list(seeds),
        },
    }
    config["experiments"][HOSTILE] = {
        "datasets": list(datasets),
        "grid": {
            "optimizer": ["adam"],
            "activation": ["relu", "tanh"],
            "initializer": ["xavier", "he"],
        },
        "fixed": dict(FIXED),
        "seeds": list(seeds),
    }
    config["select"] = list(select)
    return validate_config(config)


def _run(run: dict, data_dir: Path, runs_root: Path, train_dir: Path | None = None) -> None:
    out = runs_root / run["dataset"] / run["run_id"]
    outputs = train_outputs(out)
    train_run(run, train_dir or data_dir, outputs)
    evaluate_run(outputs["model"], outputs["train"], data_dir, out / "metrics.json")


def make_study(root: Path, seeds=(0, 1), datasets=DATASETS, select=SELECT) -> dict:
    """Prepare, train and evaluate the tiny study under ``root`` (the experiments in
    ``select``); returns what the report rules get: runs root, membership table, the config."""
    config = _config(seeds, datasets, select)
    data = root / "data" / "processed"
    for name in datasets:
        prepare(name, data / name, n_samples=300, val_fraction=0.2, test_fraction=0.2)
    runs_root = root / "results" / "runs"
    rows = study_rows(config)
    for run in unique_runs(rows).values():
        _run(run, data / run["dataset"], runs_root)
    membership = runs_root / "experiments.csv"
    membership.write_text(table_csv(rows))
    # An extra membership row: a run whose data is missing fails (recorded by train_job, the
    # study goes on).
    failed = {**unique_runs(rows)[rows[0].run_id], "seed": 99, "run_id": "f00dfacade"}
    _run(failed, data / failed["dataset"], runs_root, train_dir=root / "missing")
    with open(membership, "a", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["core", failed["dataset"], failed["run_id"]])
    return {
        "root": root,
        "runs_root": runs_root,
        "membership": membership,
        "config": config,
        "cards": [data / name / "card.json" for name in datasets],
    }
