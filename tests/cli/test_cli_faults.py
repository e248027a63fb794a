"""``nnstudy train`` given what a hostile user gives it: a missing or broken config file, a list
flag that is no list, Ctrl-C. Each ends with one line naming the cause, never a traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

NNSTUDY = str(Path(sys.executable).with_name("nnstudy"))
# A run of the built-in defaults made quick (the spirals set has a few hundred points).
QUICK = ("train", "--dataset", "spirals", "--hidden", "4", "--epochs", "1")

pytestmark = pytest.mark.slow


def nnstudy(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([NNSTUDY, *args], cwd=folder, capture_output=True, text=True)


def one_line_error(done: subprocess.CompletedProcess) -> str:
    """The stderr of a command that failed with one line; that line."""
    assert done.returncode != 0
    assert "Traceback" not in done.stderr and "usage:" not in done.stderr, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    return done.stderr.strip()


def test_a_missing_config_given_by_name_stops_with_one_line(tmp_path):
    # With the data prepared (by a run of config.yaml), so that nothing else stops the run.
    (tmp_path / "config.yaml").write_text("defaults:\n  epochs: 1\n")
    assert nnstudy(tmp_path, *QUICK).returncode == 0
    line = one_line_error(nnstudy(tmp_path, *QUICK, "--config", str(tmp_path / "nope.yaml")))
    assert line.startswith("nnstudy train: config: --config ") and "nope.yaml: no such file" in line
    assert len(list((tmp_path / "results" / "runs" / "spirals").iterdir())) == 1


def test_without_config_yaml_here_the_built_in_defaults_train(tmp_path):
    done = nnstudy(tmp_path, *QUICK)
    assert done.returncode == 0, done.stderr
    folder = tmp_path / done.stdout.strip().splitlines()[-1].split("run ", 1)[1].rstrip("/")
    run = json.loads((folder / "config.json").read_text())
    assert run["hidden"] == [4] and run["epochs"] == 1
    assert run["optimizer"] == "adam" and run["batch_size"] == 64  # the schema's defaults


def test_a_config_with_a_duplicate_key_is_refused_as_snakemake_refuses_it(tmp_path):
    # The data prepared first: no Snakemake call of nnstudy's then reads the config file.
    (tmp_path / "config.yaml").write_text("defaults:\n  epochs: 1\n")
    assert nnstudy(tmp_path, *QUICK).returncode == 0
    (tmp_path / "config.yaml").write_text("defaults:\n  epochs: 1\n  epochs: 2\n")
    line = one_line_error(nnstudy(tmp_path, *QUICK))
    assert line == (
        "nnstudy train: config: config.yaml: line 3: duplicate key 'epochs' (first on line 2); "
        "keep one"
    )
    line = one_line_error(nnstudy(tmp_path, *QUICK, "--config", "config.yaml"))
    assert "duplicate key 'epochs'" in line
    (tmp_path / "config.yaml").write_text("- defaults\n")
    assert "must be a mapping of settings, not a list" in one_line_error(nnstudy(tmp_path, *QUICK))
    assert len(list((tmp_path / "results" / "runs" / "spirals").iterdir())) == 1


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [
        ("--hidden", "a,b", "argument --hidden: 'a,b' is not a comma-separated list of integers"),
        ("--hidden", "8,1.5", "argument --hidden: '8,1.5' is not a comma-separated list"),
        ("--betas", "a,b", "argument --betas: 'a,b' is not a comma-separated list of numbers"),
        ("--betas", "0.9,", "argument --betas: '0.9,' is not a comma-separated list of numbers"),
        ("--epochs", "x", "argument --epochs: invalid int value: 'x'"),
    ],
)
def test_a_bad_flag_value_is_one_argparse_line(tmp_path, flag, value, expected):
    done = nnstudy(tmp_path, "train", "--dataset", "spirals", flag, value)
    assert done.returncode == 2
    line = one_line_error(done)
    assert line.startswith("nnstudy train: error: ") and expected in line, line
    assert line.endswith("(see nnstudy train --help)")


# Long enough to be interrupted while it trains; a checkpoint after every epoch.
LONG = ("train", "--dataset", "spirals", "--hidden", "8", "--epochs", "150", "--batch-size", "8")
CHECKPOINT_EVERY_EPOCH = {**os.environ, "NNSTUDY_CHECKPOINT_SECONDS": "0"}


def interrupt_when(folder: Path, sign: str) -> subprocess.CompletedProcess:
    """Start the long run, Ctrl-C it (SIGINT to its process group, as a terminal does) once it
    prints a line with ``sign``; its completed process."""
    proc = subprocess.Popen(
        [NNSTUDY, *LONG],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=CHECKPOINT_EVERY_EPOCH,
        start_new_session=True,
    )
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if sign in line:
            os.killpg(proc.pid, signal.SIGINT)
            break
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, "".join(seen) + out, err)


def run_files(folder: Path) -> dict:
    """The run's results, without the keys that measure time."""
    (run_dir,) = (folder / "results" / "runs" / "spirals").iterdir()
    timing = {"train_seconds", "eval_seconds", "seconds", "wall_seconds"}
    metrics = json.loads((run_dir / "metrics.json").read_text())
    with np.load(run_dir / "model.npz", allow_pickle=False) as model:
        weights = {name: model[name].tolist() for name in model.files}
    history = (run_dir / "history.csv").read_text().splitlines()
    seconds = history[0].split(",").index("seconds")
    return {
        "metrics": {k: v for k, v in metrics.items() if k not in timing},
        "model": weights,
        "history": [row.split(",")[:seconds] + row.split(",")[seconds + 1 :] for row in history],
    }


def test_ctrl_c_is_one_line_and_the_same_command_resumes_to_the_same_run(tmp_path):
    reference = tmp_path / "reference"
    reference.mkdir()
    done = subprocess.run(
        [NNSTUDY, *LONG], cwd=reference, capture_output=True, text=True, env=CHECKPOINT_EVERY_EPOCH
    )
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "interrupted"
    folder.mkdir()
    # While the data is prepared (nnstudy's Snakemake call), then while the run trains.
    for sign in ("preparing spirals", " epoch 20/"):
        started = time.monotonic()
        stopped = interrupt_when(folder, sign)
        assert stopped.returncode == 130, stopped.stderr
        assert stopped.stderr == (
            "nnstudy train: interrupted; run the same nnstudy train command again to resume "
            "from the last checkpoint\n"
        )
        assert time.monotonic() - started < 60
    # Cut short: no result yet, and nothing that passes for one.
    (run_dir,) = (folder / "results" / "runs" / "spirals").iterdir()
    assert not (run_dir / "metrics.json").exists()
    assert "interrupted" in next((folder / "results" / "logs").rglob("*.log")).read_text()
    again = subprocess.run(
        [NNSTUDY, *LONG], cwd=folder, capture_output=True, text=True, env=CHECKPOINT_EVERY_EPOCH
    )
    assert again.returncode == 0, again.stderr
    assert " epoch 1/150 " not in again.stdout  # resumed, not started over
    assert run_files(folder) == run_files(reference)
