"""Experiments -> runs: a run is its resolved config, named by a hash of it.

An experiment (a block under ``experiments:`` in config.yaml) expands to the Cartesian product
datasets x grid x search samples x seeds. Each point is resolved against ``defaults`` (then
the experiment's ``fixed``, ``per_dataset`` and ``optimizers`` overrides) into a
*run config*: a flat dict of everything that affects training (dataset, optimizer and its
hyper-parameters, activation, initializer, normalization (``norm``, present only when some
layer has one), hidden sizes, epochs, batch size, learning rate,
schedule, dropout, L2, early stopping, gradient clipping, dtype, snapshot interval, seed, and
``augment`` -- present only when augmentation is on, so it leaves other run ids unchanged).
The experiment's name is not part of it, so two experiments that contain the same run share
it and it trains once.

The run id is the first 10 hex digits of the SHA-256 of the run config's canonical JSON
(``sort_keys=True, separators=(",", ":")``); numbers are normalised first (``lr: 1`` and
``lr: 1.0`` are the same run). Outputs live in ``results/runs/<dataset>/<run_id>/``.

An experiment with ``tune`` is not expanded here: its runs follow from its trials
(:mod:`nnstudy.tuning.plan`), so experiments.csv leaves it out.

``results/runs/experiments.csv`` (:func:`table_csv`) lists which runs belong to which selected
experiment: one row per (experiment, run) with the columns ``experiment, dataset, run_id,
seed`` + every setting in :data:`TABLE_SETTINGS` + ``factors`` (the settings the experiment
varies, ``;``-separated, in grid order, then searched settings, then ``seed``). ``hidden`` is
written as ``64-64`` (``linear`` for no hidden layer), ``schedule`` as its name, ``augment`` as
:func:`augment_label` (``off``, ``pad4+flip``, ``pad2``, ``flip``), ``norm`` as ``none``,
``batch`` or per layer ``batch-none``, null as empty.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import inspect
import io
import itertools
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnstudy.config.nnlib_schema import NO_NORM, schedule_params
from nnstudy.config.validation import ConfigError, schema, selected

ID_LENGTH = 10
# The loss and residual setting a run config leaves out: the schema's defaults (every run
# before the options existed had them).
LOSS = schema()["properties"]["defaults"]["properties"]["loss"]["default"]
RESIDUAL = schema()["properties"]["defaults"]["properties"]["residual"]["default"]

# Settings with their type; the order is the column order of experiments.csv.
FLOAT_SETTINGS = ("lr", "dropout", "l2", "clip_norm")
INT_SETTINGS = ("epochs", "batch_size", "early_stopping", "snapshot_every")
TABLE_SETTINGS = (
    "optimizer",
    "activation",
    "initializer",
    "norm",
    "hidden",
    "lr",
    "epochs",
    "batch_size",
    "schedule",
    "dropout",
    "l2",
    "early_stopping",
    "clip_norm",
    "dtype",
    "augment",
)


# The keys each of nnlib's learning-rate schedules takes, with nnlib's defaults (besides
# ``lr`` and ``epochs``, which the run sets).
SCHEDULE_PARAMS = schedule_params()


@dataclass(frozen=True)
class Row:
    """One run as a member of one experiment."""

    experiment: str
    dataset: str
    run_id: str
    run: dict[str, Any] = field(compare=False)
    factors: tuple[str, ...] = field(compare=False)


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def config_hash(config: dict) -> str:
    """SHA-256 (first 16 hex digits) of a whole study config's canonical JSON (the report's
    provenance); values JSON cannot hold are written as their str()."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def run_id(run: dict[str, Any]) -> str:
    """Short content hash of a resolved run config (without its own ``run_id`` key)."""
    body = {k: v for k, v in run.items() if k != "run_id"}
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()[:ID_LENGTH]


def _float(x):
    return None if x is None else float(x)


def _int(x):
    return None if x is None else int(x)


def _schedule(spec: dict[str, Any], where: str) -> dict[str, Any]:
    name = spec["name"]
    params = SCHEDULE_PARAMS[name]
    extra = sorted(set(spec) - set(params) - {"name"})
    if extra:
        raise ConfigError(
            f"config: {where}.schedule: '{extra[0]}' does not apply to schedule '{name}'; "
            f"valid keys: {', '.join(['name', *params])}"
        )
    out: dict[str, Any] = {"name": name}
    recorded = RECORDED_SCHEDULE_KEYS.get(name, ())
    for key, default in params.items():
        value = _as_type_of(default, spec.get(key, default))
        if key not in recorded and value == default:
            continue  # at nnlib's default and newer than the run ids: left out, ids unchanged
        out[key] = value
    return out


