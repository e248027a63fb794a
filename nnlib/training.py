"""``fit``: mini-batch training with seeded shuffling, validation, schedules, early stopping,
callbacks, gradient clipping and exact checkpoint/resume."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .atomic import atomic_savez
from .core import as_generator
from .losses import CrossEntropyLoss
from .optim import blas_threads, global_grad_norm
from .serialize import load_params

HISTORY_KEYS = (
    "epoch",
    "train_loss",
    "train_accuracy",
    "val_loss",
    "val_accuracy",
    "lr",
    "seconds",
    "grad_norm",
)
CHECKPOINT_FORMAT = "nnlib-checkpoint"


@dataclass
class FitResult:
    """What ``fit`` returns.

    status: "ok", "early_stopped" (patience ran out; best weights restored) or "diverged"
        (a non-finite loss or gradient; training stopped before applying that step).
    history: one dict per epoch with HISTORY_KEYS (epoch counts from 1; val_* are NaN
        without validation data; train_accuracy is NaN for losses without classes).
    epochs_run: number of rows in history.
    best_epoch / best_val_loss: the epoch restored by early stopping (None without it).
    """

    status: str
    history: list[dict] = field(default_factory=list)
    epochs_run: int = 0
    best_epoch: int | None = None
    best_val_loss: float | None = None

    @property
    def train_seconds(self) -> float:
        return float(sum(r["seconds"] for r in self.history))


def _check_array(name, a, n_features=None) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim != 2 or a.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array (n, features), got shape {a.shape}")
    if n_features is not None and a.shape[1] != n_features:
        raise ValueError(f"{name} has {a.shape[1]} features, the model expects {n_features}")
    if a.dtype.kind not in "fiub":
        raise ValueError(f"{name} must be numeric, got dtype {a.dtype}")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or inf")
    return a


def _check_targets(name, y, n, n_out, loss) -> np.ndarray:
    y = np.asarray(y)
    if y.shape[:1] != (n,):
        raise ValueError(f"{name} has {y.shape[0] if y.ndim else 0} rows, the inputs have {n}")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ValueError(f"{name} contains NaN or inf")
    if isinstance(loss, CrossEntropyLoss) and y.ndim == 1:
        if y.dtype.kind not in "iu":
            raise ValueError(f"{name} must hold integer class labels, got dtype {y.dtype}")
        if y.min() < 0 or y.max() >= n_out:
            raise ValueError(
                f"{name} must be in [0, {n_out - 1}] for a model with {n_out} outputs, "
                f"got range [{y.min()}, {y.max()}]"
            )
    return y


def _n_correct(out, y) -> float:
    """Correct predictions in a batch, or NaN when accuracy is undefined for these targets."""
    if y.ndim != 1 or y.dtype.kind not in "iu":
        return math.nan
    if out.ndim == 2 and out.shape[1] > 1:
        return int(np.count_nonzero(out.argmax(axis=1) == y))
    return int(np.count_nonzero((out.reshape(-1) > 0) == (y > 0)))


def _module_generators(model) -> list[np.random.Generator]:
    gens, seen = [], set()
    for m in model.modules():
        r = getattr(m, "rng", None)
        if isinstance(r, np.random.Generator) and id(r) not in seen:
            seen.add(id(r))
            gens.append(r)
    return gens


def evaluate(model, loss, x, y, batch_size: int = 4096) -> tuple[float, float]:
    """(mean loss incl. any l2 penalty, accuracy) of ``model`` in evaluation mode."""
    total, correct = 0.0, 0.0
    for i in range(0, len(x), batch_size):
        xb, yb = x[i : i + batch_size], y[i : i + batch_size]
        out = model.forward(xb, training=False)
        total += loss.forward(out, yb) * len(xb)
        correct += _n_correct(out, yb)
    value = total / len(x) + loss.penalty(model.parameters())
    return value, correct / len(x)


def _name(fn):
    """A callable's identity for the fingerprint (a repr would hold a memory address)."""
    if hasattr(fn, "get_config"):
        return fn.get_config()
    return getattr(fn, "__qualname__", type(fn).__name__)


def _fingerprint(
    model, loss, optimizer, schedule, n, epochs, batch_size, shuffle, es, clip, transform=None
) -> str:
    hyper = {k: v for k, v in optimizer.hyper.items() if k != "lr" or schedule is None}
    # Only present when set, so checkpoints of fits without a transform keep their fingerprint.
    extra = {} if transform is None else {"batch_transform": _name(transform)}
    return json.dumps(
        {
            **extra,
            "model": model.get_config(),
            "loss": loss.get_config(),
            "optimizer": [type(optimizer).__name__, hyper],
            # a plain function is identified by name (its repr holds a memory address)
            "schedule": _name(schedule),
            "n_samples": n,
            "epochs": epochs,
            "batch_size": batch_size,
            "shuffle": shuffle,
            "early_stopping": es,
            "clip_norm": clip,
        },
        sort_keys=True,
        default=str,
    )


