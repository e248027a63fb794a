"""A file of a finished study corrupted or deleted, then a plain `snakemake` (faults.py)."""

from __future__ import annotations

import pytest
from faults import FAULTS, REPAIR, trial

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_a_damaged_file_is_rebuilt_or_named_with_its_repair(fault, study_of, tmp_path):
    outcome = trial(fault, study_of(fault.study), tmp_path / "study")
    assert outcome.survived, outcome.log[-3000:]
    assert outcome.lost == []
    assert outcome.identical, outcome.log[-3000:]
    assert "Traceback" not in outcome.log and "Exception" not in outcome.log, outcome.log[-3000:]
    if fault.deletes:
        # Snakemake rebuilds a missing file by itself: no repair line, no user step.
        assert outcome.stopped is None, outcome.stopped
    else:
        # A changed file is named, with what rebuilds it, before anything runs.
        assert outcome.stopped is not None and REPAIR.search(outcome.stopped)
        before = outcome.log.split(outcome.stopped)[0]
        assert "rule train" not in before and "rule trial" not in before
