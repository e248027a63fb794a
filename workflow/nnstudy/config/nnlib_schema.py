"""The parts of the config schema that nnlib owns, filled in when the schema is loaded.

nnlib's registries and constructor signatures are the one place its names, hyper-parameters,
their types and defaults are written; the schema file (``workflow/schemas/config.schema.yaml``)
holds only what the study adds: descriptions and bounds, and the study's own defaults
(``defaults.optimizers``: the learning rates and the keys every run of an optimizer records).
:func:`fill` adds, from nnlib, at every load:

- ``$defs.optimizer.enum``: :func:`nnlib.registry.optimizer_names` (classes and aliases);
- ``$defs.<name>_params``, one per optimizer: its hyper-parameters (``lr`` included), typed by
  their defaults, referenced by ``defaults.optimizers.<name>`` (which adds the study's defaults
  and ``lr``, nnlib's where the study sets none) and ``experiment.optimizers.<name>``;
- ``tune.spaces``: one space per optimizer;
- ``$defs.schedule``: the names of ``nnlib.schedules.SCHEDULES`` and every keyword of their
  signatures but ``lr`` and ``epochs`` (the run sets them), typed by their defaults, over the
  file's annotation of the same key;
- ``$defs.norm.enum``: ``none`` and the names of ``nnlib.norm.NORMS``;
- ``$defs.early_stopping_rule``'s ``monitor`` enum: what ``nnlib.fit`` can monitor.

So an optimizer or schedule added to nnlib's registry (even at run time) is a valid choice of
config.yaml and ``nnstudy train`` without an edit here. The values are checked by nnlib's own
constructors when a run is resolved (:mod:`nnstudy.config.runs`).
"""

from __future__ import annotations

import inspect
from typing import Any

# The choice of no normalization (nnlib's None), besides nnlib's norms.
NO_NORM = "none"
# Keyword arguments of a schedule that the run sets (its lr and its number of epochs).
SCHEDULE_RUN_KEYS = ("lr", "epochs")


def json_type(default: Any) -> dict[str, Any]:
    """The JSON Schema of a keyword argument, from the type of its default (bool before int:
    a bool is an int); a tuple is a list of that many items."""
    if isinstance(default, bool):
        return {"type": "boolean"}
    if isinstance(default, int):
        return {"type": "integer"}
    if isinstance(default, float):
        return {"type": "number"}
    if isinstance(default, str):
        return {"type": "string"}
    if isinstance(default, tuple | list):
        items = [json_type(d) for d in default]
        return {"type": "array", "prefixItems": items, "items": False, "minItems": len(items)}
    return {}


def optimizer_params(name: str) -> dict[str, Any]:
    """``$defs.<name>_params``: the optimizer's hyper-parameters, each typed by its default."""
    from nnlib.registry import optimizer_class, optimizer_defaults

    cls, alias = optimizer_class(name)
    via = f" (alias of {cls.__name__} with {alias})" if alias else ""
    properties = {
        key: {
            **json_type(default),
            "description": f"nnlib's default: {_shown(default)}",
        }
        for key, default in optimizer_defaults(name).items()
    }
    return {
        "description": f"Hyper-parameters of {name}: nnlib.optim.{cls.__name__}{via}.",
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
    }


def _shown(value: Any) -> str:
    if isinstance(value, tuple):
        return f"[{', '.join(map(str, value))}]"
    return str(value).lower() if isinstance(value, bool) else str(value)


def schedule_params() -> dict[str, dict[str, Any]]:
    """name -> {keyword: default} of nnlib's schedules (but ``lr`` and ``epochs``)."""
    from nnlib.schedules import SCHEDULES

    return {
        name: {
            p.name: p.default
            for p in inspect.signature(cls.__init__).parameters.values()
            if p.default is not p.empty and p.name not in SCHEDULE_RUN_KEYS
        }
        for name, cls in SCHEDULES.items()
    }


def _fill_optimizers(schema: dict) -> None:
    from nnlib.registry import optimizer_defaults, optimizer_names

    defs = schema["$defs"]
    names = optimizer_names()
    defs["optimizer"]["enum"] = names
    study = schema["properties"]["defaults"]["properties"]["optimizers"]
    unknown = sorted(set(study.get("properties", {})) - set(names))
    if unknown:
        raise ValueError(
            f"config schema: defaults.optimizers.{unknown[0]} is not an nnlib optimizer; "
            f"valid: {', '.join(names)}"
        )
    defaults, overrides = {}, {}
    for name in names:
        ref = {"$ref": f"#/$defs/{name}_params"}
        defs[f"{name}_params"] = optimizer_params(name)
        node = study.get("properties", {}).get(name, {})
        values = node.get("properties", {})
        values.setdefault("lr", {"default": optimizer_defaults(name)["lr"]})
        defaults[name] = {**ref, **node, "default": {}, "properties": values}
        overrides[name] = ref
    study["properties"] = defaults
    defs["experiment"]["properties"]["optimizers"]["properties"] = overrides
    spaces = defs["tune"]["properties"]["spaces"]
    spaces["properties"] = {name: {"$ref": "#/$defs/tune_space"} for name in names}


def _fill_schedules(schema: dict) -> None:
    node = schema["$defs"]["schedule"]
    params = schedule_params()
    annotated = node["properties"]
    node["properties"] = {"name": {**annotated.get("name", {}), "enum": list(params)}}
    for defaults in params.values():
        for key, default in defaults.items():
            if key not in node["properties"]:
                users = [n for n, d in params.items() if key in d]
                about = {"description": f"{', '.join(users)}; nnlib's default: {_shown(default)}"}
                node["properties"][key] = {**json_type(default), **annotated.get(key, about)}


def _fill_norms(schema: dict) -> None:
    from nnlib.norm import NORMS

    schema["$defs"]["norm"]["enum"] = [NO_NORM, *NORMS]


def _fill_monitors(schema: dict) -> None:
    from nnlib.training import MONITORS

    schema["$defs"]["early_stopping_rule"]["properties"]["monitor"]["enum"] = list(MONITORS)


def fill(schema: dict) -> dict:
    """``schema`` (the file's, a copy) with nnlib's parts filled in (see the module docstring)."""
    _fill_optimizers(schema)
    _fill_schedules(schema)
    _fill_norms(schema)
    _fill_monitors(schema)
    return schema
