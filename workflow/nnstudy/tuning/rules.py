"""Input functions and the checkpoint body for workflow/rules/tune.smk (kept out of the .smk
so it holds only rules). ``checkpoints`` is Snakemake's object of that name: ``get`` raises
Snakemake's incomplete-checkpoint exception until the step (a round or a rung) is decided, and
the job whose input function called it waits for that step; every function here follows a
search with :func:`nnstudy.tuning.plan.walk`, which reaches a step only through the records
before it (:mod:`nnstudy.tuning.plan` has the searches)."""

from __future__ import annotations

from pathlib import Path

from snakemake.exceptions import IncompleteCheckpointException
from snakemake.io import checkpoint_target

from nnstudy.jobs.integrity import guard
from nnstudy.training.runfolder import METRICS, PREDICTIONS, TRAIN_OUTPUTS
from nnstudy.tuning.plan import (
    Step,
    TunedRuns,
    Tuning,
    on_disk,
    read_record,
    search_records,
    walk,
    write_step,
)

TRIAL_FILES = (TRAIN_OUTPUTS["history"], TRAIN_OUTPUTS["train"])  # what selection reads
# What aggregate reads of a final.
FINAL_FILES = (METRICS, TRAIN_OUTPUTS["history"], PREDICTIONS)


def files_of(runs, names, run_dir: str) -> list[str]:
    """Files ``names`` of the runs ``runs`` (run configs) in ``run_dir`` (a pattern)."""
    return [f"{run_dir}/{name}".format(**run) for run in runs for name in names]


def decided(checkpoints):
    """``record_of`` for :func:`plan.walk` through Snakemake: a step's record once its
    checkpoint ran (``get`` raises the incomplete-checkpoint exception before).

    Snakemake counts a checkpoint output that was on disk when it built the DAG as decided for
    the whole run, also when the checkpoint then reruns (its trials were deleted, say) and
    Snakemake removes the file before the job writes it again. An input function evaluated in
    that moment (another checkpoint finished: at --cores 2 tune jobs run side by side) finds no
    file; it waits for the rerun, as for a step not yet decided."""

    def record_of(step: Step) -> dict:
        t = step.tuning
        path = checkpoints.tune.get(dataset=t.dataset, key=t.key, step=step.name).output[0]
        try:
            return read_record(path)
        except FileNotFoundError:
            raise IncompleteCheckpointException(
                checkpoints.tune.rule, checkpoint_target(path)
            ) from None

    return record_of


def finals(tuned: TunedRuns, checkpoints, tuning: Tuning) -> list[dict]:
    """The final runs of the search whose first stage is ``tuning``, once it is finished."""
    step, record = tuned.follow(tuning, decided(checkpoints))
    return list(step.tuning.finals(record))


def step_inputs(tuned: TunedRuns, checkpoints, trial_dir: str):
    """Input function of the ``tune`` checkpoint: the trials a step scores (``trials``, in
    ``trial_dir``) and the record of the step before it in the search (``after``)."""

    def inputs(wildcards):
        step = tuned.locate(wildcards.key, wildcards.step, decided(checkpoints))
        out = {"trials": files_of(step.trials(), TRIAL_FILES, trial_dir)}
        return out if step.after is None else {**out, "after": step.after}

    return inputs


def aggregate_inputs(tuned: TunedRuns, checkpoints, run_dir: str) -> list:
    """One input function per search for ``aggregate`` (its step records and its finals'
    files), so each search waits for its own checkpoints only."""

    def inputs_of(tuning: Tuning):
        def inputs(wildcards):
            records = search_records([tuning], decided(checkpoints))
            return [*records, *files_of(finals(tuned, checkpoints, tuning), FINAL_FILES, run_dir)]

        return inputs

    return [inputs_of(t) for t in tuned.tunings]


def kept_files(tuned: TunedRuns, checkpoints, trials, finals_) -> list:
    """One input function per search for ``rule all``: every file the search keeps (each
    step's record; ``trials`` = (folder pattern, file names) of its trials, ``finals_`` the
    same of its finals), so that Snakemake rebuilds any of them that is deleted, as it does for
    the runs of untuned experiments."""
    (trial_dir, trial_files), (run_dir, final_files) = trials, finals_

    def kept_of(tuning: Tuning):
        def kept(wildcards):
            files = []
            for step, _ in walk(tuning, decided(checkpoints)):
                files += [*files_of(step.trials(), trial_files, trial_dir), step.path]
            return files + files_of(finals(tuned, checkpoints, tuning), final_files, run_dir)

        return kept

    return [kept_of(t) for t in tuned.tunings]


def tracked_runs(untuned: dict, tuned: TunedRuns, checkpoints, dataset: str) -> dict:
    """``{run_id: [experiments]}`` of a dataset for W&B: ``untuned`` (one entry of
    nnstudy.training.tracking.runs_by_dataset) and the tuned experiments' finals."""
    runs = {rid: list(names) for rid, names in untuned.get(dataset, {}).items()}
    for tuning in tuned.tunings:
        if tuning.dataset == dataset:
            for run in finals(tuned, checkpoints, tuning):
                names = runs.setdefault(run["run_id"], [])
                if tuning.experiment not in names:
                    names.append(tuning.experiment)
    return runs


def run_rung(tuned: TunedRuns, wildcards, input, output, log, trial_dir: str) -> None:
    """The ``tune`` checkpoint's body (Snakemake's ``run:`` objects in): one step, its
    records before it read from disk; its inputs (trials, the step before) checked and its
    record recorded like any job's (:mod:`nnstudy.jobs.integrity`; a changed input fails the
    job with the one-line repair)."""
    step = tuned.locate(wildcards.key, wildcards.step, on_disk)
    with guard(input, output):
        write_step(step, Path(trial_dir).parents[1], output[0], log[0])
