"""Train one run (rules ``train`` and ``trial``): a resolved run config in, the run's files out.

It writes every file of the run's folder whatever the outcome (names, formats, writers and
readers: :mod:`nnstudy.training.runfolder`), plus ``metrics.json`` with ``--evaluate`` (rule ``train``;
see :mod:`nnstudy.training.evaluation`).

An exception during training does not fail the job: it is recorded (status ``failed``) so the
study and the report complete; the traceback goes to the job's log. To retry such a run,
delete its folder (or ``snakemake --forcerun results/runs/<dataset>/<run_id>/train.json``).

Resuming: ``fit`` checkpoints to ``<checkpoint>.npz`` at the end of an epoch once
:data:`CHECKPOINT_SECONDS` (``$NNSTUDY_CHECKPOINT_SECONDS``, default 5) have passed since the
last one, and the snapshots so far go to ``<checkpoint>.snapshots.npz`` just before; both live
outside the declared outputs (Snakemake does not delete them when a job is killed). A rerun
continues from the last checkpoint and ends with the same files an uninterrupted run writes;
they are removed on success.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from nnlib.checkpoint import CheckpointError, content_digest
from nnstudy.config.runs import FIT_DEFAULTS, LOSS, RESIDUAL, model_norm, neuron_activations
from nnstudy.jobs.frame import job_frame
from nnstudy.jobs.provenance import provenance
from nnstudy.training.evaluation import EVAL_INPUTS, evaluate_run
from nnstudy.training.runfolder import (
    METRICS,
    read_json,
    train_outputs,
    write_history,
    write_json,
    write_snapshots,
)
from nnstudy.training.tracking import LiveRun

BINS = 30
PROBE = 512
# Seconds of training between two checkpoints of a run (fit's checkpoint_interval): a kill
# loses at most that much, and a run of many quick epochs writes no checkpoint per epoch
# (each is an fsync'd file: more than a core-study epoch costs). Tests set it to 0.
CHECKPOINT_SECONDS = float(os.environ.get("NNSTUDY_CHECKPOINT_SECONDS", "5"))
# What a training job reads from the prepared dataset's folder (rule train's inputs).
TRAIN_INPUTS = ("train.npz", "val.npz", "card.json")


def build(run: dict[str, Any], n_features: int, n_classes: int):
    """(model, loss, optimizer, schedule) for a run config, seeded by its seed."""
    from nnlib import MLP, get_loss, get_optimizer, get_schedule
    from nnlib.init import canonical

    model = MLP(
        [n_features, *run["hidden"], n_classes],
        activation=neuron_activations(run["activation"], run["hidden"]),
        init=canonical(run["initializer"]),  # nnlib's names, recorded in model.npz
        dropout=run["dropout"],
        dtype=np.dtype(run["dtype"]),
        rng=np.random.default_rng(run["seed"]),
        residual=run.get("residual", RESIDUAL),
        norm=model_norm(run.get("norm")),
    )
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in run["optimizer_params"].items()}
    optimizer = get_optimizer(run["optimizer"], model.parameters(), lr=run["lr"], **params)
    loss = get_loss(run.get("loss", LOSS), l2=run["l2"])
    sched = dict(run["schedule"])
    schedule = get_schedule(sched.pop("name"), lr=run["lr"], epochs=run["epochs"], **sched)
    return model, loss, optimizer, schedule


def batch_transform(run: dict[str, Any], card: dict[str, Any]):
    """The training-batch augmentation of a run (None without ``augment``): a seeded random
    shift and flip of the flattened, standardized images in the shape the card names. The
    padding is 0, i.e. each channel's training mean (images are standardized per channel)."""
    spec = run.get("augment")
    if not spec:
        return None
    shape = card.get("image_shape")
    if not shape or len(shape) != 3:
        raise ValueError(f"augment needs an image dataset; '{run['dataset']}' has no image_shape")
    from nnstudy.datasets import augment_batch

    shape = tuple(int(s) for s in shape)
    pad, flip = int(spec["pad"]), bool(spec["flip"])

    def augment(xb, rng):
        return augment_batch(xb, shape, rng, pad=pad, flip=flip)

    return augment


