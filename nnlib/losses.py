"""Losses: ``forward(pred, target, params=None) -> float`` (mean over the batch) and
``backward() -> dL/dpred``.

Every loss takes ``l2``: with parameters passed to ``forward`` the reported loss includes
``l2 / 2 * sum ||W||^2`` over weight matrices (biases are not penalised), and
``penalty_backward(params)`` adds ``l2 * W`` to their gradients (call it after the model's
backward, which sets the gradients). Bad targets raise a one-line ValueError; non-finite
predictions give a non-finite loss (that is how ``fit`` detects divergence).
"""

from __future__ import annotations

import functools

import numpy as np

from nnlib.core import Scratch


def _finite_float(x) -> bool:
    return bool(np.isfinite(x).all())


class Loss(Scratch):
    def __init__(self, l2: float = 0.0):
        if not (np.isfinite(l2) and l2 >= 0):
            raise ValueError(f"l2 must be a finite number >= 0, got {l2}")
        self.l2 = float(l2)

    def forward(self, pred, target, params=None) -> float:
        pred = self._check_pred(pred)
        value = self._forward(pred, target)
        if params is not None and self.l2 > 0:
            value += self.penalty(params)
        return value

    def __call__(self, pred, target, params=None) -> float:
        return self.forward(pred, target, params)

    def backward(self) -> np.ndarray:
        raise NotImplementedError

    def penalty(self, params) -> float:
        """l2 / 2 * sum of squared weights (parameters with ndim >= 2)."""
        if self.l2 == 0:
            return 0.0
        total = sum(float(np.vdot(p.data, p.data)) for p in params if p.data.ndim >= 2)
        return 0.5 * self.l2 * total

    def penalty_backward(self, params) -> None:
        """Add the penalty's gradient ``l2 * W`` to each weight's ``grad``."""
        if self.l2 == 0:
            return
        for i, p in enumerate(params):
            if p.data.ndim >= 2:
                tmp = self._buffer(("l2", i), p.data.shape, p.data.dtype)
                p.grad += np.multiply(p.data, self.l2, out=tmp)

    def get_config(self) -> dict:
        return {"type": type(self).__name__, "l2": self.l2}

    @staticmethod
    def _check_pred(pred) -> np.ndarray:
        pred = np.asarray(pred)
        if pred.dtype.kind != "f":
            raise ValueError(f"predictions must be a float array, got dtype {pred.dtype}")
        if pred.ndim == 0 or pred.shape[0] == 0:
            raise ValueError(f"predictions must be a non-empty batch, got shape {pred.shape}")
        return pred


@functools.lru_cache(maxsize=8)
def _rows(n: int) -> np.ndarray:
    """Row indices 0..n-1 for per-row label lookups (cached: one per batch size)."""
    rows = np.arange(n)
    rows.flags.writeable = False
    return rows


def _check_labels(target, n: int, n_classes: int) -> np.ndarray:
    y = np.asarray(target)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"integer labels must have shape ({n},), got {y.shape}")
    if y.dtype.kind not in "iu":
        raise ValueError(f"labels must be integers, got dtype {y.dtype}")
    # One reduction: viewed as unsigned (same width and byte order), negative labels are huge.
    u = y if y.dtype.kind == "u" else y.view(y.dtype.str.replace("i", "u"))
    if n and u.max() >= n_classes:
        raise ValueError(
            f"labels must be in [0, {n_classes - 1}], got range [{y.min()}, {y.max()}]"
        )
    return y


def _check_soft(target, shape) -> np.ndarray:
    t = np.asarray(target)
    if t.shape != shape:
        raise ValueError(f"probability targets must have shape {shape}, got {t.shape}")
    if not _finite_float(t):
        raise ValueError("targets contain NaN or inf")
    return t


