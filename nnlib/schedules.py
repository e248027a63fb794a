"""Learning-rate schedules, with torch.optim.lr_scheduler's formulas.

Three kinds, as ``fit`` drives them:

- per epoch (``per_step`` False): ``schedule(epoch) -> lr``, epochs counted from 0, applied
  at each epoch's start. Constant, StepDecay, Exponential, CosineWarmup, ReduceLROnPlateau.
- per step (``per_step`` True): OneCycle, and CosineWarmup(per_step=True). ``fit`` calls
  ``bind(steps_per_epoch, optimizer)`` once, then ``apply(optimizer, step)`` before every
  optimizer step (``step`` counts from 0 over the whole fit, so a resumed fit continues where
  it stopped); the unit of their ``epochs`` arguments becomes steps through steps_per_epoch.
- stateful: ReduceLROnPlateau also reads each epoch's history row at its end
  (``observe(row)``); its ``state_dict()`` goes into fit's checkpoint.

``get_config()`` (what fit's checkpoint fingerprint records) holds the constructor's
arguments; keyword arguments added to an existing schedule appear in it only when they differ
from their defaults, so existing configs keep their fingerprint.
"""

from __future__ import annotations

import inspect
import math
import numbers


def _positive(name, v):
    if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {v!r}")
    return v


def _in_unit(name, v, high_open=False):
    ok = isinstance(v, numbers.Real) and not isinstance(v, bool) and 0 <= v <= 1
    if not ok or (high_open and v == 1):
        raise ValueError(f"{name} must be a number in [0, 1{')' if high_open else ']'}, got {v!r}")
    return float(v)


def _non_negative_int(name, v) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise ValueError(f"{name} must be an int >= 0, got {v!r}")
    return v


def _choice(name, v, valid):
    if v not in valid:
        raise ValueError(f"{name} must be one of {', '.join(valid)}, got {v!r}")
    return v


class Schedule:
    per_step = False
    # Keyword arguments added after the schedule was first used: get_config leaves them out
    # while they hold their defaults.
    _added: tuple[str, ...] = ()

    def __init__(self, lr: float):
        self.lr = float(_positive("lr", lr))

    def __call__(self, epoch: int) -> float:
        raise NotImplementedError

    def get_config(self) -> dict:
        params = list(inspect.signature(type(self).__init__).parameters.values())[1:]
        config = {"type": type(self).__name__}
        for p in params:
            value = getattr(self, p.name)
            if p.name not in self._added or value != p.default:
                config[p.name] = value
        return config


class _PerStep:
    """The per-step protocol: ``bind`` gives the steps per epoch, ``lr_at(step)`` the lr."""

    steps_per_epoch: int | None = None

    def bind(self, steps_per_epoch: int, optimizer=None) -> None:
        if not isinstance(steps_per_epoch, int) or steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be a positive int, got {steps_per_epoch!r}")
        self.steps_per_epoch = steps_per_epoch

    def _steps(self) -> int:
        if self.steps_per_epoch is None:
            raise ValueError(
                f"{type(self).__name__} is per step: bind(steps_per_epoch) first (fit does)"
            )
        return self.steps_per_epoch

    def apply(self, optimizer, step: int) -> None:
        optimizer.lr = self.lr_at(step)

    def lr_at(self, step: int) -> float:
        raise NotImplementedError


class Constant(Schedule):
    """lr for every epoch."""

    def __call__(self, epoch):
        return self.lr


