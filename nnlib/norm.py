"""Normalization layers with torch.nn's semantics: BatchNorm1d and LayerNorm over features.

Both take inputs of shape (n, features) in their dtype (float32 or float64). Their learnable
``weight`` (ones) and ``bias`` (zeros) are Parameters; BatchNorm1d's running statistics are
buffers (``own_buffers``): no optimizer sees them, but save/load, fit's checkpoints and its
best-weights restoration keep them.
"""

from __future__ import annotations

import numbers

import numpy as np

from .core import ForwardStateError, Module, Parameter, as_dtype, check_input_dtype


def _positive_int(name, v) -> int:
    if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
        raise ValueError(f"{name} must be a positive int, got {v!r}")
    return int(v)


def _eps(eps) -> float:
    if not isinstance(eps, numbers.Real) or isinstance(eps, bool) or not 0 < eps < np.inf:
        raise ValueError(f"eps must be a finite number > 0, got {eps!r}")
    return float(eps)


class _Norm(Module):
    """Shared plumbing: input checks, the affine parameters, the backward through
    x_hat = (x - mean) * inv_std along ``axis`` (0: over the batch, -1: over features)."""

    axis = 0

    def _init_affine(self, n: int, affine: bool, bias: bool = True) -> None:
        self.weight = Parameter(np.ones(n, self.dtype), "weight") if affine else None
        self.bias = Parameter(np.zeros(n, self.dtype), "bias") if affine and bias else None
        self._cache = None  # (x_hat, inv_std) of the last training forward

    def own_parameters(self):
        return [p for p in (self.weight, self.bias) if p is not None]

    def _check(self, x) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.n:
            raise ValueError(
                f"{type(self).__name__} expects input of shape (n, {self.n}), got {x.shape}"
            )
        check_input_dtype(x, self.dtype, type(self).__name__)
        return x

    def _normalise(self, x, mean, var, training: bool) -> np.ndarray:
        """(x - mean) / sqrt(var + eps), scaled and shifted; keeps x_hat for backward."""
        inv_std = 1.0 / np.sqrt(var + self.eps)
        out = self._buffer("out", x.shape, x.dtype) if training else np.empty_like(x)
        np.subtract(x, mean, out=out)
        out *= inv_std
        if training:
            x_hat = self._buffer("x_hat", x.shape, x.dtype)
            np.copyto(x_hat, out)
            self._cache = (x_hat, inv_std)
        if self.weight is not None:
            out *= self.weight.data
        if self.bias is not None:
            out += self.bias.data
        return out

    def backward(self, grad_out, input_grad=True):
        if self._cache is None:
            raise ForwardStateError(self, "_cache")
        x_hat, inv_std = self._cache
        if self.weight is not None:
            np.sum(grad_out * x_hat, axis=0, out=self.weight.grad)
        if self.bias is not None:
            np.sum(grad_out, axis=0, out=self.bias.grad)
        if not input_grad:
            return None
        g = grad_out * self.weight.data if self.weight is not None else grad_out
        # dx = inv_std / m * (m * g - sum(g) - x_hat * sum(g * x_hat)), sums along the axis
        # that was normalised (m elements each).
        m = x_hat.shape[self.axis]
        keep = {"axis": self.axis, "keepdims": True}
        grad_in = self._buffer("grad", x_hat.shape, x_hat.dtype)
        np.multiply(g, m, out=grad_in)
        grad_in -= g.sum(**keep)
        grad_in -= x_hat * (g * x_hat).sum(**keep)
        grad_in *= inv_std / m
        return grad_in


class BatchNorm1d(_Norm):
    """torch.nn.BatchNorm1d over (n, num_features): in training, each feature is normalised
    with the batch's mean and biased variance, and the running statistics move by
    ``momentum``: running = (1 - momentum) * running + momentum * batch statistic, with the
    unbiased variance (momentum None: their cumulative average). In evaluation the running
    statistics normalise (the batch's when ``track_running_stats`` is False, which keeps
    none). ``affine`` adds the learnable per-feature ``weight`` and ``bias``.
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype=np.float32,
    ):
        self.n = _positive_int("num_features", num_features)
        self.eps, self.dtype = _eps(eps), as_dtype(dtype)
        is_number = isinstance(momentum, numbers.Real) and not isinstance(momentum, bool)
        if momentum is not None and not (is_number and 0 <= momentum <= 1):
            raise ValueError(f"momentum must be None or a number in [0, 1], got {momentum!r}")
        self.momentum = None if momentum is None else float(momentum)
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        self._init_affine(self.n, self.affine)
        if self.track_running_stats:
            self.running_mean = np.zeros(self.n, self.dtype)
            self.running_var = np.ones(self.n, self.dtype)
            self.num_batches_tracked = np.zeros((), np.int64)
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    @property
    def num_features(self) -> int:
        return self.n

    def own_buffers(self):
        if not self.track_running_stats:
            return []
        return [self.running_mean, self.running_var, self.num_batches_tracked]

    def forward(self, x, training=False):
        x = self._check(x)
        if not training and self.track_running_stats:
            return self._normalise(x, self.running_mean, self.running_var, False)
        n = x.shape[0]
        if training and n < 2:
            raise ValueError(
                f"BatchNorm1d needs more than 1 sample per batch in training, got {x.shape}"
            )
        mean, var = x.mean(axis=0), x.var(axis=0)
        if training and self.track_running_stats:
            self._update_running(mean, var, n)
        return self._normalise(x, mean, var, training)

    def _update_running(self, mean, var, n: int) -> None:
        self.num_batches_tracked += 1
        f = 1.0 / int(self.num_batches_tracked) if self.momentum is None else self.momentum
        self.running_mean *= 1 - f
        self.running_mean += f * mean
        self.running_var *= 1 - f
        self.running_var += (f * n / (n - 1)) * var

    def get_config(self):
        return {
            "type": "BatchNorm1d",
            "num_features": self.n,
            "eps": self.eps,
            "momentum": self.momentum,
            "affine": self.affine,
            "track_running_stats": self.track_running_stats,
            "dtype": self.dtype.name,
        }


class LayerNorm(_Norm):
    """torch.nn.LayerNorm over the last dimension (``normalized_shape`` features): each
    sample is normalised with its own mean and biased variance, in training and evaluation
    alike; ``elementwise_affine`` adds the per-feature ``weight`` and (with ``bias``) ``bias``.
    """

    axis = -1

    def __init__(
        self,
        normalized_shape: int,
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        dtype=np.float32,
    ):
        self.n = _positive_int("normalized_shape", normalized_shape)
        self.eps, self.dtype = _eps(eps), as_dtype(dtype)
        self.elementwise_affine, self.has_bias = bool(elementwise_affine), bool(bias)
        self._init_affine(self.n, self.elementwise_affine, self.has_bias)

    @property
    def normalized_shape(self) -> int:
        return self.n

    def forward(self, x, training=False):
        x = self._check(x)
        mean = x.mean(axis=-1, keepdims=True)
        var = x.var(axis=-1, keepdims=True)
        return self._normalise(x, mean, var, training)

    def get_config(self):
        return {
            "type": "LayerNorm",
            "normalized_shape": self.n,
            "eps": self.eps,
            "elementwise_affine": self.elementwise_affine,
            "bias": self.has_bias,
            "dtype": self.dtype.name,
        }


NORMS = {"batch": BatchNorm1d, "layer": LayerNorm}
