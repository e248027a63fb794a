"""Rule log_wandb: log one dataset's finished runs to W&B (nnstudy.training.tracking)."""

from nnstudy.jobs.frame import script_job
from nnstudy.jobs.integrity import record_parts
from nnstudy.training.tracking import log_runs

with script_job(snakemake, errors=(ValueError, RuntimeError)):
    record = log_runs(
        snakemake.params.runs,
        wandb_dir=snakemake.params.wandb_dir,
        mode=snakemake.params.mode,
        project=snakemake.params.project,
        entity=snakemake.params.entity,
        marker=snakemake.output[0],
    )
    for run in record["runs"]:
        print(run["run_id"], run["status"], run["wandb_run_dir"])
    # The run folders are the marker's parts: one deleted, the next study logs them again.
    record_parts(
        snakemake.output[0], [r["wandb_run_dir"] for r in record["runs"] if r["wandb_run_dir"]]
    )
