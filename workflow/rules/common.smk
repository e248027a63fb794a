# Validate the config (one-line errors, before any job) and expand the selected experiments
# into the run table: one row per (experiment, run); a run shared by experiments trains once.
import sys

from snakemake.exceptions import WorkflowError

from nnstudy.config import ConfigError, validate_config
from nnstudy.integrity import verify_before_run
from nnstudy.runs import study_rows, table_csv, unique_runs, write_if_changed
from nnstudy.scheduling import drop_local_rate_limit, relax_full_collections
from nnstudy.studylock import LOCAL, claim, record_executor
from nnstudy.tuning import TunedRuns, study_tunings

# Before the run table and the DAG, which are millions of objects for a large grid.
relax_full_collections()

# Before Snakemake's own lock check: a run killed outright leaves its lock behind, removed here
# when no process of the study is alive (nnstudy.studylock). Job processes never clean.
if workflow.is_main_process:
    lock_message = claim()
    if lock_message:
        logger.warning(lock_message)

# A bad config stops here with its one-line cause (a traceback would bury it).
try:
    validate_config(config)
    ROWS = study_rows(config)
    # Experiments with `tune`: their trials and finals (nnstudy.tuning, workflow/rules/tune.smk).
    TUNED = TunedRuns(study_tunings(config))
except ConfigError as error:
    sys.exit(str(error))

RUNS = unique_runs(ROWS)
# A result corrupted after it was written is deleted with what was made from it, and rebuilt.
for path in verify_before_run(workflow, config["data"]["processed_dir"]):
    logger.warning(
        f"{path}: deleted (checksum mismatch or made from such a file); rebuilding"
    )
RUN_DIR = "results/runs/{dataset}/{run_id}"
# Rewritten only when its content changes, so readers of it do not rerun needlessly.
write_if_changed("results/runs/experiments.csv", table_csv(ROWS))


# Only a real run gets here, after Snakemake locked the folder: the next run needs to know
# whether jobs of this one could outlive it out of sight (on a cluster). A local run also
# drops Snakemake's job rate limiter, which makes its main process spin (nnstudy.scheduling).
onstart:
    if workflow.is_main_process:
        record_executor(
            LOCAL if workflow.local_exec else workflow.executor_plugin.name
        )
        drop_local_rate_limit(workflow)


wildcard_constraints:
    run_id="[0-9a-f]{10}",


def run_config(wildcards):
    """The resolved config of the run a job is for."""
    run = RUNS.get(wildcards.run_id) or TUNED.get(wildcards.run_id)
    if run is None:
        raise WorkflowError(
            f"unknown run id {wildcards.run_id}: not in the selected experiments "
            f"({', '.join(config['select'])}); see results/runs/experiments.csv"
        )
    return run


def run_files(name):
    """One file of every selected run, e.g. run_files("metrics.json")."""
    return [f"results/runs/{run['dataset']}/{rid}/{name}" for rid, run in RUNS.items()]