class StepDecay(Schedule):
    """lr * gamma ** (epoch // step_size) (torch StepLR)."""

    def __init__(self, lr: float, step_size: int = 10, gamma: float = 0.1):
        super().__init__(lr)
        self.step_size = int(_positive("step_size", step_size))
        self.gamma = float(_positive("gamma", gamma))

    def __call__(self, epoch):
        return self.lr * self.gamma ** (epoch // self.step_size)


class Exponential(Schedule):
    """lr * gamma ** epoch (torch ExponentialLR)."""

    def __init__(self, lr: float, gamma: float = 0.95):
        super().__init__(lr)
        self.gamma = float(_positive("gamma", gamma))

    def __call__(self, epoch):
        return self.lr * self.gamma**epoch


class CosineWarmup(_PerStep, Schedule):
    """Linear warmup lr * (k + 1) / W over the first W units, then cosine annealing from lr to
    ``min_lr`` over the remaining ones (torch's LinearLR(1 / W, 1, W - 1) then
    CosineAnnealingLR(T - W, min_lr), chained at W).

    The unit is the epoch (W = ``warmup_epochs``, T = ``epochs``; the lr changes at epoch
    starts), or with ``per_step=True`` the optimizer step: W = ``warmup_epochs`` x steps per
    epoch, or ``warmup_steps`` when given, and T = ``epochs`` x steps per epoch.
    """

    _added = ("per_step", "warmup_steps")

    def __init__(
        self,
        lr: float,
        epochs: int,
        warmup_epochs: int = 0,
        min_lr: float = 0.0,
        per_step: bool = False,
        warmup_steps: int = 0,
    ):
        super().__init__(lr)
        self.epochs = int(_positive("epochs", epochs))
        if not (isinstance(warmup_epochs, int) and 0 <= warmup_epochs < self.epochs):
            raise ValueError(f"warmup_epochs must be an int in [0, epochs), got {warmup_epochs!r}")
        if not (math.isfinite(min_lr) and 0 <= min_lr <= lr):
            raise ValueError(f"min_lr must be in [0, lr], got {min_lr!r}")
        self.warmup_epochs, self.min_lr = warmup_epochs, float(min_lr)
        self.per_step = bool(per_step)
        self.warmup_steps = _non_negative_int("warmup_steps", warmup_steps)
        if self.warmup_steps and not self.per_step:
            raise ValueError("warmup_steps needs per_step=True")
        if self.warmup_steps and self.warmup_epochs:
            raise ValueError("give warmup_epochs or warmup_steps, not both")

    def _cosine(self, k: int, warmup: int, total: int) -> float:
        if k < warmup:
            return self.lr * (k + 1) / warmup
        span = total - warmup
        frac = min(k - warmup, span) / span
        return self.min_lr + 0.5 * (self.lr - self.min_lr) * (1 + math.cos(math.pi * frac))

    def bind(self, steps_per_epoch: int, optimizer=None) -> None:
        super().bind(steps_per_epoch, optimizer)
        warmup, total = self._warmup_and_total()
        if warmup >= total:
            raise ValueError(f"warmup_steps ({warmup}) must be fewer than the fit's {total} steps")

    def _warmup_and_total(self) -> tuple[int, int]:
        spe = self._steps()
        return self.warmup_steps or self.warmup_epochs * spe, self.epochs * spe

    def lr_at(self, step: int) -> float:
        return self._cosine(step, *self._warmup_and_total())

    def __call__(self, epoch):
        """The lr of ``epoch`` (per step: of its first step)."""
        if self.per_step:
            return self.lr_at(epoch * self._steps())
        return self._cosine(epoch, self.warmup_epochs, self.epochs)


class OneCycle(_PerStep, Schedule):
    """torch.optim.lr_scheduler.OneCycleLR over ``epochs`` x steps-per-epoch steps, with its
    defaults: from lr / div_factor up to ``lr`` (the peak) over the first ``pct_start`` of
    the steps, then down to lr / div_factor / final_div_factor; ``anneal_strategy`` "cos" or
    "linear"; ``three_phase`` comes back to lr / div_factor before the final descent.

    With ``cycle_momentum`` the momentum moves the other way, from ``max_momentum`` down to
    ``base_momentum`` at the peak and back: beta1 for optimizers with betas (Adam, AdamW,
    NAdam), ``momentum`` for SGD and RMSprop (built with momentum > 0, which allocates their
    momentum buffers), as torch does; an optimizer with neither (Adagrad) needs
    ``cycle_momentum=False``.
    """

    per_step = True

    def __init__(
        self,
        lr: float,
        epochs: int,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        cycle_momentum: bool = True,
        base_momentum: float = 0.85,
        max_momentum: float = 0.95,
    ):
        super().__init__(lr)
        self.epochs = int(_positive("epochs", epochs))
        self.pct_start = _in_unit("pct_start", pct_start)
        self.anneal_strategy = _choice("anneal_strategy", anneal_strategy, ("cos", "linear"))
        self.div_factor = float(_positive("div_factor", div_factor))
        self.final_div_factor = float(_positive("final_div_factor", final_div_factor))
        self.three_phase, self.cycle_momentum = bool(three_phase), bool(cycle_momentum)
        self.base_momentum = _in_unit("base_momentum", base_momentum, high_open=True)
        self.max_momentum = _in_unit("max_momentum", max_momentum, high_open=True)
        self._phases = self._momentum_name = None

    def bind(self, steps_per_epoch: int, optimizer=None) -> None:
        """Build the phases for the fit's steps; with cycle_momentum, find the optimizer's
        momentum and set it to max_momentum (torch does that when the scheduler is built)."""
        super().bind(steps_per_epoch, optimizer)
        total = self.epochs * steps_per_epoch
        initial = self.lr / self.div_factor
        low, peak, final = initial, self.lr, initial / self.final_div_factor
        m_max, m_base = self.max_momentum, self.base_momentum
        # (end_step, start lr, end lr, start momentum, end momentum), as torch's phases
        if self.three_phase:
            phases = [
                (float(self.pct_start * total) - 1, low, peak, m_max, m_base),
                (float(2 * self.pct_start * total) - 2, peak, low, m_base, m_max),
                (total - 1, low, final, m_max, m_max),
            ]
        else:
            phases = [
                (float(self.pct_start * total) - 1, low, peak, m_max, m_base),
                (total - 1, peak, final, m_base, m_max),
            ]
        starts = [0.0] + [p[0] for p in phases[:-1]]
        if any(end == start for (end, *_), start in zip(phases, starts, strict=True)):
            raise ValueError(
                f"OneCycle: a phase of zero steps (pct_start={self.pct_start} of {total} "
                "steps); use more steps or another pct_start"
            )
        self._phases = phases
        if self.cycle_momentum and optimizer is not None:
            self._momentum_name = _momentum_name(optimizer)
            _set_momentum(optimizer, self._momentum_name, self.max_momentum)

    def _at(self, step: int) -> tuple[float, float]:
        if self._phases is None:
            self._steps()  # raises: not bound
        start = 0.0
        for i, (end, lr0, lr1, m0, m1) in enumerate(self._phases):
            if step <= end or i == len(self._phases) - 1:
                pct = (step - start) / (end - start)
                return self._anneal(lr0, lr1, pct), self._anneal(m0, m1, pct)
            start = end
        raise AssertionError("unreachable: the last phase always matches")

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def lr_at(self, step: int) -> float:
        return self._at(step)[0]

    def momentum_at(self, step: int) -> float:
        return self._at(step)[1]

    def apply(self, optimizer, step: int) -> None:
        lr, momentum = self._at(step)
        optimizer.lr = lr
        if self._momentum_name is not None:
            _set_momentum(optimizer, self._momentum_name, momentum)

    def __call__(self, epoch):
        """The lr of the first step of ``epoch`` (once bound)."""
        return self.lr_at(epoch * self._steps())


def _momentum_name(optimizer) -> str:
    if hasattr(optimizer, "betas"):
        return "betas"
    if hasattr(optimizer, "momentum"):
        if not optimizer.momentum > 0:
            raise ValueError(
                f"OneCycle cycles the momentum of {type(optimizer).__name__}, which was built "
                "without it: build it with momentum > 0 (e.g. 0.9) or pass cycle_momentum=False"
            )
        return "momentum"
    raise ValueError(
        f"OneCycle cycles momentum, which {type(optimizer).__name__} has not (no momentum or "
        "betas); pass cycle_momentum=False"
    )


def _set_momentum(optimizer, name: str, value: float) -> None:
    if name == "betas":
        optimizer.betas = (value, optimizer.betas[1])
    else:
        optimizer.momentum = value


class ReduceLROnPlateau(Schedule):
    """torch.optim.lr_scheduler.ReduceLROnPlateau with its defaults: after each epoch it reads
    the ``monitor``ed value of the epoch's history row ("val_loss", "val_accuracy",
    "train_loss" or "train_accuracy"; validation values need fit's validation_data). When
    the value has not improved (``mode`` "min" or "max", by ``threshold``, relative or
    absolute per ``threshold_mode``) for more than ``patience`` epochs, the lr becomes
    max(lr * factor, min_lr) (unless that changes it by at most ``eps``), then ``cooldown``
    epochs pass before bad epochs count again. Stateful: build one per fit; fit's checkpoint
    keeps its state.
    """

    MONITORS = ("val_loss", "val_accuracy", "train_loss", "train_accuracy")

    def __init__(
        self,
        lr: float,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float = 0.0,
        eps: float = 1e-8,
        monitor: str = "val_loss",
    ):
        super().__init__(lr)
        self.mode = _choice("mode", mode, ("min", "max"))
        self.factor = float(_positive("factor", factor))
        if self.factor >= 1:
            raise ValueError(f"factor must be < 1, got {factor!r}")
        self.patience = _non_negative_int("patience", patience)
        if not (isinstance(threshold, (int, float)) and math.isfinite(threshold)):
            raise ValueError(f"threshold must be a finite number, got {threshold!r}")
        self.threshold = float(threshold)
        self.threshold_mode = _choice("threshold_mode", threshold_mode, ("rel", "abs"))
        self.cooldown = _non_negative_int("cooldown", cooldown)
        if not (isinstance(min_lr, (int, float)) and math.isfinite(min_lr) and min_lr >= 0):
            raise ValueError(f"min_lr must be a finite number >= 0, got {min_lr!r}")
        self.min_lr = float(min_lr)
        if not (isinstance(eps, (int, float)) and math.isfinite(eps) and eps >= 0):
            raise ValueError(f"eps must be a finite number >= 0, got {eps!r}")
        self.eps = float(eps)
        self.monitor = _choice("monitor", monitor, self.MONITORS)
        self.current_lr = self.lr
        self.best = math.inf if self.mode == "min" else -math.inf
        self.num_bad_epochs = self.cooldown_counter = self.last_epoch = 0

    def __call__(self, epoch):
        """The current lr (``epoch`` is not used: the lr depends on what was observed)."""
        return self.current_lr

    def _is_better(self, a: float) -> bool:
        best = self.best
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def step(self, metric: float) -> None:
        """torch's ``scheduler.step(metric)``."""
        current = float(metric)
        self.last_epoch += 1
        if self._is_better(current):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs in cooldown do not count
        if self.num_bad_epochs > self.patience:
            new_lr = max(self.current_lr * self.factor, self.min_lr)
            if self.current_lr - new_lr > self.eps:
                self.current_lr = new_lr
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0

    def observe(self, row: dict) -> None:
        """fit's end-of-epoch call: ``step`` with the row's monitored value."""
        self.step(row[self.monitor])

    _STATE = ("current_lr", "best", "num_bad_epochs", "cooldown_counter", "last_epoch")

    def state_dict(self) -> dict:
        return {k: getattr(self, k) for k in self._STATE}

    def load_state_dict(self, state: dict) -> None:
        """Restore ``state_dict()`` output; a malformed one raises ValueError and changes
        nothing."""
        if not isinstance(state, dict) or set(state) != set(self._STATE):
            raise ValueError(f"ReduceLROnPlateau state must have the keys {', '.join(self._STATE)}")
        for k in self._STATE:
            if not isinstance(state[k], (int, float)) or isinstance(state[k], bool):
                raise ValueError(f"ReduceLROnPlateau state {k} must be a number, got {state[k]!r}")
        for k in self._STATE:
            setattr(self, k, state[k])


SCHEDULES = {
    "constant": Constant,
    "step": StepDecay,
    "exponential": Exponential,
    "cosine": CosineWarmup,
    "one_cycle": OneCycle,
    "plateau": ReduceLROnPlateau,
}