class CrossEntropyLoss(Loss):
    """Cross-entropy of class scores (n, C) against integer labels (n,) or probability
    targets (n, C), averaged over the batch.

    ``from_logits=True`` (default) fuses softmax with the loss: stable log-sum-exp forward
    and gradient (softmax - target) / n. ``from_logits=False`` takes probabilities (e.g. the
    output of a ``Softmax`` module) and returns dL/dp = -target / (p n); backpropagating that
    through Softmax's Jacobian gives the same gradient as the fused path.
    """

    def __init__(self, l2: float = 0.0, from_logits: bool = True):
        super().__init__(l2)
        self.from_logits = bool(from_logits)

    def _forward(self, pred, target) -> float:
        if pred.ndim != 2:
            raise ValueError(
                f"cross-entropy expects scores of shape (n, classes), got {pred.shape}"
            )
        n, c = pred.shape
        t = np.asarray(target)
        self._labels = t.ndim == 1
        self._t = _check_labels(t, n, c) if self._labels else _check_soft(t, pred.shape)
        rows = _rows(n)
        if self.from_logits:
            # Row reductions over a few classes are slow in NumPy; the row maxima come from a
            # transposed copy (a reduction along the long axis) and the row sums from a gemv.
            pt = self._buffer("pt", (c, n), pred.dtype)
            np.copyto(pt, pred.T)
            m = pt.max(axis=0)
            p = self._buffer("p", pred.shape, pred.dtype)
            np.subtract(pred, m[:, None], out=p)
            np.exp(p, out=p)
            s = np.matmul(p, self._buffer("ones", (c,), pred.dtype, fill=1))
            lse = np.log(s)
            lse += m
            p /= s[:, None]
            self._p = p
            if self._labels:
                lse -= pred[rows, self._t]
                per = lse
            else:
                per = (self._t * (lse[:, None] - pred)).sum(axis=1)
        else:
            self._p = np.maximum(pred, np.finfo(pred.dtype).tiny)
            logp = np.log(self._p)
            per = -logp[rows, self._t] if self._labels else -(self._t * logp).sum(axis=1)
        return float(per.sum(dtype=np.float64)) / n

    def backward(self) -> np.ndarray:
        p, t = self._p, self._t
        n = p.shape[0]
        g = self._buffer("g", p.shape, p.dtype)
        rows = _rows(n)
        if self.from_logits and self._labels:
            # (softmax - onehot) / n, scaled first: one pass over the batch fewer
            np.multiply(p, 1.0 / n, out=g)
            g[rows, t] -= 1.0 / n
            return g
        if self.from_logits:
            # d/dz of -sum t (z - lse) = p * sum(t) - t
            np.multiply(p, t.sum(axis=1, keepdims=True), out=g)
            g -= t
        elif self._labels:
            g.fill(0)
            g[rows, t] = -1 / p[rows, t]
        else:
            np.divide(t, p, out=g)
            np.negative(g, out=g)
        g *= 1.0 / n
        return g

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits}


class BCEWithLogitsLoss(Loss):
    """Binary cross-entropy on logits of shape (n,) or (n, 1) with targets in [0, 1] of the
    same number of elements, averaged over elements (as torch.nn.BCEWithLogitsLoss)."""

    def _forward(self, pred, target) -> float:
        t = np.asarray(target)
        if pred.size != pred.shape[0] or t.size != pred.size:
            raise ValueError(
                f"BCE expects logits (n,) or (n, 1) and n targets, got {pred.shape} and {t.shape}"
            )
        t = t.reshape(pred.shape)
        if not _finite_float(t) or t.min() < 0 or t.max() > 1:
            raise ValueError("BCE targets must be finite and in [0, 1]")
        self._z, self._t = pred, t.astype(pred.dtype, copy=False)
        # max(z, 0) - z t + log(1 + exp(-|z|)): never overflows
        per = np.log1p(np.exp(-np.abs(pred)))
        per += np.maximum(pred, 0)
        per -= pred * self._t
        return float(per.mean(dtype=np.float64))

    def backward(self) -> np.ndarray:
        z = self._z
        e = np.exp(-np.abs(z))
        s = np.where(z >= 0, 1 / (1 + e), e / (1 + e))
        s -= self._t
        s *= 1.0 / z.size
        return s


class MSELoss(Loss):
    """Mean squared error over all elements (torch's 'mean' reduction); a 1-D target of n
    values is accepted for predictions of shape (n, 1), and n integer class ids for
    predictions of shape (n, k > 1) stand for their one-hot rows (MSE on one-hot targets, so
    ``fit`` trains a classifier with it from labels)."""

    def _forward(self, pred, target) -> float:
        t = np.asarray(target)
        if t.ndim == 1 and pred.ndim == 2 and pred.shape[1] > 1 and t.dtype.kind in "iu":
            labels = _check_labels(t, pred.shape[0], pred.shape[1])
            t = np.zeros(pred.shape, pred.dtype)
            t[_rows(len(labels)), labels] = 1
        if t.shape != pred.shape:
            if t.size == pred.size and t.shape[:1] == pred.shape[:1]:
                t = t.reshape(pred.shape)
            else:
                raise ValueError(
                    f"MSE target shape {t.shape} does not match predictions {pred.shape}"
                )
        if not _finite_float(t):
            raise ValueError("targets contain NaN or inf")
        diff = self._buffer("d", pred.shape, pred.dtype)
        np.subtract(pred, t, out=diff, casting="unsafe")
        self._d = diff
        return float(np.vdot(diff, diff)) / diff.size

    def backward(self) -> np.ndarray:
        g = self._buffer("g", self._d.shape, self._d.dtype)
        return np.multiply(self._d, 2.0 / self._d.size, out=g)


LOSSES = {
    "cross_entropy": CrossEntropyLoss,
    "bce_with_logits": BCEWithLogitsLoss,
    "mse": MSELoss,
}
