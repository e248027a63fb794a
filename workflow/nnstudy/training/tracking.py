"""Weights & Biases logging of training runs: live, while they train, and from their files.

Live (:class:`LiveRun`): when ``wandb.mode`` is offline or online, every training job (rules
``train`` and ``trial``, in the pooled workers) logs its run while it trains: each epoch at
step = epoch as it ends, then the summary, and closes it. After evaluation the rule ``log_wandb``
(workflow/rules/tracking.smk) calls :func:`log_runs` once per dataset: a final logged completely
with the same settings is kept as it is; any other (trained before live logging, resumed from a
checkpoint, a W&B error, its experiments changed) is logged from its files, all of a dataset's
in one process (starting wandb costs far more than logging one run, see
benchmarks/bench_wandb.py). Both paths give the same W&B run. One W&B run per training run:

- ``id`` and ``name`` = the run id (content hash; a tuning trial's with ``-trial``), so logging a
  run again replaces its offline folder instead of adding a second one;
- ``group`` = the first experiment (in config order) that contains the run; every experiment that
  shares the run is listed in ``config["experiments"]``;
- ``job_type`` = ``"train"`` (a tuning trial: ``"trial"``), ``tags`` = dataset, optimizer,
  activation, initializer;
- ``config`` = the resolved run config (``config.json``) plus ``experiments``;
- history (``step`` = epoch): every column of ``history.csv``; at snapshot epochs also
  ``weights/<layer>`` histograms and ``grad_norm/<layer>``; at the last epoch the test confusion
  matrix (``confusion_matrix``, W&B's confusion-matrix chart);
- summary: the test metrics and the status from ``metrics.json`` (a trial's: ``train.json``).

Offline by default under ``<wandb_dir>/wandb/offline-run-*`` (upload later with ``wandb sync``);
``online`` needs a prior ``wandb login``; ``disabled`` logs nothing (the rule is left out of the
DAG, see :func:`wandb_markers`).

``snapshots.npz`` is written by the training job (format in :mod:`nnstudy.training.runfolder`); this
module reads ``epoch`` (S,), ``layer`` (L,), ``weight_counts`` (S, L, B), ``weight_edges``
(S, L, B + 1) and ``grad_norm`` (S, L), with ``allow_pickle=False``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nnlib.atomic import atomic_write_text
from nnstudy.training.runfolder import RUN_DIR, RunFiles, file, read_run

MODES = ("offline", "online", "disabled")
TAG_KEYS = ("dataset", "optimizer", "activation", "initializer")
# W&B's own confusion-matrix chart (what wandb.plot.confusion_matrix builds from predictions).
CONFUSION_SPEC = "wandb/confusion_matrix/v1"


def check_mode(mode: object) -> str:
    """Return ``mode`` if it is a valid W&B mode, else raise a one-line ValueError."""
    if mode not in MODES:
        raise ValueError(f"wandb.mode must be one of {', '.join(MODES)}; got {mode!r}")
    return mode


def wandb_markers(
    datasets: Iterable[str], mode: object, wandb_dir: str = "results/wandb"
) -> list[str]:
    """Marker files ``rule all`` must request: one per dataset, none when W&B is disabled."""
    if check_mode(mode) == "disabled":
        return []
    return [f"{wandb_dir}/{dataset}.json" for dataset in dict.fromkeys(datasets)]


def runs_by_dataset(rows: Iterable[Any]) -> dict[str, dict[str, list[str]]]:
    """``{dataset: {run_id: [experiments]}}`` from run-table rows (objects with ``experiment``,
    ``dataset`` and ``run_id``, e.g. :class:`nnstudy.config.runs.Row`), in first-seen order, so a run's
    first experiment is its W&B group."""
    out: dict[str, dict[str, list[str]]] = {}
    for row in rows:
        names = out.setdefault(row.dataset, {}).setdefault(row.run_id, [])
        if row.experiment not in names:
            names.append(row.experiment)
    return out


# What log_runs reads of each run.
RUN_FILES = tuple(
    file("", key).name for key in ("config", "history", "snapshots", "metrics", "train")
)


def batch(
    runs: dict[str, list[str]], dataset: str, run_dir: str = RUN_DIR
) -> list[tuple[str, list[str]]]:
    """``(run folder, experiments)`` pairs of one dataset: the ``runs`` argument of
    :func:`log_runs`; ``runs`` is one entry of :func:`runs_by_dataset`."""
    return [(run_dir.format(dataset=dataset, run_id=rid), names) for rid, names in runs.items()]


def batch_inputs(pairs: Iterable[tuple[str, list[str]]]) -> dict[str, list[str]]:
    """The files :func:`log_runs` reads for ``pairs``, by kind (the rule's named inputs)."""
    pairs = list(pairs)
    return {name.split(".")[0]: [f"{folder}/{name}" for folder, _ in pairs] for name in RUN_FILES}


def history_steps(run: RunFiles, histogram: Any, chart: Any) -> list[tuple[int, dict[str, Any]]]:
    """What to log, as (step, values) sorted by step.

    ``histogram(counts, edges)`` and ``chart(matrix, class_names)`` build the W&B objects; they are
    parameters so this pure function can be tested without W&B. Snapshot epochs without a history
    row (e.g. epoch 0 = the initial weights) get their own step.
    """
    steps: dict[int, dict[str, Any]] = {}
    for row in run.history:
        steps.setdefault(row["epoch"], {}).update(row)
    snap = run.snapshots
    if snap is not None:
        layers = snap["layer"].tolist()
        for s, epoch in enumerate(snap["epoch"].tolist()):
            values = steps.setdefault(int(epoch), {"epoch": int(epoch)})
            values.update(
                snapshot_values(
                    layers,
                    snap["weight_counts"][s],
                    snap["weight_edges"][s],
                    snap["grad_norm"][s],
                    histogram,
                )
            )
    confusion = confusion_values(run.metrics, chart)
    if confusion:
        steps.setdefault(max(steps, default=0), {}).update(confusion)
    return sorted(steps.items())


def snapshot_values(
    layers: Sequence[str], counts: np.ndarray, edges: np.ndarray, grad_norm: np.ndarray, histogram
) -> dict[str, Any]:
    """One snapshot's history values: ``weights/<layer>`` histograms (``counts`` (L, B),
    ``edges`` (L, B + 1)) and ``grad_norm/<layer>`` (``grad_norm`` (L,))."""
    values: dict[str, Any] = {}
    for i, layer in enumerate(layers):
        # An empty histogram (no finite weight left in a diverged run) has nothing to draw.
        if counts[i].sum() > 0:
            values[f"weights/{layer}"] = histogram(counts[i], edges[i])
        values[f"grad_norm/{layer}"] = float(grad_norm[i])
    return values


def confusion_values(metrics: dict[str, Any], chart) -> dict[str, Any]:
    """The last step's test ``confusion_matrix`` chart, when ``metrics`` has one."""
    matrix = metrics.get("confusion_matrix")
    if not matrix:
        return {}
    names = metrics.get("class_names") or [str(k) for k in range(len(matrix))]
    return {"confusion_matrix": chart(matrix, names)}


SUMMARY_KEYS = (
    "status",
    "error",
    "test_loss",
    "test_accuracy",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "train_seconds",
    "epochs_run",
)


def summary(metrics: dict[str, Any]) -> dict[str, Any]:
    """The run summary from ``metrics.json`` (a trial's ``train.json``: status and timing);
    per-class lists go in as lists."""
    out = {k: metrics[k] for k in SUMMARY_KEYS if k in metrics}
    for name, values in (metrics.get("per_class") or {}).items():
        out[f"per_class/{name}"] = values
    return out


def _confusion_chart(matrix: Sequence[Sequence[float]], class_names: Sequence[str]) -> Any:
    import wandb

    data = [
        [str(class_names[i]), str(class_names[j]), row[j]]
        for i, row in enumerate(matrix)
        for j in range(len(row))
    ]
    return wandb.plot_table(
        vega_spec_name=CONFUSION_SPEC,
        data_table=wandb.Table(columns=["Actual", "Predicted", "nPredictions"], data=data),
        fields={"Actual": "Actual", "Predicted": "Predicted", "nPredictions": "nPredictions"},
        string_fields={"title": "Test confusion matrix"},
    )


def _histogram(counts: np.ndarray, edges: np.ndarray) -> Any:
    import wandb

    return wandb.Histogram(np_histogram=(counts.tolist(), edges.tolist()))


@contextlib.contextmanager
def _environment(wandb_dir: Path, mode: str) -> Iterator[None]:
    """Keep W&B's files under ``wandb_dir`` and its hands off the network when offline.

    With the mode passed only to wandb.init, wandb-core still read ~/.netrc and resolved the W&B
    host at exit of an offline run (strace, wandb 0.31); WANDB_MODE in its environment, or
    WANDB_ERROR_REPORTING=false, each stopped that (both set; tests/tracking checks with strace).
    Offline also gets a private config dir so a user's global W&B settings cannot change the run;
    online keeps the user's login.
    """
    env = {
        "WANDB_MODE": mode,
        "WANDB_DIR": str(wandb_dir),
        "WANDB_CACHE_DIR": str(wandb_dir / "cache"),
        "WANDB_DATA_DIR": str(wandb_dir / "data"),
        "WANDB_ARTIFACT_DIR": str(wandb_dir / "artifacts"),
        "WANDB_ERROR_REPORTING": "false",
        "WANDB_SILENT": "true",
    }
    if mode == "offline":
        env["WANDB_CONFIG_DIR"] = str(wandb_dir / "config")
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _tags(config: dict[str, Any]) -> list[str]:
    return [str(config[k]) for k in TAG_KEYS if config.get(k) is not None]


def wandb_id(run_id: str, job_type: str) -> str:
    """The W&B run id of a training run: its run id; a tuning trial's gets ``-trial``, since a
    trial can have a final's config (same run id, other folder) and a W&B id is one run."""
    return run_id if job_type == "train" else f"{run_id}-{job_type}"


def _init(
    wandb: Any,
    root: Path,
    config: dict[str, Any],
    experiments: Sequence[str],
    job_type: str,
    mode: str,
    project: str,
    entity: str | None,
    **settings: Any,
) -> Any:
    """``wandb.init`` of one training run, the same for the live and the after-the-fact logging
    (so both produce the same W&B run); in offline mode older offline folders of the same id are
    removed first, so each W&B id has exactly one."""
    wid = wandb_id(config["run_id"], job_type)
    if mode == "offline":
        for old in (root / "wandb").glob(f"offline-run-*-{wid}"):
            shutil.rmtree(old)
    try:
        return wandb.init(
            dir=str(root),
            id=wid,
            name=wid,
            group=experiments[0],
            job_type=job_type,
            tags=_tags(config),
            config={**config, "experiments": list(experiments)},
            resume="allow" if mode == "online" else None,
            mode=mode,
            project=project,
            entity=entity,
            settings=wandb.Settings(
                console="off",
                save_code=False,
                disable_git=True,
                disable_job_creation=True,
                x_disable_stats=True,
                x_save_requirements=False,
                symlink=False,  # parallel jobs would race on wandb/latest-run
                silent=True,
                **settings,
            ),
        )
    except wandb.errors.Error as exc:  # e.g. online without `wandb login`
        raise RuntimeError(f"W&B {mode} run {wid}: {exc}".splitlines()[0]) from None


def _run_folder(wb: Any) -> Path:
    return Path(wb.dir).resolve().parent


# --- live: a training job logs its run while it trains ------------------------------------

# Seconds between two writes of a live run's .wandb file (wandb's default, 15 s, would hide a
# short run's epochs until it ends): what a reader or `wandb sync` of a running run sees.
LIVE_FLUSH_SECONDS = 2.0


def live_record_path(wandb_dir: str | Path, run_id: str, job_type: str = "train") -> Path:
    """``<wandb_dir>/live/<W&B id>.json``: written by a training job that logged its run
    completely while it trained; :func:`log_runs` keeps such a W&B run instead of logging it
    again from the files."""
    return Path(wandb_dir) / "live" / f"{wandb_id(run_id, job_type)}.json"


IDENTITY = ("experiments", "mode", "project", "entity")


def _identity(experiments: Sequence[str], mode: str, project: str, entity: str | None) -> dict:
    """What, besides the run's files, decides a W&B run's content (:data:`IDENTITY`)."""
    return dict(zip(IDENTITY, (list(experiments), mode, project, entity), strict=True))


def live_param(wandb: dict[str, Any], rows: Iterable[Any], tuned: Any, job_type: str):
    """The ``wandb`` param of rule ``train`` (``job_type`` "train") or ``trial`` ("trial"): the
    job's ``--wandb`` (JSON; None when disabled), naming the run's experiments as rule
    ``log_wandb`` does (the untuned experiments in ``rows``, then the searches in ``tuned``, a
    :class:`nnstudy.tuning.plan.TunedRuns`, whose trial or final it is).

    A function of ``output`` (which it does not read): Snakemake records no such param, so the
    W&B settings and a run's experiments are no rerun trigger of its training (a changed mode
    only logs the runs again, from their files, in ``log_wandb``)."""
    untuned: dict = {}

    def param(wildcards, output) -> str | None:
        if check_mode(wandb["mode"]) == "disabled":
            return None
        if not untuned:
            untuned.update(runs_by_dataset(rows))
        names = (
            []
            if job_type == "trial"
            else list(untuned.get(wildcards.dataset, {}).get(wildcards.run_id, []))
        )
        names += [e for e in tuned.experiments_of(wildcards.run_id) if e not in names]
        spec = _identity(names, wandb["mode"], wandb["project"], wandb["entity"])
        return json.dumps({**spec, "dir": wandb["dir"], "job_type": job_type})

    return param


class LiveRun:
    """A ``fit`` callback that logs a training run to W&B while it trains, from inside the job
    (rules ``train`` and ``trial``): the run opens when the job starts, each epoch's history row
    (with that epoch's snapshot) goes in at step = epoch as the epoch ends, and :meth:`finish`
    adds what exists only after training (the test confusion matrix, the summary) and closes
    it: the W&B run :func:`log_runs` would log from the files, with the real ``_runtime``.

    wandb is imported in the job's process at the first live run (a pooled worker then keeps it
    and its service for the next runs). A run that W&B logged completely gets a record
    (:func:`live_record_path`); one resumed from a checkpoint misses the epochs before, so it
    gets none and ``log_wandb`` logs it from its files. A W&B error never fails the training:
    one warning line in the job's log, and the run is logged from its files later.
    """

    def __init__(self, spec: dict[str, Any], run: dict[str, Any], say):
        self.spec, self.run, self.say = spec, run, say
        self.job_type = spec["job_type"]
        self.root = Path(spec["dir"]).resolve()
        self.record = live_record_path(spec["dir"], run["run_id"], self.job_type)
        self.wb = None
        self.snapshots: Any = None  # the job's Snapshots: ``taken`` {epoch: arrays}, ``layers``
        self.step = -1  # the last step logged
        self.logged: set[int] = set()  # the snapshot epochs logged
        self.complete = True  # every epoch since the first was logged
        self.env = contextlib.ExitStack()
        self._guard(self._open)

    def _guard(self, action, *args) -> None:
        if self.env is None:  # stopped by an earlier error, or finished
            return
        try:
            action(*args)
        except Exception as exc:
            cause = f"{type(exc).__name__}: {exc}".splitlines()[0]
            tag = f"{self.run['dataset']}/{self.run['run_id']}"
            self.say(
                f"[{tag}] warning: W&B live logging stopped ({cause}); "
                "log_wandb logs the run from its files"
            )
            self._close(exit_code=1)

    def _open(self) -> None:
        self.record.unlink(missing_ok=True)
        self.root.mkdir(parents=True, exist_ok=True)
        mode = self.spec["mode"]
        self.env.enter_context(_environment(self.root, mode))
        import wandb

        self.wb = _init(
            wandb,
            self.root,
            self.run,
            self.spec["experiments"],
            self.job_type,
            mode,
            self.spec["project"],
            self.spec["entity"],
            x_transaction_log_flush_interval=LIVE_FLUSH_SECONDS,
        )

    def watch(self, snapshots: Any) -> None:
        """The job's snapshots (taken before this callback runs, at each epoch's end)."""
        self.snapshots = snapshots

    def _log(self, values: dict[str, Any], step: int) -> None:
        # W&B keeps the last step open (values at the same step merge into it) and writes it
        # once a later step comes, so a reader sees every epoch but the one just ended.
        self.wb.log(values, step=step)
        self.step = step

    def _snapshots_until(self, last: float) -> None:
        """Log the snapshots taken up to epoch ``last`` not logged yet (one at the open step
        merges into it)."""
        for epoch in sorted(self.snapshots.taken if self.snapshots is not None else ()):
            if self.step <= epoch <= last and epoch not in self.logged:
                self.logged.add(epoch)
                snap = self.snapshots.taken[epoch]
                values = snapshot_values(
                    self.snapshots.layers,
                    snap["weight_counts"],
                    snap["weight_edges"],
                    snap["grad_norm"],
                    _histogram,
                )
                self._log({"epoch": epoch, **values}, epoch)

    def on_epoch_end(self, epoch, row, model, optimizer) -> None:
        self._guard(self._epoch, int(row["epoch"]), row)

    def _epoch(self, epoch: int, row: dict) -> None:
        if epoch != max(self.step, 0) + 1:
            self.complete = False  # resumed from a checkpoint: the epochs before are not here
        self._snapshots_until(epoch - 1)
        self._log(dict(row), epoch)
        self._snapshots_until(epoch)

    def finish(self, metrics: dict[str, Any], train_json: str | Path) -> None:
        """Add the summary of ``metrics`` (``metrics.json``; a trial's ``train.json``) and its
        confusion matrix, close the run and, when it is complete, write its record (bound to
        ``train_json``'s content, so a run trained again without W&B is not mistaken for it)."""
        self._guard(self._finish, metrics, Path(train_json))

    def _finish(self, metrics: dict[str, Any], train_json: Path) -> None:
        self._snapshots_until(math.inf)  # a failed or stopped fit's last one
        confusion = confusion_values(metrics, _confusion_chart)
        if confusion:
            self._log(confusion, max(self.step, 0))
        self.wb.summary.update(summary(metrics))
        self.wb.finish()
        folder = _run_folder(self.wb)
        self._close(exit_code=0)
        # A link to the log of wandb's service, which the worker keeps for its next runs: it
        # grows after this run ended, so it would not stay this run's (log_wandb records the
        # folder's files, see nnstudy.jobs.integrity).
        core_log = folder / "logs" / "debug-core.log"
        if core_log.is_symlink():
            core_log.unlink()
        if self.complete:
            record = {
                **{k: self.spec[k] for k in IDENTITY},
                "run_id": self.run["run_id"],
                "job_type": self.job_type,
                "train_sha256": hashlib.sha256(train_json.read_bytes()).hexdigest(),
                "wandb_run_dir": str(folder.relative_to(self.root)),
            }
            atomic_write_text(self.record, json.dumps(record, indent=2) + "\n")

    def abandon(self) -> None:
        """The job failed after training began: close the W&B run as failed, write no record."""
        self._close(exit_code=1)

    def _close(self, exit_code: int) -> None:
        env, self.env = self.env, None
        if env is None:
            return
        try:
            if self.wb is not None and exit_code:
                self.wb.finish(exit_code=exit_code)
        except Exception:  # the W&B run or the job is failing already, and says so
            pass
        finally:
            env.close()


def _kept(run: RunFiles, identity: dict, root: Path) -> str | None:
    """The W&B folder (relative to ``root``) of ``run`` when its training job logged it
    completely, with the W&B settings and experiments of ``identity``; else None."""
    path = live_record_path(root, run.run_id)
    try:
        record = json.loads(path.read_text())
        digest = hashlib.sha256(file(run.run_dir, "train").read_bytes()).hexdigest()
    except (OSError, ValueError):
        return None
    folder = record.get("wandb_run_dir")
    same = {k: record.get(k) for k in identity} == identity
    if same and record.get("train_sha256") == digest and folder and (root / folder).is_dir():
        return folder
    path.unlink()  # stale: the run is logged again from its files
    return None


def _log_one(
    wandb: Any, run: RunFiles, experiments: Sequence[str], root: Path, **init: Any
) -> Path:
    """Log one parsed run from its files; return its W&B run folder."""
    wb = _init(wandb, root, run.config, experiments, "train", **init)
    try:
        for step, values in history_steps(run, _histogram, _confusion_chart):
            wb.log(values, step=step)
        wb.summary.update(summary(run.metrics))
    finally:
        wb.finish()
    return _run_folder(wb)


def log_runs(
    runs: Sequence[tuple[str | Path, Sequence[str]]],
    *,
    wandb_dir: str | Path,
    mode: str = "offline",
    project: str = "nnlib-study",
    entity: str | None = None,
    marker: str | Path | None = None,
) -> dict[str, Any] | None:
    """Log finished run folders, one W&B run each, in one process; return the marker record.

    ``runs`` holds ``(run_dir, experiments)`` pairs, ``experiments`` in config order (the first is
    the W&B group). A run its training job logged completely while it trained (:class:`LiveRun`)
    with the same settings and experiments is kept as it is; the others (trained before live
    logging, resumed, a W&B error, experiments changed since) are logged from their files.
    Logging many runs in one process matters: a fresh process pays 1.5-3 s for wandb per run, a
    batch ~0.1 s per further run (benchmarks/bench_wandb.py). Every folder is parsed before
    anything is logged, so a bad folder stops the batch with one line and no output.
    ``mode="disabled"`` imports nothing, writes nothing and returns None. In offline mode older
    offline folders of the same run id are removed, so re-logging leaves exactly one per run.
    The marker (if given) is written last, atomically.
    """
    mode = check_mode(mode)
    if mode == "disabled":
        return None
    parsed = []
    for run_dir, experiments in runs:
        if not experiments:
            raise ValueError(f"{run_dir}: a run must belong to at least one experiment")
        parsed.append((read_run(run_dir), list(experiments)))
    wandb_dir = Path(wandb_dir)
    root = wandb_dir.resolve()
    root.mkdir(parents=True, exist_ok=True)
    kept = {
        run.run_id: _kept(run, _identity(experiments, mode, project, entity), root)
        for run, experiments in parsed
    }
    logged = []
    wandb = None
    with contextlib.ExitStack() as stack:
        for run, experiments in parsed:
            folder = kept[run.run_id]
            if folder is None:
                if wandb is None:  # imported only when a run is to be logged from its files
                    stack.enter_context(_environment(root, mode))
                    import wandb

                    # Stop wandb's service so the next batch starts one with its own environment.
                    stack.callback(wandb.teardown)
                path = _log_one(
                    wandb, run, experiments, root, mode=mode, project=project, entity=entity
                )
                folder = str(path.relative_to(root))
            logged.append(
                {
                    "run_id": run.run_id,
                    "group": experiments[0],
                    "experiments": experiments,
                    "status": run.metrics.get("status"),
                    "logged": "live" if kept[run.run_id] else "from files",
                    # Relative to wandb_dir as given: the marker survives moving the project.
                    "wandb_run_dir": str(wandb_dir / folder),
                }
            )
    record = {"mode": mode, "project": project, "entity": entity, "runs": logged}
    if marker is not None:
        atomic_write_text(marker, json.dumps(record, indent=2) + "\n")
    return record
