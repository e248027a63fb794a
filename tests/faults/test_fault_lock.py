"""Two studies started at once in the same folder: the second stops, the first is intact."""

from __future__ import annotations

import os
import signal
import time

import pytest
from faultstudy import LOCK_MESSAGE, incomplete_jobs, results, snakemake, start, write_study

pytestmark = pytest.mark.slow


def test_second_study_in_same_folder_stops_with_a_clear_message(tmp_path, reference):
    write_study(tmp_path)
    first = start(tmp_path, "--cores", "1", log=tmp_path / "first.log")
    locks = tmp_path / ".snakemake" / "locks"
    deadline = time.monotonic() + 120
    while not (locks.is_dir() and any(locks.iterdir())):
        assert first.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
        assert time.monotonic() < deadline, "the first study never locked its folder"
        time.sleep(0.05)
    # Hold the first study (and its jobs) while it owns the folder, so the second surely
    # meets it there however fast the machine is.
    os.killpg(first.pid, signal.SIGSTOP)
    try:
        second = snakemake(tmp_path, "--cores", "1")
        # Looking at the plan is still fine while a study runs.
        dry = snakemake(tmp_path, "--dry-run")
    finally:
        os.killpg(first.pid, signal.SIGCONT)
    assert second.returncode != 0
    assert LOCK_MESSAGE in second.stderr, second.stderr[-3000:]
    assert "no other Snakemake process" in second.stderr
    # ...and the first study's lock was not taken for one a killed run left behind.
    assert "another process of this study is still running" in second.stderr
    assert dry.returncode == 0, dry.stderr[-3000:]
    # The second one stopped before running anything.
    assert "rule train" not in second.stdout + second.stderr

    assert first.wait(timeout=300) == 0, (tmp_path / "first.log").read_text()[-3000:]
    first.log.close()
    assert not incomplete_jobs(tmp_path)
    assert results(tmp_path, reference.runs) == reference.results
