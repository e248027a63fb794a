"""A study's live progress, read from its files: :func:`study_progress`.

For ``nnstudy status`` and anything else that redraws a study's state while it runs. It reads
the study's plan (its config: the selected experiments' runs, and the tuning trials and finals
that the search records on disk make known so far) and, per run, only small files: whether
``train.json`` exists, and ``history.csv`` (:func:`~nnstudy.training.runfolder.write_history`
rewrites it atomically after every epoch, so it is always whole). No model, checkpoint or
snapshot is opened. The plan is computed once per version of the config file (about a
second for the default study), a history read once per version of the file, so a call every
second costs a stat or two per run, the tuning records and the histories that changed (about
20 ms for the default study's 144 first-rung trials).

A run is

- ``done`` when its ``train.json`` exists (whatever its status: ok, early stopped, diverged
  or failed);
- ``running`` when its ``history.csv`` exists but ``train.json`` does not: the job has started
  its fit. A run whose study was killed stays ``running`` until the study is run again (which
  resumes it from its checkpoint and rewrites its history to the checkpoint's rows);
- ``waiting`` otherwise.

A tuned experiment's runs are those known so far: the later rungs' trials and the finals
appear once the step before them is recorded (:mod:`nnstudy.tuning.plan`); until then its
search counts as open (:attr:`LiveStudy.open_searches`), and the time left leaves them out.

Times are training seconds, from the ``seconds`` column of the histories (an epoch's training
and validation; not the job's start-up, evaluation or snapshots). A run's seconds per epoch is
the mean of its rows'. A run without rows (waiting, or in its first epoch) is given its
dataset's: the mean over every epoch recorded by the runs of the same dataset (other sizes of
network included, so it is a rough guide), None while there is none. Time left is the epochs
still planned x seconds per epoch (0 for a done run; an early-stopping run may need fewer).
"""

from __future__ import annotations

import functools
import math
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnstudy.config.runs import study_rows, unique_runs
from nnstudy.config.validation import read_config, selected, validate_config
from nnstudy.training.runfolder import RUN_DIR, TRIAL_DIR, file, read_history
from nnstudy.tuning.plan import known_runs, on_disk, study_tunings, walk

DONE, RUNNING, WAITING = "done", "running", "waiting"


@dataclass(frozen=True)
class RunProgress:
    """One run of the study as its files show it now (see the module docstring)."""

    experiments: tuple[str, ...]  # the selected experiments it belongs to, in config order
    dataset: str
    run_id: str
    trial: bool  # a tuning trial (results/trials/), else a final (results/runs/)
    run_dir: Path
    state: str  # DONE, RUNNING or WAITING
    epochs_done: int  # rows in history.csv
    epochs: int  # planned, from the run's config
    val_accuracy: float | None  # the last row's
    seconds_per_epoch: float | None  # its own rows' mean, else its dataset's
    seconds_left: float | None  # None while nothing of its dataset was measured

    @property
    def name(self) -> str:
        """``dataset/run_id``, `` (trial)`` after a tuning trial's."""
        return f"{self.dataset}/{self.run_id}{' (trial)' if self.trial else ''}"


@dataclass(frozen=True)
class _Measured:
    epochs_done: int
    val_accuracy: float | None
    seconds: float  # the sum of its rows'


@dataclass(frozen=True)
class LiveStudy:
    """What :func:`study_progress` returns."""

    runs: list[RunProgress]  # in the order of the selected experiments, each run once
    # Per tuned experiment, its searches not finished yet: the runs of their later rungs and
    # their finals are not in ``runs`` (the records that decide them are not written yet).
    open_searches: dict[str, int]


