"""Search spaces: the parameter syntax of a ``tune`` block, per-optimizer spaces, edges.

One *parameter* of a space, by its form (``name: spec``):

W&B sweep's format (a course project's sweep file can be pasted):
    ``{value: x}`` a constant; ``{values: [...]}`` a grid of these values (``distribution:
    categorical`` makes it unordered); ``{min, max, distribution}`` with ``uniform``,
    ``int_uniform``, ``log_uniform_values``, ``q_uniform`` or ``q_log_uniform_values`` (``q``,
    default 1: the values are the multiples of q in [min, max], each equally likely for
    ``q_uniform``, a log-uniform draw rounded to the nearest for ``q_log_uniform_values``);
    without ``distribution`` W&B's inference holds: ``values`` -> categorical, integer
    min/max -> ``int_uniform``, else ``uniform``. W&B's exponent-space ``log_uniform`` and its
    normal and beta distributions are refused (one line naming the valid ones).
The project's own forms:
    ``{factors: [...]}`` (times the optimizer's configured value, e.g. its lr);
    ``{low, high, log, points}`` an evenly (log-) spaced grid of ``points`` values;
    ``{low, high, log}`` a range.

A numeric grid is *ordered* (it has edges, and a log scale when its values are more evenly
spaced in log than linearly); a categorical one (strings, booleans, or ``distribution:
categorical``) is not. Values are rounded to 4 significant digits (integers exact), so that
the run configs built from them hash stably.

Searchable names (:func:`searchable`): the run-level settings (:data:`RUN_SETTINGS`) and
every hyper-parameter in the signature of the optimizer's nnlib class
(``nnlib.optim.OPTIMIZERS`` and the registry's aliases, e.g. ``momentum`` = SGD with
momentum 0.9), a tuple one by element (``betas`` -> ``beta1``, ``beta2``), and for the decay
rates (:data:`DECAY_RATES` and tuple elements) ``one_minus_<name>``: 1 - x, to be searched
on a log scale as Choi et al. 2019 do (``one_minus_beta1 = 0.1`` is ``betas[0] = 0.9``).

A tune block gives ``preset`` (default spaces, :data:`PRESETS`), ``space`` (for every
optimizer) and ``spaces`` (per optimizer); :func:`optimizer_spaces` merges them in that
order, a later one replacing an earlier one's parameter of the same hyper-parameter
(``beta1`` replaces ``one_minus_beta1``). A whole W&B sweep document becomes a tune block's
method, metric, space and n_trials (:func:`sweep_to_tune`; ``bayes`` -> ``tpe``), and a
space a sweep's parameters again (:func:`to_wandb`).

Edges (:func:`edge_flags`): a selected value on its space's boundary is flagged, and
:func:`extend` widens a flagged dimension outward by its own (log) width, at most ``limit``
times, saying what it did.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

RUN_SETTINGS = ("lr", "dropout", "l2", "clip_norm")
ONE_MINUS = "one_minus_"
# Hyper-parameters near 1 whose distance to 1 is what matters (besides tuple elements).
DECAY_RATES = ("momentum", "alpha")
# Kept below 1 when a space is widened: nnlib refuses a dropout or a decay rate of 1.
FRACTIONS = ("dropout", "momentum", "alpha", "dampening", "beta1", "beta2")
FRACTION_MAX = 0.999

DISTRIBUTIONS = (
    "categorical",
    "int_uniform",
    "uniform",
    "log_uniform_values",
    "q_uniform",
    "q_log_uniform_values",
)
WANDB_KEYS = ("distribution", "max", "min", "q", "value", "values")
PROJECT_KEYS = ("factors", "high", "log", "low", "points")
EDGE_FRACTION = 0.1  # of a range's (log) width: a selected value this close to a bound is an edge

# Shapes after Choi et al. 2019, "On Empirical Comparisons of Optimizers for Deep Learning"
# (their appendix's final search spaces): every hyper-parameter of the update rule searched,
# the learning rate, eps and 1 - (momentum, beta1, beta2, alpha) on log scales. The ranges
# are ours, sized for this study's small MLPs: about two decades either side of the study's
# default lr, reaching up to 1 for RMSprop and Adam so that a large eps (which makes their
# step close to momentum's with lr / eps) still finds a useful step; Nesterov keeps
# momentum >= 0.1 (nnlib refuses Nesterov without momentum). Choi et al. also tuned the lr
# schedule and regularisation; those stay in the experiment's shared space here.
_LOG = {"log": True}
_SGD_MOMENTUM = {
    "lr": {"low": 1e-4, "high": 1.0, **_LOG},
    "one_minus_momentum": {"low": 1e-3, "high": 1.0, **_LOG},
}
_ADAM = {
    "lr": {"low": 1e-5, "high": 1.0, **_LOG},
    "one_minus_beta1": {"low": 1e-3, "high": 1.0, **_LOG},
    "one_minus_beta2": {"low": 1e-4, "high": 1e-1, **_LOG},
    "eps": {"low": 1e-10, "high": 1.0, **_LOG},
}
PRESETS: dict[str, dict[str, dict[str, dict]]] = {
    "choi2019": {
        "sgd": {"lr": {"low": 1e-3, "high": 10.0, **_LOG}},
        "momentum": _SGD_MOMENTUM,
        "nesterov": {**_SGD_MOMENTUM, "one_minus_momentum": {"low": 1e-3, "high": 0.9, **_LOG}},
        "rmsprop": {
            "lr": {"low": 1e-5, "high": 1.0, **_LOG},
            "one_minus_alpha": {"low": 1e-3, "high": 1.0, **_LOG},
            "one_minus_momentum": {"low": 1e-3, "high": 1.0, **_LOG},
            "eps": {"low": 1e-10, "high": 1.0, **_LOG},
        },
        "adam": _ADAM,
        "adamw": {**_ADAM, "weight_decay": {"low": 1e-5, "high": 1e-1, **_LOG}},
    }
}


def round_value(value: Any) -> Any:
    """4 significant digits for a float, integers exact; booleans and strings as they are."""
    if isinstance(value, bool | str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real) and math.isfinite(value):
        return float(f"{float(value):.4g}")
    raise ValueError(f"{value!r} is not a finite number, a boolean or a string")


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _spacing_cv(gaps: np.ndarray) -> float:
    return float(np.std(gaps) / np.mean(gaps)) if np.mean(gaps) > 0 else math.inf


def looks_log(values: Sequence[float]) -> bool:
    """A grid is on a log scale when its values are positive and more evenly spaced in log
    than linearly (two values: when they span a factor of 10 or more)."""
    v = np.sort(np.asarray(values, dtype=float))
    if v.size < 2 or v[0] <= 0:
        return False
    if v.size == 2:
        return bool(v[1] / v[0] >= 10)
    return _spacing_cv(np.diff(np.log(v))) < _spacing_cv(np.diff(v))


@dataclass(frozen=True)
class Fixed:
    """A constant (``{value: x}``): part of every point, never searched."""

    name: str
    value: Any


@dataclass(frozen=True)
class Choice:
    """A grid of values; ``ordered`` for a numeric grid (it has edges and a scale)."""

    name: str
    values: tuple
    ordered: bool
    extended: int = 0  # times :func:`extend` widened it

    @property
    def log(self) -> bool:
        return self.ordered and looks_log(self.values)


@dataclass(frozen=True)
class Range:
    """A range [low, high]; ``log`` for a log-uniform one. With ``q`` (or ``integer``, q = 1)
    the values are the multiples of q in it."""

    name: str
    low: float
    high: float
    log: bool = False
    integer: bool = False
    q: float | None = None
    extended: int = 0

    @property
    def step(self) -> float | None:
        return self.q if self.q is not None else (1 if self.integer else None)

    def lattice(self) -> tuple[int, int]:
        """The first and last k with k * step in [low, high]."""
        step = self.step
        return math.ceil(self.low / step - 1e-9), math.floor(self.high / step + 1e-9)

    def snap(self, x: float) -> Any:
        """A drawn value as it is proposed: on the lattice, or rounded, inside [low, high]."""
        if self.step is None:
            return min(max(round_value(x), self.low), self.high)
        first, last = self.lattice()
        k = min(max(round(x / self.step), first), last)
        return int(k * self.step) if self.integer else round_value(k * self.step)

    def from_unit(self, u: float) -> Any:
        """The value at u in [0, 1): uniform on the lattice, else on the (log) range."""
        if self.step is not None and not self.log:
            first, last = self.lattice()
            return self.snap((first + min(int(u * (last - first + 1)), last - first)) * self.step)
        if self.log:
            return self.snap(math.exp(math.log(self.low) + u * math.log(self.high / self.low)))
        return self.snap(self.low + u * (self.high - self.low))


Dimension = Fixed | Choice | Range


@dataclass(frozen=True)
class Space:
    """The dimensions of one search, in name order (the order of draws and of the grid)."""

    dims: tuple[Dimension, ...]

    def __post_init__(self):
        names = [d.name for d in self.dims]
        if names != sorted(set(names)):
            raise ValueError(f"a space's dimensions are sorted and unique, got {names}")

    @classmethod
    def of(cls, dims) -> Space:
        return cls(tuple(sorted(dims, key=lambda d: d.name)))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.dims)

    @property
    def searched(self) -> tuple[Dimension, ...]:
        return tuple(d for d in self.dims if not isinstance(d, Fixed))

    def __getitem__(self, name: str) -> Dimension:
        for d in self.dims:
            if d.name == name:
                return d
        raise KeyError(name)

    def size(self) -> int | None:
        """How many distinct points the space has; None when a continuous range makes it
        infinite."""
        total = 1
        for d in self.dims:
            if isinstance(d, Choice):
                total *= len(d.values)
            elif isinstance(d, Range):
                if d.step is None:
                    return None
                first, last = d.lattice()
                total *= last - first + 1
        return total

    def contains(self, point: Mapping[str, Any]) -> bool:
        if set(point) != set(self.names):
            return False
        for d in self.dims:
            v = point[d.name]
            if isinstance(d, Fixed) and v != d.value or isinstance(d, Choice) and v not in d.values:
                return False
            if isinstance(d, Range) and not (_is_number(v) and d.low <= v <= d.high):
                return False
        return True


# --- parsing -----------------------------------------------------------------------------


def _fail(name: str, message: str):
    raise ValueError(f"{name}: {message}")


def _number(name: str, key: str, value: Any) -> float:
    if not _is_number(value) or not math.isfinite(value):
        _fail(name, f"{key} must be a finite number, got {value!r}")
    return value


def _bounds(name: str, spec: Mapping, low_key: str, high_key: str, log: bool, strict: bool):
    low = _number(name, low_key, spec.get(low_key))
    high = _number(name, high_key, spec.get(high_key))
    if high < low or (strict and high == low):
        _fail(name, f"{low_key} {low} must be below {high_key} {high}")
    if log and low <= 0:
        _fail(name, f"a log scale needs {low_key} > 0, got {low}")
    return low, high


def _rounded(name: str, value: Any) -> Any:
    try:
        return round_value(value)
    except ValueError as err:
        _fail(name, str(err))


def _typed(low: float, high: float, integer: bool) -> tuple:
    return (int(low), int(high)) if integer else (float(low), float(high))


def _choice(name: str, values: Any, categorical: bool) -> Choice:
    if not isinstance(values, list | tuple) or not values:
        _fail(name, f"values must be a non-empty list, got {values!r}")
    rounded = tuple(_rounded(name, v) for v in values)
    if len(set(rounded)) != len(rounded):
        _fail(name, f"values repeat (after rounding to 4 digits): {list(rounded)}")
    ordered = not categorical and all(_is_number(v) for v in rounded)
    return Choice(name, rounded, ordered)


def _wandb_dimension(name: str, spec: Mapping) -> Dimension:
    dist = spec.get("distribution")
    if dist is not None and dist not in DISTRIBUTIONS:
        hint = " (its min/max are exponents: write log_uniform_values)" * (dist == "log_uniform")
        _fail(name, f"unknown distribution {dist!r}{hint}; valid: {', '.join(DISTRIBUTIONS)}")
    if "value" in spec:
        if set(spec) != {"value"}:
            _fail(name, "value (a constant) takes no other key")
        return Fixed(name, _rounded(name, spec["value"]))
    if "values" in spec:
        if set(spec) - {"values", "distribution"} or dist not in (None, "categorical"):
            _fail(name, "values takes no other key than distribution: categorical")
        return _choice(name, spec["values"], categorical=dist == "categorical")
    if dist == "categorical":
        _fail(name, "distribution categorical needs values")
    if not {"min", "max"} <= set(spec):
        _fail(name, "give values, value, or min and max")
    lo, hi = spec["min"], spec["max"]
    dist = dist or ("int_uniform" if _is_int(lo) and _is_int(hi) else "uniform")
    if "q" in spec and not dist.startswith("q_"):
        _fail(name, f"q needs a q_ distribution, not {dist}")
    log = "log" in dist
    low, high = _bounds(name, spec, "min", "max", log, strict=True)
    if dist == "int_uniform" and not (_is_int(lo) and _is_int(hi)):
        _fail(name, f"int_uniform needs integer min and max, got {lo} and {hi}")
    if not dist.startswith("q_"):
        integer = dist == "int_uniform"
        return Range(name, *_typed(low, high, integer), log=log, integer=integer)
    q = spec.get("q", 1)
    if not _is_number(q) or not q > 0:
        _fail(name, f"q must be a number > 0, got {q!r}")
    integer = _is_int(lo) and _is_int(hi) and _is_int(q)
    q = None if integer and q == 1 else q
    dim = Range(name, *_typed(low, high, integer), log=log, integer=integer, q=q)
    first, last = dim.lattice()
    if first > last:
        _fail(name, f"no multiple of q {q} lies in [{low}, {high}]")
    return dim


def _project_dimension(name: str, spec: Mapping, default: Any) -> Dimension:
    if "factors" in spec:
        if set(spec) != {"factors"}:
            _fail(name, "factors takes no other key")
        if not _is_number(default) or default <= 0:
            _fail(name, f"factors need the optimizer's configured {name} (> 0), got {default!r}")
        factors = spec["factors"]
        if not isinstance(factors, list | tuple) or not factors:
            _fail(name, f"factors must be a non-empty list, got {factors!r}")
        return _choice(name, [default * _number(name, "factors", f) for f in factors], False)
    log = spec.get("log", False)
    if not isinstance(log, bool):
        _fail(name, f"log must be true or false, got {log!r}")
    if "points" not in spec:
        return Range(name, *_typed(*_bounds(name, spec, "low", "high", log, True), False), log=log)
    low, high = _bounds(name, spec, "low", "high", log, strict=False)
    points = spec["points"]
    if not _is_int(points) or points < 1:
        _fail(name, f"points must be an integer >= 1, got {points!r}")
    values = np.geomspace(low, high, points) if log else np.linspace(low, high, points)
    return _choice(name, [float(v) for v in values], categorical=False)


def parse_parameter(name: str, spec: Any, default: Any = None) -> Dimension:
    """One parameter of a space (the forms in the module docstring); ``default`` is the
    optimizer's configured value of ``name`` (what ``factors`` multiply)."""
    if not isinstance(spec, Mapping) or not spec:
        _fail(name, f"a parameter is a mapping such as {{values: [...]}}, got {spec!r}")
    unknown = sorted(set(spec) - set(WANDB_KEYS) - set(PROJECT_KEYS))
    if unknown:
        valid = ", ".join(sorted(WANDB_KEYS + PROJECT_KEYS))
        _fail(name, f"unknown key {', '.join(unknown)}; valid: {valid}")
    if set(spec) & set(WANDB_KEYS) and set(spec) & set(PROJECT_KEYS):
        _fail(
            name, f"mixes W&B keys ({', '.join(WANDB_KEYS)}) with ours ({', '.join(PROJECT_KEYS)})"
        )
    if set(spec) & set(PROJECT_KEYS):
        return _project_dimension(name, spec, default)
    return _wandb_dimension(name, spec)


