from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from faults import Study, run_full, run_long, tiny_study
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
    # Nothing to do: as a study run twice, its checksum records have Snakemake's time stamps.
    again = snakemake(folder, "--cores", "1")
    assert again.returncode == 0, again.stderr[-3000:]
    runs = run_ids(TINY)
    return Reference(folder, runs, results(folder, runs), seconds)


@pytest.fixture(scope="session")
def full_reference(tmp_path_factory) -> Study:
    """The whole tuned pipeline (faultstudy.FULL, W&B offline) run once, undisturbed."""
    return run_full(tmp_path_factory.mktemp("full"))


@pytest.fixture(scope="session")
def long_reference(tmp_path_factory) -> Study:
    """faults.LONG (runs long enough to be killed mid-way) run once, undisturbed."""
    return run_long(tmp_path_factory.mktemp("long"))


@pytest.fixture
def study_of(request):
    """The finished study a fault of faults.py is injected into, by its name."""

    def study(name: str) -> Study:
        if name == "tiny":
            ref = request.getfixturevalue("reference")
            return tiny_study(ref.folder, ref.runs, ref.results)
        return request.getfixturevalue(f"{name}_reference")

    return study
