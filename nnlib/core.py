"""Parameter and Module: the two building blocks every layer is made of."""

from __future__ import annotations

import numpy as np

DTYPES = {"float32": np.float32, "float64": np.float64}


def as_dtype(dtype) -> np.dtype:
    """Return ``dtype`` as a NumPy float dtype; only float32 and float64 are supported."""
    dt = np.dtype(dtype)
    if dt.name not in DTYPES:
        raise ValueError(f"dtype must be float32 or float64, got {dt.name}")
    return dt


def check_input_dtype(x: np.ndarray, dtype: np.dtype, owner: str) -> None:
    """A one-line ValueError unless ``x`` has the ``dtype`` of ``owner``'s parameters (as in
    PyTorch, a module does not cast its input: a silent cast would hide a float64 pipeline
    feeding a float32 model, and costs a copy of every batch)."""
    if x.dtype != dtype:
        raise ValueError(
            f"{owner} expects {dtype} input, got {x.dtype}; convert it with "
            f"x.astype(np.{dtype}) (fit, evaluate, predict, predict_proba and score convert "
            "for you)"
        )


class ForwardStateError(AttributeError):
    """``backward`` was called without the values a training-mode ``forward`` stores.

    An AttributeError, so ``hasattr`` and ``getattr(..., default)`` keep working on modules."""

    def __init__(self, module, name: str):
        super().__init__(
            f"{type(module).__name__} has no forward state ({name}): call "
            "forward(x, training=True) before backward"
        )


def as_generator(rng) -> np.random.Generator:
    """A ``Generator`` from a Generator (returned as is), an int seed, or None (seed 0).

    None maps to seed 0 so that nothing ever draws from unseeded or global random state.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng(0)
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise ValueError(
        f"rng must be a numpy Generator, an int seed or None, got {type(rng).__name__}"
    )


class Parameter:
    """A trainable array ``data`` and its gradient ``grad`` (same shape and dtype).

    ``backward`` of the owning module *sets* ``grad`` (it does not accumulate), so one
    forward/backward pair per step needs no ``zero_grad``. An optimizer moves ``data`` and
    ``grad`` into views of its flat buffers; from then on ``p.data = array`` and
    ``p.grad = array`` copy the values into those views (so the optimizer sees them, as in
    PyTorch), and an array of another shape, or None, is refused with a ValueError.
    """

    __slots__ = ("_data", "_grad", "_flat", "name")

    def __init__(self, data: np.ndarray, name: str = ""):
        self._data = np.ascontiguousarray(data)
        self._grad = np.zeros_like(self._data)
        self._flat = None  # the optimizer buffer holding data and grad, once bound
        self.name = name

    @property
    def data(self) -> np.ndarray:
        return self._data

    @data.setter
    def data(self, value) -> None:
        self._data = self._assign(self._data, value, "data")

    @property
    def grad(self) -> np.ndarray:
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        self._grad = self._assign(self._grad, value, "grad")

    def _assign(self, current: np.ndarray, value, what: str) -> np.ndarray:
        """The array ``what`` becomes: ``value`` itself while unbound, else ``current`` (a view
        into an optimizer's buffer) with ``value`` copied in."""
        if value is None:
            raise ValueError(f"parameter {self.name or '?'}: {what} cannot be None")
        if self._flat is None:
            return np.ascontiguousarray(value)
        value = np.asarray(value)
        if value.dtype.kind not in "fiub" or value.shape != current.shape:
            raise ValueError(
                f"parameter {self.name or '?'} holds {current.dtype} {current.shape}; cannot "
                f"assign {what} of {value.dtype} {value.shape} after an optimizer was built over it"
            )
        np.copyto(current, value, casting="same_kind")
        return current

    def _bind(self, flat, data: np.ndarray, grad: np.ndarray) -> None:
        """Re-point ``data`` and ``grad`` to views of an optimizer's buffers (``flat``)."""
        self._flat, self._data, self._grad = flat, data, grad

    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    def __repr__(self) -> str:
        return f"Parameter({self.name or '?'}, shape={self._data.shape}, dtype={self._data.dtype})"


class Scratch:
    """Reusable work arrays for the training step, so that it allocates nothing after its
    first call (mixed into modules and losses)."""

    def _buffer(self, key, shape, dtype, fill=None) -> np.ndarray:
        """The array for ``key`` and ``shape``: uninitialised, or filled with ``fill`` when
        created (then callers must not write to it). A new dtype replaces the old array."""
        bufs = self.__dict__.setdefault("_bufs", {})
        buf = bufs.get((key, shape))
        if buf is None or buf.dtype != dtype:
            buf = np.empty(shape, dtype=dtype) if fill is None else np.full(shape, fill, dtype)
            bufs[(key, shape)] = buf
        return buf


class Module(Scratch):
    """Base class of layers, activations and containers.

    Buffers are arrays a module updates itself (BatchNorm1d's running statistics): no
    optimizer sees them, but ``save_model``, ``fit``'s checkpoints and its best-weights
    restoration save and restore them with the parameters.

    Subclasses implement ``forward(x, training=False)`` and ``backward(grad_out,
    input_grad=True)``. ``backward`` uses what the last ``forward(..., training=True)`` stored,
    sets the gradients of the module's parameters and returns dL/dx (or None when
    ``input_grad`` is False, which saves the work for the first layer of a network).

    Training-mode forward keeps references (not copies) to what backward needs, so do not
    modify its input before calling backward.

    In training mode outputs and input gradients live in per-module buffers keyed by shape
    (no allocation in the training loop); they are overwritten by the next call with the
    same batch shape, so copy them if you keep them. Evaluation-mode outputs are fresh arrays.
    """

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        raise NotImplementedError

    def __call__(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        return self.forward(x, training)

    def children(self) -> list[Module]:
        return []

    def modules(self):
        """This module and all modules below it, depth first."""
        yield self
        for child in self.children():
            yield from child.modules()

    def own_parameters(self) -> list[Parameter]:
        return []

    def parameters(self) -> list[Parameter]:
        """All trainable parameters, in a fixed order (used by save/load and checkpoints)."""
        return [p for m in self.modules() for p in m.own_parameters()]

    def own_buffers(self) -> list[np.ndarray]:
        return []

    def buffers(self) -> list[np.ndarray]:
        """All buffers (updated in place), in a fixed order like ``parameters()``."""
        return [b for m in self.modules() for b in m.own_buffers()]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad.fill(0)

    def __getattr__(self, name: str):
        # Only reached when normal lookup fails. Modules set every private attribute in
        # __init__ except what a training-mode forward stores for backward (Dense's _x,
        # ReLU's _y, ...), so a missing one means backward came before that forward.
        if name.startswith("_") and not name.startswith("__"):
            raise ForwardStateError(self, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def get_config(self) -> dict:
        """JSON-serialisable description from which ``module_from_config`` rebuilds the module."""
        return {"type": type(self).__name__}

    def __repr__(self) -> str:
        cfg = {k: v for k, v in self.get_config().items() if k != "type"}
        args = ", ".join(f"{k}={v!r}" for k, v in cfg.items())
        return f"{type(self).__name__}({args})"
