"""A small run folder in the contract's format (results/runs/<dataset>/<run_id>/)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

HISTORY_COLUMNS = [
    "epoch",
    "train_loss",
    "train_accuracy",
    "val_loss",
    "val_accuracy",
    "lr",
    "seconds",
    "grad_norm",
]


def write_run_folder(run_dir: Path, *, epochs: int = 4, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    run_dir.mkdir(parents=True)
    config = {
        "dataset": "spirals",
        "optimizer": "adam",
        "optimizer_params": {"lr": 0.001},
        "activation": "relu",
        "initializer": "he",
        "hidden": [8],
        "epochs": epochs,
        "batch_size": 16,
        "seed": seed,
        "run_id": run_dir.name,
    }
    (run_dir / "config.json").write_text(json.dumps(config))
    with (run_dir / "history.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HISTORY_COLUMNS)
        for e in range(1, epochs + 1):
            w.writerow([e, 1.0 / e, 0.5 + 0.1 * e, 1.1 / e, 0.45 + 0.1 * e, 0.001, 0.01, 2.0 / e])
    layers = np.array(["dense0", "dense1"])
    snap_epochs = np.array([0, 2, 4])
    weights = [rng.normal(size=(len(snap_epochs), 100)) for _ in layers]
    counts = np.zeros((len(snap_epochs), len(layers), 8), dtype=np.int64)
    edges = np.zeros((len(snap_epochs), len(layers), 9))
    for s in range(len(snap_epochs)):
        for i in range(len(layers)):
            counts[s, i], edges[s, i] = np.histogram(weights[i][s], bins=8)
    np.savez(
        run_dir / "snapshots.npz",
        epochs=snap_epochs,
        layers=layers,
        weight_counts=counts,
        weight_edges=edges,
        grad_norms=rng.uniform(size=(len(snap_epochs), len(layers))),
    )
    metrics = {
        "run_id": run_dir.name,
        "status": "ok",
        "error": None,
        "test_loss": 0.3,
        "test_accuracy": 0.9,
        "precision_macro": 0.9,
        "recall_macro": 0.9,
        "f1_macro": 0.9,
        "per_class": {"precision": [0.9, 0.9], "recall": [0.9, 0.9], "f1": [0.9, 0.9]},
        "confusion_matrix": [[45, 5], [5, 45]],
        "class_names": ["a", "b"],
        "train_seconds": 0.04,
        "epochs_run": epochs,
    }
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    return run_dir
