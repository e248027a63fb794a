"""``fit``: mini-batch training with seeded shuffling, validation, schedules, early stopping,
callbacks, gradient clipping and exact checkpoint/resume."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from .checkpoint import Checkpoint, fingerprint, setting_name
from .core import as_generator
from .losses import CrossEntropyLoss
from .optim import blas_threads, global_grad_norm, scale_to_norm

# What early stopping can monitor, and whether higher is better.
MONITORS = {"val_loss": False, "val_accuracy": True}
# fit's default divergence_factor: an epoch whose mean training loss exceeds 100 times the
# first mini-batch's loss has diverged.
DIVERGENCE_FACTOR = 100.0
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


@dataclass
class FitResult:
    """What ``fit`` returns.

    status: "ok", "early_stopped" (patience ran out; best weights restored) or "diverged"
        (a non-finite loss or gradient, and training stopped before applying that step; or
        an epoch's mean training loss above ``divergence_factor`` x the first mini-batch's).
    history: one dict per epoch with HISTORY_KEYS (epoch counts from 1; val_* are NaN
        without validation data; train_accuracy is NaN for losses without classes).
    epochs_run: number of rows in history.
    best_epoch / best_val_loss: the epoch restored by early stopping and its validation loss
        (None without early stopping).
    monitor / best_score: what early stopping monitored ("val_loss" or "val_accuracy") and
        its best value, that of best_epoch (None without early stopping).
    """

    status: str
    history: list[dict] = field(default_factory=list)
    epochs_run: int = 0
    best_epoch: int | None = None
    best_val_loss: float | None = None
    monitor: str | None = None
    best_score: float | None = None

    @property
    def train_seconds(self) -> float:
        return float(sum(r["seconds"] for r in self.history))


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


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


def _are_labels(y) -> bool:
    """Whether targets are class ids, for which accuracy is defined."""
    return y.ndim == 1 and y.dtype.kind in "iu"


def _n_correct(out, y) -> float:
    """Correct predictions in a batch, or NaN when accuracy is undefined for these targets."""
    if not _are_labels(y):
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


def _as_model_input(model, x) -> np.ndarray:
    """``x`` as an array of the dtype of the model's parameters (converted explicitly, as
    scikit-learn's check_array does; modules themselves refuse another dtype)."""
    x = np.asarray(x)
    params = model.parameters()
    if params and x.dtype != params[0].data.dtype:
        x = x.astype(params[0].data.dtype)
    return x


def evaluate(model, loss, x, y, batch_size: int = 4096) -> tuple[float, float]:
    """(mean loss incl. any l2 penalty, accuracy) of ``model`` in evaluation mode; ``x`` is
    converted to the model's dtype."""
    x, y = _as_model_input(model, x), np.asarray(y)
    total, correct = 0.0, 0.0
    for i in range(0, len(x), batch_size):
        xb, yb = x[i : i + batch_size], y[i : i + batch_size]
        out = model.forward(xb, training=False)
        total += loss.forward(out, yb) * len(xb)
        correct += _n_correct(out, yb)
    value = total / len(x) + loss.penalty(model.parameters())
    return value, correct / len(x)


