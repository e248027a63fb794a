"""Optimizers with torch.optim's documented update rules, plus global-norm clipping.

All optimizers take a list of Parameters sharing one dtype. On construction they move the
parameters' ``data`` and ``grad`` into one contiguous buffer each (the Parameters keep views
into it), so a step is a handful of in-place ufunc calls over one array whatever the number
of layers (``path`` "numpy"), or one fused numba loop over it (``path`` "numba", chosen for
large models; see ``nnlib.kernels``), split over ``threads`` threads (``fit`` matches the
BLAS thread limit). Both paths give bit-identical results. Assigning ``p.data`` or
``p.grad`` afterwards copies into the buffer; optimizers over the same list share it.
``lr`` is a plain attribute and may change between steps (schedules do that).

``state_dict()`` returns ``{"name", "step", "hyper": {...}, "state": {name: ndarray}}`` (and
``"scalars"`` for optimizers with per-optimizer state, NAdam's running product of momenta);
``load_state_dict`` restores it exactly (used for checkpoints).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from . import kernels
from .core import Parameter


def _check(name, value, low, high=math.inf, low_open=False):
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got {value!r}")
    ok = math.isfinite(value) and (value > low if low_open else value >= low) and value < high
    if not ok:
        lo = "(" if low_open else "["
        raise ValueError(f"{name} must be in {lo}{low}, {high}), got {value}")
    return float(value)


def _check_betas(betas) -> tuple[float, float]:
    if len(betas) != 2:
        raise ValueError(f"betas must be a pair, got {betas!r}")
    return (_check("betas[0]", betas[0], 0.0, 1.0), _check("betas[1]", betas[1], 0.0, 1.0))


class _FlatBuffers:
    """One flat buffer for the data and one for the grads of a list of Parameters, which
    are re-pointed to views into them. Optimizers over the same list share it (so both
    update the same weights, as in PyTorch); any other overlap is refused."""

    def __init__(self, params):
        dtype = params[0].data.dtype
        total = sum(p.data.size for p in params)
        self.params = params
        self.flat, self.flat_grad = np.empty(total, dtype), np.zeros(total, dtype)
        i = 0
        for p in params:
            n, shape = p.data.size, p.data.shape
            self.flat[i : i + n] = p.data.ravel()
            self.flat_grad[i : i + n] = p.grad.ravel()
            p._bind(
                self, self.flat[i : i + n].reshape(shape), self.flat_grad[i : i + n].reshape(shape)
            )
            i += n

    @classmethod
    def of(cls, params) -> _FlatBuffers:
        bound = {id(p._flat): p._flat for p in params if p._flat is not None}
        if not bound:
            return cls(params)
        buffers = next(iter(bound.values()))
        same = len(bound) == 1 and len(buffers.params) == len(params)
        if same and all(a is b for a, b in zip(buffers.params, params, strict=True)):
            return buffers
        raise ValueError(
            "some of these parameters belong to an optimizer over a different parameter "
            "list; build every optimizer over the same list (e.g. model.parameters())"
        )


class Optimizer:
    """Base class: flat buffers, chunked (optionally threaded) in-place updates, state I/O.

    Subclasses call ``_init_state(state_names, n_scratch)`` and implement
    ``_kernel(t, p, g, state, scratch)``, which updates the views ``p`` (parameters),
    ``state`` (dict of per-element arrays) using ``g`` (gradients, read-only) and the
    ``scratch`` arrays, element-wise. The same kernel runs on ``threads`` contiguous chunks
    in parallel (NumPy releases the GIL in ufunc loops); results do not depend on it.
    """

    hyper_names: tuple[str, ...] = ()
    # State that is one number per optimizer, not per element (NAdam's mu_product).
    scalar_names: tuple[str, ...] = ()

    def __init__(self, params, lr: float):
        params = list(params)
        if not params or not all(isinstance(p, Parameter) for p in params):
            raise ValueError("an optimizer needs a non-empty list of Parameters")
        dtypes = {p.data.dtype for p in params}
        if len(dtypes) != 1:
            raise ValueError(
                f"parameters must share one dtype, got {sorted(d.name for d in dtypes)}"
            )
        self.params = params
        self.lr = _check("lr", lr, 0.0)
        self.step_count = 0
        self._buffers = _FlatBuffers.of(params)
        self.flat, self.flat_grad = self._buffers.flat, self._buffers.flat_grad
        self._threads, self._chunks, self._pool = 1, None, None
        self._path = kernels.choose(self.flat.size) if self._fused_kernel else "numpy"
        self._init_state((), 0)

    def _init_state(self, names, n_scratch: int) -> None:
        self.state = {name: np.zeros_like(self.flat) for name in names}
        self._scratch = [np.empty_like(self.flat) for _ in range(n_scratch)]
        self._chunks = None

    @property
    def threads(self) -> int:
        """Threads sharing the element-wise update (``fit`` sets it to the BLAS limit)."""
        return self._threads

    @threads.setter
    def threads(self, n: int) -> None:
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"threads must be a positive int, got {n!r}")
        self._threads, self._chunks = int(n), None

    @property
    def path(self) -> str:
        """Which code runs the update: "numba" (one fused pass, chosen automatically for
        large models when numba is installed) or "numpy". Both give the same results (see
        ``nnlib.kernels``); set it to force one."""
        return self._path

    @path.setter
    def path(self, path: str) -> None:
        if kernels.check_path(path) == "numba" and not self._fused_kernel:
            raise ValueError(f"{type(self).__name__} has no numba kernel; its path is numpy")
        self._path = path

    def warm_up(self) -> None:
        """Make the first step cost what the others do: on the numba path, import numba and
        compile or load its kernel now (about 1 s, once per process), by running it over
        zero-length views. Changes no parameter, state or step count. ``fit`` calls it before
        timing its first epoch."""
        if self._path == "numba":
            state = {name: v[:0] for name, v in self.state.items()}
            self._fused(1, self.flat[:0], self.flat_grad[:0], state, [])

    def _build_chunks(self):
        # Below ~16k elements per thread the hand-off costs more than it saves.
        k = max(1, min(self._threads, self.flat.size // 16384))
        bounds = [(self.flat.size * i // k) // 64 * 64 for i in range(k)] + [self.flat.size]
        self._chunks = [
            (
                self.flat[a:b],
                self.flat_grad[a:b],
                {name: v[a:b] for name, v in self.state.items()},
                [v[a:b] for v in self._scratch],
            )
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)
        ]
        if k > 1 and (self._pool is None or self._pool._max_workers != k - 1):
            # imported here: a one-thread job (the study's) never needs the pool
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(k - 1, thread_name_prefix="nnlib-optim")

    def zero_grad(self) -> None:
        self.flat_grad.fill(0)

    def step(self) -> None:
        self.step_count += 1
        t = self.step_count
        if self._chunks is None:
            self._build_chunks()
        kernel = self._fused if self._path == "numba" else self._kernel
        first, *rest = self._chunks
        futures = [self._pool.submit(kernel, t, *chunk) for chunk in rest]
        kernel(t, *first)
        for f in futures:
            f.result()

    def _kernel(self, t, p, g, state, scratch) -> None:
        raise NotImplementedError

    # Subclasses with a numba kernel set this True and implement ``_fused(t, p, g, state,
    # scratch)``: the same update as ``_kernel`` in one pass (scratch unused).
    _fused_kernel = False

    def _fused(self, t, p, g, state, scratch) -> None:
        raise NotImplementedError

    @staticmethod
    def _with_decay(p, g, weight_decay, out):
        """g + weight_decay * p written to ``out``, or g itself when there is no decay."""
        if weight_decay == 0:
            return g
        np.multiply(p, weight_decay, out=out)
        out += g
        return out

    def _decay_and_moments(self, p, g, state, scratch, decoupled: bool) -> np.ndarray:
        """Adam's first half, which NAdam shares: weight decay (decoupled: p *= 1 - lr * wd,
        else g + wd * p in scratch[0]), then m = b1 m + (1 - b1) g and
        v = b2 v + (1 - b2) g^2 (scratch[1] as work space). Returns the decayed g."""
        b1, b2 = self.betas
        if decoupled:
            if self.weight_decay:
                p *= 1 - self.lr * self.weight_decay
        else:
            g = self._with_decay(p, g, self.weight_decay, scratch[0])
        m, v, work = state["exp_avg"], state["exp_avg_sq"], scratch[1]
        m *= b1
        np.multiply(g, 1 - b1, out=work)
        m += work
        v *= b2
        np.multiply(g, g, out=work)
        work *= 1 - b2
        v += work
        return g

    @property
    def hyper(self) -> dict:
        return {k: getattr(self, k) for k in ("lr", *self.hyper_names)}

    def state_dict(self) -> dict:
        out = {
            "name": type(self).__name__,
            "step": self.step_count,
            "hyper": self.hyper,
            "state": {k: v.copy() for k, v in self.state.items()},
        }
        if self.scalar_names:
            out["scalars"] = {k: getattr(self, k) for k in self.scalar_names}
        return out

    def check_state_dict(self, state: dict) -> None:
        """A one-line ValueError unless ``state`` is a ``state_dict()`` this optimizer can
        load (its class, state arrays of these parameters' shapes, its scalars)."""
        if state.get("name") != type(self).__name__:
            raise ValueError(f"state is for {state.get('name')}, not {type(self).__name__}")
        arrays = state["state"]
        if set(arrays) != set(self.state):
            raise ValueError(
                f"optimizer state holds {sorted(arrays)}, {type(self).__name__} has "
                f"{sorted(self.state)}"
            )
        for k, v in arrays.items():
            if np.shape(v) != self.state[k].shape:
                raise ValueError(f"optimizer state {k!r} does not match these parameters")
        scalars = state.get("scalars", {})
        if set(scalars) != set(self.scalar_names):
            raise ValueError(f"{type(self).__name__} state needs the scalars {self.scalar_names}")
        unknown = set(state["hyper"]) - {"lr", *self.hyper_names}
        if unknown:
            raise ValueError(f"{type(self).__name__} has no hyper-parameters {sorted(unknown)}")

    def load_state_dict(self, state: dict) -> None:
        self.check_state_dict(state)
        for k, v in state["state"].items():
            self.state[k][...] = v
        for k, v in state["hyper"].items():
            setattr(self, k, tuple(v) if isinstance(v, list) else v)
        for k, v in state.get("scalars", {}).items():
            setattr(self, k, float(v))
        self.step_count = int(state["step"])

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyper.items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """torch.optim.SGD: g += wd * p; with momentum mu, b = g on the first step, then
    b = mu * b + (1 - dampening) * g; g = g + mu * b (nesterov) or b; p -= lr * g."""

    hyper_names = ("momentum", "dampening", "nesterov", "weight_decay")

    def __init__(
        self, params, lr=0.01, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0
    ):
        super().__init__(params, lr)
        self.momentum = _check("momentum", momentum, 0.0)
        self.dampening = _check("dampening", dampening, 0.0, 1.0 + 1e-12)
        self.weight_decay = _check("weight_decay", weight_decay, 0.0)
        self.nesterov = bool(nesterov)
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError("nesterov momentum requires momentum > 0 and dampening = 0")
        self._init_state(("momentum_buffer",) if self.momentum > 0 else (), 2)

    def _kernel(self, t, p, g, state, scratch):
        g = self._with_decay(p, g, self.weight_decay, scratch[0])
        step = scratch[1]
        if self.momentum > 0:
            b = state["momentum_buffer"]
            if t == 1:
                np.copyto(b, g)
            else:
                b *= self.momentum
                if self.dampening == 0:
                    b += g
                else:
                    np.multiply(g, 1 - self.dampening, out=step)
                    b += step
            if self.nesterov:
                np.multiply(b, self.momentum, out=step)
                step += g
                g = step
            else:
                g = b
        np.multiply(g, self.lr, out=step)
        p -= step

    _fused_kernel = True

    def _fused(self, t, p, g, state, scratch):
        f = p.dtype.type
        sgd = kernels.compiled()["sgd"]
        buf = state.get("momentum_buffer", p)  # unused without momentum
        scalars = (self.lr, self.weight_decay, self.momentum, 1 - self.dampening)
        sgd(p, g, buf, *map(f, scalars), t == 1, self.nesterov)


class RMSprop(Optimizer):
    """torch.optim.RMSprop: g += wd * p; v = alpha v + (1 - alpha) g^2;
    avg = sqrt(v) + eps (centered: sqrt(v - mean_g^2) + eps); with momentum,
    b = mu b + g / avg and p -= lr b, else p -= lr g / avg."""

    hyper_names = ("alpha", "eps", "momentum", "weight_decay", "centered")

    def __init__(
        self, params, lr=0.01, alpha=0.99, eps=1e-8, momentum=0.0, weight_decay=0.0, centered=False
    ):
        super().__init__(params, lr)
        self.alpha = _check("alpha", alpha, 0.0, 1.0)
        self.eps = _check("eps", eps, 0.0)
        self.momentum = _check("momentum", momentum, 0.0)
        self.weight_decay = _check("weight_decay", weight_decay, 0.0)
        self.centered = bool(centered)
        names = ["square_avg"]
        names += ["momentum_buffer"] if self.momentum > 0 else []
        names += ["grad_avg"] if self.centered else []
        self._init_state(names, 2)

    def _kernel(self, t, p, g, state, scratch):
        g = self._with_decay(p, g, self.weight_decay, scratch[0])
        v, avg = state["square_avg"], scratch[1]
        v *= self.alpha
        np.multiply(g, g, out=avg)
        avg *= 1 - self.alpha
        v += avg
        if self.centered:
            ga = state["grad_avg"]
            ga *= self.alpha
            np.multiply(g, 1 - self.alpha, out=avg)
            ga += avg
            np.multiply(ga, ga, out=avg)
            np.subtract(v, avg, out=avg)
            np.sqrt(avg, out=avg)
        else:
            np.sqrt(v, out=avg)
        avg += self.eps
        np.divide(g, avg, out=avg)
        if self.momentum > 0:
            b = state["momentum_buffer"]
            b *= self.momentum
            b += avg
            np.multiply(b, self.lr, out=avg)
        else:
            avg *= self.lr
        p -= avg

    _fused_kernel = True

    def _fused(self, t, p, g, state, scratch):
        f = p.dtype.type
        rmsprop = kernels.compiled()["rmsprop"]
        v = state["square_avg"]
        g_avg, buf = state.get("grad_avg", v), state.get("momentum_buffer", v)  # v: unused
        scalars = (self.lr, self.weight_decay, self.alpha, 1 - self.alpha, self.eps, self.momentum)
        rmsprop(p, g, v, g_avg, buf, *map(f, scalars), self.centered)


class Adam(Optimizer):
    """torch.optim.Adam: g += wd * p; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
    p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)."""

    hyper_names = ("betas", "eps", "weight_decay")
    decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr)
        self.betas = _check_betas(betas)
        self.eps = _check("eps", eps, 0.0)
        self.weight_decay = _check("weight_decay", weight_decay, 0.0)
        self._init_state(("exp_avg", "exp_avg_sq"), 2)

    def _kernel(self, t, p, g, state, scratch):
        b1, b2 = self.betas
        self._decay_and_moments(p, g, state, scratch, self.decoupled)
        m, v, den = state["exp_avg"], state["exp_avg_sq"], scratch[1]
        if self.lr == 0:
            return
        # lr / c1 * m / (sqrt(v) / sqrt(c2) + eps) = m / (sqrt(v) * a + b): lr and both bias
        # corrections folded into the denominator save two passes over the parameters.
        c1, c2 = 1 - b1**t, 1 - b2**t
        np.sqrt(v, out=den)
        den *= c1 / (self.lr * math.sqrt(c2))
        den += self.eps * c1 / self.lr
        np.divide(m, den, out=den)
        p -= den

    _fused_kernel = True

    def _fused(self, t, p, g, state, scratch):
        f, (b1, b2) = p.dtype.type, self.betas
        adam = kernels.compiled()["adam"]
        wd = 0.0 if self.decoupled else self.weight_decay
        decay = 1 - self.lr * self.weight_decay if self.decoupled else 1.0
        c1, c2 = 1 - b1**t, 1 - b2**t
        update = self.lr != 0
        a = c1 / (self.lr * math.sqrt(c2)) if update else 0.0
        b = self.eps * c1 / self.lr if update else 0.0
        m, v = state["exp_avg"], state["exp_avg_sq"]
        scalars = (wd, decay, b1, 1 - b1, b2, 1 - b2, a, b)
        adam(p, g, m, v, *map(f, scalars), update)


