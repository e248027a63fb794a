"""Faults that are not one file of a finished study (faults.py's scenarios): a run killed with
its checkpoint then damaged, a pooled worker killed, every checksum record lost."""

from __future__ import annotations

import pytest
from faults import damaged_checkpoint, killed_worker, lost_records

pytestmark = pytest.mark.slow


def test_killing_one_worker_fails_only_its_job(long_reference, tmp_path):
    outcome = killed_worker(long_reference, tmp_path / "study")
    assert outcome.stopped == "1 job failed, 1 run finished", outcome.log[-3000:]
    assert outcome.survived and outcome.identical and outcome.lost == [], outcome.log[-3000:]


def test_a_checkpoint_damaged_after_a_kill_restarts_its_run(long_reference, tmp_path):
    outcome = damaged_checkpoint(long_reference, tmp_path / "study")
    assert outcome.stopped is not None, outcome.log[-3000:]
    assert outcome.survived and outcome.identical and outcome.lost == [], outcome.log[-3000:]


def test_records_lost_with_snakemake_s_metadata_are_recorded_again(study_of, tmp_path):
    outcome = lost_records(study_of("tiny"), tmp_path / "study")
    assert outcome.stopped is not None, outcome.log[-3000:]
    assert outcome.survived and outcome.identical and outcome.lost == [], outcome.log[-3000:]
