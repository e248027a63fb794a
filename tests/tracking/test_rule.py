"""Rule log_wandb through Snakemake's CLI with the study's common.smk, on trained run folders."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from nnstudy.invoke import run_snakemake
from tracking_study import study_config

RULES = Path(__file__).resolve().parents[2] / "workflow" / "rules"

# The study's Snakefile minus data/train/report (the run folders are already in place).
SNAKEFILE = f"""
configfile: "config.yaml"

include: "{RULES / "common.smk"}"
include: "{RULES / "tracking.smk"}"

rule all:
    input:
        WANDB_TARGETS,
"""


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return run_snakemake("all", *args, snakefile=None, profile=None, cores=1, cwd=workdir)


def write_config(workdir: Path, mode: str, experiments: dict | None = None) -> None:
    config = study_config()
    if experiments is not None:
        config = {"experiments": experiments, "select": list(experiments)}
    config["wandb"] = {"mode": mode, "project": "p"}
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))


@pytest.fixture
def workdir(study, tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    study.copy(tmp_path)
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    return tmp_path


@pytest.mark.slow
def test_rule_logs_each_run_once_and_is_then_up_to_date(study, workdir):
    write_config(workdir, "offline")
    done = snakemake(workdir)
    assert done.returncode == 0, done.stderr
    marker = json.loads((workdir / "results" / "wandb" / "spirals.json").read_text())
    assert {r["run_id"]: r["experiments"] for r in marker["runs"]} == study.runs
    for run in marker["runs"]:
        assert (workdir / run["wandb_run_dir"] / f"run-{run['run_id']}.wandb").is_file()
    log = (workdir / "results" / "logs" / "log_wandb" / "spirals.log").read_text()
    assert f"{study.shared} ok results/wandb/wandb/offline-run-" in log
    assert f"{study.diverged} diverged results/wandb/wandb/offline-run-" in log

    again = snakemake(workdir, "--dry-run")
    assert again.returncode == 0, again.stderr
    assert "Nothing to be done" in again.stdout + again.stderr

    # Dropping an experiment changes which experiments the shared run belongs to: log again.
    write_config(
        workdir, "offline", {k: study_config()["experiments"][k] for k in ("core", "boom")}
    )
    again = snakemake(workdir, "--dry-run")
    assert again.returncode == 0, again.stderr
    assert "log_wandb" in again.stdout + again.stderr


def test_disabled_leaves_the_rule_out_of_the_dag(workdir):
    write_config(workdir, "disabled")
    done = snakemake(workdir)
    assert done.returncode == 0, done.stderr
    assert not (workdir / "results" / "wandb").exists()
    assert not (workdir / "results" / "logs").exists()


def test_a_bad_mode_stops_before_any_job_with_one_line(workdir):
    write_config(workdir, "ofline")
    done = snakemake(workdir)
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if "ofline" in line]
    assert len(errors) == 1 and "wandb" in errors[0] and "offline" in errors[0], done.stderr
    assert not (workdir / "results" / "wandb").exists()
