# Tune each variant of an experiment with `tune` (nnstudy.tuning): its trials are ordinary
# `train` jobs (validation split only, no `evaluate`), each rung is a checkpoint that scores
# them and keeps the best, and the selected values become the finals (`train` + `evaluate`),
# which `aggregate` reaches through tuned_inputs().
from pathlib import Path

from nnstudy.tuning import TUNING_ROOT, read_record, write_rung


def files_of(runs, names):
    """Files ``names`` of the runs ``runs`` (run configs)."""
    return [f"{RUN_DIR}/{name}".format(**run) for run in runs for name in names]


def tune_inputs(wildcards):
    """A rung's trials (history and train.json), and the record of the rung before it."""
    tuning, rung = TUNED.by_key[wildcards.key], int(wildcards.rung)
    if rung == 0:
        trials = tuning.trials(0, tuning.rung_candidates(0, None))
        return {"trials": files_of(trials, ("history.csv", "train.json"))}
    previous = checkpoints.tune.get(
        dataset=wildcards.dataset, key=wildcards.key, rung=rung - 1
    ).output[0]
    trials = TUNED.add(tuning, rung - 1, read_record(previous))
    return {
        "previous": previous,
        "trials": files_of(trials, ("history.csv", "train.json")),
    }


def tuned_inputs(tuning):
    """Input function of one search for `aggregate`: its rung records and its finals."""

    def files(wildcards):
        top = checkpoints.tune.get(
            dataset=tuning.dataset, key=tuning.key, rung=tuning.top
        )
        finals = TUNED.add(tuning, tuning.top, read_record(top.output[0]))
        records = [tuning.rung_path(r) for r in range(tuning.top + 1)]
        return records + files_of(finals, ("metrics.json", "history.csv"))

    return files


TUNED_INPUTS = [tuned_inputs(t) for t in TUNED.tunings]


# Cheap (a few small files read): in Snakemake's own process, on the submit host.
checkpoint tune:
    input:
        unpack(tune_inputs),
    output:
        f"{TUNING_ROOT}/{{dataset}}/{{key}}/rung{{rung}}.json",
    log:
        f"results/logs/tune/{{dataset}}/{{key}}/rung{{rung}}.log",
    wildcard_constraints:
        key="[0-9a-f]{10}",
        rung="[0-9]+",
    localrule: True
    run:
        write_rung(
            TUNED.by_key[wildcards.key],
            int(wildcards.rung),
            input.get("previous"),
            str(Path(RUN_DIR).parents[1]),
            output[0],
            log[0],
        )