def study_progress(config: str | os.PathLike = "config.yaml") -> LiveStudy:
    """Every run of the study in the current folder (its config file ``config``) known so far,
    as its files show it now (see the module docstring). ValueError
    (:class:`~nnstudy.config.validation.ConfigError` for the config) with a one-line cause when
    the config, a history or a tuning record cannot be read."""
    stat = Path(config).stat()
    plan = _plan(str(Path(config).resolve()), stat.st_mtime_ns, stat.st_size)
    planned: dict[tuple[bool, str], tuple[list[str], dict[str, Any]]] = {}
    open_searches: dict[str, int] = {}
    for experiment, untuned, tunings in plan:
        known = [(False, run) for run in untuned]
        for t in tunings:
            trials, finals = known_runs(list(walk(t, on_disk)))
            known += [(True, run) for run in trials] + [(False, run) for run in finals]
            if not finals:
                open_searches[experiment] = open_searches.get(experiment, 0) + 1
        for trial, run in known:
            experiments, _ = planned.setdefault((trial, run["run_id"]), ([], run))
            if experiment not in experiments:
                experiments.append(experiment)

    found = []
    for (trial, rid), (experiments, run) in planned.items():
        run_dir = Path((TRIAL_DIR if trial else RUN_DIR).format(dataset=run["dataset"], run_id=rid))
        state, measured = _look(run_dir)
        found.append((tuple(experiments), trial, run, run_dir, state, measured))
    per_dataset = _dataset_seconds(
        [(run["dataset"], m) for *_, run, _, _, m in found if m is not None]
    )
    runs = [
        _progress(experiments, trial, run, run_dir, state, measured, per_dataset)
        for experiments, trial, run, run_dir, state, measured in found
    ]
    return LiveStudy(runs, open_searches)


@functools.lru_cache(maxsize=4)
def _plan(config: str, mtime_ns: int, size: int) -> list[tuple[str, list[dict], list]]:
    """Per selected experiment of a config file: (its name, its untuned run configs, its
    searches), cached by the file's stamp (planning the default study takes about a second)."""
    cfg = validate_config(read_config(Path(config)))
    rows, tunings = study_rows(cfg), study_tunings(cfg)
    return [
        (
            name,
            list(unique_runs([r for r in rows if r.experiment == name]).values()),
            [t for t in tunings if t.experiment == name],
        )
        for name in selected(cfg)
    ]


def _look(run_dir: Path) -> tuple[str, _Measured | None]:
    """A run folder's state and, when it has a history, what its rows measure."""
    done = file(run_dir, "train").exists()
    measured = _measure(file(run_dir, "history"))
    if done:
        return DONE, measured
    return (RUNNING, measured) if measured is not None else (WAITING, None)


# history.csv's absolute path -> (its stamp, what it measured): a finished run's file never
# changes, so it is read once.
_measured: dict[str, tuple[tuple[int, int, int], _Measured]] = {}


def _measure(path: Path) -> _Measured | None:
    """What ``path``'s rows measure, None when there is no such file."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
    key = os.path.abspath(path)
    seen = _measured.get(key)
    if seen is not None and seen[0] == stamp:
        return seen[1]
    try:
        rows = read_history(path)
    except ValueError:
        if not path.exists():  # removed since the stat: Snakemake cleaning a failed job
            return None
        raise
    last = rows[-1].get("val_accuracy") if rows else None
    measured = _Measured(
        epochs_done=len(rows),
        val_accuracy=last if last is not None and math.isfinite(last) else None,
        seconds=float(sum(r.get("seconds", 0.0) for r in rows)),
    )
    _measured[key] = (stamp, measured)
    return measured


def _dataset_seconds(measured: list[tuple[str, _Measured]]) -> dict[str, float]:
    """Seconds per epoch by dataset, over every epoch its runs recorded."""
    seconds, epochs = defaultdict(float), defaultdict(int)
    for dataset, m in measured:
        seconds[dataset] += m.seconds
        epochs[dataset] += m.epochs_done
    return {d: seconds[d] / epochs[d] for d in seconds if epochs[d]}


def _progress(experiments, trial, run, run_dir, state, measured, per_dataset) -> RunProgress:
    done = measured.epochs_done if measured is not None else 0
    own = measured.seconds / done if done else None
    per_epoch = own if own is not None else per_dataset.get(run["dataset"])
    epochs = int(run["epochs"])
    if state == DONE:
        left = 0.0
    else:
        left = None if per_epoch is None else max(epochs - done, 0) * per_epoch
    return RunProgress(
        experiments=experiments,
        dataset=run["dataset"],
        run_id=run["run_id"],
        trial=trial,
        run_dir=run_dir,
        state=state,
        epochs_done=done,
        epochs=epochs,
        val_accuracy=measured.val_accuracy if measured is not None else None,
        seconds_per_epoch=per_epoch,
        seconds_left=left,
    )
