"""nnlib's optimizers, norms and schedules reach config.yaml and ``nnstudy train`` from nnlib's
registries alone: a toy optimizer registered at run time validates and trains, with no table
of the study naming it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from nnstudy import cli
from nnstudy.config.runs import study_rows
from nnstudy.config.validation import ConfigError, validate_config

from nnlib.optim import OPTIMIZERS, Optimizer

NNSTUDY = str(Path(sys.executable).with_name("nnstudy"))
CONFIG = {
    "data": {"synthetic": {"n_samples": 400}},
    "defaults": {"hidden": [8], "epochs": 3, "batch_size": 32},
    "experiments": {"pair": {"datasets": ["spirals"]}},
    "select": ["pair"],
    "wandb": {"mode": "disabled"},
}

pytestmark = pytest.mark.slow


class SignSGD(Optimizer):
    """A toy update with one hyper-parameter: p -= lr * scale * sign(g). Counts its steps,
    which shows that a run trained with it."""

    hyper_names = ("scale",)
    steps = 0

    def __init__(self, params, lr=0.01, scale=1.0):
        super().__init__(params, lr)
        if not scale > 0:
            raise ValueError(f"scale must be > 0, got {scale!r}")
        self.scale = float(scale)
        self._init_state((), 1)

    def _kernel(self, t, p, g, state, scratch):
        SignSGD.steps += 1
        np.sign(g, out=scratch[0])
        scratch[0] *= self.lr * self.scale
        p -= scratch[0]


@pytest.fixture
def toy(monkeypatch):
    """The toy optimizer in nnlib's registry, as an nnlib edit (class + registry entry) would
    put it; removed after the test."""
    monkeypatch.setitem(OPTIMIZERS, "signsgd", SignSGD)
    monkeypatch.setattr(SignSGD, "steps", 0)


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("study")
    (folder / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    return folder


def nnstudy(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([NNSTUDY, *args], cwd=folder, capture_output=True, text=True)


def run_folder(folder: Path, stdout: str) -> Path:
    """The run folder the closing line names."""
    return folder / stdout.strip().splitlines()[-1].split("run ", 1)[1].rstrip("/")


def one_run(**exp) -> dict:
    config = {"experiments": {"t": {"datasets": ["spirals"], **exp}}, "select": ["t"]}
    (row,) = study_rows(validate_config(config))
    return row.run


def test_a_toy_optimizer_validates_through_the_schema(toy):
    run = one_run(fixed={"optimizer": "signsgd"}, optimizers={"signsgd": {"scale": 0.5}})
    assert run["optimizer"] == "signsgd" and run["optimizer_params"] == {"scale": 0.5}
    assert run["lr"] == 0.01  # nnlib's default lr: the study sets none for it
    # Its hyper-parameter is typed by its default; its range is nnlib's constructor's.
    with pytest.raises(ConfigError, match=r"optimizers\.signsgd\.scale: 'big' is not of type"):
        one_run(fixed={"optimizer": "signsgd"}, optimizers={"signsgd": {"scale": "big"}})
    with pytest.raises(ConfigError, match="optimizer signsgd: scale must be > 0, got -1.0"):
        one_run(fixed={"optimizer": "signsgd"}, optimizers={"signsgd": {"scale": -1}})
    with pytest.raises(ConfigError, match="unknown key 'momentum'.*valid keys: lr, scale"):
        one_run(fixed={"optimizer": "signsgd"}, optimizers={"signsgd": {"momentum": 0.9}})


def test_a_toy_optimizer_trains_through_the_cli(toy, study, monkeypatch, capsys):
    # In-process: the registry entry lives in this process (the data is prepared by a
    # Snakemake subprocess, which never needs the optimizer).
    monkeypatch.chdir(study)
    flags = ["--dataset", "spirals", "--optimizer", "signsgd", "--scale", "0.5"]
    assert cli.main(["train", *flags, "--epochs", "2"]) == 0
    folder = run_folder(study, capsys.readouterr().out)
    run = json.loads((folder / "config.json").read_text())
    assert run["optimizer"] == "signsgd" and run["optimizer_params"] == {"scale": 0.5}
    assert json.loads((folder / "train.json").read_text())["status"] == "ok"
    assert SignSGD.steps >= 2  # the toy's update ran, at least once an epoch


def test_the_cli_lists_a_toy_optimizer_and_its_hyper_parameter(toy, capsys):
    args = cli.parser().parse_args(["train", "--dataset", "spirals", "--scale", "2"])
    assert args.scale == 2.0
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "adagrad, nadam, signsgd" in shown and "--scale SCALE signsgd" in shown


@pytest.mark.parametrize("optimizer", ["adagrad", "nadam", "nesterov"])
def test_nnlibs_newer_optimizers_train_from_the_command_line(study, optimizer):
    done = nnstudy(study, "train", "--dataset", "spirals", "--optimizer", optimizer)
    assert done.returncode == 0, done.stderr
    run = json.loads((run_folder(study, done.stdout) / "config.json").read_text())
    assert run["optimizer"] == optimizer and run["optimizer_params"] == {}


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--hidden", "8,8", "--norm", "batch,none"], {"norm": ["batch", "none"]}),
        (
            ["--optimizer", "momentum", "--schedule", "one_cycle", "--pct-start", "0.4"],
            {"schedule": {"name": "one_cycle", "pct_start": 0.4}},
        ),
        (
            ["--schedule", "plateau", "--patience", "0", "--mode", "max"]
            + ["--schedule-monitor", "val_accuracy", "--schedule-eps", "0"],
            {
                "schedule": {
                    "name": "plateau",
                    "patience": 0,
                    "mode": "max",
                    "monitor": "val_accuracy",
                    "eps": 0.0,
                }
            },
        ),
        (
            ["--schedule", "cosine", "--per-step", "--warmup-steps", "3"],
            {"schedule": {"name": "cosine", "per_step": True, "warmup_steps": 3}},
        ),
        (
            ["--early-stopping", "1", "--monitor", "val_accuracy", "--min-delta", "0.001"],
            {"early_stopping": 1, "monitor": "val_accuracy", "min_delta": 0.001},
        ),
    ],
)
def test_norms_schedules_and_early_stopping_from_the_command_line(study, flags, expected):
    done = nnstudy(study, "train", "--dataset", "spirals", *flags)
    assert done.returncode == 0, done.stderr
    run = json.loads((run_folder(study, done.stdout) / "config.json").read_text())
    for key, value in expected.items():
        got = run[key]
        assert (value.items() <= got.items()) if isinstance(value, dict) else got == value


def test_a_bad_schedule_flag_is_one_line_naming_it(study):
    done = nnstudy(study, "train", "--dataset", "spirals", "--schedule", "plateau", "--factor", "2")
    assert done.returncode != 0 and done.stderr.count("\n") == 1
    assert "schedule plateau: factor must be < 1, got 2.0" in done.stderr


def test_lr_find_prints_a_suggestion_in_its_range_and_writes_the_plot(study):
    flags = ["--dataset", "digits", "--optimizer", "adam", "--start-lr", "1e-6", "--end-lr", "1"]
    done = nnstudy(study, "lr-find", *flags)
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip().splitlines()[-1]
    assert line.startswith("suggested lr ") and done.stderr == ""
    suggestion = float(line.split()[2])
    assert np.isfinite(suggestion) and 1e-6 <= suggestion <= 1
    plot = study / line.rsplit("plot ", 1)[1]
    assert plot.suffix == ".png" and plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot.stat().st_size > 1000
    # No run was trained, and the same command gives the same numbers (seeded).
    assert not (study / "results/runs/digits").exists()
    assert nnstudy(study, "lr-find", *flags).stdout.strip().splitlines()[-1] == line


def test_lr_find_refuses_a_bad_range_in_one_line(study):
    done = nnstudy(study, "lr-find", "--dataset", "spirals", "--start-lr", "1", "--end-lr", "0.1")
    assert done.returncode != 0 and done.stderr.count("\n") == 1
    assert done.stderr.startswith("nnstudy lr-find: end_lr must be a number > start_lr")
