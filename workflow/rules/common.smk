# Validate the config (one-line errors, before any job) and expand the selected experiments
# into the run table: one row per (experiment, run); a run shared by experiments trains once.
import sys

from snakemake.exceptions import WorkflowError
from snakemake.utils import update_config

from nnstudy.config.validation import (
    ConfigError,
    check_yaml,
    typed_overrides,
    validate_config,
)
from nnstudy.jobs.frame import watch_interrupts
from nnstudy.jobs.integrity import adopt, check_study, incomplete, refresh_touched
from nnstudy.jobs.env import interpreter_first_on_path
from nnstudy.jobs.provenance import export_code_state, export_study_command
from nnstudy.config.runs import canonical_json, study_rows, unique_runs
from nnstudy.jobs.scheduling import drop_local_rate_limit, relax_full_collections
from nnstudy.jobs.lock import LOCAL, claim, record_executor
from nnstudy.training.runfolder import RUN_DIR, TRIAL_DIR
from nnstudy.tuning.plan import TunedRuns, study_tunings

# Ctrl-C from here on: one line and exit status 130, not a traceback (nnstudy.jobs.frame).
if workflow.is_main_process:
    watch_interrupts()

# Before the run table and the DAG, which are millions of objects for a large grid.
relax_full_collections()

# Before Snakemake's own lock check: a run killed outright leaves its lock behind, removed here
# when no process of the study is alive (nnstudy.jobs.lock). Job processes never clean.
if workflow.is_main_process:
    lock_message = claim()
    if lock_message:
        logger.warning(lock_message)

# A bad config stops here with its one-line cause (a traceback would bury it). YAML's own
# traps first (duplicate keys, alias bombs); --config values are read as YAML, like the files.
try:
    for path in dict.fromkeys([*workflow.configfiles, *workflow.overwrite_configfiles]):
        check_yaml(path)
    update_config(config, typed_overrides(workflow.config_settings.config_args))
    validate_config(config)
    ROWS = study_rows(config)
    # Experiments with `tune`: their trials and finals (nnstudy.tuning.plan, rules/tune.smk).
    TUNED = TunedRuns(study_tunings(config))
except ConfigError as error:
    sys.exit(str(error))
# The command that rebuilds this study, for the report's reproducibility section.
if workflow.is_main_process:
    export_study_command(
        workflow.main_snakefile,
        workflow.overwrite_configfiles,
        workflow.config_settings.config_args,
    )

RUNS = unique_runs(ROWS)
# A recorded file whose content changed since a job wrote it stops the study (a dry run too)
# with one line naming it and the command that rebuilds it, as does a rung record that cannot
# be read (before an input function trips over it); nothing is written or deleted here, before
# Snakemake holds its lock (nnstudy.jobs.integrity). The outputs that lost a part (a file of
# the report's fragments, a W&B run folder) are rerun (force_rerun in the all rule).
damage = check_study(workflow) or (workflow.is_main_process and TUNED.damaged_records())
if damage:
    sys.exit(damage)
INCOMPLETE = incomplete() if workflow.is_main_process else []


# Only a real run gets here, after Snakemake locked the folder: the next run needs to know
# whether jobs of this one could outlive it out of sight (on a cluster). A local run also
# drops Snakemake's job rate limiter, which makes its main process spin (nnstudy.jobs.scheduling).
onstart:
    if workflow.is_main_process:
        record_executor(
            LOCAL if workflow.local_exec else workflow.executor_plugin.name
        )
        drop_local_rate_limit(workflow)
        # The start-up check found these files only touched: trust them without reading next time.
        refresh_touched()
        # Up-to-date outputs without a record (the records were deleted): recorded as they are.
        adopt(workflow)
        # The code's provenance (commit, packages), computed once and inherited by every job;
        # here, so that dry runs and no-op reruns do not pay for it.
        export_code_state()


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


def run_json(wildcards):
    """The resolved config of a job's run as canonical JSON (for the job's command line)."""
    return canonical_json(run_config(wildcards))


# Jobs run `python -m nnstudy...`: the interpreter running this Snakefile first on their PATH.
interpreter_first_on_path()


def run_files(name):
    """One file of every selected run, e.g. run_files(METRICS)."""
    return [
        f"{RUN_DIR.format(dataset=run['dataset'], run_id=rid)}/{name}"
        for rid, run in RUNS.items()
    ]
