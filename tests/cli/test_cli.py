"""``nnstudy train``: one run from the command line, in the folder and with the id the DAG
gives it, so the DAG and the command line reuse each other's runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from nnstudy.invoke import run_snakemake

from nnlib.registry import optimizer_names

ROOT = Path(__file__).resolve().parents[2]
NNSTUDY = str(Path(sys.executable).with_name("nnstudy"))
CONFIG = {
    "data": {"synthetic": {"n_samples": 400}},
    "defaults": {"hidden": [8], "epochs": 3, "batch_size": 32},
    "experiments": {"pair": {"datasets": ["spirals"], "grid": {"optimizer": ["sgd", "adam"]}}},
    "select": ["pair"],
    "wandb": {"mode": "disabled"},
}

pytestmark = pytest.mark.slow


def nnstudy(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([NNSTUDY, *args], cwd=folder, capture_output=True, text=True)


def planned_trains(folder: Path) -> int:
    """How many train jobs a dry run of the study would run."""
    done = run_snakemake("-n", "--quiet", "rules", cwd=folder)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [line.split() for line in done.stdout.splitlines()]
    return next((int(r[1]) for r in rows if len(r) == 2 and r[0] == "train"), 0)


@pytest.fixture
def study(tmp_path) -> Path:
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    return tmp_path


def test_a_run_from_the_command_line_is_the_dags_run(study):
    assert planned_trains(study) == 2
    done = nnstudy(study, "train", "--dataset", "spirals", "--optimizer", "adam")
    assert done.returncode == 0, done.stderr
    epochs = [line for line in done.stdout.splitlines() if " epoch " in line]
    assert len(epochs) == 3  # one progress line per epoch
    closing = done.stdout.strip().splitlines()[-1]
    assert closing.startswith("ok: test_accuracy ") and "run results/runs/spirals/" in closing
    run_dir = study / closing.split("run ", 1)[1].rstrip("/")
    assert (run_dir / "metrics.json").is_file()
    # The DAG's study contains that run: only the other one is left to train.
    assert planned_trains(study) == 1
    # Asked again: reported, not trained again.
    trained = (run_dir / "train.json").stat().st_mtime_ns
    again = nnstudy(study, "train", "--dataset", "spirals", "--optimizer", "adam")
    assert again.returncode == 0 and "already trained" in again.stdout
    assert " epoch " not in again.stdout
    assert (run_dir / "train.json").stat().st_mtime_ns == trained


def test_a_run_the_dag_trained_is_reported_not_retrained(study):
    done = run_snakemake(until=("train",), cwd=study)
    assert done.returncode == 0, done.stderr[-2000:]
    runs = sorted((study / "results/runs/spirals").iterdir())
    assert len(runs) == 2
    config = json.loads((runs[0] / "config.json").read_text())
    again = nnstudy(study, "train", "--dataset", "spirals", "--optimizer", config["optimizer"])
    assert again.returncode == 0 and "already trained" in again.stdout, again.stderr
    assert f"results/runs/spirals/{runs[0].name}/" in again.stdout


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (
            ["--optimizer", "adamm"],
            "--optimizer: 'adamm' is not a valid choice (did you mean 'adam'?); "
            f"valid choices: {', '.join(optimizer_names())}",
        ),
        (["--optimizer", "adam", "--momentum", "0.9"], "--optimizer adam: unknown key 'momentum'"),
        (["--batch-size", "0"], "--batch-size: "),
        (["--activation", "relux"], "--activation: 'relux' is not a valid choice"),
    ],
)
def test_bad_flags_get_the_configs_one_line_errors(study, flags, expected):
    done = nnstudy(study, "train", "--dataset", "spirals", *flags)
    assert done.returncode != 0
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("nnstudy train: config: ")
    assert expected in done.stderr and "Traceback" not in done.stderr
    assert not (study / "results").exists()


def test_help_lists_the_valid_names(study):
    for command in ([NNSTUDY], [sys.executable, "-m", "nnstudy"]):
        done = subprocess.run([*command, "train", "--help"], capture_output=True, text=True)
        assert done.returncode == 0
        assert ", ".join(optimizer_names()) in " ".join(done.stdout.split())
        assert "relu, tanh, sigmoid" in done.stdout and "--weight-decay" in done.stdout


def test_per_layer_flags_reach_the_run(study):
    done = nnstudy(
        study,
        *("train", "--dataset", "spirals", "--hidden", "8,8", "--residual", "--loss", "mse"),
        *("--activation", "tanh,relu+tanh", "--initializer", "he,he,xavier"),
        *("--optimizer", "momentum", "--nesterov", "--weight-decay", "0.001"),
    )
    assert done.returncode == 0, done.stderr
    folder = study / done.stdout.strip().splitlines()[-1].split("run ", 1)[1].rstrip("/")
    run = json.loads((folder / "config.json").read_text())
    assert run["activation"] == ["tanh", ["relu", "tanh"]] and run["residual"] is True
    assert run["initializer"] == ["he", "he", "xavier"] and run["loss"] == "mse"
    assert run["optimizer_params"] == {"momentum": 0.9, "nesterov": True, "weight_decay": 0.001}
