"""What several of nnlib's fit tests share: a small 3-class data set, and interrupting a fit
to resume it."""

import numpy as np


def blobs(n=240, seed=0, spread=1.0):
    """Three Gaussian blobs in 4-D (float32 inputs, int labels)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centers = np.array([[2.0, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0]])
    return (centers[y] + spread * rng.standard_normal((n, 4))).astype(np.float32), y


def without_time(history):
    """A history without its seconds (the one column that differs between two runs)."""
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


class Interrupt(Exception):
    pass


class StopAt:
    """A callback that interrupts the fit at the end of ``epoch``, before that epoch's
    checkpoint (so the checkpoint holds epoch - 1)."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, epoch, row, model, optimizer):
        if epoch == self.epoch:
            raise Interrupt
