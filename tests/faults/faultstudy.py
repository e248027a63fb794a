"""A really tiny study run through the real Snakefile, and what its results are.

Shared by the fault suite (tests/faults) and the cluster test (tests/cluster): a study is a
folder with a config.yaml; Snakemake runs in it with the repository's Snakefile and a workflow
profile, up to the `train` and `experiments` rules (the report is not what these tests are
about).
"""

from __future__ import annotations

import copy
import csv
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import yaml
from nnstudy.config.runs import study_rows, unique_runs
from nnstudy.config.validation import validate_config
from nnstudy.invoke import snakemake_command, tiny_study

# The test study's untuned experiment (.test/config.yaml): two runs of 2 epochs on 300 spiral
# points, a full study in a few seconds.
TINY = tiny_study("tiny")
# The whole pipeline with a tuned search (.test/config.yaml's `tuned`: two successive-halving
# searches, 16 trials, 4 finals) beside an untuned experiment (`plain`), W&B offline: rung
# records, trials, report fragments and W&B run folders for the faults that need them.
FULL = {**tiny_study("tuned", "plain"), "wandb": {"mode": "offline"}}
# Keys that measure time, not results: they differ between two identical runs.
TIMING = {"train_seconds", "eval_seconds", "seconds", "wall_seconds"}
# runs.csv columns that name the machine or the checkout, not the result.
PROVENANCE = {"host", "git_commit", "git_dirty"}
LOCK_MESSAGE = "Directory cannot be locked"


def write_study(folder: Path, config: dict | None = None) -> dict:
    """Create ``folder`` with a config.yaml (the tiny study unless ``config``)."""
    config = copy.deepcopy(TINY if config is None else config)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return config


def run_ids(config: dict) -> dict[str, dict]:
    """run id -> resolved run, as the workflow computes them."""
    config = copy.deepcopy(config)
    validate_config(config)
    return unique_runs(study_rows(config))


UNTIL = ("train", "experiments")


def command(
    *args: str, profile: str | None = "default", until: tuple[str, ...] | None = UNTIL
) -> list[str]:
    """The Snakemake command line for a study (up to the rules ``until``; None: the whole
    study), with a workflow profile of the repository (None: none, a plain `snakemake`)."""
    return snakemake_command(*args, profile=profile, until=until)


def snakemake(
    folder: Path,
    *args: str,
    profile: str | None = "default",
    until: tuple[str, ...] | None = UNTIL,
    timeout: float = 300,
):
    """Run Snakemake in ``folder`` to the end; the CompletedProcess (text output)."""
    return subprocess.run(
        command(*args, profile=profile, until=until),
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start(folder: Path, *args: str, log: Path | None = None) -> subprocess.Popen:
    """Start Snakemake in ``folder`` as the leader of its own process group."""
    out = open(log or os.devnull, "w")  # noqa: SIM115 - closed with the process below
    proc = subprocess.Popen(
        command(*args), cwd=folder, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )
    proc.log = out
    return proc


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group, read from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the parenthesised command: state, ppid, pgrp, ...
        state, _, pgrp = stat.rsplit(")", 1)[1].split()[:3]
        if int(pgrp) == pgid and state != "Z":
            members.append(int(entry.name))
    return members


def kill_group(proc: subprocess.Popen, timeout: float = 10) -> None:
    """SIGKILL Snakemake and every process it started; wait until none is left."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.log.close()
    deadline = time.monotonic() + timeout
    while group_members(proc.pid):
        assert time.monotonic() < deadline, f"processes survived SIGKILL: {group_members(proc.pid)}"
        time.sleep(0.05)


def snakemake_locks(folder: Path) -> list[str]:
    """Snakemake's lock files on ``folder`` (a killed run leaves them behind)."""
    locks = folder / ".snakemake" / "locks"
    return sorted(p.name for p in locks.iterdir()) if locks.is_dir() else []


def incomplete_jobs(folder: Path) -> list[str]:
    """Outputs Snakemake still marks as being written (it redoes them on the next run)."""
    markers = folder / ".snakemake" / "incomplete"
    return sorted(p.name for p in markers.iterdir()) if markers.is_dir() else []


def _history(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return [{k: v for k, v in row.items() if k not in TIMING} for row in csv.DictReader(f)]


def _arrays(path: Path) -> dict[str, list]:
    with np.load(path, allow_pickle=False) as arrays:
        return {name: arrays[name].tolist() for name in arrays.files}


def results(folder: Path, runs: dict[str, dict]) -> dict[str, dict]:
    """Every file each run produced, parsed, without timings and provenance (host, time)."""
    out = {}
    for rid, run in runs.items():
        run_dir = folder / "results" / "runs" / run["dataset"] / rid
        metrics = json.loads((run_dir / "metrics.json").read_text())
        out[rid] = {
            "metrics": {k: v for k, v in metrics.items() if k not in TIMING},
            "history": _history(run_dir / "history.csv"),
            "model": _arrays(run_dir / "model.npz"),
            "snapshots": _arrays(run_dir / "snapshots.npz"),
            "config": json.loads((run_dir / "config.json").read_text()),
            "train": {
                k: v
                for k, v in json.loads((run_dir / "train.json").read_text()).items()
                if k not in TIMING | {"provenance"}
            },
        }
    return out


def study_state(folder: Path) -> dict:
    """What a full study (FULL) decided and measured: every rung record, runs.csv without
    timings and provenance (one row per final or untuned run), the report's LaTeX fragments
    (names), and each W&B marker's runs with whether their run folder exists."""
    tuning = folder / "results" / "tuning"
    with open(folder / "results" / "tables" / "runs.csv", newline="") as f:
        rows = [
            {k: v for k, v in row.items() if k not in TIMING | PROVENANCE}
            for row in csv.DictReader(f)
        ]
    return {
        "records": {
            str(p.relative_to(folder)): json.loads(p.read_text())
            for p in sorted(tuning.rglob("rung*.json"))
        },
        "runs": sorted(rows, key=lambda row: row["run_id"]),
        "fragments": sorted(p.name for p in (folder / "results/tables/fragments").glob("*")),
        "wandb": {
            str(marker.relative_to(folder)): [
                (run["run_id"], run["status"], (folder / run["wandb_run_dir"]).is_dir())
                for run in json.loads(marker.read_text())["runs"]
            ]
            for marker in sorted((folder / "results" / "wandb").glob("*.json"))
        },
    }
