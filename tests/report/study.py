"""A tiny real study for the report tests, made by the pipeline's own functions.

Data: nnstudy.datasets.prepare (built-in gmm and spirals, a few hundred samples). Runs: the
workflow's config validation, experiment expansion, nnstudy.training.job.train_run and
nnstudy.training.evaluation.evaluate_run, so every number is from an actual fit. One variant uses a
huge SGD learning rate and really diverges; one run really fails (its data folder is missing).
A third experiment has a hostile name and shares the adam runs of `core`: the report must
render any name harmlessly.

``make_trials`` adds a learning-rate search in the layout of aggregate's trials table, from
real train_run trials: a 4-point grid with two rungs of successive halving (the better half
goes on with twice the epochs) for the relu variants of `core`; lr 1e4 diverges.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import yaml
from nnstudy.config.runs import run_id, study_rows, table_csv, unique_runs
from nnstudy.config.validation import validate_config
from nnstudy.datasets import prepare
from nnstudy.training.evaluation import evaluate_run
from nnstudy.training.job import train_run
from nnstudy.training.runfolder import train_outputs

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


TRIAL_LRS = (1.0e-3, 1.0e-2, 1.0e-1, 1.0e4)
RUNG_EPOCHS = (2, 4)


def _trial_row(run: dict, out: Path, rung: int, config: dict) -> dict:
    info = json.loads((out / "train.json").read_text())
    history = pd.read_csv(out / "history.csv")
    last = history.iloc[-1] if len(history) else {"val_accuracy": None, "val_loss": None}
    variant = run_id({k: v for k, v in run.items() if k not in ("lr", "seed", "epochs", "run_id")})
    default_lr = config["defaults"]["optimizers"][run["optimizer"]]["lr"]
    return {
        "experiment": "core",
        "dataset": run["dataset"],
        "variant": variant,
        **{k: run[k] for k in ("optimizer", "activation", "initializer", "lr")},
        "tuned": "lr",
        "rung": rung,
        "budget_epochs": run["epochs"],
        "epochs_run": info["epochs_run"],
        "seed": run["seed"],
        "run_id": run["run_id"],
        "status": info["status"],
        "val_accuracy": last["val_accuracy"],
        "val_loss": last["val_loss"],
        "best_val_accuracy": history["val_accuracy"].max() if len(history) else None,
        "train_seconds": info["train_seconds"],
        "is_default": run["lr"] == default_lr,
        "selected": False,
    }


def make_trials(study: dict, dataset: str = "gmm") -> pd.DataFrame:
    """Train the lr search of the relu variants of `core` on ``dataset`` (seed 0); returns the
    trials table (``selected``: the best validation accuracy at the last rung)."""
    config = study["config"]
    data = study["root"] / "data" / "processed" / dataset
    bases = [
        {**row.run, "run_id": row.run_id}
        for row in study_rows(config)
        if row.experiment == "core"
        and row.dataset == dataset
        and row.run["seed"] == 0
        and row.run["activation"] == "relu"
    ]
    rows = []
    for base in bases:
        candidates = list(TRIAL_LRS)
        for rung, epochs in enumerate(RUNG_EPOCHS):
            scored = []
            for lr in candidates:
                run = {k: v for k, v in base.items() if k != "run_id"} | {
                    "lr": lr,
                    "epochs": epochs,
                }
                run["run_id"] = run_id(run)
                out = study["runs_root"] / dataset / run["run_id"]
                train_run(run, data, train_outputs(out))
                rows.append(_trial_row(run, out, rung, config))
                score = rows[-1]["val_accuracy"]
                scored.append((-(score if score == score and score is not None else 0.0), lr))
            candidates = [lr for _, lr in sorted(scored)[: max(1, len(scored) // 2)]]
        # After the last rung, candidates[0] is its best: that trial is the selection.
        (chosen,) = [r for r in rows[-len(scored) :] if r["lr"] == candidates[0]]
        chosen["selected"] = True
    if bases:
        # One trial fails for real (its data folder is missing): counted, never a draw.
        run = {k: v for k, v in bases[0].items() if k != "run_id"} | {"lr": 0.5, "epochs": 2}
        run["run_id"] = run_id(run)
        out = study["runs_root"] / dataset / run["run_id"]
        train_run(run, study["root"] / "missing", train_outputs(out))
        rows.append(_trial_row(run, out, 0, config))
    return pd.DataFrame(rows)
