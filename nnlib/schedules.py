"""Per-epoch learning-rate schedules: ``schedule(epoch) -> lr`` with epochs counted from 0."""

from __future__ import annotations

import math


def _positive(name, v):
    if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {v!r}")
    return v


class Schedule:
    def __init__(self, lr: float):
        self.lr = float(_positive("lr", lr))

    def __call__(self, epoch: int) -> float:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"type": type(self).__name__, **vars(self)}


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


class CosineWarmup(Schedule):
    """Linear warmup lr * (epoch + 1) / warmup_epochs for the first ``warmup_epochs`` epochs,
    then cosine annealing from lr to ``min_lr`` over the remaining epochs."""

    def __init__(self, lr: float, epochs: int, warmup_epochs: int = 0, min_lr: float = 0.0):
        super().__init__(lr)
        self.epochs = int(_positive("epochs", epochs))
        if not (isinstance(warmup_epochs, int) and 0 <= warmup_epochs < self.epochs):
            raise ValueError(f"warmup_epochs must be an int in [0, epochs), got {warmup_epochs!r}")
        if not (math.isfinite(min_lr) and 0 <= min_lr <= lr):
            raise ValueError(f"min_lr must be in [0, lr], got {min_lr!r}")
        self.warmup_epochs, self.min_lr = warmup_epochs, float(min_lr)

    def __call__(self, epoch):
        if epoch < self.warmup_epochs:
            return self.lr * (epoch + 1) / self.warmup_epochs
        span = self.epochs - self.warmup_epochs
        frac = min(epoch - self.warmup_epochs, span) / span
        return self.min_lr + 0.5 * (self.lr - self.min_lr) * (1 + math.cos(math.pi * frac))


SCHEDULES = {
    "constant": Constant,
    "step": StepDecay,
    "exponential": Exponential,
    "cosine": CosineWarmup,
}