# --- the optimizers' hyper-parameters ----------------------------------------------------


def hyper_defaults(optimizer: str) -> dict[str, Any]:
    """nnlib's defaults of the optimizer's constructor (its alias's where it sets them),
    ``lr`` included, by nnlib's names."""
    from nnlib.registry import optimizer_defaults

    return optimizer_defaults(optimizer)


def _elements(optimizer: str) -> dict[str, tuple[str, int | None]]:
    """Searched name -> (nnlib name, tuple index or None) of the optimizer's
    hyper-parameters other than lr."""
    out = {}
    for name, default in hyper_defaults(optimizer).items():
        if name == "lr":
            continue
        if isinstance(default, tuple) and name.endswith("s"):
            out.update({f"{name[:-1]}{i + 1}": (name, i) for i in range(len(default))})
        else:
            out[name] = (name, None)
    return out


def _targets(optimizer: str) -> dict[str, tuple[str, int | None, bool]]:
    """Searchable name -> (nnlib name or run setting, tuple index, is 1 - x)."""
    out = {name: (name, None, False) for name in RUN_SETTINGS}
    for name, (hyper, index) in _elements(optimizer).items():
        out[name] = (hyper, index, False)
        if index is not None or name in DECAY_RATES:
            out[ONE_MINUS + name] = (hyper, index, True)
    return out


