"""Weights & Biases logging of finished training runs, off the training's critical path.

Training jobs write plain files; the Snakemake rule ``log_wandb`` (workflow/rules/tracking.smk)
calls :func:`log_runs` once per dataset after evaluation, for all of that dataset's runs in one
process (starting wandb costs far more than logging one run, see benchmarks/bench_wandb.py).
One W&B run per training run:

- ``id`` and ``name`` = the run id (content hash), so logging a run again replaces its offline
  folder instead of adding a second one;
- ``group`` = the first experiment (in config order) that contains the run; every experiment that
  shares the run is listed in ``config["experiments"]``;
- ``job_type`` = ``"train"``, ``tags`` = dataset, optimizer, activation, initializer;
- ``config`` = the resolved run config (``config.json``) plus ``experiments``;
- history (``step`` = epoch): every column of ``history.csv``; at snapshot epochs also
  ``weights/<layer>`` histograms and ``grad_norm/<layer>``; at the last epoch the test confusion
  matrix (``confusion_matrix``, W&B's confusion-matrix chart);
- summary: the test metrics and the status from ``metrics.json``.

Offline by default under ``<wandb_dir>/wandb/offline-run-*`` (upload later with ``wandb sync``);
``online`` needs a prior ``wandb login``; ``disabled`` logs nothing (the rule is left out of the
DAG, see :func:`wandb_markers`).

``snapshots.npz`` is written by the training job (format in :mod:`nnstudy.training.runfolder`); this
module reads ``epoch`` (S,), ``layer`` (L,), ``weight_counts`` (S, L, B), ``weight_edges``
(S, L, B + 1) and ``grad_norm`` (S, L), with ``allow_pickle=False``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

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
RUN_FILES = tuple(file("", key).name for key in ("config", "history", "snapshots", "metrics"))


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
        for s, epoch in enumerate(snap["epoch"].tolist()):
            values = steps.setdefault(int(epoch), {"epoch": int(epoch)})
            for i, layer in enumerate(snap["layer"].tolist()):
                counts = snap["weight_counts"][s, i]
                # An empty histogram (no finite weight left in a diverged run) has nothing to draw.
                if counts.sum() > 0:
                    values[f"weights/{layer}"] = histogram(counts, snap["weight_edges"][s, i])
                values[f"grad_norm/{layer}"] = float(snap["grad_norm"][s, i])
    matrix = run.metrics.get("confusion_matrix")
    if matrix:
        last = max(steps, default=0)
        steps.setdefault(last, {})["confusion_matrix"] = chart(
            matrix, run.metrics.get("class_names") or [str(k) for k in range(len(matrix))]
        )
    return sorted(steps.items())


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


def summary(run: RunFiles) -> dict[str, Any]:
    """Test metrics for the run summary (per-class lists go in as lists)."""
    out = {k: run.metrics[k] for k in SUMMARY_KEYS if k in run.metrics}
    for name, values in (run.metrics.get("per_class") or {}).items():
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


def _log_one(
    wandb: Any, run: RunFiles, experiments: Sequence[str], root: Path, **init: Any
) -> Path:
    """Log one parsed run; return its W&B run folder."""
    if init["mode"] == "offline":
        for old in (root / "wandb").glob(f"offline-run-*-{run.run_id}"):
            shutil.rmtree(old)
    settings = wandb.Settings(
        console="off",
        save_code=False,
        disable_git=True,
        disable_job_creation=True,
        x_disable_stats=True,
        x_save_requirements=False,
        symlink=False,  # parallel jobs would race on wandb/latest-run
        silent=True,
    )
    try:
        wb = wandb.init(
            dir=str(root),
            id=run.run_id,
            name=run.run_id,
            group=experiments[0],
            job_type="train",
            tags=_tags(run.config),
            config={**run.config, "experiments": list(experiments)},
            resume="allow" if init["mode"] == "online" else None,
            settings=settings,
            **init,
        )
    except wandb.errors.Error as exc:  # e.g. online without `wandb login`
        raise RuntimeError(f"W&B {init['mode']} run {run.run_id}: {exc}".splitlines()[0]) from None
    try:
        for step, values in history_steps(run, _histogram, _confusion_chart):
            wb.log(values, step=step)
        wb.summary.update(summary(run))
    finally:
        wb.finish()
    return Path(wb.dir).resolve().parent


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
    the W&B group). Logging many runs in one process matters: a fresh process pays 1.5-3 s for
    wandb per run, a batch ~0.1 s per further run (benchmarks/bench_wandb.py). Every folder is
    parsed before anything is logged, so a bad folder stops the batch with one line and no output.
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
    logged = []
    with _environment(root, mode):
        import wandb

        try:
            for run, experiments in parsed:
                folder = _log_one(
                    wandb, run, experiments, root, mode=mode, project=project, entity=entity
                )
                logged.append(
                    {
                        "run_id": run.run_id,
                        "group": experiments[0],
                        "experiments": experiments,
                        "status": run.metrics.get("status"),
                        # Relative to wandb_dir as given: the marker survives moving the project.
                        "wandb_run_dir": str(wandb_dir / folder.relative_to(root)),
                    }
                )
        finally:
            # Stop wandb's service so the next batch starts one with its own environment.
            wandb.teardown()
    record = {"mode": mode, "project": project, "entity": entity, "runs": logged}
    if marker is not None:
        marker = Path(marker)
        marker.parent.mkdir(parents=True, exist_ok=True)
        tmp = marker.with_name(marker.name + ".tmp")
        tmp.write_text(json.dumps(record, indent=2) + "\n")
        tmp.replace(marker)
    return record
