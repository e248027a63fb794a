"""Snakemake `script:` for rule log_wandb: log one dataset's finished runs to W&B."""

import contextlib
import sys

from nnstudy.integrity import guarded
from nnstudy.studylock import hold
from nnstudy.tracking import log_runs

hold()  # keeps a rerun from starting this job again beside it (nnstudy.studylock)

# Inputs checked, outputs recorded (nnstudy.integrity).
with (
    guarded(snakemake.input, snakemake.output),
    open(snakemake.log[0], "w") as log,
    contextlib.redirect_stdout(log),
):
    try:
        record = log_runs(
            snakemake.params.runs,
            wandb_dir=snakemake.params.wandb_dir,
            mode=snakemake.params.mode,
            project=snakemake.params.project,
            entity=snakemake.params.entity,
            marker=snakemake.output[0],
        )
    except (ValueError, RuntimeError) as error:  # one line, not a traceback
        print(error)
        sys.exit(f"log_wandb: {error}")
    for run in record["runs"]:
        print(run["run_id"], run["status"], run["wandb_run_dir"])
