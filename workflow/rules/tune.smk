# Tune each variant of an experiment with `tune` (nnstudy.tuning): its trials are ordinary
# `train` jobs (validation split only, no `evaluate`), each rung is a checkpoint that scores
# them and keeps the best, and the selected values become the finals (`train` + `evaluate`),
# which `aggregate` reaches through TUNED_INPUTS (input functions in nnstudy.tunerules).
from nnstudy.tuning import TUNING_ROOT
from nnstudy.tunerules import aggregate_inputs, kept_files, rung_inputs, run_rung

TUNED_INPUTS = aggregate_inputs(TUNED, checkpoints, RUN_DIR)
# What `rule all` adds so that a deleted trial or final file is rebuilt.
TUNED_KEPT = kept_files(
    TUNED,
    checkpoints,
    RUN_DIR,
    TRAIN_OUTPUTS.values(),
    [*TRAIN_OUTPUTS.values(), "metrics.json"],
)


# Cheap (a few small files read): in Snakemake's own process, on the submit host.
checkpoint tune:
    input:
        unpack(rung_inputs(TUNED, checkpoints, RUN_DIR)),
    output:
        f"{TUNING_ROOT}/{{dataset}}/{{key}}/rung{{rung}}.json",
    log:
        f"results/logs/tune/{{dataset}}/{{key}}/rung{{rung}}.log",
    wildcard_constraints:
        key="[0-9a-f]{10}",
        rung="[0-9]+",
    localrule: True
    run:
        run_rung(TUNED, wildcards, input, output, log, RUN_DIR)
