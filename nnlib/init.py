"""Weight initializers with the formulas of ``torch.nn.init``.

Every initializer is ``f(shape, rng, dtype=np.float32) -> ndarray``. Our Dense weight has shape
(in_features, out_features) whereas torch's Linear weight is (out, in), so here
fan_in = shape[0] and fan_out = shape[1] (a 1-D shape has fan_in = fan_out = shape[0]).
Build a configured one with ``get_initializer(name, **kwargs)``.
"""

from __future__ import annotations

import math

import numpy as np


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """torch.nn.init.calculate_gain: the recommended gain for a nonlinearity."""
    if nonlinearity in ("linear", "identity", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1.0 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4.0
    valid = "linear, identity, sigmoid, tanh, relu, leaky_relu, selu"
    raise ValueError(f"unknown nonlinearity {nonlinearity!r}; valid: {valid}")


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of shape (in_features, out_features)."""
    if len(shape) == 1:
        return shape[0], shape[0]
    return shape[0], shape[1]


def _draw(sample, shape, dtype) -> np.ndarray:
    # Draw in float64 so a seed gives the same values at either precision.
    return np.asarray(sample(tuple(shape)), dtype=np.float64).astype(dtype, copy=False)


def zeros(shape, rng=None, dtype=np.float32) -> np.ndarray:
    return np.zeros(shape, dtype=dtype)


def normal(shape, rng, dtype=np.float32, mean: float = 0.0, std: float = 0.01) -> np.ndarray:
    """N(mean, std^2) (torch's default std is 1; 0.01 is the usual choice for networks)."""
    return _draw(lambda s: rng.normal(mean, std, s), shape, dtype)


def uniform(shape, rng, dtype=np.float32, a: float = -0.05, b: float = 0.05) -> np.ndarray:
    """U(a, b)."""
    return _draw(lambda s: rng.uniform(a, b, s), shape, dtype)


def xavier_uniform(shape, rng, dtype=np.float32, gain: float = 1.0) -> np.ndarray:
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = fans(shape)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return _draw(lambda s: rng.uniform(-a, a, s), shape, dtype)


def xavier_normal(shape, rng, dtype=np.float32, gain: float = 1.0) -> np.ndarray:
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = fans(shape)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return _draw(lambda s: rng.normal(0.0, std, s), shape, dtype)


def _kaiming_std(shape, a, mode, nonlinearity) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = fans(shape)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def he_normal(
    shape, rng, dtype=np.float32, a: float = 0.0, mode="fan_in", nonlinearity="leaky_relu"
) -> np.ndarray:
    """kaiming_normal_: N(0, std^2), std = gain / sqrt(fan); the defaults give sqrt(2 / fan_in)."""
    std = _kaiming_std(shape, a, mode, nonlinearity)
    return _draw(lambda s: rng.normal(0.0, std, s), shape, dtype)


def he_uniform(
    shape, rng, dtype=np.float32, a: float = 0.0, mode="fan_in", nonlinearity="leaky_relu"
) -> np.ndarray:
    """kaiming_uniform_: U(-b, b), b = gain * sqrt(3 / fan); the defaults give sqrt(6 / fan_in)."""
    bound = math.sqrt(3.0) * _kaiming_std(shape, a, mode, nonlinearity)
    return _draw(lambda s: rng.uniform(-bound, bound, s), shape, dtype)


INITIALIZERS = {
    "zeros": zeros,
    "normal": normal,
    "uniform": uniform,
    "xavier_normal": xavier_normal,
    "xavier_uniform": xavier_uniform,
    "he_normal": he_normal,
    "he_uniform": he_uniform,
}
# Short names of the normal forms (as study configs write them) -> the names above.
ALIASES = {"xavier": "xavier_normal", "he": "he_normal"}


def canonical(spec):
    """An initializer name (or a list of them, one per layer) with aliases resolved."""
    if isinstance(spec, str):
        return ALIASES.get(spec.lower(), spec)
    return [canonical(s) for s in spec]
