"""``nnstudy train`` given what a hostile user gives it: a missing or broken config file, a list
flag that is no list. Each ends with one line naming the cause, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