@dataclass(frozen=True)
class _Settings:
    """fit's arguments besides the model, loss, optimizer, data, callbacks and seed."""

    epochs: int
    batch_size: int
    has_validation: bool
    schedule: object
    early_stopping: int | None
    clip_norm: float | None
    checkpoint: object
    checkpoint_interval: float
    verbose: bool
    shuffle: bool
    batch_transform: object
    divergence_factor: float | None
    monitor: str
    min_delta: float

    def check(self) -> None:
        """One-line ValueErrors for bad settings, before anything is trained."""
        for name in ("epochs", "batch_size"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        es = self.early_stopping
        if es is not None and (not isinstance(es, int) or es < 1):
            raise ValueError(f"early_stopping must be None or a positive int, got {es!r}")
        if es is not None and not self.has_validation:
            raise ValueError("early_stopping needs validation_data")
        if self.monitor not in MONITORS:
            raise ValueError(f"monitor must be one of {', '.join(MONITORS)}, got {self.monitor!r}")
        delta = self.min_delta
        if not (_is_number(delta) and math.isfinite(delta) and delta >= 0):
            raise ValueError(f"min_delta must be a finite number >= 0, got {delta!r}")
        if es is None and (self.monitor != "val_loss" or delta != 0):
            raise ValueError("monitor and min_delta are early stopping's: set early_stopping")
        transform = self.batch_transform
        if transform is not None and not callable(transform):
            raise ValueError(f"batch_transform must be None or callable, got {transform!r}")
        interval = self.checkpoint_interval
        if not (math.isfinite(interval) and interval >= 0):
            raise ValueError(f"checkpoint_interval must be >= 0 seconds, got {interval!r}")
        clip = self.clip_norm
        if clip is not None and not (math.isfinite(clip) and clip > 0):
            raise ValueError(f"clip_norm must be None or > 0, got {clip!r}")
        monitor = getattr(self.schedule, "monitor", None)
        if isinstance(monitor, str) and monitor.startswith("val_") and not self.has_validation:
            name = type(self.schedule).__name__
            raise ValueError(f"schedule {name} monitors {monitor}, which needs validation_data")
        factor = self.divergence_factor
        if factor is not None and not (_is_number(factor) and math.isfinite(factor) and factor > 1):
            raise ValueError(f"divergence_factor must be None or a number > 1, got {factor!r}")

    def new_settings(self) -> dict:
        """The settings added after checkpoints were first written that differ from their
        defaults (the fingerprint holds only these, so older checkpoints stay valid)."""
        extra = {}
        if self.batch_transform is not None:
            extra["batch_transform"] = setting_name(self.batch_transform)
        if self.divergence_factor != DIVERGENCE_FACTOR:
            extra["divergence_factor"] = self.divergence_factor
        if self.monitor != "val_loss":
            extra["monitor"] = self.monitor
        if self.min_delta != 0:
            extra["min_delta"] = self.min_delta
        return extra


@dataclass
class _State:
    """What a fit carries from one epoch to the next, and its checkpoint stores besides the
    weights and the optimizer state (``best``, the best epoch's weights, is stored as an
    array; the rest as JSON)."""

    epoch: int = 0
    status: str = "running"
    history: list = field(default_factory=list)
    best_score: float | None = None  # the monitored value of best_epoch
    best_epoch: int | None = None
    bad_epochs: int = 0
    first_loss: float | None = None
    best: list[np.ndarray] | None = None

    def meta(self) -> dict:
        return {k: v for k, v in vars(self).items() if k != "best"}


class _Fit:
    """One call of ``fit``: its checked inputs, its state and the steps of its epoch loop."""

    def __init__(self, model, loss, optimizer, data, settings: _Settings, callbacks, seed):
        self.model, self.loss, self.optimizer = model, loss, optimizer
        self.x, self.y, self.val = data
        self.s = settings
        self.callbacks = list(callbacks or [])
        self.params = model.parameters()
        self.rng = as_generator(seed)
        self.gens = _module_generators(model)
        self.state = _State()
        self.ckpt = None
        if settings.checkpoint is not None:
            self.ckpt = Checkpoint(settings.checkpoint, self._fingerprint())
        self.steps_per_epoch = -(-len(self.x) // settings.batch_size)
        self.per_step = getattr(settings.schedule, "per_step", False)
        if self.per_step:  # after the fingerprint: OneCycle sets the optimizer's momentum
            settings.schedule.bind(self.steps_per_epoch, optimizer)

    def _fingerprint(self) -> str:
        s = self.s
        return fingerprint(
            self.model,
            self.loss,
            self.optimizer,
            s.schedule,
            len(self.x),
            int(s.epochs),
            int(s.batch_size),
            s.shuffle,
            s.early_stopping,
            s.clip_norm,
            s.new_settings(),
        )

    # ---- the fit's state and its checkpoint ----------------------------------------------

    def resume(self) -> None:
        """Continue from the checkpoint when there is one."""
        if self.ckpt is None or not self.ckpt.path.exists():
            return
        meta, best = self.ckpt.load(
            self.model, self.optimizer, [self.rng, *self.gens], self.s.schedule
        )
        if "best_val_loss" in meta:  # checkpoints of before monitor (always val_loss)
            meta["best_score"] = meta.pop("best_val_loss")
        fields = set(vars(_State()))
        self.state = _State(**{k: v for k, v in meta.items() if k in fields}, best=best)

    def save(self) -> None:
        if self.ckpt is None:
            return
        self._hook("on_checkpoint", self.state.epoch)
        generators = [self.rng, *self.gens]
        self.ckpt.save(
            self.model,
            self.optimizer,
            generators,
            self.s.schedule,
            self.state.meta(),
            self.state.best,
        )

    def _hook(self, name, *args) -> None:
        for cb in self.callbacks:
            hook = getattr(cb, name, None)
            if hook is not None:
                hook(*args)

    # ---- the epoch loop ------------------------------------------------------------------

    def run(self) -> FitResult:
        state, epochs = self.state, self.s.epochs
        # A copy: the callback may keep it, the fit goes on appending to its own.
        self._hook("on_fit_start", [dict(row) for row in state.history])
        last_saved = time.perf_counter()
        while state.status == "running" and state.epoch < epochs:
            row = self._epoch()
            if self.s.verbose:
                print(_format_row(row, epochs), flush=True)
            self._hook("on_epoch_end", state.epoch, row, self.model, self.optimizer)
            if (
                state.status == "running"
                and state.epoch < epochs
                and time.perf_counter() - last_saved >= self.s.checkpoint_interval
            ):
                self.save()
                last_saved = time.perf_counter()
        return self._finish()

    def _epoch(self) -> dict:
        """Train one epoch, validate, record its row and decide how the fit goes on."""
        s, state, n = self.s, self.state, len(self.x)
        t0 = time.perf_counter()
        if s.schedule is not None and not self.per_step:
            self.optimizer.lr = float(s.schedule(state.epoch))
        order = self.rng.permutation(n) if s.shuffle else np.arange(n)
        loss_sum, correct, norm_sum, steps, first = _train_epoch(
            self.model,
            self.loss,
            self.optimizer,
            self.x,
            self.y,
            order,
            s.batch_size,
            s.clip_norm,
            self._transform(),
            self._on_step(),
        )
        diverged = steps < self.steps_per_epoch
        if state.epoch == 0 and steps:
            state.first_loss = first
        seen = min(n, steps * s.batch_size)
        row = {
            "epoch": state.epoch + 1,
            "train_loss": math.nan if diverged else loss_sum / seen,
            "train_accuracy": math.nan if diverged else correct / seen,
            "val_loss": math.nan,
            "val_accuracy": math.nan,
            "lr": self.optimizer.lr,
            "seconds": 0.0,
            "grad_norm": norm_sum / steps if steps else math.nan,
        }
        if self.val is not None and not diverged:
            # Weights that blew up in the epoch's last steps overflow here; the history shows
            # it (inf/NaN) and the next epoch ends as diverged, without floating-point warnings.
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                row["val_loss"], row["val_accuracy"] = evaluate(self.model, self.loss, *self.val)
        row["seconds"] = time.perf_counter() - t0
        state.history.append(row)
        state.epoch += 1
        self._decide(row, diverged)
        return row

    def _on_step(self):
        """For a per-step schedule, ``f(i)`` applying it before the epoch's i-th step (the
        fit's step epoch * steps_per_epoch + i); else None, so the loop does no per-step work."""
        if not self.per_step:
            return None
        schedule, optimizer = self.s.schedule, self.optimizer
        offset = self.state.epoch * self.steps_per_epoch

        def on_step(i):
            schedule.apply(optimizer, offset + i)

        return on_step

    def _transform(self):
        """The batch transform with fit's generator bound, or None."""
        batch_transform = self.s.batch_transform
        if batch_transform is None:
            return None
        rng = self.rng

        def transform(xb):
            return batch_transform(xb, rng)

        return transform

    # ---- the end-of-epoch decisions ------------------------------------------------------

    def _decide(self, row, diverged: bool) -> None:
        """Divergence, then early stopping (which keeps the best epoch's weights)."""
        state, patience = self.state, self.s.early_stopping
        if diverged or self._exploded(row):
            state.status = "diverged"
            return
        if hasattr(self.s.schedule, "observe"):
            self.s.schedule.observe(row)
        if patience is not None:
            if self._improved(row[self.s.monitor]):
                state.best_score, state.best_epoch = row[self.s.monitor], row["epoch"]
                state.bad_epochs = 0
                state.best = _snapshot(self.model)
            else:
                state.bad_epochs += 1
                if state.bad_epochs >= patience:
                    state.status = "early_stopped"

    def _improved(self, value: float) -> bool:
        """Whether the monitored value beats the best so far by more than min_delta, as
        Keras' EarlyStopping tests it (the first epoch always does; NaN never does)."""
        best, delta = self.state.best_score, self.s.min_delta
        if best is None:
            return True
        if MONITORS[self.s.monitor]:
            return value - delta > best
        return value + delta < best

    def _exploded(self, row) -> bool:
        """The divergence rule for a loss that stays finite: the epoch's mean training loss
        is above divergence_factor x the first mini-batch's loss (before any update)."""
        factor, first = self.s.divergence_factor, self.state.first_loss
        if factor is None or first is None or first <= 0:
            return False
        return row["train_loss"] > factor * first

    def _finish(self) -> FitResult:
        state = self.state
        best = None if state.best_epoch is None else state.history[state.best_epoch - 1]
        if state.status == "running":
            state.status = "ok"
        if state.best is not None and state.status != "diverged":
            _restore(self.model, state.best)
        self.save()
        result = FitResult(
            status=state.status,
            history=state.history,
            epochs_run=len(state.history),
            best_epoch=state.best_epoch,
            best_val_loss=None if best is None else best["val_loss"],
            monitor=None if self.s.early_stopping is None else self.s.monitor,
            best_score=state.best_score,
        )
        if self.s.verbose and result.status != "ok":
            print(f"fit ended: {result.status} after {result.epochs_run} epochs", flush=True)
        self._hook("on_fit_end", result)
        return result


def _snapshot(model) -> list[np.ndarray]:
    """A copy of the model's weights: [all parameters as one flat array, *buffers]."""
    flat = np.concatenate([p.data.ravel() for p in model.parameters()])
    return [flat, *(b.copy() for b in model.buffers())]


def _restore(model, snapshot: list[np.ndarray]) -> None:
    """Put back what ``_snapshot`` copied."""
    flat, buffers = snapshot[0], snapshot[1:]
    i = 0
    for p in model.parameters():
        p.data[...] = flat[i : i + p.data.size].reshape(p.data.shape)
        i += p.data.size
    for b, saved in zip(model.buffers(), buffers, strict=True):
        b[...] = saved


def _check_data(model, loss, x, y, validation_data):
    """(x, y, (x_val, y_val) or None), checked and in the model's dtype."""
    dtype = model.parameters()[0].data.dtype
    x = _check_array("x", x, getattr(model, "n_features", None)).astype(dtype, copy=False)
    n_out = model.forward(x[:1]).shape[-1]
    y = _check_targets("y", y, len(x), n_out, loss)
    if validation_data is None:
        return x, y, None
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
        raise ValueError("validation_data must be a pair (x_val, y_val)")
    xv = _check_array("x_val", validation_data[0], x.shape[1]).astype(dtype, copy=False)
    yv = _check_targets("y_val", validation_data[1], len(xv), n_out, loss)
    return x, y, (xv, yv)


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
    divergence_factor: float | None = DIVERGENCE_FACTOR,
    monitor: str = "val_loss",
    min_delta: float = 0.0,
) -> FitResult:
    """Train ``model`` on (x, y) and return a ``FitResult``.

    Args:
        model: a Module (e.g. ``MLP``); loss: a Loss; optimizer: built over
            ``model.parameters()``.
        x, y: inputs (n, features) and targets (integer labels for classification); x (and
            x_val) are converted to the model's dtype once, here (the model's own forward
            refuses another dtype).
        epochs, batch_size: the last batch of an epoch may be smaller.
        validation_data: optional (x_val, y_val), evaluated after every epoch.
        schedule: optional ``f(epoch) -> lr`` (epoch from 0), applied at each epoch start, or
            a per-step schedule (``per_step`` True: OneCycle, CosineWarmup(per_step=True)),
            applied before every optimizer step, its epochs converted to steps through the
            steps per epoch, ceil(n / batch_size); see ``nnlib.schedules``. The history's
            ``lr`` is the lr of the epoch's last step. A schedule with ``observe(row)``
            (ReduceLROnPlateau) reads each epoch's row at its end; its state is checkpointed.
        early_stopping: patience in epochs (needs validation_data): the fit stops once the
            ``monitor``ed value has not improved for that many epochs, and the weights (and
            buffers) of the best epoch are restored at the end.
        monitor: "val_loss" (lower is better) or "val_accuracy" (higher is better; needs
            class labels), the value early stopping follows.
        min_delta: an epoch improves on the best only by more than this, as in Keras
            (val_loss + min_delta < best, val_accuracy - min_delta > best).
        clip_norm: clip the global gradient norm to this value before each step.
        callbacks: objects with optional ``on_fit_start(history)`` (before the first epoch
            trained here: the rows restored from the checkpoint, a copy; ``[]`` for a fresh
            fit), ``on_epoch_end(epoch, row, model, optimizer)``
            (epoch counts from 1, row is the history dict), ``on_checkpoint(epoch)`` (just
            before a checkpoint is written: the moment to persist a callback's own state for
            a resumed fit) and ``on_fit_end(result)``.
        seed: int or Generator for the shuffle order (dropout draws from the model's rng).
        checkpoint: path of an .npz written atomically after every epoch (params, buffers,
            optimizer state, epoch, history, early-stopping state, a stateful schedule's
            state, shuffle and dropout generator states, a SHA-256 digest of all of it). If it exists when fit starts, training
            resumes from it and ends bit-identical to an uninterrupted fit. A checkpoint from
            other settings raises ValueError; a damaged one (unreadable, truncated, altered)
            raises ``CheckpointError`` (a ValueError) naming the file, before anything is
            restored: delete it to train from the start.
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
        divergence_factor: an epoch whose mean training loss exceeds this factor times the
            loss of the fit's very first mini-batch (computed before any update) ends the fit
            as "diverged" after that epoch, like a non-finite loss does: a loss that explodes
            while staying finite (a huge learning rate) is not a result. None disables the
            rule; so does a first loss of 0. The first loss is kept in the checkpoint
            (checkpoints written before this rule existed resume without it).

    Bad inputs raise a one-line ValueError before anything is trained or written. A
    non-finite loss or gradient, or the divergence rule, ends the fit with status "diverged"
    (no exception).
    """
    settings = _Settings(
        epochs=epochs,
        batch_size=batch_size,
        has_validation=validation_data is not None,
        schedule=schedule,
        early_stopping=early_stopping,
        clip_norm=clip_norm,
        checkpoint=checkpoint,
        checkpoint_interval=checkpoint_interval,
        verbose=verbose,
        shuffle=shuffle,
        batch_transform=batch_transform,
        divergence_factor=divergence_factor,
        monitor=monitor,
        min_delta=min_delta,
    )
    settings.check()
    data = _check_data(model, loss, x, y, validation_data)
    if monitor == "val_accuracy" and not _are_labels(data[1]):
        raise ValueError("monitor='val_accuracy' needs integer class labels as targets")
    if hasattr(optimizer, "threads"):
        optimizer.threads = threads if threads is not None else blas_threads()
    if hasattr(optimizer, "warm_up"):
        optimizer.warm_up()  # numba's start-up outside the first epoch's seconds
    run = _Fit(model, loss, optimizer, data, settings, callbacks, seed)
    run.resume()
    return run.run()


def _train_epoch(
    model, loss, optimizer, x, y, order, batch_size, clip_norm, transform=None, on_step=None
):
    """One pass over ``x[order]``, each batch through ``transform`` if given, ``on_step(i)``
    called before the i-th optimizer step if given (per-step schedules); returns (sum of
    batch losses * batch sizes, correct predictions, sum of gradient norms, completed steps,
    the first batch's loss). Stops early, without applying the step, at the first non-finite
    loss or gradient."""
    params = model.parameters()
    flat_grad = getattr(optimizer, "flat_grad", None)
    loss_sum, correct, norm_sum, steps, first = 0.0, 0.0, 0.0, 0, math.nan
    xbufs = {}
    # Class predictions are stored and compared with the labels once per epoch: two NumPy
    # calls fewer per step than counting per batch.
    labels = _are_labels(y)
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
            if clip_norm is not None:
                scale_to_norm(params, norm, clip_norm)
            if on_step is not None:
                on_step(steps)
            optimizer.step()
            if not steps:
                first = value
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
    return loss_sum, correct, norm_sum, steps, first


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
