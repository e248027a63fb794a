"""Input functions and the checkpoint body for workflow/rules/tune.smk (kept out of the .smk
so it holds only rules). ``checkpoints`` is Snakemake's object of that name: ``get`` raises
Snakemake's incomplete-checkpoint exception until the rung is decided, and the job whose
input function called it waits for that rung (:mod:`nnstudy.tuning.plan` has the searches)."""

from __future__ import annotations

from pathlib import Path

from snakemake.exceptions import IncompleteCheckpointException
from snakemake.io import checkpoint_target

from nnstudy.jobs.integrity import guard
from nnstudy.training.runfolder import METRICS, PREDICTIONS, TRAIN_OUTPUTS
from nnstudy.tuning.plan import TunedRuns, Tuning, read_record, write_rung

TRIAL_FILES = (TRAIN_OUTPUTS["history"], TRAIN_OUTPUTS["train"])  # what selection reads
# What aggregate reads of a final.
FINAL_FILES = (METRICS, TRAIN_OUTPUTS["history"], PREDICTIONS)


def files_of(runs, names, run_dir: str) -> list[str]:
    """Files ``names`` of the runs ``runs`` (run configs) in ``run_dir`` (a pattern)."""
    return [f"{run_dir}/{name}".format(**run) for run in runs for name in names]


def decided(checkpoints, dataset: str, key: str, rung: int) -> tuple[str, dict]:
    """A decided rung: its record file and content; raises Snakemake's incomplete-checkpoint
    exception (the caller's job waits) until the rung is decided.

    Snakemake counts a checkpoint output that was on disk when it built the DAG as decided for
    the whole run, also when the checkpoint then reruns (its trials were deleted, say) and
    Snakemake removes the file before the job writes it again. An input function evaluated in
    that moment (another checkpoint finished: at --cores 2 tune jobs run side by side) finds no
    file; it waits for the rerun, as for a rung not yet decided."""
    path = checkpoints.tune.get(dataset=dataset, key=key, rung=rung).output[0]
    try:
        return path, read_record(path)
    except FileNotFoundError:
        raise IncompleteCheckpointException(
            checkpoints.tune.rule, checkpoint_target(path)
        ) from None


def finals(tuned: TunedRuns, checkpoints, tuning: Tuning) -> list[dict]:
    """The final runs of ``tuning`` once its top rung is decided."""
    _, top = decided(checkpoints, tuning.dataset, tuning.key, tuning.top)
    return tuned.add(tuning, tuning.top, top)


def rung_inputs(tuned: TunedRuns, checkpoints, trial_dir: str):
    """Input function of the ``tune`` checkpoint: a rung's trials (``trials``, in
    ``trial_dir``) and the record of the rung before it (``previous``, from rung 1 on)."""

    def inputs(wildcards):
        tuning, rung = tuned.by_key[wildcards.key], int(wildcards.rung)
        if rung == 0:
            return {
                "trials": files_of(
                    tuning.trials(0, range(len(tuning.candidates))), TRIAL_FILES, trial_dir
                )
            }
        previous, record = decided(checkpoints, wildcards.dataset, wildcards.key, rung - 1)
        trials = tuned.add(tuning, rung - 1, record)
        return {"previous": previous, "trials": files_of(trials, TRIAL_FILES, trial_dir)}

    return inputs


def aggregate_inputs(tuned: TunedRuns, checkpoints, run_dir: str) -> list:
    """One input function per search for ``aggregate`` (its rung records and its finals'
    files), so each search waits for its own checkpoints only."""

    def inputs_of(tuning: Tuning):
        def inputs(wildcards):
            done = finals(tuned, checkpoints, tuning)
            records = [tuning.rung_path(r) for r in range(tuning.top + 1)]
            return records + files_of(done, FINAL_FILES, run_dir)

        return inputs

    return [inputs_of(t) for t in tuned.tunings]


def kept_files(tuned: TunedRuns, checkpoints, trials, finals_) -> list:
    """One input function per search for ``rule all``: every file the search keeps (each
    rung's record; ``trials`` = (folder pattern, file names) of its trials, ``finals_`` the same
    of its finals), so that Snakemake rebuilds any of them that is deleted, as it does for the
    runs of untuned experiments."""
    (trial_dir, trial_files), (run_dir, final_files) = trials, finals_

    def kept_of(tuning: Tuning):
        def kept(wildcards):
            files, previous = [], None
            for rung in range(tuning.top + 1):
                candidates = tuning.rung_candidates(rung, previous)
                files += files_of(tuning.trials(rung, candidates), trial_files, trial_dir)
                record, previous = decided(checkpoints, tuning.dataset, tuning.key, rung)
                files.append(record)
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
    """The ``tune`` checkpoint's body (Snakemake's ``run:`` objects in): its inputs (trials,
    the previous rung's record) checked and its record recorded like any job's
    (:mod:`nnstudy.jobs.integrity`; a changed input fails the job with the one-line repair)."""
    with guard(input, output):
        write_rung(
            tuned.by_key[wildcards.key],
            int(wildcards.rung),
            input.get("previous"),
            Path(trial_dir).parents[1],
            output[0],
            log[0],
        )
