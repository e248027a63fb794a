"""Tuning records and trials (issue 26, items 3 and 4): covered by the checksums like the run
files, and a rerun after their loss never trips over a record Snakemake is rewriting."""

from __future__ import annotations

import pytest
from faults import REPAIR, Fault, break_json, delete_tree, targets, trial

pytestmark = pytest.mark.slow

RERUNS = 4


def test_deleting_the_trials_folder_never_crashes_a_two_core_rerun(full_reference, tmp_path):
    """Each rerun redoes the trials and rungs while other rungs' input functions read the
    records: one of them being rewritten is waited for, never read (4 of 6 reruns crashed)."""
    fault = Fault("delete folder", "results/trials", delete_tree, "full")
    for i in range(RERUNS):
        # With the workflow profile, as a plain `snakemake`: tune jobs run side by side.
        outcome = trial(fault, full_reference, tmp_path / f"study{i}", profile="default")
        assert "InputFunctionException" not in outcome.log, outcome.log[-3000:]
        assert outcome.survived and outcome.stopped is None, outcome.log[-3000:]
        assert outcome.identical and outcome.lost == []


def test_an_unrecorded_record_that_is_not_json_is_named_in_one_line(full_reference, tmp_path):
    """Without its checksum record (lost with results/.checksums), a broken rung record is
    still refused before any job, in one line naming it and the repair, never a traceback."""

    def break_unrecorded(path):
        break_json(path)
        (
            tmp_path
            / "study"
            / "results"
            / ".checksums"
            / f"{targets(tmp_path / 'study')['record']}.json"
        ).unlink()

    outcome = trial(
        Fault("not JSON, unrecorded", "{record}", break_unrecorded, "full"),
        full_reference,
        tmp_path / "study",
    )
    assert outcome.stopped is not None and REPAIR.search(outcome.stopped)
    assert "not a valid rung record" in outcome.stopped
    assert "Traceback" not in outcome.log and "JSONDecodeError" not in outcome.log
    assert outcome.survived and outcome.identical and outcome.lost == []
