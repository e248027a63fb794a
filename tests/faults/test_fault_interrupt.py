"""Ctrl-C of a running study (SIGINT to Snakemake and all its jobs, as a terminal sends it):
one line and exit status 130, then a plain rerun ends with the undisturbed study's results."""

from __future__ import annotations

import copy
import os
import signal
import time

import pytest
from faultstudy import (
    TINY,
    group_members,
    incomplete_jobs,
    results,
    run_ids,
    snakemake,
    snakemake_locks,
    start,
    write_study,
)

pytestmark = pytest.mark.slow

# The tiny study with runs long enough to be interrupted while they train.
LONG = copy.deepcopy(TINY)
LONG["experiments"]["tiny"]["fixed"]["epochs"] = 300
MESSAGE = "interrupted; run snakemake again to resume from the last checkpoint"


@pytest.fixture(scope="module")
def long_reference(tmp_path_factory):
    folder = tmp_path_factory.mktemp("long-reference")
    write_study(folder, LONG)
    done = snakemake(folder, "--cores", "1")
    assert done.returncode == 0, done.stderr[-3000:]
    runs = run_ids(LONG)
    return runs, results(folder, runs)


def epochs_logged(folder) -> list[int]:
    """For each training job that has started, how many epoch lines its log holds."""
    logs = sorted((folder / "results" / "logs" / "train").rglob("*.log"))
    return [log.read_text().count(" epoch ") for log in logs]


@pytest.mark.parametrize(
    ("moment", "ready"),
    [
        ("the first run's 10th epoch", lambda epochs: epochs[:1] >= [10]),
        ("the second run's first epochs", lambda epochs: len(epochs) == 2 and min(epochs) >= 1),
    ],
)
def test_ctrl_c_says_one_line_exits_130_and_a_rerun_gives_the_same_results(
    tmp_path, long_reference, moment, ready, monkeypatch
):
    runs, expected = long_reference
    # The console's progress redraws often, and none of them comes after the one line.
    monkeypatch.setenv("NNSTUDY_PROGRESS_SECONDS", "0.1")
    write_study(tmp_path, LONG)
    proc = start(tmp_path, "--cores", "1", log=tmp_path / "console.log")
    deadline = time.monotonic() + 120
    while not ready(epochs_logged(tmp_path)):
        assert proc.poll() is None, (tmp_path / "console.log").read_text()[-3000:]
        assert time.monotonic() < deadline, f"never reached {moment}"
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    proc.log.close()
    while group_members(proc.pid):  # no job outlives the interrupted study
        time.sleep(0.05)
    console = (tmp_path / "console.log").read_text()
    assert "Traceback" not in console and "FAILED" not in console, console
    # Snakemake's plan and progress lines, then the one line.
    assert console.strip().splitlines()[-1] == MESSAGE, console
    assert console.count("interrupted") == 1
    # Snakemake let go of the folder; the cut-short job is marked for the rerun to redo.
    assert not snakemake_locks(tmp_path)
    assert incomplete_jobs(tmp_path)
    rerun = snakemake(tmp_path, "--cores", "1")
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert not incomplete_jobs(tmp_path)
    assert results(tmp_path, runs) == expected
