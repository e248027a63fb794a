"""Resolve config strings to nnlib objects. Unknown names and unknown keyword arguments
raise a one-line ValueError listing the valid choices."""

from __future__ import annotations

import functools
import inspect


def _lookup(kind: str, table: dict, name):
    key = str(name).lower() if isinstance(name, str) else name
    if key not in table:
        raise ValueError(f"unknown {kind} {name!r}; valid: {', '.join(sorted(table))}")
    return table[key]


def _check_kwargs(kind: str, name: str, fn, kwargs: dict, skip: int) -> None:
    params = list(inspect.signature(fn).parameters.values())[skip:]
    accepted = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ValueError(
            f"{kind} {name!r} does not take {', '.join(unknown)}; accepted: {', '.join(accepted)}"
        )


def get_activation(name: str, **kwargs):
    """A new activation Module: identity, relu, leaky_relu(negative_slope), sigmoid, tanh,
    gelu(approximate), softmax."""
    from .activations import ACTIVATIONS

    cls = _lookup("activation", ACTIVATIONS, name)
    _check_kwargs("activation", name, cls.__init__, kwargs, 1)
    return cls(**kwargs)


def get_initializer(name: str, **kwargs):
    """An initializer ``f(shape, rng, dtype)`` with ``kwargs`` bound (e.g. std, gain, mode):
    zeros, normal, uniform, xavier_normal (or xavier), xavier_uniform, he_normal (or he),
    he_uniform."""
    from .init import INITIALIZERS, canonical

    fn = _lookup("initializer", INITIALIZERS, canonical(name) if isinstance(name, str) else name)
    _check_kwargs("initializer", name, fn, kwargs, 3)
    if not kwargs:
        return fn
    bound = functools.partial(fn, **kwargs)
    bound.__name__ = fn.__name__
    return bound


def get_norm(name: str, num_features: int, **kwargs):
    """A new normalization layer over ``num_features`` features: batch (BatchNorm1d: eps,
    momentum, affine, track_running_stats, dtype) or layer (LayerNorm: eps,
    elementwise_affine, bias, dtype)."""
    from .norm import NORMS

    cls = _lookup("norm", NORMS, name)
    _check_kwargs("norm", name, cls.__init__, kwargs, 2)
    return cls(num_features, **kwargs)


def get_loss(name: str, **kwargs):
    """A new loss: cross_entropy(l2, from_logits), bce_with_logits(l2), mse(l2)."""
    from .losses import LOSSES

    cls = _lookup("loss", LOSSES, name)
    _check_kwargs("loss", name, cls.__init__, kwargs, 1)
    return cls(**kwargs)


_ALIASES = {
    # Plain names for common SGD variants, as used in study configs.
    "momentum": ("sgd", {"momentum": 0.9}),
    "nesterov": ("sgd", {"momentum": 0.9, "nesterov": True}),
}


def optimizer_names() -> list[str]:
    """Every name ``get_optimizer`` takes: the optimizers of ``nnlib.optim.OPTIMIZERS`` in
    their order, each followed by its aliases (sgd, momentum, nesterov, rmsprop, ...)."""
    from .optim import OPTIMIZERS

    return [
        n
        for base in OPTIMIZERS
        for n in (base, *(a for a, (target, _) in _ALIASES.items() if target == base))
    ]


def optimizer_class(name: str) -> tuple[type, dict]:
    """(class, the keyword defaults its alias sets) of an optimizer name (``{}`` for a class's
    own name): ``momentum`` -> (SGD, {"momentum": 0.9})."""
    from .optim import OPTIMIZERS

    table = {n: (cls, {}) for n, cls in OPTIMIZERS.items()}
    table.update({a: (OPTIMIZERS[target], kw) for a, (target, kw) in _ALIASES.items()})
    cls, defaults = _lookup("optimizer", table, name)
    return cls, dict(defaults)


def optimizer_defaults(name: str) -> dict:
    """The hyper-parameters of an optimizer name with their defaults (its alias's where it
    sets them), ``lr`` first, from its class's ``__init__`` signature."""
    cls, alias = optimizer_class(name)
    return {n: alias.get(n, default) for n, default in _init_defaults(cls)}


@functools.cache
def _init_defaults(cls) -> tuple:
    """(name, default) of an optimizer class's hyper-parameters; cached, since a study's
    config resolves one run at a time (inspect.signature is most of that)."""
    params = list(inspect.signature(cls.__init__).parameters.values())[2:]  # self, params
    return tuple((p.name, p.default) for p in params)


def get_optimizer(name: str, params, **kwargs):
    """A new optimizer over ``params``: sgd, rmsprop, adam, adamw, adagrad, nadam
    (torch.optim signatures and defaults),
    and the aliases momentum (sgd, momentum=0.9) and nesterov (sgd, momentum=0.9,
    nesterov=True); explicit kwargs override an alias's defaults."""
    cls, defaults = optimizer_class(name)
    kwargs = {**defaults, **kwargs}
    _check_kwargs("optimizer", name, cls.__init__, kwargs, 2)
    return cls(params, **kwargs)


def get_schedule(name: str, **kwargs):
    """A new lr schedule: constant(lr), step(lr, step_size, gamma), exponential(lr, gamma),
    cosine(lr, epochs, warmup_epochs, min_lr, per_step, warmup_steps), one_cycle(lr, epochs,
    pct_start, anneal_strategy, div_factor, final_div_factor, three_phase, cycle_momentum,
    base_momentum, max_momentum) and plateau(lr, mode, factor, patience, threshold,
    threshold_mode, cooldown, min_lr, eps, monitor); see ``nnlib.schedules``. ``epochs`` is
    accepted (and ignored) by all, so callers can pass the fit's length uniformly."""
    from .schedules import SCHEDULES

    cls = _lookup("schedule", SCHEDULES, name)
    if "epochs" not in inspect.signature(cls.__init__).parameters:
        kwargs = {k: v for k, v in kwargs.items() if k != "epochs"}
    _check_kwargs("schedule", name, cls.__init__, kwargs, 1)
    return cls(**kwargs)
