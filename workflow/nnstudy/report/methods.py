"""The report's methods section: what was trained, on which data, how it was tuned; from the
run configs, the dataset cards and config.yaml."""

from __future__ import annotations

import json
import math

import pandas as pd

from nnstudy.analysis.aggregate import setting_columns
from nnstudy.report.templating import (
    NA,
)
from nnstudy.tuning import stats as tuning_stats


def distinct(values) -> str:
    seen = list(
        dict.fromkeys(str(v) for v in values if not (isinstance(v, float) and math.isnan(v)))
    )
    return ", ".join(seen) if seen else NA


def methods(config: dict, runs: pd.DataFrame, cards: dict[str, dict], selected: list[str]) -> dict:
    experiments = []
    for name in selected:
        exp = (config.get("experiments") or {}).get(name, {})
        members = runs[runs["experiments"].map(lambda e, n=name: n in json.loads(e))]
        experiments.append(
            {
                "name": name,
                "datasets": distinct(exp.get("datasets", members["dataset"].unique())),
                "grid": [(k, distinct(v)) for k, v in (exp.get("grid") or {}).items()],
                "fixed": [(k, json.dumps(v)) for k, v in (exp.get("fixed") or {}).items()],
                "seeds": distinct(exp.get("seeds", sorted(members["seed"].unique()))),
                "n_runs": len(members),
            }
        )
    settings = [(c, distinct(runs[c].unique())) for c in setting_columns(runs)]
    data = config.get("data") or {}
    datasets = [
        _card_summary(name, cards.get(name) or {}) for name in sorted(runs["dataset"].unique())
    ]
    return {
        "experiments": experiments,
        "settings": settings,
        "datasets": datasets,
        "split": (
            f"configured validation fraction {data.get('val_fraction', NA)}, split seed "
            f"{data.get('split_seed', NA)} (per dataset below, from its card); the validation "
            "split drives early stopping and the learning curves, the test split is used only "
            "for the final metrics"
        ),
        "n_runs": len(runs),
        "n_variants": int(runs.groupby(["dataset", "variant"]).ngroups),
    }


def _values(series) -> str:
    return "{" + ", ".join(f"{v:.3g}" for v in sorted(series.dropna().unique())) + "}"


def tuning_methods(trials: pd.DataFrame) -> list[str]:
    """How the study tuned, from its trials: settings and values tried, rungs and budgets."""
    parts = []
    for name in tuning_stats.tuned_names(trials):
        per_opt = {o: _values(g[name]) for o, g in trials.groupby("optimizer", sort=True)}
        if len(set(per_opt.values())) == 1:
            parts.append(f"{name} in {next(iter(per_opt.values()))}")
        else:
            parts.append(f"{name}: " + ", ".join(f"{o} {v}" for o, v in per_opt.items()))
    values = "; ".join(parts)
    rungs = trials.groupby("rung")["budget_epochs"].agg(
        lambda b: "/".join(f"{x:g}" for x in sorted(b.unique()))
    )
    per_rung = ", ".join(f"rung {int(k)}: {v} epochs" for k, v in rungs.items())
    return [
        f"Tuned settings: {values or NA}, searched separately for every variant; each "
        "dataset's tuning-budget table shows what each optimizer got "
        f"({trials['run_id'].nunique()} trial runs, {trials['variant'].nunique()} variants; "
        f"{per_rung}"
        + (
            "; successive halving keeps the better trials for the next rung"
            if len(rungs) > 1
            else ""
        )
        + "). Trials read only the training and validation splits; each variant's selected "
        "setting is then trained for every seed, and those runs make the ranking above.",
        "Tuned against default ranks the variants twice by validation accuracy, once with the "
        "selected settings and once at the optimizer's defaults from config.yaml (when they "
        "were among the trials). The learning-rate sensitivity and the expected best "
        "validation accuracy of n trials (Dodge et al. 2019, the expectation and standard "
        "deviation of the maximum of n draws from the trials' empirical distribution, in "
        "closed form) use the first rung, which every trial ran; a diverged trial without a "
        "validation accuracy counts as 0.",
    ]


def _split_text(split: dict) -> str:
    if not split:
        return NA
    test = split.get("test_fraction")
    return (
        f"{'stratified, ' if split.get('stratified') else ''}validation "
        f"{split.get('val_fraction', NA)} of train, "
        f"{'official test split' if test is None else f'test {test} held out'}, "
        f"seed {split.get('seed', NA)}"
    )


def _card_summary(name: str, card: dict) -> dict:
    """Source, shapes, normalization and checksums from a dataset card (nnstudy.datasets)."""
    sources, checksums = [], []
    for fname, rec in (card.get("source") or {}).items():
        if isinstance(rec, dict) and "source" in rec:
            sources.append(f"{fname} from {rec['source']}")
            checksums.append((f"raw {fname} (sha256)", str(rec.get("sha256", NA))))
        else:
            sources.append(f"{fname}: {json.dumps(rec, sort_keys=True)}")
    checksums += [
        (f"prepared {f} (sha256)", str(v)) for f, v in sorted((card.get("files") or {}).items())
    ]
    splits = card.get("splits") or {}
    norm = card.get("normalization") or {}
    return {
        "name": name,
        "source": "; ".join(sources) or NA,
        "shapes": ", ".join(
            f"{k} {' x '.join(map(str, v.get('shape', [])))}" for k, v in splits.items()
        )
        or NA,
        "n_classes": str(card.get("n_classes", NA)),
        "split": _split_text(card.get("split") or {}),
        "normalization": (
            f"standardized per {norm.get('per', NA)}, {norm.get('formula', NA)}, statistics from the {norm.get('computed_on', NA)} split"
            if norm
            else NA
        ),
        "checksums": checksums,
    }
