"""The real study DAG, run with Snakemake's CLI on tiny configs in temporary directories."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from checkpoint_state import checkpoint_epoch
from nnstudy.invoke import job_counts, run_snakemake, snakemake_command

from nnlib.registry import optimizer_names

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

# Tiny runs: spirals, small net, few epochs; W&B off (tests/tracking covers it).
DEFAULTS = {"hidden": [8], "epochs": 2, "batch_size": 64, "snapshot_every": 1}
STUDY = {
    "defaults": DEFAULTS,
    "experiments": {
        "t": {"datasets": ["spirals"], "grid": {"optimizer": ["sgd", "adam"]}},
        "u": {"datasets": ["spirals"], "grid": {"optimizer": ["adam", "rmsprop"]}},
        # A learning rate this large makes the loss overflow: a result, not a crash.
        "wild": {"datasets": ["spirals"], "fixed": {"optimizer": "sgd", "lr": 1.0e12}},
    },
    "select": ["t", "u", "wild"],
    "wandb": {"mode": "disabled"},
}


def snakemake(workdir: Path, *args: str, profile: bool = True) -> subprocess.CompletedProcess:
    return run_snakemake(
        *args, directory=workdir, profile="default" if profile else None, cores=2, timeout=300
    )


def setup(workdir: Path, config: dict, data: Path | None = None) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    if data is not None:  # reuse prepared data: tests time training, not data generation
        (workdir / "data").symlink_to(data)
    return workdir


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    workdir = setup(tmp_path_factory.mktemp("data"), STUDY)
    done = snakemake(workdir, "data/processed/spirals/card.json")
    assert done.returncode == 0, done.stderr
    return workdir / "data"


@pytest.fixture(scope="module")
def study(tmp_path_factory, data):
    workdir = setup(tmp_path_factory.mktemp("study"), STUDY, data)
    done = snakemake(workdir)
    return workdir, done


def run_dirs(workdir: Path) -> dict[str, Path]:
    return {p.name: p for p in (workdir / "results" / "runs" / "spirals").iterdir()}


def table(workdir: Path) -> list[dict]:
    with open(workdir / "results" / "runs" / "experiments.csv") as fh:
        return list(csv.DictReader(fh))


HEAD = (
    subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    or None
)  # None outside a git checkout, as provenance records it


def test_study_writes_every_output_and_trains_shared_run_once(study):
    workdir, done = study
    assert done.returncode == 0, done.stderr
    rows = table(workdir)
    assert [(r["experiment"], r["optimizer"]) for r in rows] == [
        ("t", "sgd"),
        ("t", "adam"),
        ("u", "adam"),
        ("u", "rmsprop"),
        ("wild", "sgd"),
    ]
    runs = run_dirs(workdir)
    assert set(runs) == {r["run_id"] for r in rows}
    assert len(runs) == 4  # adam is in t and u
    assert job_counts(done.stderr)["train"] == 4
    for run_id, folder in runs.items():
        config = json.loads((folder / "config.json").read_text())
        assert config["run_id"] == run_id
        metrics = json.loads((folder / "metrics.json").read_text())
        assert metrics["run_id"] == run_id
        with open(folder / "history.csv") as fh:
            history = list(csv.DictReader(fh))
        assert len(history) == metrics["epochs_run"]
        snaps = np.load(folder / "snapshots.npz", allow_pickle=False)
        assert snaps["weight_counts"].shape[:2] == (len(snaps["epoch"]), 2)
        # The code's provenance, computed once by the Snakefile and inherited by the job.
        code = json.loads((folder / "train.json").read_text())["provenance"]
        assert code["git_commit"] == HEAD and code["packages"]["numpy"] == np.__version__
        if metrics["status"] == "ok":
            assert list(snaps["epoch"]) == [0, 1, 2]
            assert 0 <= metrics["test_accuracy"] <= 1
            assert np.array(metrics["confusion_matrix"]).sum() == 600
            assert len(metrics["per_class"]["f1"]) == len(metrics["class_names"]) == 3
            assert (snaps["grad_norm"] > 0).all()


def test_console_shows_the_plan_progress_and_summary_not_every_job(study):
    workdir, done = study
    assert done.returncode == 0, done.stderr
    console = (done.stdout + done.stderr).splitlines()
    # Snakemake's per-job blocks stay in its log file, not on the console.
    assert not any(line.startswith(("rule train:", "localrule")) for line in console)
    assert not any("epoch 1/2" in line for line in console)  # a run's epochs: in its log
    logs = list((workdir / ".snakemake" / "log").glob("*.snakemake.log"))
    assert len(logs) == 1 and "rule train:" in logs[0].read_text()
    progress = [line for line in console if line.startswith("runs ")]
    assert progress[-1].startswith("runs 4/4 | 0 failed | 1 diverged | jobs ")
    assert any(line.startswith("Chosen on validation, per comparison") for line in console)
    assert any(line.startswith("  t / spirals: ") for line in console)
    assert "Runs: 4 in the report, 0 failed, 1 diverged (see " in "\n".join(console)
    report_line = next(line for line in console if line.startswith("Report: "))
    assert str(workdir / "results" / "report" / "report.html") in report_line
    assert len(console) < 40


def test_diverging_run_is_a_result(study):
    workdir, done = study
    assert done.returncode == 0, done.stderr
    wild = next(r["run_id"] for r in table(workdir) if r["experiment"] == "wild")
    metrics = json.loads((run_dirs(workdir)[wild] / "metrics.json").read_text())
    assert metrics["status"] == "diverged"
    assert metrics["error"] is None
    statuses = {
        json.loads((d / "metrics.json").read_text())["status"] for d in run_dirs(workdir).values()
    }
    assert statuses == {"ok", "diverged"}


def test_second_run_has_nothing_to_do(study):
    workdir, done = study
    assert done.returncode == 0, done.stderr
    table_mtime = (workdir / "results/runs/experiments.csv").stat().st_mtime_ns
    again = snakemake(workdir, "--dry-run")
    assert again.returncode == 0, again.stderr
    assert "Nothing to be done" in again.stdout + again.stderr
    assert (workdir / "results/runs/experiments.csv").stat().st_mtime_ns == table_mtime


def test_adding_an_experiment_schedules_only_its_new_runs(study):
    workdir, done = study
    assert done.returncode == 0, done.stderr
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    # sgd is already trained (in t); momentum and sgd with seed 1 are new.
    config["experiments"]["v"] = {
        "datasets": ["spirals"],
        "grid": {"optimizer": ["sgd", "momentum"]},
        "seeds": [0, 1],
    }
    config["select"].append("v")
    path = workdir / "config.yaml"
    original = path.read_text()
    path.write_text(yaml.safe_dump(config))
    try:
        dry = snakemake(workdir, "--dry-run")
    finally:
        path.write_text(original)
    assert dry.returncode == 0, dry.stderr
    counts = job_counts(dry.stdout + dry.stderr)
    assert counts["train"] == 3  # each trained and evaluated in one job
    assert "evaluate" not in counts


def test_local_scheduler_runs_one_round_per_finished_job(tmp_path, data):
    """Snakemake's job rate limiter would add a never-ending 1 s wake-up chain per job event
    (nnstudy.jobs.scheduling); without it, a round happens only when a job finishes (plus the
    first). One core keeps jobs waiting, which is when the chains used to build up."""
    config = {
        "defaults": {**DEFAULTS, "hidden": [32], "epochs": 150},
        "experiments": {"r": {"datasets": ["spirals"], "grid": {"optimizer": ["sgd", "adam"]}}},
        "select": ["r"],
        "wandb": {"mode": "disabled"},
    }
    workdir = setup(tmp_path / "rounds", config, data)
    done = snakemake(workdir, "--until", "train", "--verbose", "--cores", "1")
    assert done.returncode == 0, done.stderr
    log = done.stdout + done.stderr
    finished = log.count("Finished jobid")
    assert finished == 2  # the train job of each run
    assert log.count("Ready jobs:") <= finished + 1


def test_augment_as_a_grid_factor_reaches_the_report_tables(tmp_path):
    config = {
        "defaults": DEFAULTS,
        "experiments": {"aug": {"datasets": ["digits"], "grid": {"augment": [False, {"pad": 1}]}}},
        "select": ["aug"],
        "wandb": {"mode": "disabled"},
    }
    workdir = setup(tmp_path, config)
    done = snakemake(workdir, "results/tables/variants.csv", "results/tables/main_effects.csv")
    assert done.returncode == 0, done.stderr
    rows = table(workdir)
    assert [(r["augment"], r["factors"]) for r in rows] == [
        ("off", "augment;seed"),
        ("pad1+flip", "augment;seed"),
    ]
    plain, augmented = (workdir / "results/runs/digits" / r["run_id"] for r in rows)
    assert "augment" not in json.loads((plain / "config.json").read_text())
    assert json.loads((augmented / "config.json").read_text())["augment"] == {
        "pad": 1,
        "flip": True,
    }
    for folder in (plain, augmented):
        assert json.loads((folder / "metrics.json").read_text())["status"] == "ok"
    tables = workdir / "results" / "tables"
    with open(tables / "variants.csv") as fh:
        variants = list(csv.DictReader(fh))
    assert sorted(json.loads(v["levels"])["augment"] for v in variants) == ["off", "pad1+flip"]
    with open(tables / "main_effects.csv") as fh:
        effects = [(e["factor"], e["level"]) for e in csv.DictReader(fh)]
    assert ("augment", "off") in effects and ("augment", "pad1+flip") in effects


BAD = [
    (
        {"experiments": {"t": {"datasets": ["spirals"], "grid": {"optimizer": ["adma"]}}}},
        "experiments.t.grid.optimizer[0]",
        f"valid choices: {', '.join(optimizer_names())}",
    ),
    (
        {"experiments": {"t": {"datasets": ["mnist2"]}}},
        "experiments.t.datasets[0]",
        "valid choices: digits, spirals",
    ),
    (
        {"experiments": {"t": {"datasets": ["spirals"], "grid": {"activation": []}}}},
        "experiments.t.grid.activation",
        "must not be empty",
    ),
    (
        {"experiments": {"t": {"datasets": ["spirals"], "sedes": [1]}}},
        "unknown key 'sedes'",
        "valid keys: datasets, description",
    ),
    (
        {"defaults": {"epochs": "ten"}, "experiments": {"t": {"datasets": ["spirals"]}}},
        "defaults.epochs",
        "not of type integer",
    ),
    (
        {"experiments": {"t": {"datasets": ["spirals"]}}, "select": ["paper"]},
        "select: unknown experiment 'paper'",
        "valid choices: t",
    ),
]


@pytest.mark.parametrize(("config", "key", "choices"), BAD, ids=[b[1] for b in BAD])
def test_bad_config_stops_before_any_job_with_one_line(tmp_path, config, key, choices):
    done = snakemake(setup(tmp_path, config), profile=False)  # the profile adds a stderr line
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert key in lines[0] and choices in lines[0]
    assert not (tmp_path / "results").exists()
    assert not (tmp_path / "data").exists()


def _without_timing(folder: Path) -> dict:
    metrics = json.loads((folder / "metrics.json").read_text())
    for key in ("train_seconds", "eval_seconds"):
        metrics.pop(key)
    with open(folder / "history.csv") as fh:
        history = [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(fh)]
    arrays = {}
    for name in ("model.npz", "snapshots.npz"):
        with np.load(folder / name, allow_pickle=False) as f:
            arrays.update({f"{name}:{k}": f[k] for k in f.files})
    return {"metrics": metrics, "history": history, "arrays": arrays}


def test_sigkilled_run_resumes_to_the_uninterrupted_result(tmp_path, data):
    epochs = 80
    config = {
        "defaults": {
            "hidden": [32, 32],
            "epochs": epochs,
            "batch_size": 16,
            "snapshot_every": 7,
            "dropout": 0.1,
        },
        "experiments": {"k": {"datasets": ["spirals"]}},
        "select": ["k"],
        "wandb": {"mode": "disabled"},
    }
    reference = setup(tmp_path / "reference", config, data)
    done = snakemake(reference)
    assert done.returncode == 0, done.stderr
    (run_id,) = run_dirs(reference)

    killed = setup(tmp_path / "killed", config, data)
    checkpoint = killed / f"results/checkpoints/runs/spirals/{run_id}.npz"
    proc = subprocess.Popen(
        snakemake_command(cores=1),
        cwd=killed,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    epoch = None
    while time.monotonic() < deadline and proc.poll() is None:
        epoch = checkpoint_epoch(checkpoint)
        if epoch is not None and epoch >= 5:
            break
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert epoch is not None and 5 <= epoch < epochs, f"not killed mid-training (epoch {epoch})"
    assert not (killed / f"results/runs/spirals/{run_id}/metrics.json").exists()

    resumed = snakemake(killed)  # no --unlock: nothing of the killed study is alive
    assert resumed.returncode == 0, resumed.stderr
    log = (killed / f"results/logs/train/spirals/{run_id}.log").read_text()
    assert f"epoch {epoch + 1}/{epochs}" in log and "epoch 1/" not in log  # it did resume
    assert not checkpoint.exists()
    got, want = (
        _without_timing(killed / f"results/runs/spirals/{run_id}"),
        _without_timing(reference / f"results/runs/spirals/{run_id}"),
    )
    assert got["metrics"] == want["metrics"]
    assert got["history"] == want["history"]
    assert got["arrays"].keys() == want["arrays"].keys()
    for key, value in want["arrays"].items():
        np.testing.assert_array_equal(got["arrays"][key], value, err_msg=key)


def test_lint_and_snakefmt_are_clean():
    lint = subprocess.run(
        snakemake_command("--lint", profile=None),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "Congratulations" in lint.stdout + lint.stderr, lint.stdout + lint.stderr
    snakefmt = str(Path(sys.executable).parent / "snakefmt")
    files = [
        ROOT / "Snakefile",
        ROOT / "workflow/rules/common.smk",
        ROOT / "workflow/rules/train.smk",
    ]
    fmt = subprocess.run(
        [snakefmt, "--check", *map(str, files)], capture_output=True, text=True, timeout=60
    )
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
