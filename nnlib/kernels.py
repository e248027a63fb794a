"""Which path runs the optimizers' element-wise updates: NumPy, or one fused numba loop.

NumPy's update is five to twelve ufunc calls, each a pass over every parameter (and over
memory for models that do not fit in cache); the numba kernels below do the same float
operations in the same order in one pass (no fastmath, so no reassociation and no fused
multiply-add), which gives bit-identical results (tested in float32 and float64).

numba is imported, and its kernels compiled or read from their on-disk cache
(``cache=True``), only on the first step of an optimizer that runs the numba path: the
study's hundreds of small jobs never pay for it. ``choose(n)`` picks numba for at least
``MIN_PARAMETERS`` parameters when it is installed, else NumPy; ``Optimizer.path`` can be set
to either by hand.
"""

from __future__ import annotations

import functools
import importlib.util

PATHS = ("numpy", "numba")

# numba's start-up (import, then reading the compiled kernels from the disk cache) is paid once
# per process and the fused update saves a few ns per parameter and step, so it pays only for
# models this large; bench_nnlib's last section measures both.
MIN_PARAMETERS = 100_000


def numba_installed() -> bool:
    return importlib.util.find_spec("numba") is not None


def choose(n_parameters: int) -> str:
    """The path for an optimizer over ``n_parameters`` parameters."""
    return "numba" if n_parameters >= MIN_PARAMETERS and numba_installed() else "numpy"


def check_path(path) -> str:
    if path not in PATHS:
        raise ValueError(f"path must be one of {', '.join(PATHS)}, got {path!r}")
    if path == "numba" and not numba_installed():
        raise ValueError("path 'numba' needs numba, which is not installed")
    return path


@functools.cache
def compiled():
    """The numba kernels (imports numba; compiles them or loads them from the disk cache)."""
    import numpy as np
    from numba import njit

    jit = njit(nogil=True, cache=True, error_model="numpy")

    @jit
    def sgd(p, g, buf, lr, wd, momentum, damp_keep, first, nesterov):
        # The NumPy path's operations in its order: g' = p*wd + g; b = g' on the first step,
        # else b*mu + g' (times 1-dampening when that is not 1); g' = b*mu + g' (nesterov)
        # or b; p = p - g'*lr. Scalars come in the arrays' dtype.
        for i in range(p.size):
            gi = g[i]
            if wd != 0:
                gi = p[i] * wd + gi
            if momentum != 0:
                if first:
                    bi = gi
                elif damp_keep == 1:
                    bi = buf[i] * momentum + gi
                else:
                    bi = buf[i] * momentum + gi * damp_keep
                buf[i] = bi
                gi = bi * momentum + gi if nesterov else bi
            p[i] = p[i] - gi * lr

    @jit
    def adam(p, g, m, v, wd, decay, b1, b1_keep, b2, b2_keep, den_a, den_b, update):
        # p = p*decay (AdamW); g' = p*wd + g (Adam); m = m*b1 + g'*(1-b1);
        # v = v*b2 + (g'*g')*(1-b2); p = p - m / (sqrt(v)*a + b), as Adam._kernel does.
        for i in range(p.size):
            pi = p[i]
            if decay != 1:
                pi = pi * decay
            gi = g[i]
            if wd != 0:
                gi = pi * wd + gi
            mi = m[i] * b1 + gi * b1_keep
            vi = v[i] * b2 + (gi * gi) * b2_keep
            m[i] = mi
            v[i] = vi
            if update:
                pi = pi - mi / (np.sqrt(vi) * den_a + den_b)
            p[i] = pi

    @jit
    def rmsprop(p, g, v, g_avg, buf, lr, wd, alpha, alpha_keep, eps, momentum, centered):
        # g' = p*wd + g; v = v*alpha + (g'*g')*(1-alpha); avg = sqrt(v) or, centered, with
        # a = a*alpha + g'*(1-alpha), sqrt(v - a*a); s = g' / (avg + eps); with momentum
        # b = b*mu + s and p = p - b*lr, else p = p - s*lr, as RMSprop._kernel does.
        for i in range(p.size):
            gi = g[i]
            if wd != 0:
                gi = p[i] * wd + gi
            vi = v[i] * alpha + (gi * gi) * alpha_keep
            v[i] = vi
            if centered:
                ai = g_avg[i] * alpha + gi * alpha_keep
                g_avg[i] = ai
                avg = np.sqrt(vi - ai * ai)
            else:
                avg = np.sqrt(vi)
            s = gi / (avg + eps)
            if momentum != 0:
                s = buf[i] * momentum + s
                buf[i] = s
            p[i] = p[i] - s * lr

    return {"sgd": sgd, "adam": adam, "rmsprop": rmsprop}
