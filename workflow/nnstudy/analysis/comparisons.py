"""A comparison is one experiment on one dataset: the unit every ranking, test and finding of
the report is about.

The variants of a comparison were trained under one protocol and budget (the experiment's), so
nothing here ranks runs of different experiments together; a run that two experiments share
counts in both. A variant is told apart by the experiment's *factors* (its grid keys and
searched settings, :func:`nnstudy.config.runs.variant_factors`): tuned settings follow from the
variant and the seed is the replicate. A factor with a single level is *fixed*: stated, never
drawn or tested.

The reference "best" of a comparison is chosen on the validation split only: the highest mean
over seeds of the finals' validation accuracy (:func:`select_reference`); exact ties are
returned as ties.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnstudy.config.runs import augment_label, experiment_slug

# Selection reads this metric of each final (its validation split); a run without one
# (diverged before a finite value, or failed) counts as SELECTION_FLOOR.
SELECTION_METRIC = "val_accuracy"
SELECTION_FLOOR = 0.0


def level_label(factor: str, value: Any) -> str:
    """How one level of a factor reads in tables and legends: hidden sizes as ``64-64``
    (``linear`` for none), an augmentation as ``pad4+flip``, a schedule by its name and the
    settings it has, numbers in their shortest form, anything else as compact JSON."""
    if factor == "hidden" and isinstance(value, list):
        return "-".join(str(h) for h in value) or "linear"
    if factor == "augment":
        return augment_label(value or None)
    if factor == "schedule" and isinstance(value, dict):
        rest = ", ".join(f"{k} {v:g}" for k, v in sorted(value.items()) if k != "name")
        return f"{value['name']} ({rest})" if rest else str(value["name"])
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int | str):
        return str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Comparison:
    """One experiment on one dataset, with its variants and their runs."""

    experiment: str
    dataset: str
    # Variant factors with two levels or more, in the experiment's order.
    factors: tuple[str, ...]
    # Variant factors with one level: (factor, level).
    fixed: tuple[tuple[str, str], ...]
    # Variant labels, in the experiment's order (its grid, then its search samples).
    variants: tuple[str, ...]
    # variant -> factor -> level label, for every variant factor.
    levels: Mapping[str, Mapping[str, str]] = field(repr=False)
    # The seeds of the experiment (sorted).
    seeds: tuple[int, ...] = ()
    # (variant, seed) -> run id.
    runs: Mapping[tuple[str, int], str] = field(default_factory=dict, repr=False)

    @property
    def slug(self) -> str:
        """The experiment's folder name (its figures live in ``<slug>/<dataset>/``)."""
        return experiment_slug(self.experiment)

    @property
    def key(self) -> str:
        return f"{self.slug}/{self.dataset}"

    def run_ids(self) -> list[str]:
        return [self.runs[v, s] for v in self.variants for s in self.seeds if (v, s) in self.runs]

    def factor_levels(self, factor: str) -> list[str]:
        """The levels of a factor, in the order the variants first show them."""
        return list(dict.fromkeys(self.levels[v][factor] for v in self.variants))


def _factor_names(text: str) -> list[str]:
    """A membership row's ``factors`` (``;``-joined, seed and dataset included) -> the variant
    factors."""
    return [f for f in str(text).split(";") if f and f not in ("seed", "dataset")]