# The schedule keys every run config records, also at their defaults: those nnlib had when
# run ids were first made. A key added to nnlib since is recorded only away from its default.
RECORDED_SCHEDULE_KEYS = {
    "step": ("step_size", "gamma"),
    "exponential": ("gamma",),
    "cosine": ("warmup_epochs", "min_lr"),
}


def _as_type_of(default: Any, value: Any) -> Any:
    """``value`` in the type of nnlib's default (bool before int: a bool is an int; a tuple's
    items each in the type of the default's, as a list)."""
    if isinstance(default, tuple | list) and isinstance(value, list | tuple):
        return [_as_type_of(d, v) for d, v in zip(default, value, strict=False)]
    for kind in (bool, int, float, str):
        if isinstance(default, kind):
            return kind(value)
    return value


def _augment(spec) -> dict[str, Any] | None:
    """``augment`` as ``{pad, flip}`` (true = pad 4 and flip), or None when it does nothing."""
    if not spec:
        return None
    spec = {} if spec is True else spec
    out = {"pad": int(spec.get("pad", 4)), "flip": bool(spec.get("flip", True))}
    return out if out["pad"] or out["flip"] else None


def augment_label(augment: dict[str, Any] | None) -> str:
    """A resolved ``augment`` (a run config's, None when off) as a short readable level."""
    if not augment:
        return "off"
    parts = [f"pad{augment['pad']}"] if augment["pad"] else []
    return "+".join([*parts, *(["flip"] if augment["flip"] else [])])


def resolve_run(
    settings: dict[str, Any], optimizers: dict[str, dict], dataset: str, seed: int, where: str
) -> dict[str, Any]:
    """The run config for one point; ``settings`` = defaults updated by fixed/grid/sample."""
    from nnlib.registry import optimizer_defaults

    opt = settings["optimizer"]
    params = dict(optimizers[opt])
    lr = settings["lr"] if settings["lr"] is not None else params["lr"]
    params.pop("lr")
    # In the type of nnlib's default (a hyper-parameter with a float default is a float).
    hyper = optimizer_defaults(opt)
    opt_params = {k: _as_type_of(hyper[k], v) for k, v in params.items()}
    run = {
        "dataset": dataset,
        "optimizer": opt,
        "optimizer_params": opt_params,
        "activation": settings["activation"],
        "initializer": settings["initializer"],
        "hidden": [int(h) for h in settings["hidden"]],
        # Present only when not the default, so the runs without them keep their ids.
        **({"loss": settings["loss"]} if settings.get("loss", LOSS) != LOSS else {}),
        **(
            {"residual": settings["residual"]}
            if settings.get("residual", RESIDUAL) != RESIDUAL
            else {}
        ),
        **({"norm": settings["norm"]} if _uses_norm(settings.get("norm", NO_NORM)) else {}),
        "schedule": _schedule(settings["schedule"], where),
        "dtype": settings["dtype"],
        "seed": int(seed),
    }
    for key in FLOAT_SETTINGS:
        run[key] = _float(settings[key])
    run["lr"] = float(lr)
    for key in INT_SETTINGS:
        if key != "early_stopping":  # a patience or a rule: _early_stopping
            run[key] = _int(settings[key])
    run.update(_early_stopping(settings["early_stopping"]))
    augment = _augment(settings.get("augment"))
    if augment is not None:  # absent when off, so runs without it keep their ids
        run["augment"] = augment
    _check_layers(run, where)
    sched = run["schedule"]
    if sched.get("warmup_epochs", 0) >= run["epochs"]:
        raise ConfigError(
            f"config: {where}.schedule.warmup_epochs: {sched['warmup_epochs']} must be < epochs "
            f"({run['epochs']})"
        )
    if sched.get("min_lr", 0.0) > run["lr"]:
        raise ConfigError(
            f"config: {where}.schedule.min_lr: {sched['min_lr']} must be <= lr ({run['lr']})"
        )
    _check_with_nnlib(run, where)
    return run


def _check_with_nnlib(run: dict[str, Any], where: str) -> None:
    """The run's optimizer and schedule values, checked by nnlib's own constructors (the one
    place their valid ranges are written): a bad one is a ConfigError, not a failed run."""
    optimizer = canonical_json([run["optimizer"], run["lr"], run["optimizer_params"]])
    schedule = canonical_json([run["schedule"], run["lr"], run["epochs"]])
    message = _nnlib_refuses(optimizer, schedule)
    if message:
        raise ConfigError(f"config: {where}: {message}")


