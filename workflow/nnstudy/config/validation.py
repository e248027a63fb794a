"""Validate the study configuration (config.yaml) and explain a bad one in one line.

The schema is ``workflow/schemas/config.schema.yaml`` with nnlib's names and signatures filled
in (:func:`schema`, :mod:`nnstudy.config.nnlib_schema`); :func:`validate_config` runs it through
``snakemake.utils.validate`` (which fills the schema's defaults in place) and then checks what a
JSON Schema cannot express (an unknown experiment in ``select``, a setting both in ``grid`` and
``fixed``, an empty search range). Any problem raises :class:`ConfigError`, a ``ValueError``
whose message is a single line naming the key and, where there is a closed set, the valid
choices -- the Snakefile re-raises it as a ``WorkflowError`` before any job is scheduled.

YAML itself is checked first, where Snakemake is lenient: :func:`check_yaml` refuses a file
with a duplicate key (YAML keeps the last one silently) or one whose aliases expand to more
than :data:`MAX_VALUES` values (an "alias bomb": a few hundred bytes that expand to millions of
values and hang validation); :func:`validate_config` applies the same bound to the loaded
config. :func:`typed_overrides` reads ``--config key=value`` values as YAML, because Snakemake
reads a nested value (``defaults={dropout: 5.0e-1}``) as text; a YAML syntax error in a file or
in a ``--config`` value is one line with its line and column (:func:`yaml_error`).

Snakemake itself refuses a ``--config`` entry that has no ``=`` (often a value the shell split
at a space: quote the whole ``key=value``) or whose key is not a name, before it reads the
Snakefile: that error is Snakemake's, ending in
``ValueError: Invalid config definition: ...``.
"""

from __future__ import annotations

import copy
import difflib
import functools
import math
import tempfile
from pathlib import Path
from typing import Any

import yaml

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"
# More values than any real study config holds (the shipped one has a few hundred).
MAX_VALUES = 100_000


class ConfigError(ValueError):
    """A bad study configuration; ``str(error)`` is one line."""


def key_path(parts) -> str:
    """``['experiments', 'core', 'grid', 'optimizer', 1]`` -> ``experiments.core.grid.optimizer[1]``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def one_line(text: str) -> str:
    """Keys and values are echoed into messages; their line breaks must not split them."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


def _non_finite(node, path=()):
    """Path of the first NaN/inf number in ``node`` (JSON, hence the run id, cannot hold one;
    JSON Schema bounds let NaN through), or None."""
    if isinstance(node, float) and not math.isfinite(node):
        return path
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, child in items:
        found = _non_finite(child, (*path, key))
        if found is not None:
            return found
    return None


def _expanded_size(node, children, memo: dict[int, int]) -> int:
    """How many values ``node`` stands for once every alias is expanded; ``children`` lists a
    node's children. Shared nodes are counted once per use but visited once (``memo``)."""
    known = memo.get(id(node))
    if known is not None:
        return known
    memo[id(node)] = 1  # a cycle (a recursive alias) counts once instead of forever
    size = 1 + sum(_expanded_size(child, children, memo) for child in children(node))
    memo[id(node)] = size
    return size


def _too_large(size: int, where: str) -> ConfigError | None:
    if size <= MAX_VALUES:
        return None
    return ConfigError(
        f"config: {where}: expands to {size} values (more than {MAX_VALUES}; YAML aliases "
        "repeated inside each other?)"
    )


def yaml_error(exc) -> str:
    """One line for a YAML syntax error (a ``yaml.MarkedYAMLError``): where and what, e.g.
    ``line 1, column 14: expected ',' or '}', but got '<stream end>' (while parsing a flow
    mapping)``."""
    mark, problem = getattr(exc, "problem_mark", None), getattr(exc, "problem", None)
    if mark is None or problem is None:
        return one_line(str(exc))
    context = getattr(exc, "context", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}"
    return one_line(f"{where}: {problem}" + (f" ({context})" if context else ""))


