from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from faultstudy import TINY, results, run_ids, snakemake, write_study

# Study jobs checkpoint a run at most every 5 s by default (nnstudy.training.job); the kill tests
# need a checkpoint after every epoch of their short runs.
os.environ["NNSTUDY_CHECKPOINT_SECONDS"] = "0"


@dataclass
class Reference:
    """The tiny study run once, undisturbed: what every faulted study must end with."""

    folder: Path
    runs: dict[str, dict]
    results: dict[str, dict]
    seconds: float


@pytest.fixture(scope="session")
def reference(tmp_path_factory) -> Reference:
    folder = tmp_path_factory.mktemp("reference")
    write_study(folder)
    started = time.monotonic()
    done = snakemake(folder, "--cores", "1")
    seconds = time.monotonic() - started
    assert done.returncode == 0, done.stderr[-3000:]
    runs = run_ids(TINY)
    return Reference(folder, runs, results(folder, runs), seconds)
