"""A run's folder: where it lives, its files' names and formats, and the one writer and reader
of each (train_job writes them; evaluation, aggregate, tuning, tracking, figures, the console
and the CLI read them through here).

Files written by the train job to ``results/runs/<dataset>/<run_id>/`` (a tuning trial's to
``results/trials/<dataset>/<run_id>/``), all of them whatever the outcome, plus ``metrics.json``
with ``--evaluate`` (rule ``train``; see :mod:`nnstudy.training.evaluation`):

``config.json``
    The resolved run config (see :mod:`nnstudy.config.runs`) plus ``run_id``.
``model.npz``
    ``nnlib.save_model`` of the final weights (also for ``diverged``: the weights as they were
    when the loss stopped being finite). For ``failed`` it is the model as far as it got, or an
    npz with no arrays if the model could not even be built -- check the status first.
``history.csv``
    One row per epoch: ``epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds,
    grad_norm`` (nnlib's ``fit`` history; a non-finite loss is written as ``nan``/``inf``).
    For ``failed`` it holds the epochs finished before the error (possibly none: header only).
    Written as the run trains (:func:`write_history`): from the fit's start (header only, or
    the rows a resumed fit restored from its checkpoint) and after every epoch, so a run with
    a history.csv and no train.json is training (:mod:`nnstudy.training.watch`).
``snapshots.npz`` (no pickle; ``np.load(path)`` works), with S snapshots and L dense layers:
    ``epoch``          (S,) int64, epochs after which the snapshot was taken; 0 = the
                       initial weights, then every ``snapshot_every`` epochs and the last one.
    ``layer``          (L,) str, ``dense0`` .. ``dense{L-1}`` (the last is the output layer).
    ``weight_counts``  (S, L, BINS) int64, histogram of each layer's weight matrix.
    ``weight_edges``   (S, L, BINS+1) float64, its bin edges (min..max of that layer then;
                       non-finite weights are left out of the histogram).
    ``weight_mean``, ``weight_std`` (S, L) float64.
    ``grad_norm``      (S, L) float64, L2 norm of the gradient of the mean cross-entropy
                       (without the L2 penalty, dropout off) w.r.t. the layer's weight and
                       bias, on a fixed probe batch: the first PROBE training examples.
                       Computing it changes neither the weights nor any random state.
    A failed run has the snapshots taken before the error (S may be 0).
``predictions.npz`` (rule ``predict``, for every run of the report; no pickle)
    ``pred``         (N,) int16, the class the final model predicts for each of the N test
                     examples, in the test split's order (empty for a ``failed`` run).
    ``test_sha256``  () str, the prepared test split's checksum (its card's), binding the
                     predictions to the examples they are about.
    Written from the saved model, so runs trained before the file existed get it without
    being retrained.
``train.json``
    ``{run_id, status, error, epochs_run, best_epoch, train_seconds, wall_seconds, provenance}`` -- status is ``ok``,
    ``early_stopped``, ``diverged`` or ``failed``; ``error`` is the exception's one-line
    ``Type: message`` for ``failed``, else null; ``provenance`` see :mod:`nnstudy.jobs.provenance`.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnlib.atomic import atomic_savez, atomic_write_text
from nnlib.training import HISTORY_KEYS as HISTORY_COLUMNS

# Where rule ``train`` (and ``nnstudy train``, which must meet it) keeps a run's folder, log
# and checkpoint, by dataset and run id; tuning trials are the same runs in folders apart.
RUN_DIR = "results/runs/{dataset}/{run_id}"
RUN_LOG = "results/logs/train/{dataset}/{run_id}.log"
RUN_CHECKPOINT = "results/checkpoints/runs/{dataset}/{run_id}"
TRIAL_DIR = "results/trials/{dataset}/{run_id}"
# What a training job writes into its run folder, by output name (rule train's outputs).
TRAIN_OUTPUTS = {
    "config": "config.json",
    "model": "model.npz",
    "history": "history.csv",
    "snapshots": "snapshots.npz",
    "train": "train.json",
}
# What ``--evaluate`` adds (rule train's sixth output).
METRICS = "metrics.json"
# Per-example test predictions (rule predict's output).
PREDICTIONS = "predictions.npz"
# The arrays of snapshots.npz that readers need.
SNAPSHOT_ARRAYS = ("epoch", "layer", "weight_counts", "weight_edges", "grad_norm")


def train_outputs(run_dir: str | Path) -> dict[str, str]:
    """:data:`TRAIN_OUTPUTS` inside ``run_dir`` (a folder, or the rule's wildcard pattern)."""
    return {key: f"{run_dir}/{name}" for key, name in TRAIN_OUTPUTS.items()}


def file(run_dir: str | Path, key: str) -> Path:
    """One file of a run folder by its output name (config, model, ..., metrics)."""
    extra = {"metrics": METRICS, "predictions": PREDICTIONS}
    return Path(run_dir) / (extra[key] if key in extra else TRAIN_OUTPUTS[key])


# --- writers -----------------------------------------------------------------------------


def write_json(path: str | Path, obj: Any) -> None:
    Path(path).write_text(json.dumps(obj, indent=2, allow_nan=False) + "\n")


def write_history(path: str | Path, rows: list[dict]) -> None:
    """The whole history.csv, replaced atomically: the train job rewrites it after every epoch,
    and a reader polling it (``nnstudy status``, pandas) must never see a half-written row.
    A whole rewrite rather than an append, so any reader is safe without skipping a partial
    last line, and a resumed fit puts back exactly its checkpoint's rows; the file is a row per
    epoch, microseconds to rewrite. No fsync: the default study's epochs take milliseconds,
    and what a crash loses is rebuilt from the run's checkpoint."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(HISTORY_COLUMNS)
    for row in rows:
        writer.writerow([_num(row.get(c)) for c in HISTORY_COLUMNS])
    atomic_write_text(path, buf.getvalue(), fsync=False)


def _num(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return repr(float(value))


def write_snapshots(path: str | Path, arrays: dict[str, np.ndarray]) -> None:
    atomic_savez(path, arrays)


def write_predictions(path: str | Path, pred: np.ndarray, test_sha256: str) -> None:
    pred = np.asarray(pred)
    if pred.ndim != 1 or (pred.size and (pred.min() < 0 or pred.max() > np.iinfo(np.int16).max)):
        raise ValueError(f"{path}: predictions must be 1-D class ids, got shape {pred.shape}")
    atomic_savez(path, {"pred": pred.astype(np.int16), "test_sha256": np.array(test_sha256)})


# --- readers -----------------------------------------------------------------------------


def read_json(path: str | Path) -> dict[str, Any]:
    """A run file's JSON object; ValueError naming the file when it cannot be read."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        reason = str(exc)
    else:
        if isinstance(data, dict):
            return data
        reason = f"expected a JSON object, got {type(data).__name__}"
    raise ValueError(f"{path}: cannot read JSON ({reason}); rebuild it: rm {path} && snakemake")


def read_train(run_dir: str | Path) -> dict[str, Any] | None:
    """A finished run's train.json, or None when it is unreadable."""
    try:
        return read_json(file(run_dir, "train"))
    except ValueError:
        return None


def read_status(run_dir: str | Path) -> str | None:
    """The status a finished run recorded in train.json, or None when it is unreadable."""
    return (read_train(run_dir) or {}).get("status")


def read_history(path: str | Path) -> list[dict[str, float]]:
    """Rows of ``history.csv`` as floats (``epoch`` as int); nan/inf kept as such."""
    path = Path(path)
    try:
        with path.open(newline="") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or "epoch" not in reader.fieldnames:
                raise ValueError(f"{path}: no 'epoch' column")
            rows = []
            for line, raw in enumerate(reader, start=2):
                try:
                    row = {k: float(v) for k, v in raw.items() if v not in ("", None)}
                    row["epoch"] = int(row["epoch"])
                except (KeyError, TypeError, ValueError):
                    raise ValueError(f"{path}:{line}: not a numeric row: {raw}") from None
                rows.append(row)
    except OSError as exc:
        raise ValueError(f"{path}: cannot read ({exc})") from None
    return rows


def read_snapshots(path: str | Path) -> dict[str, np.ndarray]:
    """The :data:`SNAPSHOT_ARRAYS` of ``snapshots.npz``, shapes checked."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            snap = {k: npz[k] for k in SNAPSHOT_ARRAYS if k in npz.files}
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path}: cannot read ({exc})") from None
    missing = [k for k in SNAPSHOT_ARRAYS if k not in snap]
    if missing:
        raise ValueError(f"{path}: missing arrays {missing}")
    n_snap, n_layers = len(snap["epoch"]), len(snap["layer"])
    counts, edges = snap["weight_counts"], snap["weight_edges"]
    if (
        counts.ndim != 3
        or counts.shape[:2] != (n_snap, n_layers)
        or edges.shape != (*counts.shape[:2], counts.shape[2] + 1)
        or snap["grad_norm"].shape != (n_snap, n_layers)
    ):
        raise ValueError(
            f"{path}: inconsistent shapes: epoch {snap['epoch'].shape}, layer "
            f"{snap['layer'].shape}, weight_counts {counts.shape}, weight_edges {edges.shape}, "
            f"grad_norm {snap['grad_norm'].shape}"
        )
    return snap


def read_predictions(path: str | Path) -> tuple[np.ndarray, str]:
    """``(pred, test_sha256)`` of ``predictions.npz``; ValueError naming the file otherwise."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            pred, digest = npz["pred"], str(npz["test_sha256"])
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise ValueError(
            f"{path}: cannot read ({exc}); rebuild it: rm {path} && snakemake"
        ) from None
    if pred.ndim != 1 or pred.dtype.kind not in "iu":
        raise ValueError(f"{path}: 'pred' must be 1-D class ids, got {pred.dtype} {pred.shape}")
    return pred, digest


@dataclass(frozen=True)
class RunFiles:
    """The files of one finished run folder, parsed."""

    run_dir: Path
    config: dict[str, Any]
    history: list[dict[str, float]]
    snapshots: dict[str, np.ndarray] | None
    metrics: dict[str, Any]

    @property
    def run_id(self) -> str:
        return self.config["run_id"]


def read_run(run_dir: str | Path) -> RunFiles:
    """Parse a finished run folder; ``snapshots.npz`` is optional (a run that failed early has
    none)."""
    run_dir = Path(run_dir)
    config = read_json(file(run_dir, "config"))
    if "run_id" not in config:
        raise ValueError(f"{file(run_dir, 'config')}: no 'run_id'")
    snap_path = file(run_dir, "snapshots")
    return RunFiles(
        run_dir=run_dir,
        config=config,
        history=read_history(file(run_dir, "history")),
        snapshots=read_snapshots(snap_path) if snap_path.exists() else None,
        metrics=read_json(file(run_dir, "metrics")),
    )
