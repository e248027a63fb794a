"""Two studies started at once in the same folder: the second stops, the first is intact."""

from __future__ import annotations

import copy
import os
import signal
import time

import pytest
import yaml
from faultstudy import (
    LOCK_MESSAGE,
    TINY,
    incomplete_jobs,
    results,
    snakemake,
    start,
    write_study,
)
from nnstudy.config.runs import study_rows, table_csv
from nnstudy.config.validation import validate_config

# Another study of the same folder: different runs, so a different run table.
OTHER = copy.deepcopy(TINY)
OTHER["experiments"]["tiny"]["seeds"] = [1, 2]


def run_table(config: dict) -> str:
    config = copy.deepcopy(config)
    validate_config(config)
    return table_csv(study_rows(config))


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
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump(OTHER))
    try:
        # The second study is another one: it must not even touch the first one's run table.
        second = snakemake(tmp_path, "--cores", "1", "--configfile", str(other))
        # Looking at the plan (of either study) is still fine while a study runs, and writes
        # nothing.
        dry = snakemake(tmp_path, "--dry-run")
        dry_other = snakemake(tmp_path, "--dry-run", "--configfile", str(other))
    finally:
        os.killpg(first.pid, signal.SIGCONT)
    assert second.returncode != 0
    assert LOCK_MESSAGE in second.stderr, second.stderr[-3000:]
    assert "no other Snakemake process" in second.stderr
    # ...and the first study's lock was not taken for one a killed run left behind.
    assert "another process of this study is still running" in second.stderr
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert dry_other.returncode == 0, dry_other.stderr[-3000:]
    # The second one stopped before running anything.
    assert "rule train" not in second.stdout + second.stderr

    assert first.wait(timeout=300) == 0, (tmp_path / "first.log").read_text()[-3000:]
    first.log.close()
    assert not incomplete_jobs(tmp_path)
    assert results(tmp_path, reference.runs) == reference.results
    assert (tmp_path / "results/runs/experiments.csv").read_text() == run_table(TINY)
    assert run_table(OTHER) != run_table(TINY)


def test_a_dry_run_writes_nothing(tmp_path):
    write_study(tmp_path)
    dry = snakemake(tmp_path, "--dry-run")
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert "rule train" in dry.stdout + dry.stderr
    # Snakemake's own state aside (.snakemake), the folder holds what it held.
    assert sorted(p.name for p in tmp_path.iterdir()) == [".snakemake", "config.yaml"]
