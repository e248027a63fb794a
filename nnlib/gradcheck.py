"""Central finite-difference gradient checks (run them in float64)."""

from __future__ import annotations

import numpy as np

from .core import as_generator


def relative_error(a, b) -> float:
    """||a - b|| / max(||a|| + ||b||, tiny): 0 for identical arrays, ~1 for unrelated ones."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    den = np.linalg.norm(a) + np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / max(den, np.finfo(np.float64).tiny))


def numerical_gradient(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d f / d x by central differences, perturbing ``x`` in place (restored afterwards)."""
    grad = np.zeros(x.shape, dtype=np.float64)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        up = f()
        flat[i] = old - eps
        down = f()
        flat[i] = old
        gflat[i] = (up - down) / (2 * eps)
    return grad


def gradcheck(f, x: np.ndarray, grad: np.ndarray, eps: float = 1e-6) -> float:
    """Relative error between ``grad`` and the numerical gradient of scalar ``f(x)`` at ``x``."""
    x = np.asarray(x)
    return relative_error(grad, numerical_gradient(lambda: f(x), x, eps))


def gradcheck_module(
    module, x: np.ndarray, rng=0, eps: float = 1e-6, training: bool = True
) -> float:
    """Largest relative error of ``module``'s backward (w.r.t. the input and every
    parameter) for the scalar L = sum(forward(x) * R) with a fixed random R.

    Random generators inside the module (dropout) are reset before every forward, so each
    evaluation sees the same mask. Use float64 modules and inputs.
    """
    x = np.array(x, dtype=np.float64)
    gens = [
        m.rng for m in module.modules() if isinstance(getattr(m, "rng", None), np.random.Generator)
    ]
    states = [g.bit_generator.state for g in gens]

    def run():
        for g, s in zip(gens, states, strict=True):
            g.bit_generator.state = s
        return module.forward(x, training)

    r = as_generator(rng).standard_normal(run().shape)

    def loss():
        return float(np.sum(run() * r))

    loss()
    grads = [module.backward(r.copy(), True).copy()]
    grads += [p.grad.copy() for p in module.parameters()]
    targets = [x] + [p.data for p in module.parameters()]
    return max(
        relative_error(g, numerical_gradient(loss, t, eps))
        for g, t in zip(grads, targets, strict=True)
    )
