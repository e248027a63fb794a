"""The one-run study that tests/workflow/test_library_options.py and test_nnlib_features.py
build their runs from: a base run on spirals whose id no new option may change, and how a
trained run's settings read in the report's methods section."""

from __future__ import annotations

import json
from pathlib import Path

from nnstudy.analysis.aggregate import collect_runs, read_membership
from nnstudy.config.runs import table_csv
from nnstudy.config.validation import validate_config
from nnstudy.report.methods import methods

BASE = {"hidden": [8, 8], "epochs": 3, "batch_size": 32}
# The id of the base run, the same before any of the options existed: their defaults leave it.
BASE_ID = "5b4d0406a8"


def config(fixed: dict, optimizers: dict | None = None, **experiment) -> dict:
    exp = {"datasets": ["spirals"], "fixed": {**BASE, **fixed}, **experiment}
    if optimizers:
        exp["optimizers"] = optimizers
    return validate_config({"experiments": {"t": exp}, "select": ["t"]})


def methods_settings(cfg: dict, rows, folder: Path, spirals: Path) -> dict:
    """setting -> its value as the report's methods section lists it, for the runs ``rows``
    trained under ``folder / "runs"``."""
    (folder / "experiments.csv").write_text(table_csv(rows))
    card = json.loads((spirals / "card.json").read_text())
    runs, _ = collect_runs(
        read_membership(folder / "experiments.csv"), folder / "runs", {"spirals": card}
    )
    return dict(methods(cfg, runs, {}, ["t"])["settings"])