@functools.lru_cache(maxsize=1024)
def _nnlib_refuses(optimizer: str, schedule: str) -> str | None:
    """nnlib's one-line refusal of an optimizer and a schedule (canonical JSON of ``[name, lr,
    params]`` and ``[schedule, lr, epochs]``), or None; cached, as a grid repeats them."""
    from nnlib import Parameter, get_optimizer, get_schedule

    name, lr, params = json.loads(optimizer)
    sched, _, epochs = json.loads(schedule)
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
    try:
        opt = get_optimizer(name, [Parameter(np.zeros(1))], lr=lr, **kwargs)
    except ValueError as error:
        return f"optimizer {name}: {error}"
    spec = {k: v for k, v in sched.items() if k != "name"}
    try:
        built = get_schedule(sched["name"], lr=lr, epochs=epochs, **spec)
        if built.per_step:
            # Any number of steps per epoch would do; a real fit's is known only with its data.
            built.bind(1000, opt)
    except ValueError as error:
        return f"schedule {sched['name']}: {error}"
    return None


def _uses_norm(norm) -> bool:
    """Whether a ``norm`` setting normalizes any layer: a run config has ``norm`` only then, so
    the runs without normalization keep their ids."""
    return any(n != NO_NORM for n in ([norm] if isinstance(norm, str) else norm))


def model_norm(norm):
    """A run's ``norm`` (absent: None) in nnlib's form: None for none, per layer too."""
    if norm is None or isinstance(norm, str):
        return None if norm in (None, NO_NORM) else norm
    return [None if n == NO_NORM else n for n in norm]


def _early_stopping(spec) -> dict[str, Any]:
    """``early_stopping`` (a patience, null, or ``{patience, monitor, min_delta}``) as run
    config keys: ``early_stopping`` (the patience), and ``monitor`` and ``min_delta`` only
    away from nnlib.fit's defaults, so the runs without them keep their ids."""
    if not isinstance(spec, dict):
        return {"early_stopping": _int(spec)}
    out: dict[str, Any] = {"early_stopping": int(spec["patience"])}
    for key, default in FIT_DEFAULTS.items():
        value = _as_type_of(default, spec.get(key, default))
        if value != default:
            out[key] = value
    return out


def _fit_defaults() -> dict[str, Any]:
    """nnlib.fit's defaults of the early-stopping keywords a run config may set."""
    from nnlib import fit

    params = inspect.signature(fit).parameters
    return {key: params[key].default for key in ("monitor", "min_delta")}


FIT_DEFAULTS = _fit_defaults()


def _check_layers(run: dict[str, Any], where: str) -> None:
    """Per-layer activations, norms and initializers fit the network's layers."""
    hidden = run["hidden"]
    act, init = run["activation"], run["initializer"]
    norm = run.get("norm")
    if isinstance(norm, list) and len(norm) != len(hidden):
        raise ConfigError(
            f"config: {where}.norm: {len(norm)} entries for {len(hidden)} hidden layers "
            f"{hidden}; give one per hidden layer"
        )
    if isinstance(act, list):
        if len(act) != len(hidden):
            raise ConfigError(
                f"config: {where}.activation: {len(act)} entries for {len(hidden)} hidden "
                f"layers {hidden}; give one per hidden layer"
            )
        for size, entry in zip(hidden, act, strict=True):
            if isinstance(entry, list) and len(entry) > size:
                raise ConfigError(
                    f"config: {where}.activation: a mixed layer of {size} neurons cannot take "
                    f"{len(entry)} activations"
                )
    if isinstance(init, list) and len(init) != len(hidden) + 1:
        raise ConfigError(
            f"config: {where}.initializer: {len(init)} entries for {len(hidden) + 1} Dense "
            "layers; give one per hidden layer and one for the output layer"
        )


def neuron_activations(activation, hidden: list[int]):
    """A run's ``activation`` in nnlib's form: a name, or one entry per hidden layer where a
    mixed layer lists one name per neuron (its names in equal consecutive blocks)."""
    if isinstance(activation, str):
        return activation
    return [
        entry
        if isinstance(entry, str)
        else [
            name
            for name, block in zip(entry, np.array_split(np.arange(size), len(entry)), strict=True)
            for _ in block
        ]
        for size, entry in zip(hidden, activation, strict=True)
    ]


def sample_search(search: dict[str, Any]) -> list[dict[str, Any]]:
    """The seeded random-search samples (rounded to 4 significant digits, ints rounded)."""
    rng = np.random.default_rng(search.get("seed", 0))
    samples = []
    for _ in range(search["n"]):
        point = {}
        for key in sorted(search["space"]):
            spec = search["space"][key]
            if "choices" in spec:  # categorical: one of the listed values
                point[key] = spec["choices"][int(rng.integers(len(spec["choices"])))]
                continue
            low, high = float(spec["low"]), float(spec["high"])
            if spec.get("log"):
                value = math.exp(rng.uniform(math.log(low), math.log(high)))
            else:
                value = rng.uniform(low, high)
            point[key] = int(round(value)) if key in INT_SETTINGS else float(f"{value:.4g}")
        samples.append(point)
    return samples


