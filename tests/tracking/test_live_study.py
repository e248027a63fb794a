"""Live W&B through the real Snakefile: finals and trials log while they train, a change of the
W&B settings retrains nothing, and runs trained without live logging are logged from files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from nnstudy.invoke import job_counts, run_snakemake, tiny_study
from wandb_files import offline_runs, wandb_records

pytestmark = pytest.mark.slow


def snakemake(workdir: Path, wandb: dict, *args: str):
    config = {**tiny_study("tuned", "plain"), "wandb": {"project": "p", **wandb}}
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    done = run_snakemake(*args, directory=workdir, cores=2, timeout=600)
    assert done.returncode == 0, done.stderr
    return done


def job_types(workdir: Path) -> dict[str, str]:
    """W&B id -> job_type of every offline run folder."""
    out = {}
    for folder in offline_runs(workdir / "results" / "wandb"):
        [wandb_file] = folder.glob("run-*.wandb")
        [run] = [r["run"] for r in wandb_records(wandb_file) if r["type"] == "run"]
        out[run["run_id"]] = run["job_type"]
    return out


def test_finals_and_trials_log_live_and_earlier_runs_from_files(tmp_path, home):
    # Trained as before live logging: no W&B at all.
    snakemake(tmp_path, {"mode": "disabled"})
    assert not (tmp_path / "results" / "wandb").exists()

    # Turning W&B on trains nothing again; log_wandb logs the finals from their files.
    plan = snakemake(tmp_path, {"mode": "offline"}, "--dry-run")
    counts = job_counts(plan.stdout + plan.stderr)
    assert "log_wandb" in counts and not {"train", "trial", "predict", "tune"} & set(counts)
    snakemake(tmp_path, {"mode": "offline"})
    [marker] = (tmp_path / "results" / "wandb").glob("*.json")
    runs = json.loads(marker.read_text())["runs"]
    assert runs and {r["logged"] for r in runs} == {"from files"}

    # A final trained again (its folder deleted) logs itself while it trains, and is kept.
    again = runs[0]["run_id"]
    shutil.rmtree(tmp_path / "results" / "runs" / "spirals" / again)
    snakemake(tmp_path, {"mode": "offline"})
    logged = {r["run_id"]: r["logged"] for r in json.loads(marker.read_text())["runs"]}
    assert logged == {r["run_id"]: "live" if r["run_id"] == again else "from files" for r in runs}

    # From scratch, every final and every trial logs live.
    shutil.rmtree(tmp_path / "results")
    snakemake(tmp_path, {"mode": "offline"})
    runs = json.loads(marker.read_text())["runs"]
    assert {r["logged"] for r in runs} == {"live"}
    trials = [p.name for p in (tmp_path / "results" / "trials" / "spirals").iterdir()]
    types = job_types(tmp_path)
    assert {rid: types[rid] for rid in (r["run_id"] for r in runs)} == dict.fromkeys(
        (r["run_id"] for r in runs), "train"
    )
    assert {f"{rid}-trial": types[f"{rid}-trial"] for rid in trials} == dict.fromkeys(
        (f"{rid}-trial" for rid in trials), "trial"
    )
    assert len(types) == len(runs) + len(trials)
