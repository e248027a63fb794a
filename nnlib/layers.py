"""Dense, Dropout, Residual, Sequential and the MLP builder."""

from __future__ import annotations

import numpy as np

from .core import Module, Parameter, as_dtype, as_generator, check_input_dtype


class Dense(Module):
    """y = x @ weight + bias with ``weight`` of shape (in_features, out_features).

    ``init`` is an initializer name (see ``get_initializer``) or a callable
    ``f(shape, rng, dtype)``; biases start at zero. ``rng`` is a Generator or an int seed
    (None means seed 0).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        init="he_normal",
        bias: bool = True,
        dtype=np.float32,
        rng=None,
    ):
        from .registry import get_initializer

        for name, v in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.dtype = as_dtype(dtype)
        self.init = init if isinstance(init, str) else getattr(init, "__name__", "custom")
        init_fn = get_initializer(init) if isinstance(init, str) else init
        w = init_fn((self.in_features, self.out_features), as_generator(rng), self.dtype)
        self.weight = Parameter(np.asarray(w, dtype=self.dtype), "weight")
        self.bias = Parameter(np.zeros(self.out_features, self.dtype), "bias") if bias else None
        self._ones: dict[int, np.ndarray] = {}

    def own_parameters(self):
        return [self.weight] if self.bias is None else [self.weight, self.bias]

    def forward(self, x, training=False):
        if training:
            out = self._buffer("out", (x.shape[0], self.out_features), self.dtype)
            np.matmul(x, self.weight.data, out=out)
            self._x = x
        else:
            out = np.matmul(x, self.weight.data)
        if self.bias is not None:
            out += self.bias.data
        return out

    def backward(self, grad_out, input_grad=True):
        np.matmul(self._x.T, grad_out, out=self.weight.grad)
        if self.bias is not None:
            # ones @ grad_out: a BLAS gemv, faster than a column-wise sum reduction
            n = grad_out.shape[0]
            ones = self._ones.get(n)
            if ones is None:
                ones = self._ones[n] = np.ones(n, self.dtype)
            np.matmul(ones, grad_out, out=self.bias.grad)
        if not input_grad:
            return None
        grad_in = self._buffer("grad", self._x.shape, self.dtype)
        return np.matmul(grad_out, self.weight.data.T, out=grad_in)

    def get_config(self):
        return {
            "type": "Dense",
            "in_features": self.in_features,
            "out_features": self.out_features,
            "init": self.init,
            "bias": self.bias is not None,
            "dtype": self.dtype.name,
        }


class Dropout(Module):
    """Inverted dropout: in training, zero each unit with probability ``p`` and scale the
    rest by 1/(1-p); the same mask multiplies the gradient in backward. Identity in eval.

    A unit is kept when a raw 32-bit draw of the generator is >= round(p * 2**32), so p is
    exact to 2**-32; two units per 64-bit draw, about twice as fast as uniform floats.
    """

    def __init__(self, p: float = 0.5, rng=None):
        if not 0 <= p < 1:
            raise ValueError(f"dropout p must be in [0, 1), got {p}")
        self.p = float(p)
        self.rng = as_generator(rng)
        self._threshold = np.uint32(min(round(self.p * 2**32), 2**32 - 1))

    def forward(self, x, training=False):
        if not training or self.p == 0:
            self._mask = None
            return x
        mask = self._buffer("mask", x.shape, x.dtype)
        raw = self.rng.bit_generator.random_raw(-(-x.size // 2))
        bits = raw.view(np.uint32)[: x.size].reshape(x.shape)
        np.greater_equal(bits, self._threshold, out=mask)
        mask *= 1.0 / (1.0 - self.p)
        self._mask = mask
        return np.multiply(x, mask, out=self._buffer("out", x.shape, x.dtype))

    def backward(self, grad_out, input_grad=True):
        if not input_grad:
            return None
        if self._mask is None:
            return grad_out
        return np.multiply(
            grad_out, self._mask, out=self._buffer("grad", grad_out.shape, grad_out.dtype)
        )

    def get_config(self):
        return {"type": "Dropout", "p": self.p}


class Residual(Module):
    """x + f(x) for a shape-preserving module f."""

    def __init__(self, module: Module):
        self.module = module

    def children(self):
        return [self.module]

    def forward(self, x, training=False):
        fx = self.module.forward(x, training)
        if fx.shape != x.shape:
            raise ValueError(
                f"Residual: inner module maps {x.shape} to {fx.shape}; shapes must match"
            )
        out = self._buffer("out", x.shape, fx.dtype) if training else np.empty_like(fx)
        return np.add(x, fx, out=out)

    def backward(self, grad_out, input_grad=True):
        g = self.module.backward(grad_out, True)
        if not input_grad:
            return None
        return np.add(grad_out, g, out=self._buffer("grad", grad_out.shape, grad_out.dtype))

    def get_config(self):
        return {"type": "Residual", "module": self.module.get_config()}


class Sequential(Module):
    """Modules applied in order. An input of another dtype than the parameters' raises a
    one-line ValueError (convert it first; ``fit`` and ``evaluate`` do)."""

    def __init__(self, *modules: Module):
        for m in modules:
            if not isinstance(m, Module):
                raise ValueError(f"Sequential takes Modules, got {type(m).__name__}")
        self.layers = list(modules)
        params = self.parameters()
        self._dtype = params[0].data.dtype if params else None

    def children(self):
        return list(self.layers)

    def forward(self, x, training=False):
        if self._dtype is not None:
            x = np.asarray(x)
            if x.dtype != self._dtype:  # tested here first: residual blocks run this every step
                check_input_dtype(x, self._dtype, type(self).__name__)
        return self._forward_layers(x, training)

    def _forward_layers(self, x, training):
        for m in self.layers:
            x = m.forward(x, training)
        return x

    def backward(self, grad_out, input_grad=True):
        last = len(self.layers) - 1
        for i in range(last, -1, -1):
            grad_out = self.layers[i].backward(grad_out, input_grad or i > 0)
        return grad_out

    def get_config(self):
        return {"type": "Sequential", "modules": [m.get_config() for m in self.layers]}


def _normalise_activations(activation, n_hidden: int):
    """One spec per hidden layer: a name, or a list of per-neuron names (mixed layer)."""
    if isinstance(activation, str):
        return [activation] * n_hidden
    specs = list(activation)
    if len(specs) != n_hidden:
        raise ValueError(
            f"activation list has {len(specs)} entries but the MLP has {n_hidden} hidden layers"
        )
    return [s if isinstance(s, str) else [str(a) for a in s] for s in specs]


def _normalise_norms(norm, n_hidden: int) -> list:
    """One normalization name (or None) per hidden layer."""
    from .norm import NORMS

    specs = [norm] * n_hidden if norm is None or isinstance(norm, str) else list(norm)
    if len(specs) != n_hidden:
        raise ValueError(
            f"norm list has {len(specs)} entries but the MLP has {n_hidden} hidden layers"
        )
    for s in specs:
        if s is not None and s not in NORMS:
            raise ValueError(f"unknown norm {s!r}; valid: {', '.join(sorted(NORMS))} or None")
    return specs


def _classes(logits: np.ndarray) -> np.ndarray:
    if logits.shape[1] == 1:
        return (logits[:, 0] > 0).astype(np.intp)
    return logits.argmax(axis=1)


def _probabilities(logits: np.ndarray) -> np.ndarray:
    from .activations import Sigmoid, Softmax

    if logits.shape[1] == 1:
        p = Sigmoid().forward(logits)
        return np.concatenate([1 - p, p], axis=1)
    return Softmax().forward(logits)


class MLP(Sequential):
    """A multilayer perceptron: Dense [-> normalization] -> activation [-> Dropout] per
    hidden layer, then a final Dense producing logits (no output activation; the loss
    applies softmax).

    Args:
        sizes: [n_in, *hidden, n_out].
        activation: a name for every hidden layer ("relu"), a list with one entry per hidden
            layer, where an entry may itself be a list of per-neuron names (a mixed layer).
        init: initializer name for all weights (torch.nn.init formulas, default gains), or a
            list with one name per Dense layer (hidden layers, then the output layer).
        dropout: dropout probability after each hidden activation (0 = none).
        residual: wrap each hidden block whose input and output sizes match (Dense ->
            activation [-> Dropout]) in a ``Residual`` (x + block(x)).
        dtype: float32 (default) or float64.
        rng: Generator or int seed for weights and dropout masks (None = seed 0).
        norm: None, "batch" (``BatchNorm1d``) or "layer" (``LayerNorm``) after every
            hidden Dense, or a list with one entry (a name or None) per hidden layer. It sits
            between the Dense and the activation, where Ioffe & Szegedy (2015) put batch
            normalization and torch models usually do: the activation then sees inputs of
            controlled scale, which is what lets saturating activations and large learning
            rates train; normalising after the activation would let ReLU's dead half skew the
            statistics. Recorded in ``get_config()`` only when set.
    """

    def __init__(
        self,
        sizes,
        activation="relu",
        init="he_normal",
        dropout: float = 0.0,
        dtype=np.float32,
        rng=None,
        bias: bool = True,
        residual: bool = False,
        norm: str | list | None = None,
    ):
        from .activations import MixedActivation
        from .norm import NORMS
        from .registry import get_activation

        sizes = [int(s) if isinstance(s, (int, np.integer)) else s for s in sizes]
        if len(sizes) < 2 or not all(isinstance(s, int) and s >= 1 for s in sizes):
            raise ValueError(
                f"sizes must be >= 2 positive ints [n_in, *hidden, n_out], got {sizes}"
            )
        acts = _normalise_activations(activation, len(sizes) - 2)
        norms = _normalise_norms(norm, len(sizes) - 2)
        inits = [init] * (len(sizes) - 1) if isinstance(init, str) or callable(init) else init
        if len(inits) != len(sizes) - 1:
            raise ValueError(
                f"init list has {len(inits)} entries but the MLP has {len(sizes) - 1} Dense layers"
            )
        rng = as_generator(rng)
        self.sizes, self.activation, self.init = sizes, acts, init
        self.dropout, self.dtype, self.bias = float(dropout), as_dtype(dtype), bool(bias)
        self.residual = bool(residual)
        self.norm = None if all(s is None for s in norms) else norm
        layers: list[Module] = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            block: list[Module] = [Dense(n_in, n_out, inits[i], bias, self.dtype, rng)]
            if i < len(acts):
                if norms[i] is not None:
                    block.append(NORMS[norms[i]](n_out, dtype=self.dtype))
                spec = acts[i]
                if isinstance(spec, str):
                    block.append(get_activation(spec))
                else:
                    if len(spec) != n_out:
                        raise ValueError(
                            f"mixed activation of hidden layer {i} lists {len(spec)} names "
                            f"for {n_out} neurons"
                        )
                    block.append(MixedActivation(spec))
                if self.dropout > 0:
                    block.append(Dropout(self.dropout, rng))
                if self.residual and n_in == n_out:
                    block = [Residual(Sequential(*block))]
            layers.extend(block)
        super().__init__(*layers)

    @property
    def n_features(self) -> int:
        return self.sizes[0]

    @property
    def n_outputs(self) -> int:
        return self.sizes[-1]

    def _check_shape(self, x) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.sizes[0]:
            raise ValueError(f"expected input of shape (n, {self.sizes[0]}), got {x.shape}")
        if x.dtype.kind not in "fiub":
            raise ValueError(f"input must be numeric, got dtype {x.dtype}")
        return x

    def check_input(self, x) -> np.ndarray:
        """x as a 2-D array converted to the model's dtype, or a one-line ValueError (what
        ``predict``, ``predict_proba`` and ``score`` accept, like scikit-learn's
        check_array)."""
        x = self._check_shape(x)
        return x if x.dtype == self.dtype else x.astype(self.dtype)

    def forward(self, x, training=False):
        """Logits for ``x`` of shape (n, n_in) and the model's dtype. Raises a one-line
        ValueError for a wrong shape, another dtype (as PyTorch does; no silent cast) or
        NaN/inf."""
        x = self._check_shape(x)
        if x.dtype != self.dtype:  # tested here first: the training step is hot
            check_input_dtype(x, self.dtype, "MLP")
        if not training:
            if not np.isfinite(x).all():
                raise ValueError("input contains NaN or inf")
            return self._forward_layers(x, training)
        # Training steps are hot: NaN/inf inputs always reach the logits, so check the small
        # output and look at the input only when it is not finite (fit validated its data).
        out = self._forward_layers(x, training)
        if not np.isfinite(out).all() and not np.isfinite(x).all():
            raise ValueError("input contains NaN or inf")
        return out

    def _batched(self, x, batch_size: int, f, empty_shape) -> np.ndarray:
        """``f(logits)`` of ``x`` (converted to the model's dtype) in batches, concatenated."""
        x = self.check_input(x)
        parts = [f(self.forward(x[i : i + batch_size])) for i in range(0, len(x), batch_size)]
        return np.concatenate(parts) if parts else np.zeros(empty_shape, self.dtype)

    def predict(self, x, batch_size: int = 4096) -> np.ndarray:
        """Class ids, computed in batches: the argmax of the logits, or for a single output
        (a binary classifier's logit, as BCEWithLogitsLoss trains it) 1 where it is > 0."""
        return self._batched(x, batch_size, _classes, (0,)).astype(np.intp, copy=False)

    def predict_proba(self, x, batch_size: int = 4096) -> np.ndarray:
        """Class probabilities (n, classes) in batches, as scikit-learn's: the softmax of the
        logits, or for a single output [1 - sigmoid, sigmoid] of its logit. ``x`` is
        converted to the model's dtype; the result has it."""
        return self._batched(x, batch_size, _probabilities, (0, max(2, self.n_outputs)))

    def score(self, x, y, batch_size: int = 4096) -> float:
        """Accuracy of ``predict(x)`` against the integer class ids ``y`` (scikit-learn's
        ``score`` of a classifier)."""
        from .metrics import accuracy

        return accuracy(np.asarray(y), self.predict(x, batch_size))

    def get_config(self):
        # norm only when set, so the configs (and model files) of MLPs without it are as before
        extra = {} if self.norm is None else {"norm": self.norm}
        return {
            "type": "MLP",
            "sizes": list(self.sizes),
            "activation": self.activation,
            "init": self.init if isinstance(self.init, str | list) else "custom",
            "dropout": self.dropout,
            "dtype": self.dtype.name,
            "bias": self.bias,
            "residual": self.residual,
            **extra,
        }
