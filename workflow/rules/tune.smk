# Tune each variant of an experiment with `tune` (nnstudy.tuning.plan): its trials are `trial`
# jobs (ordinary runs in TRIAL_DIR, validation split only, no test metrics), each step of a
# search (a tpe round, a rung; a widened stage's steps after the stage before) is a checkpoint
# that scores its trials (a rung keeps the best), and the selected values become the finals
# (`train` jobs, with test metrics), which `aggregate` reaches through TUNED_INPUTS (input
# functions in nnstudy.tuning.rules).
from nnstudy.tuning.plan import TUNING_ROOT
from nnstudy.tuning.rules import aggregate_inputs, kept_files, run_rung, step_inputs

TUNED_INPUTS = aggregate_inputs(TUNED, checkpoints, RUN_DIR)
# What `rule all` adds so that a deleted trial or final file is rebuilt.
TUNED_KEPT = kept_files(
    TUNED,
    checkpoints,
    (TRIAL_DIR, TRAIN_OUTPUTS.values()),
    (RUN_DIR, [*TRAIN_OUTPUTS.values(), METRICS, PREDICTIONS]),
)


# Cheap (a few small files read): in Snakemake's own process, on the submit host.
checkpoint tune:
    input:
        unpack(step_inputs(TUNED, checkpoints, TRIAL_DIR)),
    output:
        f"{TUNING_ROOT}/{{dataset}}/{{key}}/{{step}}.json",
    log:
        f"results/logs/tune/{{dataset}}/{{key}}/{{step}}.log",
    wildcard_constraints:
        key="[0-9a-f]{10}",
        step="(round|rung)[0-9]+",
    localrule: True
    run:
        run_rung(TUNED, wildcards, input, output, log, TRIAL_DIR)
