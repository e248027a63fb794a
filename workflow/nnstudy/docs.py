"""The generated pages under docs/, kept in sync by a test; ``python -m nnstudy.docs`` (or
``make docs``) writes them:

- docs/config.md, the config.yaml reference, from the config schema (the schema is the one place
  each key, type, default and meaning is written, with nnlib's optimizers, schedules and norms
  filled in from nnlib: :mod:`nnstudy.config.nnlib_schema`);
- docs/rulegraph.dot, ``snakemake --rulegraph`` of the test study (.test/config.yaml with all its
  experiments and W&B on), and docs/rulegraph.svg drawn from it by Graphviz's ``dot``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile

import yaml

from nnstudy.config.validation import schema
from nnstudy.invoke import ROOT, TEST_CONFIG, run_snakemake

DOCS = ROOT / "docs"
PAGE = DOCS / "config.md"
RULEGRAPH = DOCS / "rulegraph.dot"
# Definitions documented once, in their own section, and linked from where they are used
# (and one per optimizer of nnlib's registry, :func:`sections`).
SECTIONS = (
    "activations",
    "initializers",
    "norms",
    "early_stopping_rule",
    "settings",
    "grid",
    "search",
    "tune",
    "tune_space",
    "tune_parameter",
    "experiment",
)


def sections() -> tuple[str, ...]:
    """:data:`SECTIONS` and one ``<name>_params`` per optimizer of nnlib's registry."""
    from nnlib.registry import optimizer_names

    return (*SECTIONS, *(f"{name}_params" for name in optimizer_names()))


def _ref_name(node: dict) -> str | None:
    ref = node.get("$ref", "")
    return ref.rsplit("/", 1)[-1] if ref.startswith("#/$defs/") else None


def _resolve(node: dict, defs: dict) -> dict:
    """``node`` with a plain ``$ref`` replaced by its definition (its own keys win)."""
    name = _ref_name(node)
    if name is None or name in sections():
        return node
    rest = {k: v for k, v in node.items() if k != "$ref"}
    return {**_resolve(defs[name], defs), **rest}


def _anchor(name: str) -> str:
    return f"[{name}](#{name.replace('_', '-')})"


def _kind(node: dict, defs: dict) -> str:
    """A short type description: enum values, numeric bounds, item kinds, alternatives."""
    if (name := _ref_name(node)) in sections():
        return _anchor(name)
    node = _resolve(node, defs)
    if "enum" in node:
        return " \\| ".join(f"`{v}`" for v in node["enum"])
    if "anyOf" in node:
        return " or ".join(_kind(alt, defs) for alt in node["anyOf"])
    kind = node.get("type", "")
    kind = " or ".join(kind) if isinstance(kind, list) else kind
    if kind == "array" or "items" in node or "prefixItems" in node:
        items = node.get("prefixItems") or [node.get("items") or {}]
        inner = ", ".join(_kind(i, defs) for i in items if isinstance(i, dict)) or "any"
        inner = f"({inner})" if " or " in inner else inner
        kind = f"list of {inner}" if "prefixItems" not in node else f"[{inner}]"
    if kind.startswith("object") and "additionalProperties" in node:
        extra = node["additionalProperties"]
        if isinstance(extra, dict):
            keys = _kind(node.get("propertyNames", {}), defs) or "name"
            kind = f"map of {keys} to {_kind(extra, defs)}"
    bounds = [
        f"{symbol} {node[key]}"
        for key, symbol in (
            ("minimum", ">="),
            ("exclusiveMinimum", ">"),
            ("maximum", "<="),
            ("exclusiveMaximum", "<"),
        )
        if key in node
    ]
    return ", ".join([kind, *bounds]) if bounds else kind


def _text(value) -> str:
    return " ".join(str(value).split()).replace("|", "\\|")


def _rows(properties: dict, defs: dict, prefix: str = "") -> list[str]:
    rows = []
    for key, raw in properties.items():
        node = _resolve(raw, defs)
        default = f"`{json.dumps(_default(node))}`" if "default" in node else ""
        rows.append(
            f"| `{prefix}{key}` | {_kind(raw, defs)} | {default} | "
            f"{_text(node.get('description', ''))} |"
        )
        if _ref_name(raw) not in sections() and "properties" in node:
            rows += _rows(node["properties"], defs, f"{prefix}{key}.")
    return rows


def _default(node: dict):
    """A node's default; a section's, with the defaults its properties add filled in, as
    validation fills them (``defaults.optimizers.sgd``: ``{"lr": 0.1}``)."""
    value = node["default"]
    if not isinstance(value, dict) or _ref_name(node) is None:
        return value
    filled = {
        k: sub["default"] for k, sub in node.get("properties", {}).items() if "default" in sub
    }
    return {**filled, **value}


def _table(properties: dict, defs: dict) -> list[str]:
    return ["| key | type | default | meaning |", "|---|---|---|---|", *_rows(properties, defs)]


def render(schema: dict) -> str:
    defs = schema["$defs"]
    lines = [
        "# config.yaml reference",
        "",
        "<!-- Generated from workflow/schemas/config.schema.yaml by "
        "`python -m nnstudy.docs`; do not edit by hand. -->",
        "",
        _text(schema.get("description", "")),
        "",
        "## Top level",
        "",
        *_table(schema["properties"], defs),
    ]
    for name in sections():
        node = defs[name]
        lines += ["", f"## {name}", ""]
        if node.get("description"):
            lines += [_text(node["description"]), ""]
        if "properties" in node:
            lines += _table(node["properties"], defs)
        else:
            lines.append(f"Type: {_kind(node, defs)}")
    return "\n".join(lines) + "\n"


def config_reference() -> str:
    return render(schema())


def rule_graph() -> str:
    """``snakemake --rulegraph`` of every rule the test study can run, in an empty folder."""
    experiments = list(yaml.safe_load(TEST_CONFIG.read_text())["experiments"])
    with tempfile.TemporaryDirectory() as empty:
        done = run_snakemake(
            "--rulegraph",
            "--forceall",
            "--configfile",
            str(TEST_CONFIG),
            "--config",
            f"select=[{','.join(experiments)}]",
            "wandb={mode: offline}",
            directory=empty,
            profile=None,
        )
    if done.returncode != 0:
        raise SystemExit(f"snakemake --rulegraph failed: {done.stderr[-2000:]}")
    lines = done.stdout[done.stdout.index("digraph") :].splitlines()
    # Snakemake lists the edges in set order, which changes between calls.
    edges = sorted((line for line in lines if "->" in line), key=lambda e: e.split())
    return "\n".join([*(line for line in lines[:-1] if "->" not in line), *edges, "}"]) + "\n"


def main() -> int:
    PAGE.write_text(config_reference())
    RULEGRAPH.write_text(rule_graph())
    svg = RULEGRAPH.with_suffix(".svg")
    if shutil.which("dot") is None:
        print(f"Graphviz's dot is not installed: {svg} was not redrawn", file=sys.stderr)
    else:
        subprocess.run(["dot", "-Tsvg", str(RULEGRAPH), "-o", str(svg)], check=True)
    print(f"wrote {PAGE}, {RULEGRAPH}, {svg}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
