"""Element-wise activations and Softmax, stable for inputs of any finite magnitude.

Each keeps what its backward needs (its output or its input) from the last training forward;
training-mode results go to reused buffers (see ``Module``).
"""

from __future__ import annotations

import math

import numpy as np

from .core import Module


class _Activation(Module):
    """Shared plumbing: output buffer in training mode, fresh array otherwise."""

    def _out(self, x, training, key="out"):
        return self._buffer(key, x.shape, x.dtype) if training else np.empty_like(x)

    def _grad_buf(self, g):
        return self._buffer("grad", g.shape, g.dtype)


class Identity(_Activation):
    def forward(self, x, training=False):
        return x

    def backward(self, grad_out, input_grad=True):
        return grad_out if input_grad else None


class ReLU(_Activation):
    def forward(self, x, training=False):
        if not training:
            return np.maximum(x, 0)
        # np.maximum against a zero array takes NumPy's SIMD loop; against the scalar 0 it does not.
        zeros = self._buffer("zeros", x.shape, x.dtype, fill=0)
        out = np.maximum(x, zeros, out=self._buffer("out", x.shape, x.dtype))
        self._y = out
        return out

    def backward(self, grad_out, input_grad=True):
        if not input_grad:
            return None
        # relu(x) > 0 exactly where x > 0, so the output serves as the mask.
        mask = self._buffer("mask", grad_out.shape, np.bool_)
        np.greater(self._y, 0, out=mask)
        return np.multiply(grad_out, mask, out=self._grad_buf(grad_out))


class LeakyReLU(_Activation):
    def __init__(self, negative_slope: float = 0.01):
        if not 0 <= negative_slope < 1:
            raise ValueError(f"negative_slope must be in [0, 1), got {negative_slope}")
        self.negative_slope = float(negative_slope)

    def forward(self, x, training=False):
        out = self._out(x, training)
        # For 0 <= slope < 1, leaky_relu(x) = max(x, slope * x).
        np.multiply(x, self.negative_slope, out=out)
        np.maximum(x, out, out=out)
        if training:
            self._y = out
        return out

    def backward(self, grad_out, input_grad=True):
        if not input_grad:
            return None
        g = self._grad_buf(grad_out)
        scale = self._buffer("scale", grad_out.shape, grad_out.dtype)
        np.greater(self._y, 0, out=scale)
        # scale = 1 where x > 0 else slope
        scale *= 1.0 - self.negative_slope
        scale += self.negative_slope
        return np.multiply(grad_out, scale, out=g)

    def get_config(self):
        return {"type": "LeakyReLU", "negative_slope": self.negative_slope}


class Sigmoid(_Activation):
    def forward(self, x, training=False):
        out = self._out(x, training)
        # exp(-|x|) never overflows: sigmoid = 1/(1+e) for x >= 0 and e/(1+e) for x < 0.
        e = self._buffer("e", x.shape, x.dtype) if training else np.empty_like(x)
        np.abs(x, out=e)
        np.negative(e, out=e)
        np.exp(e, out=e)
        np.add(e, 1, out=out)
        np.reciprocal(out, out=out)
        neg = x < 0
        np.multiply(out, e, out=out, where=neg)
        if training:
            self._y = out
        return out

    def backward(self, grad_out, input_grad=True):
        if not input_grad:
            return None
        g = self._grad_buf(grad_out)
        np.subtract(1, self._y, out=g)
        g *= self._y
        g *= grad_out
        return g


class Tanh(_Activation):
    def forward(self, x, training=False):
        out = np.tanh(x, out=self._out(x, training))
        if training:
            self._y = out
        return out

    def backward(self, grad_out, input_grad=True):
        if not input_grad:
            return None
        g = self._grad_buf(grad_out)
        np.multiply(self._y, self._y, out=g)
        np.subtract(1, g, out=g)
        g *= grad_out
        return g


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _erf(x: np.ndarray) -> np.ndarray:
    """erf element-wise: SciPy's ufunc when installed (NumPy has none), else ``math.erf``
    element by element (as exact, much slower), so nnlib needs nothing but NumPy."""
    try:
        from scipy.special import erf
    except ImportError:
        return np.frompyfunc(math.erf, 1, 1)(x).astype(x.dtype)
    return erf(x)