def dense_layers(model) -> list:
    return [m for m in model.modules() if type(m).__name__ == "Dense"]


def layer_grad_norms(model, x, y) -> np.ndarray:
    """Per-layer gradient norms on (x, y) with dropout off; weights, gradients, buffers
    (BatchNorm's running statistics, which a training forward updates) and random state are
    left as they were."""
    from nnlib import get_loss

    drops = [m for m in model.modules() if type(m).__name__ == "Dropout"]
    saved_p = [d.p for d in drops]
    params = model.parameters()
    saved_grads = [p.grad.copy() for p in params]
    saved_buffers = [b.copy() for b in model.buffers()]
    try:
        for d in drops:
            d.p = 0.0  # p == 0 draws no random numbers
        loss = get_loss("cross_entropy")
        with np.errstate(all="ignore"):  # a diverged model may overflow
            loss.forward(model.forward(model.check_input(x), training=True), y)
            model.backward(loss.backward(), input_grad=False)
        return np.array(
            [
                math.sqrt(
                    sum(
                        float(np.sum(np.square(p.grad, dtype=np.float64)))
                        for p in layer.own_parameters()
                    )
                )
                for layer in dense_layers(model)
            ]
        )
    finally:
        for d, p in zip(drops, saved_p, strict=True):
            d.p = p
        for p, g in zip(params, saved_grads, strict=True):
            p.grad[...] = g
        for b, saved in zip(model.buffers(), saved_buffers, strict=True):
            b[...] = saved


def weight_stats(model) -> dict[str, np.ndarray]:
    counts, edges, means, stds = [], [], [], []
    for layer in dense_layers(model):
        w = layer.weight.data.astype(np.float64).ravel()
        finite = w[np.isfinite(w)]
        c, e = (
            np.histogram(finite, bins=BINS)
            if finite.size
            else (np.zeros(BINS, np.int64), np.zeros(BINS + 1))
        )
        counts.append(c.astype(np.int64))
        edges.append(e)
        means.append(float(np.mean(w)))
        stds.append(float(np.std(w)))
    return {
        "weight_counts": np.array(counts),
        "weight_edges": np.array(edges),
        "weight_mean": np.array(means),
        "weight_std": np.array(stds),
    }


class Snapshots:
    """Collects snapshots keyed by epoch; persisted to ``path`` whenever ``fit`` writes a
    checkpoint (just before it), so a run resumed from that checkpoint keeps the ones taken
    before it was killed."""

    def __init__(self, model, x_probe, y_probe, every: int, last_epoch: int, path: Path | None):
        self.model, self.x, self.y = model, x_probe, y_probe
        self.every, self.last_epoch, self.path = every, last_epoch, path
        self.taken: dict[int, dict[str, np.ndarray]] = {}
        if path is not None and path.exists():
            saved = _read_snapshot_checkpoint(path)
            for i, epoch in enumerate(saved["epoch"]):
                self.taken[int(epoch)] = {
                    k: saved[k][i] for k in saved if k not in ("epoch", "layer")
                }

    def take(self, epoch: int) -> None:
        self.taken[epoch] = {
            **weight_stats(self.model),
            "grad_norm": layer_grad_norms(self.model, self.x, self.y),
        }

    def on_checkpoint(self, epoch) -> None:
        if self.path is not None:
            arrays = self.arrays()
            write_snapshots(self.path, {**arrays, "digest": np.array(content_digest(arrays))})

    def on_epoch_end(self, epoch, row, model, optimizer) -> None:
        epoch = int(row["epoch"])
        if epoch % self.every == 0 or epoch == self.last_epoch:
            self.take(epoch)

    def on_fit_end(self, result) -> None:
        # Early stopping and divergence end before the last planned epoch.
        if result.epochs_run not in self.taken:
            self.take(int(result.epochs_run))

    @property
    def layers(self) -> list[str]:
        return [f"dense{i}" for i in range(len(dense_layers(self.model)))]

    def arrays(self) -> dict[str, np.ndarray]:
        epochs = sorted(self.taken)
        names = np.array(self.layers, dtype=str)
        out = {"epoch": np.array(epochs, dtype=np.int64), "layer": names}
        keys = ("weight_counts", "weight_edges", "weight_mean", "weight_std", "grad_norm")
        n_layers = len(names)
        for key in keys:
            if epochs:
                out[key] = np.stack([self.taken[e][key] for e in epochs])
            else:
                shape = {
                    "weight_counts": (0, n_layers, BINS),
                    "weight_edges": (0, n_layers, BINS + 1),
                }
                out[key] = np.zeros(shape.get(key, (0, n_layers)))
        return out


