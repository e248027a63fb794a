"""A tiny real study for the report tests: runs trained with nnlib on synthetic blobs.

Run folders follow the contract (config.json, history.csv, snapshots.npz, metrics.json) and the
membership table follows results/runs/experiments.csv. Every metric comes from an actual fit;
the one failed run is a failure record (status + error, no metrics), as the workflow writes it.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
from pathlib import Path

import numpy as np

from nnlib.layers import MLP
from nnlib.metrics import accuracy, confusion_matrix, precision_recall_f1
from nnlib.registry import get_loss, get_optimizer
from nnlib.training import fit

HOSTILE = "<script>alert(1)</script> & 100%_\\x"
DATASETS = ("blobs", "blobs_wide")
GRID = {
    "optimizer": ["sgd", "adam"],
    "activation": ["relu", "tanh"],
    "initializer": ["he_normal", "xavier_normal"],
}
LR = {"sgd": 0.1, "adam": 0.01}
SEEDS = (0, 1)
EPOCHS = 6


def _blobs(name: str, rng: np.random.Generator):
    spread = 1.0 if name == "blobs" else 2.2
    centers = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]])
    y = rng.integers(0, 3, size=360)
    x = (centers[y] + spread * rng.standard_normal((y.size, 2))).astype(np.float32)
    return (x[:240], y[:240]), (x[240:300], y[240:300]), (x[300:], y[300:])


class _Snapshots:
    """Weight histograms and per-layer gradient norms every 2 epochs (tracking's format)."""

    def __init__(self):
        self.epochs, self.counts, self.edges, self.norms = [], [], [], []

    def on_epoch_end(self, epoch, row, model, optimizer):
        if epoch % 2:
            return
        weights = [p for p in model.parameters() if p.data.ndim == 2]
        hist = [np.histogram(p.data, bins=10) for p in weights]
        self.epochs.append(epoch)
        self.counts.append([h[0] for h in hist])
        self.edges.append([h[1] for h in hist])
        self.norms.append([float(np.linalg.norm(p.grad)) for p in weights])

    def save(self, path: Path):
        n_layers = len(self.counts[0]) if self.counts else 0
        np.savez(
            path,
            epochs=np.array(self.epochs, dtype=np.int64),
            layers=np.array([f"dense{i}" for i in range(n_layers)]),
            weight_counts=np.array(self.counts, dtype=np.int64).reshape(
                len(self.epochs), n_layers, 10
            ),
            weight_edges=np.array(self.edges, dtype=float).reshape(len(self.epochs), n_layers, 11),
            grad_norms=np.array(self.norms, dtype=float).reshape(len(self.epochs), n_layers),
        )


def _train(run: dict, data, out: Path) -> None:
    (x, y), val, (xt, yt) = data
    rng = np.random.default_rng(run["seed"])
    model = MLP([2, 8, 3], activation=run["activation"], init=run["initializer"], rng=rng)
    opt = get_optimizer(run["optimizer"], model.parameters(), lr=run["lr"])
    snaps = _Snapshots()
    result = fit(
        model,
        get_loss("cross_entropy"),
        opt,
        x,
        y,
        epochs=run["epochs"],
        batch_size=32,
        validation_data=val,
        callbacks=[snaps],
        seed=run["seed"],
    )
    with open(out / "history.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(result.history[0]))
        writer.writeheader()
        writer.writerows(result.history)
    snaps.save(out / "snapshots.npz")
    with np.errstate(all="ignore"):
        pred = model.predict(xt)
    prf = precision_recall_f1(yt, pred, 3)
    metrics = {
        "run_id": run["run_id"],
        "status": result.status,
        "error": None,
        "test_loss": None,
        "test_accuracy": accuracy(yt, pred),
        "precision_macro": prf["precision_macro"],
        "recall_macro": prf["recall_macro"],
        "f1_macro": prf["f1_macro"],
        "per_class": {k: prf[k].tolist() for k in ("precision", "recall", "f1")},
        "confusion_matrix": confusion_matrix(yt, pred, 3).tolist(),
        "class_names": ["left", "right", "top"],
        "train_seconds": result.train_seconds,
        "epochs_run": result.epochs_run,
    }
    (out / "metrics.json").write_text(json.dumps(metrics))


def make_study(root: Path, seeds=SEEDS, hostile: bool = True) -> dict:
    """Train the tiny study under ``root``; returns the paths the report rules would get."""
    runs_root = root / "results" / "runs"
    rows = []
    for dataset in DATASETS:
        data = _blobs(dataset, np.random.default_rng(123))
        points = [dict(zip(GRID, p, strict=True)) for p in itertools.product(*GRID.values())]
        extra = [dict(optimizer="sgd", activation="relu", initializer="he_normal", lr=1e4)]
        for point, seed in itertools.product(points + (extra if dataset == "blobs" else []), seeds):
            run = {
                "dataset": dataset,
                "hidden": [8],
                "epochs": EPOCHS,
                "lr": LR[point["optimizer"]],
            }
            run |= point | {"seed": seed}
            canon = json.dumps(run, sort_keys=True, separators=(",", ":"))
            run["run_id"] = hashlib.sha256(canon.encode()).hexdigest()[:10]
            out = runs_root / dataset / run["run_id"]
            out.mkdir(parents=True, exist_ok=True)
            (out / "config.json").write_text(json.dumps(run))
            _train(run, data, out)
            names = ["core"] + ([HOSTILE] if hostile and point["optimizer"] == "adam" else [])
            rows += [{"experiment": n, "dataset": dataset, "run_id": run["run_id"]} for n in names]
    # A failed run: the job wrote only its failure record.
    failed = {
        "dataset": "blobs_wide",
        "hidden": [8],
        "epochs": EPOCHS,
        "lr": 0.01,
        "optimizer": "adam",
        "activation": "relu",
        "initializer": "he_normal",
        "seed": 99,
        "run_id": "f00dfacade",
    }
    out = runs_root / "blobs_wide" / failed["run_id"]
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(failed))
    (out / "metrics.json").write_text(
        json.dumps(
            {
                "run_id": failed["run_id"],
                "status": "failed",
                "error": "MemoryError: <b>boom</b> & 50%",
            }
        )
    )
    rows.append({"experiment": "core", "dataset": "blobs_wide", "run_id": failed["run_id"]})
    membership = runs_root / "experiments.csv"
    with open(membership, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["experiment", "dataset", "run_id"])
        writer.writeheader()
        writer.writerows(rows)
    config = {
        "data": {"val_fraction": 0.17, "split_seed": 123},
        "experiments": {
            "core": {
                "datasets": list(DATASETS),
                "grid": GRID,
                "fixed": {"epochs": EPOCHS},
                "seeds": list(seeds),
            },
            HOSTILE: {
                "datasets": list(DATASETS),
                "grid": {"optimizer": ["adam"]},
                "fixed": {},
                "seeds": list(seeds),
            },
        },
        "select": ["core", HOSTILE] if hostile else ["core"],
    }
    return {"root": root, "runs_root": runs_root, "membership": membership, "config": config}