def build_comparisons(
    members: Iterable[Mapping[str, Any]], configs: Mapping[tuple[str, str], Mapping[str, Any]]
) -> list[Comparison]:
    """The comparisons of a study, in the order their experiments and datasets first appear.

    ``members``: rows of the membership table (``experiment, dataset, run_id, seed, factors``;
    experiments.csv and the tuned finals), in the experiment's order; ``configs``: each run's
    resolved config by (dataset, run id). Raises ValueError when one variant has two runs with
    the same seed (the membership table is not one experiment's)."""
    grouped: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for row in members:
        grouped.setdefault((str(row["experiment"]), str(row["dataset"])), []).append(row)
    out = []
    for (experiment, dataset), rows in grouped.items():
        factors = _factor_names(rows[0].get("factors", ""))
        cells: dict[str, dict[str, Any]] = {}  # run id -> factor -> value
        for row in rows:
            config = configs[dataset, str(row["run_id"])]
            cells[str(row["run_id"])] = {f: config.get(f) for f in factors}
        labels = _unique_labels(factors, cells.values())
        levels: dict[str, dict[str, str]] = {}
        runs: dict[tuple[str, int], str] = {}
        varying = [f for f in factors if len(set(labels[f].values())) > 1]
        for row in rows:
            rid, seed = str(row["run_id"]), int(row["seed"])
            level = {f: labels[f][_key(cells[rid][f])] for f in factors}
            shown = varying or factors
            variant = " / ".join(level[f] for f in shown) if shown else "(one variant)"
            if (variant, seed) in runs and runs[variant, seed] != rid:
                raise ValueError(
                    f"experiment {experiment!r} on {dataset}: variant {variant!r} has two runs "
                    f"with seed {seed} ({runs[variant, seed]}, {rid})"
                )
            levels[variant] = level
            runs[variant, seed] = rid
        fixed = tuple(
            (f, next(iter(labels[f].values()))) for f in factors if f not in varying and labels[f]
        )
        out.append(
            Comparison(
                experiment=experiment,
                dataset=dataset,
                factors=tuple(varying),
                fixed=fixed,
                variants=tuple(dict.fromkeys(v for v, _ in runs)),
                levels=levels,
                seeds=tuple(sorted({s for _, s in runs})),
                runs=runs,
            )
        )
    return out


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _unique_labels(factors: list[str], cells: Iterable[Mapping[str, Any]]) -> dict:
    """factor -> {value key -> label}; where two values of a factor read the same, all of that
    factor's levels read as JSON (so labels never merge two levels)."""
    cells = list(cells)
    out = {}
    for f in factors:
        values = {_key(c[f]): c[f] for c in cells}
        labels = {k: level_label(f, v) for k, v in values.items()}
        if len(set(labels.values())) < len(labels):
            labels = dict(zip(values, values, strict=True))
        out[f] = labels
    return out


def selection_score(value: float | None) -> float:
    """A final's validation accuracy as selection reads it (no finite value: the floor)."""
    if value is None or not math.isfinite(value):
        return SELECTION_FLOOR
    return float(value)


@dataclass(frozen=True)
class Selection:
    """The reference of a comparison: the variants with the highest mean validation accuracy
    over their seeds (more than one on an exact tie), and every variant's mean."""

    best: tuple[str, ...]
    means: Mapping[str, float]

    @property
    def reference(self) -> str:
        """The variant the tests compare against: the first best in the experiment's order
        (on a tie, the report names every tied variant)."""
        return self.best[0]

    @property
    def tied(self) -> bool:
        return len(self.best) > 1


def select_reference(
    comparison: Comparison, validation: Mapping[str, float | None], usable: Iterable[str]
) -> Selection | None:
    """Select on validation: ``validation`` maps run id -> the final's validation accuracy,
    ``usable`` the run ids that count (not failed). None when no variant has a usable run."""
    usable = set(usable)
    means = {}
    for v in comparison.variants:
        scores = [
            selection_score(validation.get(comparison.runs[v, s]))
            for s in comparison.seeds
            if (v, s) in comparison.runs and comparison.runs[v, s] in usable
        ]
        if scores:
            means[v] = math.fsum(scores) / len(scores)
    if not means:
        return None
    top = max(means.values())
    return Selection(best=tuple(v for v in comparison.variants if means.get(v) == top), means=means)


def correctness(
    comparison: Comparison,
    predictions: Mapping[str, np.ndarray],
    labels: np.ndarray,
    usable: Iterable[str],
) -> tuple[np.ndarray, np.ndarray]:
    """``(correct, present)``: ``correct[v, s, i]`` whether variant v's seed-s final classified
    test example i correctly (variants and seeds in the comparison's order), ``present[v, s]``
    whether that run exists and counts (``usable``: the run ids that are not failed; their
    predictions are in ``predictions``). Missing runs are all False in ``correct``."""
    usable = set(usable)
    labels = np.asarray(labels)
    shape = (len(comparison.variants), len(comparison.seeds))
    correct = np.zeros((*shape, labels.size), dtype=bool)
    present = np.zeros(shape, dtype=bool)
    for i, v in enumerate(comparison.variants):
        for j, s in enumerate(comparison.seeds):
            rid = comparison.runs.get((v, s))
            if rid is None or rid not in usable:
                continue
            pred = predictions[rid]
            if pred.shape != labels.shape:
                raise ValueError(
                    f"run {rid}: {pred.size} test predictions for {labels.size} test examples"
                )
            correct[i, j] = pred == labels
            present[i, j] = True
    return correct, present