def _read_snapshot_checkpoint(path: Path) -> dict[str, np.ndarray]:
    """The snapshots saved beside a checkpoint, checked against their digest; CheckpointError
    when they cannot be trusted (the run then restarts from scratch)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        digest = arrays.pop("digest", None)
        if digest is None or digest.item() != content_digest(arrays):
            raise ValueError("its content does not match its SHA-256 digest")
        return arrays
    except Exception as e:  # any damage: a bad zip, a bad CRC, a missing key, a changed array
        raise CheckpointError(path, e) from None


class Progress:
    """Per-epoch lines on the terminal and in the job's log, and the run's ``history`` file
    (history.csv) as it grows; keeps the fit's rows (those a resumed fit restored too)."""

    def __init__(self, tag: str, epochs: int, streams: list[TextIO], history: Path | None = None):
        self.tag, self.epochs, self.streams, self.history = tag, epochs, streams, history
        self.rows: list[dict] = []

    def say(self, text: str) -> None:
        for s in self.streams:
            print(text, file=s, flush=True)

    def on_fit_start(self, history) -> None:
        # A resumed fit's file shows the checkpoint's rows at once, not those of epochs the
        # kill lost (they are trained again, with the same numbers).
        self.rows = history
        self._write()

    def on_epoch_end(self, epoch, row, model, optimizer) -> None:
        self.rows.append(dict(row))
        self._write()
        self.say(
            f"[{self.tag}] epoch {int(row['epoch'])}/{self.epochs} "
            f"loss {row['train_loss']:.4f} acc {row['train_accuracy']:.4f} "
            f"val_loss {row['val_loss']:.4f} val_acc {row['val_accuracy']:.4f} "
            f"lr {row['lr']:.3g} ({row['seconds']:.2f} s)"
        )

    def _write(self) -> None:
        if self.history is not None:
            write_history(self.history, self.rows)


def _fit(run: dict, data_dir, progress, ckpt: Path | None, snap_path: Path | None, live=None):
    """Build the run's model and train it, resuming from ``ckpt`` when it exists; (model,
    snapshots, fit result). ``live``: a :class:`nnstudy.training.tracking.LiveRun`, or None.
    CheckpointError when the checkpoint or its snapshots are damaged."""
    from nnlib import fit
    from nnstudy.datasets import load_split

    card = json.loads((Path(data_dir) / "card.json").read_text())
    x_train, y_train = load_split(data_dir, "train")
    x_val, y_val = load_split(data_dir, "val")
    model, loss, optimizer, schedule = build(run, x_train.shape[1], int(card["n_classes"]))
    probe = np.asarray(x_train[:PROBE]), np.asarray(y_train[:PROBE])
    snapshots = Snapshots(model, *probe, run["snapshot_every"], run["epochs"], snap_path)
    if 0 not in snapshots.taken:
        snapshots.take(0)
    callbacks = [progress, snapshots]  # live after snapshots: it logs the epoch's snapshot
    if live is not None:
        live.watch(snapshots)
        callbacks.append(live)
    if ckpt is not None:
        ckpt.parent.mkdir(parents=True, exist_ok=True)
    result = fit(
        model,
        loss,
        optimizer,
        x_train,
        y_train,
        epochs=run["epochs"],
        batch_size=run["batch_size"],
        validation_data=(x_val, y_val),
        schedule=schedule,
        early_stopping=run["early_stopping"],
        **{key: run[key] for key in FIT_DEFAULTS if key in run},  # monitor, min_delta
        clip_norm=run["clip_norm"],
        callbacks=callbacks,
        seed=run["seed"],
        checkpoint=str(ckpt) if ckpt is not None else None,
        checkpoint_interval=CHECKPOINT_SECONDS,
        verbose=False,
        batch_transform=batch_transform(run, card),
    )
    return model, snapshots, result