class AdamW(Adam):
    """torch.optim.AdamW: p *= 1 - lr * wd (decoupled), then the Adam step without decay."""

    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr, betas, eps, weight_decay)


class Adagrad(Optimizer):
    """torch.optim.Adagrad: g += wd * p; clr = lr / (1 + (t - 1) * lr_decay);
    sum += g^2 (starting at ``initial_accumulator_value``); p -= clr * g / (sqrt(sum) + eps)."""

    hyper_names = ("lr_decay", "weight_decay", "initial_accumulator_value", "eps")

    def __init__(
        self,
        params,
        lr=1e-2,
        lr_decay=0.0,
        weight_decay=0.0,
        initial_accumulator_value=0.0,
        eps=1e-10,
    ):
        super().__init__(params, lr)
        self.lr_decay = _check("lr_decay", lr_decay, 0.0)
        self.weight_decay = _check("weight_decay", weight_decay, 0.0)
        self.initial_accumulator_value = _check(
            "initial_accumulator_value", initial_accumulator_value, 0.0
        )
        self.eps = _check("eps", eps, 0.0)
        self._init_state(("sum",), 2)
        self.state["sum"].fill(self.initial_accumulator_value)

    def _kernel(self, t, p, g, state, scratch):
        g = self._with_decay(p, g, self.weight_decay, scratch[0])
        clr = self.lr / (1 + (t - 1) * self.lr_decay)
        total, std = state["sum"], scratch[1]
        np.multiply(g, g, out=std)
        total += std
        np.sqrt(total, out=std)
        std += self.eps
        np.divide(g, std, out=std)
        std *= clr
        p -= std