class GELU(_Activation):
    """x * Phi(x) (``approximate="none"``) or its tanh approximation, as in torch.nn.GELU."""

    def __init__(self, approximate: str = "none"):
        if approximate not in ("none", "tanh"):
            raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x, training=False):
        out = self._out(x, training)
        if self.approximate == "none":
            phi = _erf(x * _INV_SQRT_2)
            phi += 1
            phi *= 0.5
        else:
            inner = x * x
            inner *= 0.044715
            inner += 1
            inner *= x
            inner *= _SQRT_2_OVER_PI
            phi = np.tanh(inner, out=inner)  # holds t = tanh(u) until backward
            if training:
                self._t = phi.copy()
            phi += 1
            phi *= 0.5
        np.multiply(x, phi, out=out)
        if training:
            self._x, self._phi = x, phi
        return out

    def backward(self, grad_out, input_grad=True):
        if not input_grad:
            return None
        x, phi = self._x, self._phi
        if self.approximate == "none":
            # d/dx x*Phi(x) = Phi(x) + x * pdf(x)
            pdf = np.exp(-0.5 * x * x) * _INV_SQRT_2PI
            d = pdf * x
            d += phi
        else:
            # d/dx 0.5x(1+t) = 0.5(1+t) + 0.5x(1-t^2) * sqrt(2/pi)(1 + 3*0.044715 x^2)
            t = self._t
            du = x * x
            du *= 3 * 0.044715
            du += 1
            du *= _SQRT_2_OVER_PI
            d = 1 - t * t
            d *= du
            d *= 0.5 * x
            d += phi
        return np.multiply(grad_out, d, out=self._grad_buf(grad_out))

    def get_config(self):
        return {"type": "GELU", "approximate": self.approximate}


class Softmax(_Activation):
    """Softmax over the last axis; backward multiplies by the full Jacobian (J^T g)."""

    def forward(self, x, training=False):
        out = self._out(x, training)
        np.subtract(x, x.max(axis=-1, keepdims=True), out=out)
        np.exp(out, out=out)
        out /= out.sum(axis=-1, keepdims=True)
        if training:
            self._y = out
        return out

    def backward(self, grad_out, input_grad=True):
        if not input_grad:
            return None
        y = self._y
        # J = diag(y) - y y^T, so J^T g = y * (g - <g, y>)
        g = self._grad_buf(grad_out)
        np.multiply(grad_out, y, out=g)
        dot = g.sum(axis=-1, keepdims=True)
        np.subtract(grad_out, dot, out=g)
        g *= y
        return g


class MixedActivation(_Activation):
    """A layer in which neuron j applies its own activation ``activations[j]``.

    ``activations`` is a list of activation names (see ``get_activation``); neurons sharing
    an activation are processed together.
    """

    def __init__(self, activations):
        from .registry import get_activation

        self.names = [str(a) for a in activations]
        if not self.names:
            raise ValueError("MixedActivation needs at least one activation")
        self.groups = []
        for name in dict.fromkeys(self.names):
            idx = np.array([j for j, n in enumerate(self.names) if n == name], dtype=np.intp)
            self.groups.append((idx, get_activation(name)))

    def children(self):
        return [act for _, act in self.groups]

    def forward(self, x, training=False):
        if x.shape[-1] != len(self.names):
            raise ValueError(
                f"MixedActivation has {len(self.names)} neurons, input has {x.shape[-1]}"
            )
        out = self._out(x, training)
        for idx, act in self.groups:
            out[:, idx] = act.forward(x[:, idx], training)
        return out

    def backward(self, grad_out, input_grad=True):
        if not input_grad:
            return None
        g = self._grad_buf(grad_out)
        for idx, act in self.groups:
            g[:, idx] = act.backward(np.ascontiguousarray(grad_out[:, idx]))
        return g

    def get_config(self):
        return {"type": "MixedActivation", "activations": list(self.names)}


ACTIVATIONS = {
    "identity": Identity,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "gelu": GELU,
    "softmax": Softmax,
}