def train_run(
    run: dict[str, Any],
    data_dir: str | os.PathLike,
    outputs: dict[str, str | os.PathLike],
    checkpoint: str | os.PathLike | None = None,
    log: TextIO | None = None,
    echo: bool = False,
    live=None,
) -> dict[str, Any]:
    """Train ``run`` on ``data_dir`` (train/val npz + card.json); write every file of
    ``outputs`` (keys config, model, history, snapshots, train). Returns train.json's content.
    Epoch lines go to ``log``; also to stdout with ``echo`` or without a log. ``live``: a
    :class:`nnstudy.training.tracking.LiveRun` logging each epoch to W&B (None: no W&B)."""
    from nnlib import save_model
    from nnstudy.datasets import CorruptFileError

    out = {k: Path(v) for k, v in outputs.items()}
    for path in out.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    write_json(out["config"], run)
    ckpt = Path(f"{checkpoint}.npz") if checkpoint else None
    snap_path = Path(f"{checkpoint}.snapshots.npz") if checkpoint else None
    # Under Snakemake the console shows the study's progress; a run's epochs stay in its log.
    streams = ([log] if log is not None else []) + ([sys.stdout] if echo or log is None else [])
    progress = Progress(f"{run['dataset']}/{run['run_id']}", run["epochs"], streams, out["history"])
    model = snapshots = result = None
    status, error = "failed", None
    started = time.time()
    try:
        try:
            model, snapshots, result = _fit(run, data_dir, progress, ckpt, snap_path, live)
        except CheckpointError as exc:
            # Never resume from what cannot be trusted, never record it as the run's failure.
            cause = str(exc).split("; delete it")[0]
            progress.say(f"[{progress.tag}] {cause}: discarded, the run restarts from scratch")
            for path in (ckpt, snap_path):
                path.unlink(missing_ok=True)
            model, snapshots, result = _fit(run, data_dir, progress, ckpt, snap_path, live)
        status = result.status
    except CorruptFileError:
        raise  # damaged input data is not a result of the run: the job fails, naming the file
    except Exception as exc:  # a failed run is a result: record it, keep the study going
        error = f"{type(exc).__name__}: {exc}".splitlines()[0]
        traceback.print_exc(file=log if log is not None else sys.stderr)
        progress.say(f"[{progress.tag}] failed: {error}")
    history = result.history if result is not None else progress.rows
    if model is not None:
        save_model(model, out["model"])
    else:
        np.savez(out["model"])
    write_history(out["history"], history)
    write_snapshots(
        out["snapshots"], snapshots.arrays() if snapshots is not None else _no_snapshots()
    )
    info = {
        "run_id": run["run_id"],
        "status": status,
        "error": error,
        "epochs_run": len(history),
        "best_epoch": result.best_epoch if result is not None else None,
        # Sum of epoch times, so a resumed run counts the epochs before the interruption.
        "train_seconds": float(sum(r["seconds"] for r in history)),
        "wall_seconds": time.time() - started,
        "provenance": provenance(data_dir),
    }
    write_json(out["train"], info)
    n = info["epochs_run"]
    progress.say(f"[{progress.tag}] {status} after {n} epoch{'' if n == 1 else 's'}")
    if status != "failed":
        for path in (ckpt, snap_path):
            if path is not None:
                path.unlink(missing_ok=True)
    return info


