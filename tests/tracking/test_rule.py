"""Rule log_wandb through Snakemake's CLI, on run folders already in place."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tracking_run_folder import write_run_folder

RULES = Path(__file__).resolve().parents[2] / "workflow" / "rules" / "tracking.smk"

# Stands in for the study's Snakefile: the run table (ROWS, RUN_DIR from common.smk), rule all.
SNAKEFILE = f"""
from nnstudy.runs import Row

configfile: "config.yaml"

ROWS = [
    Row(experiment=e, dataset="spirals", run_id=r, run={{}}, factors=())
    for e, r in [("core", "0123456789"), ("core", "abcdef0123"), ("extra", "0123456789")]
]

RUN_DIR = "results/runs/{{dataset}}/{{run_id}}"

include: "{RULES}"

rule all:
    input:
        WANDB_TARGETS,
"""


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "1", "all", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def study(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for rid in ("0123456789", "abcdef0123"):
        write_run_folder(tmp_path / "results" / "runs" / "spirals" / rid)
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    return tmp_path


def write_config(workdir: Path, mode: str) -> None:
    wandb = {"mode": mode, "project": "p", "entity": None, "dir": "results/wandb"}
    (workdir / "config.yaml").write_text(json.dumps({"wandb": wandb}))


def test_rule_logs_each_run_once_and_is_then_up_to_date(study):
    write_config(study, "offline")
    done = snakemake(study)
    assert done.returncode == 0, done.stderr
    marker = json.loads((study / "results" / "wandb" / "spirals.json").read_text())
    assert [(r["run_id"], r["experiments"]) for r in marker["runs"]] == [
        ("0123456789", ["core", "extra"]),
        ("abcdef0123", ["core"]),
    ]
    for run in marker["runs"]:
        assert (study / run["wandb_run_dir"] / f"run-{run['run_id']}.wandb").is_file()
    log = (study / "results" / "logs" / "log_wandb" / "spirals.log").read_text()
    assert "0123456789 ok results/wandb/wandb/offline-run-" in log

    again = snakemake(study, "--dry-run")
    assert again.returncode == 0, again.stderr
    assert "Nothing to be done" in again.stdout + again.stderr

    # A run that joins another experiment is logged again (its config lists the experiments).
    snakefile = study / "Snakefile"
    snakefile.write_text(
        snakefile.read_text().replace('("core", "abcdef0123")', '("new", "abcdef0123")')
    )
    again = snakemake(study, "--dry-run")
    assert "log_wandb" in again.stdout + again.stderr


def test_disabled_leaves_the_rule_out_of_the_dag(study):
    write_config(study, "disabled")
    done = snakemake(study)
    assert done.returncode == 0, done.stderr
    assert not (study / "results" / "wandb").exists()
    assert not (study / "results" / "logs").exists()