def searchable(optimizer: str) -> tuple[str, ...]:
    """The names a space of ``optimizer`` may search (see the module docstring)."""
    return tuple(_targets(optimizer))


def _target(name: str, optimizer: str) -> tuple[str, int | None, bool]:
    targets = _targets(optimizer)
    if name not in targets:
        raise ValueError(
            f"{name!r} is not searchable for {optimizer}; valid: {', '.join(sorted(targets))}"
        )
    return targets[name]


def parse_space(
    specs: Mapping[str, Any], optimizer: str, configured: Mapping[str, Any] | None = None
) -> Space:
    """The space of ``optimizer`` from ``name: spec`` pairs; ``configured`` are the
    optimizer's configured hyper-parameters (nnlib's names, lr included), which ``factors``
    multiply (nnlib's defaults where absent)."""
    if not isinstance(specs, Mapping) or not specs:
        raise ValueError(
            f"{optimizer}: a space is a non-empty mapping name: parameter, got {specs!r}"
        )
    defaults = {**hyper_defaults(optimizer), **(configured or {})}
    seen: dict[tuple, str] = {}
    dims = []
    for name, spec in specs.items():
        hyper, index, _ = _target(name, optimizer)
        if (hyper, index) in seen:
            raise ValueError(f"{name} and {seen[hyper, index]} search the same hyper-parameter")
        seen[hyper, index] = name
        default = defaults.get(hyper)
        dims.append(parse_parameter(name, spec, default if index is None else None))
    return Space.of(dims)


