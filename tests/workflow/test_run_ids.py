"""A run is its resolved config: the ids of the runs config.yaml ships must not change when nnlib
or the study gain options (a changed id retrains a finished run)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml
from nnstudy.config.runs import study_rows
from nnstudy.config.validation import validate_config

REPO = Path(__file__).resolve().parents[2]
# The 432 untuned runs of config.yaml's real_small and paper experiments, as commit 94b9e6d
# (before per-step schedules, OneCycle, plateau, Adagrad and NAdam existed) made them.
SHIPPED = (432, "6ab439ef5895de4b")


def test_the_shipped_experiments_keep_their_run_ids():
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["select"] = ["real_small", "paper"]
    ids = sorted(row.run_id for row in study_rows(validate_config(config)))
    digest = hashlib.sha256(" ".join(ids).encode()).hexdigest()[:16]
    assert (len(ids), digest) == SHIPPED