class _Checkpoint:
    """Reads and writes the full state of a fit (see ``fit``)."""

    def __init__(self, path, fingerprint):
        self.path, self.fingerprint = Path(path), fingerprint

    def save(self, model, optimizer, state: dict, best: np.ndarray | None) -> None:
        opt = optimizer.state_dict()
        arrays = {f"param_{i}": p.data for i, p in enumerate(model.parameters())}
        arrays.update({f"opt_{k}": v for k, v in opt["state"].items()})
        if best is not None:
            arrays["best"] = best
        meta = {
            **state,
            "optimizer": {"name": opt["name"], "step": opt["step"], "hyper": opt["hyper"]},
        }
        arrays["format"] = np.array(CHECKPOINT_FORMAT)
        arrays["fingerprint"] = np.array(self.fingerprint)
        arrays["state"] = np.array(json.dumps(meta, allow_nan=True))
        atomic_savez(self.path, arrays)

    def load(self, model, optimizer):
        """Restore model and optimizer; return (state dict, best weights or None)."""
        try:
            with np.load(self.path, allow_pickle=False) as f:
                arrays = {k: f[k] for k in f.files}
            ok = arrays["format"].item() == CHECKPOINT_FORMAT
        except (OSError, ValueError, KeyError) as e:
            raise ValueError(f"cannot read checkpoint {self.path}: {e}") from None
        if not ok:
            raise ValueError(f"{self.path} is not an nnlib checkpoint")
        if arrays["fingerprint"].item() != self.fingerprint:
            raise ValueError(
                f"checkpoint {self.path} was written by a fit with other settings; "
                "delete it or use another path"
            )
        meta = json.loads(arrays["state"].item())
        load_params(model, arrays)
        opt = meta.pop("optimizer")
        opt["state"] = {k[4:]: v for k, v in arrays.items() if k.startswith("opt_")}
        optimizer.load_state_dict(opt)
        return meta, arrays.get("best")