def _no_snapshots() -> dict[str, np.ndarray]:
    return {
        "epoch": np.zeros(0, np.int64),
        "layer": np.zeros(0, dtype=str),
        "weight_counts": np.zeros((0, 0, BINS), np.int64),
        "weight_edges": np.zeros((0, 0, BINS + 1)),
        "weight_mean": np.zeros((0, 0)),
        "weight_std": np.zeros((0, 0)),
        "grad_norm": np.zeros((0, 0)),
    }


def job_argv(params, threads: int, log: str) -> list[str]:
    """:func:`main`'s command line for a ``train`` or ``trial`` job (its params, threads, log)."""
    return [
        *("--run", params.run, "--data", params.data, "--out", params.out),
        *("--checkpoint", params.checkpoint, "--threads", str(threads), "--log", log),
        *(["--evaluate"] if params.evaluate else []),
        *(["--wandb", params.wandb] if getattr(params, "wandb", None) else []),
    ]


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``train`` and ``trial`` rules: ``python -m nnstudy.training.job --run
    JSON --data DIR --out DIR --checkpoint PREFIX --threads N --log FILE [--evaluate]``.
    ``--evaluate`` (rule ``train``) then evaluates the saved model on the test split into
    ``metrics.json`` (:mod:`nnstudy.training.evaluation`); tuning trials (rule ``trial``) never read it.

    The rules call it in a pooled worker process (:mod:`nnstudy.training.workers`), where the study is
    imported once; by hand it runs as ``python -m nnstudy.training.job``. Evaluation is in the
    same process for the same reason: a job of its own would cost a process start once more."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m nnstudy.training.job")
    parser.add_argument("--run", required=True, help="the resolved run config, as JSON")
    parser.add_argument("--data", required=True, help="prepared dataset folder")
    parser.add_argument("--out", required=True, help="the run's folder")
    parser.add_argument("--checkpoint", help="checkpoint path prefix (outside --out)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--log", required=True)
    parser.add_argument("--evaluate", action="store_true", help="then write metrics.json")
    parser.add_argument("--echo", action="store_true", help="epoch lines on stdout too")
    parser.add_argument(
        "--wandb", help="log to W&B while training (JSON: nnstudy.training.tracking.live_param)"
    )
    args = parser.parse_args(argv)
    inputs = [os.path.join(args.data, name) for name in TRAIN_INPUTS]
    outputs = train_outputs(args.out)
    kept = list(outputs.values())
    metrics = os.path.join(args.out, METRICS)
    if args.evaluate:
        inputs += [os.path.join(args.data, name) for name in EVAL_INPUTS]
        kept.append(metrics)
    # Checksums are checked and recorded here, not in train_run, so tests calling train_run
    # write no records.
    # A damaged input fails the job (CorruptFileError, one line); a failed run is a result.
    with job_frame(inputs, kept, args.log, args.threads, errors=(), redirect=False) as log:
        run = json.loads(args.run)
        live = None
        if args.wandb:
            live = LiveRun(json.loads(args.wandb), run, lambda text: print(text, file=log))
        try:
            train_run(run, args.data, outputs, args.checkpoint, log, args.echo, live)
            if args.evaluate:
                result = evaluate_run(outputs["model"], outputs["train"], args.data, metrics)
                print(f"test_accuracy={result['test_accuracy']}", file=log)
        except BaseException:
            if live is not None:
                live.abandon()
            raise
        if live is not None:
            summary = read_json(metrics if args.evaluate else outputs["train"])
            live.finish(summary, outputs["train"])


if __name__ == "__main__":
    main()
