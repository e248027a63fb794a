"""Workflow tests run the real Snakefile on tiny studies."""

import os

import pytest
from nnstudy.datasets import prepare

# Study jobs checkpoint a run at most every 5 s by default (nnstudy.training.job); the kill-and-
# resume test needs a checkpoint after every epoch of its short run.
os.environ["NNSTUDY_CHECKPOINT_SECONDS"] = "0"


@pytest.fixture(scope="module")
def spirals(tmp_path_factory):
    """A small prepared spirals dataset (its splits and card)."""
    out = tmp_path_factory.mktemp("spirals")
    prepare("spirals", out, n_samples=600)
    return out
