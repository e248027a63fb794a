"""Workflow tests run the real Snakefile on tiny studies."""

import os

# Study jobs checkpoint a run at most every 5 s by default (nnstudy.training.job); the kill-and-
# resume test needs a checkpoint after every epoch of its short run.
os.environ["NNSTUDY_CHECKPOINT_SECONDS"] = "0"