def experiment_optimizers(config: dict[str, Any], exp: dict[str, Any]) -> dict[str, dict]:
    """Each optimizer's hyper-parameters: ``defaults.optimizers`` with the experiment's
    ``optimizers`` overrides."""
    return {
        opt: {**params, **exp["optimizers"].get(opt, {})}
        for opt, params in config["defaults"]["optimizers"].items()
    }


def experiment_points(config: dict[str, Any], name: str):
    """``(dataset, settings)`` of every point of one experiment without its seeds, in a stable
    order (dataset, grid, sample); ``settings`` = defaults updated by fixed, per_dataset, the
    grid point and the search sample."""
    exp = config["experiments"][name]
    defaults = {k: v for k, v in config["defaults"].items() if k != "optimizers"}
    grid_keys = list(exp["grid"])
    search = exp.get("search")
    samples = sample_search(search) if search else [{}]
    for dataset in exp["datasets"]:
        for values in itertools.product(*(exp["grid"][k] for k in grid_keys)):
            for sample in samples:
                settings = {
                    **defaults,
                    **exp["fixed"],
                    **exp["per_dataset"].get(dataset, {}),
                    **dict(zip(grid_keys, values, strict=True)),
                }
                settings.update(sample)
                yield dataset, settings


def variant_factors(exp: dict[str, Any]) -> tuple[str, ...]:
    """The settings that tell an experiment's variants apart: its grid keys, then its searched
    settings (tuned settings are not factors: they follow from the variant)."""
    searched = sorted(exp["search"]["space"]) if exp.get("search") else []
    return (*exp["grid"], *searched)


def experiment_factors(exp: dict[str, Any]) -> tuple[str, ...]:
    """The settings an experiment varies: its variant factors, seed (and dataset)."""
    return (*variant_factors(exp), "seed", *(["dataset"] if len(exp["datasets"]) > 1 else []))


def experiment_slug(name: str) -> str:
    """A path-safe folder name for an experiment (its figures): the name itself when it is
    made of letters, digits, ``_`` and ``-``, else those characters of it plus a short hash of
    the whole name, so any printable name gets its own folder and never becomes a path."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_")
    if slug == name:
        return slug
    return f"{slug[:40] or 'experiment'}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def expand_experiment(config: dict[str, Any], name: str) -> list[Row]:
    """All rows of one experiment, in a stable order (dataset, grid, sample, seed)."""
    exp = config["experiments"][name]
    where = f"experiments.{name}"
    optimizers = experiment_optimizers(config, exp)
    factors = experiment_factors(exp)
    rows = []
    for dataset, settings in experiment_points(config, name):
        for seed in exp["seeds"]:
            run = resolve_run(settings, optimizers, dataset, seed, where)
            rows.append(Row(name, dataset, run_id(run), run, factors))
    return rows


def study_rows(config: dict[str, Any]) -> list[Row]:
    """Rows of the selected experiments without ``tune`` (duplicates within one experiment
    removed); a tuned experiment's runs depend on its trials (:mod:`nnstudy.tuning.plan`)."""
    rows: list[Row] = []
    for name in selected(config):
        if config["experiments"][name].get("tune"):
            continue
        seen = set()
        for row in expand_experiment(config, name):
            if row.run_id not in seen:
                seen.add(row.run_id)
                rows.append(row)
    return rows


def unique_runs(rows: list[Row]) -> dict[str, dict[str, Any]]:
    """run_id -> run config (with ``run_id``), one entry per distinct run."""
    return {row.run_id: {**row.run, "run_id": row.run_id} for row in rows}


def _cell(key: str, value: Any) -> str:
    if key == "augment":
        return augment_label(value)
    if key == "norm":  # absent: none; per layer: batch-none
        return "-".join([value] if isinstance(value, str) else value) if value else NO_NORM
    if value is None:
        return ""
    if key == "hidden":
        return "-".join(str(h) for h in value) or "linear"
    if key == "schedule":
        return value["name"]
    return str(value)


def table_csv(rows: list[Row]) -> str:
    """experiments.csv content (see the module docstring)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["experiment", "dataset", "run_id", "seed", *TABLE_SETTINGS, "factors"])
    for row in rows:
        cells = [_cell(k, row.run.get(k)) for k in TABLE_SETTINGS]
        writer.writerow(
            [
                row.experiment,
                row.dataset,
                row.run_id,
                row.run["seed"],
                *cells,
                ";".join(row.factors),
            ]
        )
    return buf.getvalue()