def _node_children(node) -> list:
    import yaml

    if isinstance(node, yaml.MappingNode):
        return [child for pair in node.value for child in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _duplicate_key(node, seen: set[int]) -> str | None:
    """``line N: duplicate key 'k' (first on line M)`` for the first mapping in ``node`` that
    repeats a key, else None (merge keys ``<<`` are YAML's own and allowed)."""
    import yaml

    if id(node) in seen:
        return None
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[tuple[str, str], int] = {}
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                line = key.start_mark.line + 1
                if (key.tag, key.value) in first:
                    name = one_line(key.value)
                    return f"line {line}: duplicate key '{name}' (first on line {first[key.tag, key.value]})"
                first[key.tag, key.value] = line
    for child in _node_children(node):
        found = _duplicate_key(child, seen)
        if found:
            return found
    return None


def check_yaml(path: str | Path) -> None:
    """Raise ConfigError (one line) if the YAML (or JSON) file ``path`` repeats a key in one
    mapping or expands to more than :data:`MAX_VALUES` values."""
    import yaml

    try:
        root = yaml.compose(Path(path).read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config: {path}: not valid YAML: {yaml_error(exc)}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config: {path}: {one_line(str(exc))}") from None
    if root is None:
        return
    duplicate = _duplicate_key(root, set())
    if duplicate:
        raise ConfigError(f"config: {path}: {duplicate}; keep one")
    error = _too_large(_expanded_size(root, _node_children, {}), str(path))
    if error:
        raise error


def read_config(path: Path | None) -> dict[str, Any]:
    """The study config in ``path`` ({} for None), checked as the Snakefile checks its config
    files (:func:`check_yaml`: no duplicate keys, no alias bombs)."""
    if path is None:
        return {}
    check_yaml(path)
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise ConfigError(
            f"config: {path}: must be a mapping of settings, not a {type(config).__name__}"
        )
    return config


def _value_children(value) -> list:
    if isinstance(value, dict):
        return [*value.keys(), *value.values()]
    if isinstance(value, list):
        return value
    return []


def typed_overrides(args) -> dict[str, Any]:
    """``--config`` arguments (``key=value`` strings) with each value read as YAML, as the
    config file is: Snakemake reads the values inside a nested one as text. Each file-like
    check of :func:`check_yaml` applies; an empty value is null."""
    import yaml

    out: dict[str, Any] = {}
    for arg in args or ():
        key, _, text = str(arg).partition("=")
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            raise ConfigError(
                f"config: --config {key}: {one_line(text)!r} is not valid YAML: {yaml_error(exc)}"
            ) from None
        if root is not None:
            duplicate = _duplicate_key(root, set())
            if duplicate:
                raise ConfigError(f"config: --config {key}: {duplicate}; keep one")
            error = _too_large(_expanded_size(root, _node_children, {}), f"--config {key}")
            if error:
                raise error
        out[key] = yaml.safe_load(text)
    return out


def _choices(values) -> str:
    return ", ".join(str(v) for v in values)


def _hint(bad, valid) -> str:
    close = difflib.get_close_matches(str(bad), [str(v) for v in valid], n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _leaf(error):
    """The most specific error: inside anyOf/oneOf, the branch error deepest in the instance,
    then one of a branch of the value's type (a mapping's missing key, not "not an integer")."""
    while error.context:
        error = max(
            error.context,
            key=lambda e: (
                len(e.absolute_path),
                e.validator != "type",
                -e.schema_path.count("$ref"),
            ),
        )
    return error


def format_validation_error(error) -> str:
    """One line for a ``jsonschema.ValidationError``: where, what is wrong, what is allowed."""
    error = _leaf(error)
    where = key_path(error.absolute_path)
    schema, value, kind = error.schema, error.instance, error.validator
    if kind == "additionalProperties" and isinstance(value, dict):
        allowed = sorted(schema.get("properties", {}))
        extra = sorted(k for k in value if k not in allowed)
        bad = extra[0] if extra else "?"
        return f"{where}: unknown key '{bad}'{_hint(bad, allowed)}; valid keys: {_choices(allowed)}"
    if kind == "enum":
        return (
            f"{where}: '{value}' is not a valid choice{_hint(value, error.validator_value)}; "
            f"valid choices: {_choices(error.validator_value)}"
        )
    if kind == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        msg = f"{where}: {value!r} is not of type {expected}"
        if isinstance(value, str) and _looks_numeric(value):
            msg += (
                f" (YAML reads {value} as text: write it with a dot and a signed exponent, "
                "e.g. 1.0e-3 or 1.0e+12, in config.yaml and in --config alike)"
            )
        return msg
    if kind == "required":
        return f"{where}: missing required key; {error.message}"
    if kind == "minItems" and not value:
        return f"{where}: must not be empty"
    if kind == "minProperties" and not value:
        return f"{where}: must not be empty"
    if kind == "propertyNames":
        return f"{where}: bad name; {error.message}"
    return f"{where}: {error.message}"


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _schema_error(exc: BaseException):
    """The jsonschema error that snakemake.utils.validate wrapped in its WorkflowError."""
    import jsonschema

    seen = exc
    while seen is not None:
        if isinstance(seen, jsonschema.ValidationError):
            return seen
        inner = [a for a in getattr(seen, "args", ()) if isinstance(a, BaseException)]
        seen = inner[0] if inner else seen.__cause__ or seen.__context__
    return None


def validate_config(config: dict) -> dict:
    """Validate ``config`` in place (filling defaults) and return it; raise ConfigError."""
    try:
        _validate(config)
    except ConfigError as exc:
        raise ConfigError(one_line(str(exc))) from None
    return config


def _validate(config: dict) -> None:
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    error = _too_large(_expanded_size(config, _value_children, {}), "(top level)")
    if error:
        raise error
    bad = _non_finite(config)
    if bad is not None:
        raise ConfigError(f"config: {key_path(bad)}: must be a finite number")
    try:
        # snakemake.utils.validate reads a schema from a file: the filled-in one, written here
        # as block YAML, since a JSON schema loads as OrderedDicts whose defaults then land in
        # the config and make it unwritable with yaml.safe_dump.
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "config.schema.yaml"
            path.write_text(yaml.safe_dump(schema(), sort_keys=False), encoding="utf-8")
            validate(config, str(path), set_default=True)
    except WorkflowError as exc:
        error = _schema_error(exc)
        if error is None:
            raise ConfigError(f"config: {str(exc).strip().splitlines()[0]}") from None
        raise ConfigError(f"config: {format_validation_error(error)}") from None
    check_semantics(config)


@functools.cache
def _schema_file() -> dict:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def schema() -> dict:
    """The config schema: workflow/schemas/config.schema.yaml (read once) with nnlib's parts
    filled in from its registries as they are now (:func:`nnstudy.config.nnlib_schema.fill`),
    so an optimizer registered at run time is a valid choice. A new dict on every call."""
    from nnstudy.config.nnlib_schema import fill

    return fill(copy.deepcopy(_schema_file()))


def _with_defaults(value: dict, node: dict) -> dict:
    out = dict(value)
    for key, sub in node.get("properties", {}).items():
        if key not in out and "default" in sub:
            out[key] = copy.deepcopy(sub["default"])
        if isinstance(out.get(key), dict) and "properties" in sub:
            out[key] = _with_defaults(out[key], sub)
    return out


def data_settings(config: dict) -> dict:
    """The config's ``data`` block with the schema's defaults filled in. On the study's
    validated config they are there already; a config for data.smk alone (its tests) gets them
    from the schema here, never from a second copy of the numbers."""
    return _with_defaults(config.get("data") or {}, schema()["properties"]["data"])


def selected(config: dict) -> list[str]:
    """The experiment names ``select`` asks for (a single name is accepted too)."""
    sel = config["select"]
    return [sel] if isinstance(sel, str) else list(sel)


# Settings a grid lists by value (repeats are an error) and a search draws from choices.
CATEGORICAL = ("optimizer", "activation", "initializer", "hidden", "loss", "residual")
CATEGORICAL += ("schedule", "augment", "norm")


def check_semantics(config: dict) -> None:
    """What the schema cannot say; raises ConfigError with one line."""
    names = list(config["experiments"])
    for name in selected(config):
        if name not in names:
            raise ConfigError(
                f"config: select: unknown experiment '{name}'{_hint(name, names)}; "
                f"valid choices: {_choices(names)}"
            )
    for name, exp in config["experiments"].items():
        where = f"experiments.{name}"
        searched = set(exp.get("search", {}).get("space", {}))
        for key in sorted(set(exp["grid"]) & set(exp["fixed"])):
            raise ConfigError(f"config: {where}: '{key}' is set in both grid and fixed; keep one")
        # Settings of a (known) dataset the experiment does not list stay unused, so that
        # --config 'experiments={paper: {datasets: [fashion_mnist]}}' narrows an experiment.
        for dataset, settings in exp["per_dataset"].items():
            for key in sorted(set(settings) & (set(exp["grid"]) | searched)):
                raise ConfigError(
                    f"config: {where}.per_dataset.{dataset}: '{key}' is also in grid or search; "
                    "keep one"
                )
        for key in sorted(searched & (set(exp["grid"]) | set(exp["fixed"]))):
            raise ConfigError(
                f"config: {where}.search.space.{key}: '{key}' is also in grid or fixed; keep one"
            )
        for key, rng in exp.get("search", {}).get("space", {}).items():
            if "choices" not in rng:
                _check_range(f"{where}.search.space.{key}", key, rng)
        if "tune" in exp:
            _check_tune(where, exp, searched)
        for key in CATEGORICAL:
            values = exp["grid"].get(key, [])
            if len({repr(v) for v in values}) != len(values):
                raise ConfigError(f"config: {where}.grid.{key}: repeated value in {values!r}")
        _check_augment(config, name, exp)


def _tune_spaces(tune: dict) -> list[tuple[str, dict]]:
    """``(where, space)`` of every space a tune block gives (shared and per optimizer)."""
    spaces = [("space", tune["space"])] if "space" in tune else []
    return spaces + [(f"spaces.{o}", space) for o, space in (tune.get("spaces") or {}).items()]


def _check_tune(where: str, exp: dict, searched: set) -> None:
    """A tuned run-level setting is set nowhere else and its values are valid; the trials'
    seeds are not the finals'. The spaces' syntax and names are checked per optimizer when
    the searches are planned (nnstudy.tuning.plan)."""
    from nnstudy.tuning.search import check_seeds

    tune = exp["tune"]
    if not set(tune) & set(SPACE_KEYS):
        raise ConfigError(f"config: {where}.tune: give at least one of {_choices(SPACE_KEYS)}")
    elsewhere = set(exp["grid"]) | set(exp["fixed"]) | searched
    elsewhere |= {k for settings in exp["per_dataset"].values() for k in settings}
    for space_at, space in _tune_spaces(tune):
        for key, spec in sorted(space.items()):
            at = f"{where}.tune.{space_at}.{key}"
            if key in elsewhere:
                raise ConfigError(
                    f"config: {at}: '{key}' is also in grid, fixed, per_dataset or search"
                )
            if key not in _RANGE_RULES:
                continue
            ok, allowed = _RANGE_RULES[key]
            given = [*spec.get("values", []), *(spec[b] for b in BOUNDS if b in spec)]
            bad = [v for v in given if isinstance(v, int | float) and not ok(v)]
            if bad:
                raise ConfigError(f"config: {at}: {bad[0]} is not {allowed}")
    try:
        check_seeds(tune["seeds"], exp["seeds"])
    except ValueError as error:
        raise ConfigError(f"config: {where}.{error}") from None


# The bounds of a tuned parameter (W&B's and the project's keys).
BOUNDS = ("min", "max", "low", "high")
# What a tune block searches: at least one of them.
SPACE_KEYS = ("preset", "space", "spaces", "sweep")


def _check_augment(config: dict, name: str, exp: dict) -> None:
    """``augment`` (defaults < fixed < per_dataset, or any value of the grid) only for
    datasets made of images."""
    from nnstudy.datasets.catalog import DATASETS

    images = [d for d, spec in DATASETS.items() if spec.image_shape is not None]
    for dataset in exp["datasets"]:
        value = config["defaults"].get("augment")
        for layer in (exp["fixed"], exp["per_dataset"].get(dataset, {})):
            value = layer.get("augment", value)
        values = exp["grid"].get("augment", [value])
        if any(values) and dataset not in images:
            raise ConfigError(
                f"config: experiments.{name}: augment is for image datasets only "
                f"({_choices(images)}), not '{dataset}'"
            )


# What every value of a searched setting must satisfy (the schema checks fixed values).
_RANGE_RULES = {
    "lr": (lambda v: v > 0, "> 0"),
    "clip_norm": (lambda v: v > 0, "> 0"),
    "dropout": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "l2": (lambda v: v >= 0, ">= 0"),
    "epochs": (lambda v: v >= 1, ">= 1"),
    "batch_size": (lambda v: v >= 1, ">= 1"),
    "early_stopping": (lambda v: v >= 1, ">= 1"),
}


def _check_range(where: str, key: str, rng: dict[str, Any]) -> None:
    low, high = rng["low"], rng["high"]
    if not low <= high:
        raise ConfigError(f"config: {where}: low ({low}) must be <= high ({high})")
    if rng.get("log") and low <= 0:
        raise ConfigError(f"config: {where}: a log range needs low > 0, got {low}")
    ok, allowed = _RANGE_RULES[key]
    if not (ok(low) and ok(high)):
        raise ConfigError(
            f"config: {where}: [{low}, {high}] is outside the valid values ({allowed})"
        )