class NAdam(Optimizer):
    """torch.optim.NAdam: g += wd * p (or, with ``decoupled_weight_decay``, p *= 1 - lr * wd);
    mu_t = b1 (1 - 0.5 * 0.96^(t * momentum_decay)), mu_product *= mu_t;
    m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; den = sqrt(v / (1 - b2^t)) + eps;
    p -= lr (1 - mu_t) / (1 - mu_product) g / den
    + lr mu_{t+1} / (1 - mu_product mu_{t+1}) m / den."""

    hyper_names = ("betas", "eps", "weight_decay", "momentum_decay", "decoupled_weight_decay")
    scalar_names = ("mu_product",)

    def __init__(
        self,
        params,
        lr=2e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0.0,
        momentum_decay=4e-3,
        decoupled_weight_decay=False,
    ):
        super().__init__(params, lr)
        self.betas = _check_betas(betas)
        self.eps = _check("eps", eps, 0.0)
        self.weight_decay = _check("weight_decay", weight_decay, 0.0)
        self.momentum_decay = _check("momentum_decay", momentum_decay, 0.0)
        self.decoupled_weight_decay = bool(decoupled_weight_decay)
        self.mu_product = 1.0
        self._mu = self._mu_next = 0.0  # this step's momentum coefficients, set by step()
        self._init_state(("exp_avg", "exp_avg_sq"), 3)

    def step(self) -> None:
        # The momentum schedule is one number per step: computed once, not once per chunk.
        t, b1 = self.step_count + 1, self.betas[0]
        self._mu = b1 * (1.0 - 0.5 * 0.96 ** (t * self.momentum_decay))
        self._mu_next = b1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * self.momentum_decay))
        self.mu_product *= self._mu
        super().step()

    def _kernel(self, t, p, g, state, scratch):
        g = self._decay_and_moments(p, g, state, scratch, self.decoupled_weight_decay)
        m, v, den, tmp = state["exp_avg"], state["exp_avg_sq"], scratch[1], scratch[2]
        np.divide(v, 1 - self.betas[1] ** t, out=den)
        np.sqrt(den, out=den)
        den += self.eps
        mu, mu_next = self._mu, self._mu_next
        np.divide(g, den, out=tmp)
        tmp *= self.lr * (1.0 - mu) / (1.0 - self.mu_product)
        p -= tmp
        np.divide(m, den, out=tmp)
        tmp *= self.lr * mu_next / (1.0 - self.mu_product * mu_next)
        p -= tmp