def fit(
    model,
    loss,
    optimizer,
    x,
    y,
    epochs: int,
    batch_size: int = 32,
    validation_data=None,
    schedule=None,
    early_stopping: int | None = None,
    clip_norm: float | None = None,
    callbacks=(),
    seed=0,
    checkpoint=None,
    checkpoint_interval: float = 0.0,
    verbose: bool = False,
    shuffle: bool = True,
    threads: int | None = None,
    batch_transform=None,
) -> FitResult:
    """Train ``model`` on (x, y) and return a ``FitResult``.

    Args:
        model: a Module (e.g. ``MLP``); loss: a Loss; optimizer: built over
            ``model.parameters()``.
        x, y: inputs (n, features) and targets (integer labels for classification).
        epochs, batch_size: the last batch of an epoch may be smaller.
        validation_data: optional (x_val, y_val), evaluated after every epoch.
        schedule: optional ``f(epoch) -> lr`` (epoch from 0), applied at each epoch start.
        early_stopping: patience in epochs on validation loss (needs validation_data); the
            weights of the best epoch are restored at the end.
        clip_norm: clip the global gradient norm to this value before each step.
        callbacks: objects with optional ``on_epoch_end(epoch, row, model, optimizer)``
            (epoch counts from 1, row is the history dict), ``on_checkpoint(epoch)`` (just
            before a checkpoint is written: the moment to persist a callback's own state for
            a resumed fit) and ``on_fit_end(result)``.
        seed: int or Generator for the shuffle order (dropout draws from the model's rng).
        checkpoint: path of an .npz written atomically after every epoch (params, optimizer
            state, epoch, history, early-stopping state, shuffle and dropout generator
            states). If it exists when fit starts, training resumes from it and ends
            bit-identical to an uninterrupted fit; a checkpoint from other settings raises.
        checkpoint_interval: minimum seconds between two checkpoints during the fit (0: after
            every epoch). A kill then loses at most that much training; a short fit of many
            quick epochs writes one checkpoint, at its end, instead of one per epoch. Results
            do not depend on it.
        verbose: print one line per epoch.
        shuffle: reshuffle every epoch (else keep the order of x).
        threads: threads for the optimizer's element-wise update; None matches the BLAS
            thread limit (threadpoolctl), so one setting governs the whole step. Results do
            not depend on it.
        batch_transform: optional ``f(xb, rng) -> xb`` applied to each training mini-batch
            (never to validation data), e.g. data augmentation; it must return an array of
            the same shape. ``rng`` is fit's seeded shuffle generator, whose state the
            checkpoint stores, so a resumed fit draws the same numbers. ``xb`` is a scratch
            buffer refilled for every batch: the transform may change it but must not keep it.

    Bad inputs raise a one-line ValueError before anything is trained or written. A
    non-finite loss or gradient ends the fit with status "diverged" (no exception).
    """
    for name, v in (("epochs", epochs), ("batch_size", batch_size)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    if early_stopping is not None and (not isinstance(early_stopping, int) or early_stopping < 1):
        raise ValueError(f"early_stopping must be None or a positive int, got {early_stopping!r}")
    if early_stopping is not None and validation_data is None:
        raise ValueError("early_stopping needs validation_data")
    if batch_transform is not None and not callable(batch_transform):
        raise ValueError(f"batch_transform must be None or callable, got {batch_transform!r}")
    if not (math.isfinite(checkpoint_interval) and checkpoint_interval >= 0):
        raise ValueError(f"checkpoint_interval must be >= 0 seconds, got {checkpoint_interval!r}")
    if clip_norm is not None and not (math.isfinite(clip_norm) and clip_norm > 0):
        raise ValueError(f"clip_norm must be None or > 0, got {clip_norm!r}")
    params = model.parameters()
    dtype = params[0].data.dtype
    x = _check_array("x", x, getattr(model, "n_features", None)).astype(dtype, copy=False)
    n = len(x)
    n_out = model.forward(x[:1]).shape[-1]
    y = _check_targets("y", y, n, n_out, loss)
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError("validation_data must be a pair (x_val, y_val)")
        xv = _check_array("x_val", validation_data[0], x.shape[1]).astype(dtype, copy=False)
        yv = _check_targets("y_val", validation_data[1], len(xv), n_out, loss)
    if hasattr(optimizer, "threads"):
        optimizer.threads = threads if threads is not None else blas_threads()
    if hasattr(optimizer, "warm_up"):
        optimizer.warm_up()  # numba's start-up outside the first epoch's seconds
    rng = as_generator(seed)
    gens = _module_generators(model)
    callbacks = list(callbacks or [])
    ckpt = None
    if checkpoint is not None:
        fp = _fingerprint(
            model,
            loss,
            optimizer,
            schedule,
            n,
            int(epochs),
            int(batch_size),
            shuffle,
            early_stopping,
            clip_norm,
            batch_transform,
        )
        ckpt = _Checkpoint(checkpoint, fp)

    state = {
        "epoch": 0,
        "status": "running",
        "history": [],
        "best_val_loss": None,
        "best_epoch": None,
        "bad_epochs": 0,
    }
    best = None
    if ckpt is not None and ckpt.path.exists():
        state, best = ckpt.load(model, optimizer)
        rng.bit_generator.state = state.pop("rng")
        for g, s in zip(gens, state.pop("module_rngs"), strict=True):
            g.bit_generator.state = s

    def save_checkpoint():
        if ckpt is not None:
            for cb in callbacks:
                hook = getattr(cb, "on_checkpoint", None)
                if hook is not None:
                    hook(state["epoch"])
            extra = {
                "rng": rng.bit_generator.state,
                "module_rngs": [g.bit_generator.state for g in gens],
            }
            ckpt.save(model, optimizer, {**state, **extra}, best)

    history = state["history"]
    last_saved = time.perf_counter()
    while state["status"] == "running" and state["epoch"] < epochs:
        epoch = state["epoch"]
        t0 = time.perf_counter()
        if schedule is not None:
            optimizer.lr = float(schedule(epoch))
        order = rng.permutation(n) if shuffle else np.arange(n)
        transform = None
        if batch_transform is not None:

            def transform(xb):
                return batch_transform(xb, rng)

        loss_sum, correct, norm_sum, steps = _train_epoch(
            model, loss, optimizer, x, y, order, batch_size, clip_norm, transform
        )
        diverged = steps < -(-n // batch_size)
        seen = min(n, steps * batch_size)
        row = {
            "epoch": epoch + 1,
            "train_loss": math.nan if diverged else loss_sum / seen,
            "train_accuracy": math.nan if diverged else correct / seen,
            "val_loss": math.nan,
            "val_accuracy": math.nan,
            "lr": optimizer.lr,
            "seconds": 0.0,
            "grad_norm": norm_sum / steps if steps else math.nan,
        }
        if validation_data is not None and not diverged:
            # Weights that blew up in the epoch's last steps overflow here; the history shows
            # it (inf/NaN) and the next epoch ends as diverged, without floating-point warnings.
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                row["val_loss"], row["val_accuracy"] = evaluate(model, loss, xv, yv)
        row["seconds"] = time.perf_counter() - t0
        history.append(row)
        state["epoch"] = epoch + 1
        if diverged:
            state["status"] = "diverged"
        elif early_stopping is not None:
            if state["best_val_loss"] is None or row["val_loss"] < state["best_val_loss"]:
                state["best_val_loss"], state["best_epoch"] = row["val_loss"], epoch + 1
                state["bad_epochs"] = 0
                best = np.concatenate([p.data.ravel() for p in params])
            else:
                state["bad_epochs"] += 1
                if state["bad_epochs"] >= early_stopping:
                    state["status"] = "early_stopped"
        if verbose:
            print(_format_row(row, epochs), flush=True)
        for cb in callbacks:
            hook = getattr(cb, "on_epoch_end", None)
            if hook is not None:
                hook(epoch + 1, row, model, optimizer)
        if (
            state["status"] == "running"
            and state["epoch"] < epochs
            and time.perf_counter() - last_saved >= checkpoint_interval
        ):
            save_checkpoint()
            last_saved = time.perf_counter()

    if state["status"] == "running":
        state["status"] = "ok"
    if best is not None and state["status"] != "diverged":
        i = 0
        for p in params:
            p.data[...] = best[i : i + p.data.size].reshape(p.data.shape)
            i += p.data.size
    save_checkpoint()
    result = FitResult(
        status=state["status"],
        history=history,
        epochs_run=len(history),
        best_epoch=state["best_epoch"],
        best_val_loss=state["best_val_loss"],
    )
    if verbose and result.status != "ok":
        print(f"fit ended: {result.status} after {result.epochs_run} epochs", flush=True)
    for cb in callbacks:
        hook = getattr(cb, "on_fit_end", None)
        if hook is not None:
            hook(result)
    return result


def _train_epoch(model, loss, optimizer, x, y, order, batch_size, clip_norm, transform=None):
    """One pass over ``x[order]``, each batch through ``transform`` if given; returns (sum of
    batch losses * batch sizes, correct predictions, sum of gradient norms, completed steps).
    Stops early, without applying the step, at the first non-finite loss or gradient."""
    params = model.parameters()
    flat_grad = getattr(optimizer, "flat_grad", None)
    loss_sum, correct, norm_sum, steps = 0.0, 0.0, 0.0, 0
    xbufs = {}
    # Class predictions are stored and compared with the labels once per epoch: two NumPy
    # calls fewer per step than counting per batch.
    labels = y.ndim == 1 and y.dtype.kind in "iu"
    preds = None
    # Divergence is reported through the status, not as floating-point warnings.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            xb = xbufs.get(len(idx))
            if xb is None:
                xb = xbufs[len(idx)] = np.empty((len(idx), x.shape[1]), x.dtype)
            x.take(idx, axis=0, out=xb, mode="clip")
            xin = xb
            if transform is not None:
                xin = np.asarray(transform(xb), dtype=x.dtype)
                if xin.shape != xb.shape:
                    raise ValueError(
                        f"batch_transform returned shape {xin.shape}, expected {xb.shape}"
                    )
            yb = y[idx]
            out = model.forward(xin, training=True)
            value = loss.forward(out, yb, params)
            if not math.isfinite(value):
                break
            model.backward(loss.backward(), input_grad=False)
            loss.penalty_backward(params)
            if flat_grad is not None:
                norm = math.sqrt(float(np.vdot(flat_grad, flat_grad)))
            else:
                norm = global_grad_norm(params)
            if not math.isfinite(norm):
                break
            if clip_norm is not None and norm > clip_norm:
                scale = clip_norm / (norm + 1e-6)
                for p in params:
                    p.grad *= scale
            optimizer.step()
            loss_sum += value * len(idx)
            if labels and out.ndim == 2 and out.shape[1] > 1:
                if preds is None:
                    preds = np.empty(len(order), np.intp)
                out.argmax(axis=1, out=preds[start : start + len(idx)])
            else:
                correct += _n_correct(out, yb)
            norm_sum += norm
            steps += 1
    if preds is not None:
        done = min(len(order), steps * batch_size)
        correct += int(np.count_nonzero(preds[:done] == y[order[:done]]))
    return loss_sum, correct, norm_sum, steps


def _format_row(row, epochs) -> str:
    parts = [f"epoch {row['epoch']}/{epochs}", f"loss {row['train_loss']:.4f}"]
    if not math.isnan(row["train_accuracy"]):
        parts.append(f"acc {row['train_accuracy']:.4f}")
    if not math.isnan(row["val_loss"]):
        parts.append(f"val_loss {row['val_loss']:.4f}")
    if not math.isnan(row["val_accuracy"]):
        parts.append(f"val_acc {row['val_accuracy']:.4f}")
    parts += [f"lr {row['lr']:.3g}", f"{row['seconds']:.2f}s"]
    return "  ".join(parts)
