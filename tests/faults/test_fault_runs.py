"""A run whose loss explodes and a run that raises are results; the rest of the study goes on."""

from __future__ import annotations

import copy
import csv
import json
import math

import pytest
from faultstudy import TINY, results, run_ids, snakemake, write_study
from nnstudy.invoke import SNAKEFILE

pytestmark = pytest.mark.slow

# SGD whose learning rate warms up to 1e4: the loss is finite for 2 epochs, then NaN.
EXPLODE = {
    "datasets": ["spirals"],
    "fixed": {
        "hidden": [8],
        "epochs": 10,
        "optimizer": "sgd",
        "lr": 10000.0,
        "schedule": {"name": "cosine", "warmup_epochs": 9},
    },
    "seeds": [0],
}
# A valid config whose model cannot be built: numpy raises inside the training script.
CRASH = {"datasets": ["spirals"], "fixed": {"hidden": [2**62], "epochs": 2}, "seeds": [0]}


def test_exploding_and_raising_runs_are_recorded_and_the_study_completes(tmp_path, reference):
    config = copy.deepcopy(TINY)
    config["experiments"].update(explode=EXPLODE, crash=CRASH)
    config["select"] = ["tiny", "explode", "crash"]
    write_study(tmp_path, config)

    # The whole study: every target of `rule all`, report included.
    done = snakemake(tmp_path, "--cores", "2", until=None)
    assert done.returncode == 0, done.stderr[-3000:]

    runs = run_ids(config)
    by_experiment = {}
    for rid, run in runs.items():
        kind = "explode" if run["lr"] == 10000.0 else "crash" if run["hidden"] == [2**62] else rid
        by_experiment[kind] = rid
    run_dir = tmp_path / "results" / "runs" / "spirals"

    exploded = json.loads((run_dir / by_experiment["explode"] / "metrics.json").read_text())
    with open(run_dir / by_experiment["explode"] / "history.csv", newline="") as f:
        losses = [float(row["train_loss"]) for row in csv.DictReader(f)]
    # Stopped at the epoch whose loss left every earlier one 100-fold behind (or was not finite).
    assert exploded["status"] == "diverged" and exploded["epochs_run"] == len(losses) < 10
    assert all(map(math.isfinite, losses[:-1]))
    assert not math.isfinite(losses[-1]) or losses[-1] > 100 * max(losses[:-1], default=0)

    crashed = json.loads((run_dir / by_experiment["crash"] / "metrics.json").read_text())
    assert crashed["status"] == "failed"
    assert crashed["error"].startswith("ValueError") and "\n" not in crashed["error"]
    log = (tmp_path / "results/logs/train/spirals" / f"{by_experiment['crash']}.log").read_text()
    assert "Traceback" in log  # the cause is kept for the user

    # The other runs are exactly those of the undisturbed study.
    assert results(tmp_path, reference.runs) == reference.results
    # ...and the report, once the Snakefile builds one, shows both faults.
    if "report.smk" in SNAKEFILE.read_text():
        html = (tmp_path / "results" / "report" / "report.html").read_text()
        assert "diverged" in html and "failed" in html