def blas_threads() -> int:
    """The thread limit of NumPy's BLAS (via threadpoolctl when installed), else 1."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return 1
    counts = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
    return max(1, min(counts)) if counts else 1


def global_grad_norm(params) -> float:
    """sqrt of the sum of squared gradients of all parameters (computed in float64)."""
    return math.sqrt(sum(float(np.vdot(p.grad, p.grad)) for p in params))


def scale_to_norm(params, norm: float, max_norm: float) -> None:
    """Scale the gradients of ``params``, whose global norm is ``norm``, to at most
    ``max_norm``: torch's clip_grad_norm_ factor max_norm / (norm + 1e-6) when norm > max_norm.
    The one clipping formula (``clip_grad_norm`` and ``fit`` use it)."""
    if norm > max_norm:
        scale = max_norm / (norm + 1e-6)
        for p in params:
            p.grad *= scale


def clip_grad_norm(params, max_norm: float) -> float:
    """Scale all gradients so their global norm is at most ``max_norm`` (see
    ``scale_to_norm``). Returns the norm before clipping."""
    if not max_norm > 0:
        raise ValueError(f"max_norm must be > 0, got {max_norm}")
    norm = global_grad_norm(params)
    scale_to_norm(params, norm, max_norm)
    return norm


OPTIMIZERS = {
    "sgd": SGD,
    "rmsprop": RMSprop,
    "adam": Adam,
    "adamw": AdamW,
    "adagrad": Adagrad,
    "nadam": NAdam,
}
