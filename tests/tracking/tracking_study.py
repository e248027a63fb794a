"""Real run folders for the tracking tests, made by the study's own code: config validation and
run table (nnstudy.config/runs), training (nnstudy.training.job) and evaluation
(nnstudy.training.evaluation) on a tiny prepared spirals set (nnstudy.datasets.prepare)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from nnstudy.config.runs import Row, study_rows, unique_runs
from nnstudy.config.validation import validate_config
from nnstudy.datasets.prepare import prepare
from nnstudy.training.evaluation import evaluate_run
from nnstudy.training.job import train_run
from nnstudy.training.runfolder import train_outputs

TINY = {"datasets": ["spirals"], "fixed": {"epochs": 4, "hidden": [8], "snapshot_every": 2}}
# core and extra share the seed-0 run; boom diverges (SGD with a huge learning rate).
EXPERIMENTS = {
    "core": {**TINY, "seeds": [0, 1]},
    "extra": {**TINY, "seeds": [0]},
    "boom": {**TINY, "fixed": {**TINY["fixed"], "optimizer": "sgd", "lr": 1.0e4}, "seeds": [0]},
}


def study_config() -> dict:
    return {"experiments": EXPERIMENTS, "select": list(EXPERIMENTS)}


def make_study(root: Path) -> list[Row]:
    """Train and evaluate every run of EXPERIMENTS under ``root/results/runs``; the run table."""
    data_dir = root / "data" / "spirals"
    prepare("spirals", data_dir, n_samples=300)
    rows = study_rows(validate_config(study_config()))
    for rid, run in unique_runs(rows).items():
        folder = root / "results" / "runs" / run["dataset"] / rid
        outputs = train_outputs(folder)
        with np.errstate(all="ignore"):  # the boom run overflows, as it should
            train_run(run, data_dir, outputs, log=io.StringIO())
        evaluate_run(outputs["model"], outputs["train"], data_dir, folder / "metrics.json")
    return rows