def to_settings(
    point: Mapping[str, Any], optimizer: str, configured: Mapping[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A point as ``(run settings, optimizer hyper-parameters)``: the run-level settings it
    sets, and the hyper-parameters it sets by nnlib's names (a tuple filled from
    ``configured``, else nnlib's defaults; 1 - x converted back)."""
    defaults = {**hyper_defaults(optimizer), **(configured or {})}
    settings: dict[str, Any] = {}
    hyper: dict[str, Any] = {}
    for name, value in point.items():
        target, index, one_minus = _target(name, optimizer)
        # 12 digits: drops the float noise of 1 - x, keeps every digit of a 4-digit x.
        value = float(f"{1 - value:.12g}") if one_minus else value
        if target in RUN_SETTINGS:
            settings[target] = value
        elif index is None:
            hyper[target] = value
        else:
            elements = hyper.setdefault(target, list(defaults[target]))
            elements[index] = value
    return settings, hyper


def optimizer_spaces(
    tune: Mapping[str, Any],
    optimizers: Sequence[str],
    configured: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Space]:
    """One space per optimizer from a tune block's ``preset``, ``space`` and ``spaces``
    (merged in that order, by hyper-parameter); ``configured``: optimizer -> its configured
    hyper-parameters."""
    preset_name = tune.get("preset")
    if preset_name is not None and preset_name not in PRESETS:
        raise ValueError(f"unknown preset {preset_name!r}; valid: {', '.join(sorted(PRESETS))}")
    preset = PRESETS.get(preset_name, {})
    per = tune.get("spaces") or {}
    unknown = sorted(set(per) - set(optimizers))
    if unknown:
        raise ValueError(
            f"spaces for {', '.join(unknown)}, which the comparison does not have; "
            f"its optimizers: {', '.join(optimizers)}"
        )
    out = {}
    for opt in optimizers:
        if preset_name is not None and opt not in preset and opt not in per:
            raise ValueError(
                f"preset {preset_name} has no space for {opt}; give spaces.{opt} "
                f"(the preset has {', '.join(sorted(preset))})"
            )
        merged: dict[str, Any] = {}
        for part in (preset.get(opt, {}), tune.get("space") or {}, per.get(opt, {})):
            for name, spec in part.items():
                target = _target(name, opt)[:2]
                merged = {n: s for n, s in merged.items() if _target(n, opt)[:2] != target}
                merged[name] = spec
        out[opt] = parse_space(merged, opt, (configured or {}).get(opt))
    return out


# --- W&B sweeps ----------------------------------------------------------------------------

SWEEP_METHODS = {"grid": "grid", "random": "random", "bayes": "tpe"}
# What a sweep document may hold besides these: how W&B starts the runs, not the search.
SWEEP_IGNORED = ("command", "description", "entity", "name", "program", "project")
SWEEP_KEYS = ("method", "metric", "parameters", "run_cap", *SWEEP_IGNORED)


def sweep_to_tune(doc: Mapping[str, Any], metrics: Mapping[str, str]) -> dict[str, Any]:
    """A W&B sweep document as a tune block's ``method``, ``metric``, ``space`` (its
    ``parameters`` as they are) and ``n_trials`` (``run_cap``). ``metrics``: metric name ->
    its goal (``maximize`` or ``minimize``). W&B minimizes when ``goal`` is absent; a sweep
    that would thereby minimize a metric meant to be maximized is refused."""
    if not isinstance(doc, Mapping):
        raise ValueError(f"a W&B sweep is a mapping, got {doc!r}")
    unknown = sorted(set(doc) - set(SWEEP_KEYS))
    if unknown:
        hint = " (use tune.halving for early stopping)" * ("early_terminate" in unknown)
        raise ValueError(
            f"sweep: unknown key {', '.join(unknown)}{hint}; valid: {', '.join(SWEEP_KEYS)}"
        )
    method = doc.get("method")
    if method not in SWEEP_METHODS:
        raise ValueError(f"sweep: method {method!r}; valid: {', '.join(SWEEP_METHODS)}")
    metric = doc.get("metric") or {}
    if not isinstance(metric, Mapping) or set(metric) - {"name", "goal"}:
        raise ValueError(f"sweep: metric takes name and goal, got {metric!r}")
    name = metric.get("name")
    if name not in metrics:
        raise ValueError(f"sweep: metric {name!r}; valid: {', '.join(metrics)}")
    goal = metric.get("goal", "minimize")
    if goal != metrics[name]:
        said = "goal" if "goal" in metric else "no goal (W&B minimizes)"
        raise ValueError(f"sweep: {name} is to {metrics[name]}, the sweep says {said}: {goal}")
    parameters = doc.get("parameters")
    if not isinstance(parameters, Mapping) or not parameters:
        raise ValueError("sweep: parameters must be a non-empty mapping")
    tune: dict[str, Any] = {
        "method": SWEEP_METHODS[method],
        "metric": name,
        "space": dict(parameters),
    }
    if "run_cap" in doc:
        tune["n_trials"] = doc["run_cap"]
    elif method != "grid":
        raise ValueError(f"sweep: a {method} sweep needs run_cap (its number of trials)")
    return tune


def _wandb_range(d: Range) -> dict[str, Any]:
    if d.step is None:
        dist = "log_uniform_values" if d.log else "uniform"
    elif d.integer and d.q is None and not d.log:
        dist = "int_uniform"
    else:
        dist = "q_log_uniform_values" if d.log else "q_uniform"
    spec = {"distribution": dist, "min": d.low, "max": d.high}
    return {**spec, "q": d.step} if dist.startswith("q_") else spec


def to_wandb(space: Space) -> dict[str, dict[str, Any]]:
    """The space as a sweep's ``parameters`` (explicit distributions; a grid as values)."""
    out: dict[str, dict[str, Any]] = {}
    for d in space.dims:
        if isinstance(d, Fixed):
            out[d.name] = {"value": d.value}
        elif isinstance(d, Choice):
            out[d.name] = {"values": list(d.values)}
            out[d.name].update({} if d.ordered else {"distribution": "categorical"})
        else:
            out[d.name] = _wandb_range(d)
    return out


# --- edges ---------------------------------------------------------------------------------


def _position(d: Range, value: float) -> float:
    """Where ``value`` lies in the range, 0 at low and 1 at high (in log for a log range)."""
    if d.log:
        return math.log(value / d.low) / math.log(d.high / d.low)
    return (value - d.low) / (d.high - d.low)


def edge_flags(space: Space, selected: Mapping[str, Any]) -> dict[str, str]:
    """``{name: "low" | "high"}`` for each dimension whose selected value is on the space's
    boundary: an ordered grid's smallest or largest value (grids of two or more values), a
    range's value within :data:`EDGE_FRACTION` of its (log) width from a bound. Categorical
    grids and constants have no edges."""
    flags = {}
    for d in space.dims:
        value = selected[d.name]
        if isinstance(d, Choice) and d.ordered and len(d.values) > 1:
            side = {min(d.values): "low", max(d.values): "high"}.get(value)
        elif isinstance(d, Range):
            t = _position(d, value)
            side = "low" if t <= EDGE_FRACTION else "high" if t >= 1 - EDGE_FRACTION else None
        else:
            side = None
        if side:
            flags[d.name] = side
    return flags


def _domain(name: str) -> tuple[float, float]:
    """How far a widening may go: (0, 1] for 1 - x, [0, FRACTION_MAX] for fractions, else
    [0, inf)."""
    if name.startswith(ONE_MINUS):
        return 0.0, 1.0
    return (0.0, FRACTION_MAX) if name in FRACTIONS else (0.0, math.inf)


def _widen(low: float, high: float, side: str, log: bool, name: str) -> tuple[float, float]:
    """[low, high] widened by its own (log) width on ``side``, inside the name's domain."""
    lo_bound, hi_bound = _domain(name)
    if log:
        ratio = high / low
        return (low / ratio, high) if side == "low" else (low, min(high * ratio, hi_bound))
    width = high - low
    return (
        (max(low - width, lo_bound), high) if side == "low" else (low, min(high + width, hi_bound))
    )


def _widened(d: Dimension, side: str) -> Dimension:
    if isinstance(d, Range):
        low, high = _widen(d.low, d.high, side, d.log, d.name)
        return replace(d, low=low, high=high, extended=d.extended + 1)
    low, high = _widen(min(d.values), max(d.values), side, d.log, d.name)
    n = len(d.values)
    grid = np.geomspace(low, high, n) if d.log else np.linspace(low, high, n)
    return replace(d, values=tuple(round_value(float(v)) for v in grid), extended=d.extended + 1)


def _describe(d: Dimension) -> str:
    if isinstance(d, Range):
        return f"[{d.low:.4g}, {d.high:.4g}]" + " (log)" * d.log
    return "[" + ", ".join(f"{v:.4g}" for v in d.values) + "]"


def extend(space: Space, flags: Mapping[str, str], limit: int) -> tuple[Space, list[str]]:
    """The space with each flagged dimension widened outward by one (log) width on its
    flagged side, at most ``limit`` times per dimension, and one line per flag saying what
    was done. A grid keeps its number of values (evenly spaced over the wider range, on its
    own scale), so every optimizer keeps the same number of trials; the trials of the
    narrower search are extra budget that a report should count."""
    dims = {d.name: d for d in space.dims}
    notes = []
    for name, side in sorted(flags.items()):
        d = dims[name]
        if d.extended >= limit:
            notes.append(
                f"{name}: at the {side} edge of {_describe(d)}; not widened (extend {limit} reached)"
            )
            continue
        wide = _widened(d, side)
        if _describe(wide) == _describe(d):
            notes.append(
                f"{name}: at the {side} edge of {_describe(d)}, the bound of its domain; not widened"
            )
            continue
        dims[name] = wide
        notes.append(
            f"{name}: at the {side} edge of {_describe(d)}; widened to {_describe(wide)} "
            f"({wide.extended} of {limit})"
        )
    return Space.of(dims.values()), notes
