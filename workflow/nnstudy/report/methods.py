"""The report's methods section: what was trained, on which data, how it was tuned; from the
run configs, the dataset cards and config.yaml."""

from __future__ import annotations

import json
import math

import pandas as pd

from nnstudy.report.templating import (
    NA,
)
from nnstudy.tuning import stats as tuning_stats


def distinct(values) -> str:
    seen = list(
        dict.fromkeys(str(v) for v in values if not (isinstance(v, float) and math.isnan(v)))
    )
    return ", ".join(seen) if seen else NA


# Run-table columns that are not settings of a run.
NOT_SETTINGS = {
    "dataset", "run_id", "seed", "status", "error", "experiments", "val_accuracy", "val_loss",
    "steps_per_epoch", "git_commit", "git_dirty", "host", "test_accuracy", "test_loss",
    "precision_macro", "recall_macro", "f1_macro", "train_seconds", "epochs_run",
}  # fmt: skip


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
                # Per-dataset settings override the fixed ones on that dataset.
                "per_dataset": [
                    (d, "; ".join(f"{k} = {json.dumps(v)}" for k, v in over.items()))
                    for d, over in (exp.get("per_dataset") or {}).items()
                ],
                "seeds": distinct(exp.get("seeds", sorted(members["seed"].unique()))),
                "n_runs": len(members),
            }
        )
    settings = [(c, distinct(runs[c].unique())) for c in runs.columns if c not in NOT_SETTINGS]
    data = config.get("data") or {}
    datasets = [
        _card_summary(name, cards.get(name) or {}) for name in sorted(runs["dataset"].unique())
    ]
    return {
        "experiments": experiments,
        "settings": settings,
        "datasets": datasets,
        "split": (
            f"split seed {data.get('split_seed', NA)}; each dataset's validation and test "
            "fractions are below, from its card"
        ),
        "splits_used": SPLITS_USED,
        "n_runs": len(runs),
    }


# What each split is used for (the report's Methods says it in these words).
SPLITS_USED = (
    ("training", "fitting the weights, and the normalization statistics of every split"),
    (
        "validation",
        "everything the study chooses: early stopping, the tuning trials' scores, the "
        "reference variant of each comparison (the highest mean validation accuracy over its "
        "seeds), the leading level of each factor, the variant drawn per level in the learning "
        "curves, and the time-to-target bar",
    ),
    (
        "test",
        "only the final numbers, once per final model: test accuracies, their intervals, the "
        "tests against the reference, rank probabilities and average ranks; nothing is "
        "chosen on it",
    ),
)


def statistics(comparisons: pd.DataFrame) -> list[str]:
    """The Statistics paragraphs, with the settings the comparisons were computed with."""
    first = comparisons.iloc[0] if len(comparisons) else None
    n_boot = NA if first is None else f"{int(first['n_boot']):,}"
    alpha = NA if first is None else f"{float(first['alpha']):g}"
    effect = NA if first is None or pd.isna(first["effect"]) else f"{100 * first['effect']:g}"
    return [
        "A comparison is one experiment on one dataset: its variants were trained under one "
        "protocol and budget, and nothing ranks runs of different experiments together (a run "
        "that two experiments share counts in both). A variant is one point of the experiment's "
        "grid or search without its seed; tuned settings follow from the variant. A factor "
        "with a single level is stated as fixed, not drawn or tested.",
        "Two sources of noise move a test accuracy: the seed (initialization, data order) and "
        "the finite test set. Every interval, rank probability and probability of improvement "
        f"comes from a paired two-level bootstrap ({n_boot} replicates): each replicate "
        "resamples the seeds and, independently, the test examples with replacement, the same "
        "seeds and examples for every variant of the comparison, from each final's per-example "
        "test predictions. Intervals are the replicates' 2.5 and 97.5 percentiles; P(first) is "
        "the share of replicates in which a variant has the highest accuracy (ties shared) and "
        "the rank interval the 95 % range of its rank. The probability of improvement is that "
        "a seed of the variant beats a seed of the reference (the Mann-Whitney statistic over "
        "their per-seed accuracies, Agarwal et al. 2021; Bouthillier et al. 2021).",
        "Each variant is tested against the reference on the paired per-example differences "
        "d[s, i] (seed s, test example i), a crossed seeds x examples design: the variance of "
        "the mean difference is (MS_seed + MS_example - MS_error) / (S N) from the two-way "
        "ANOVA's mean squares (each variance component clipped at zero), and the t statistic "
        "is referred to Satterthwaite's degrees of freedom. It counts the test set's noise "
        "and the seeds' alike (chosen by simulation: it alone held its 5 % size on both small and "
        "large test sets; tests/analysis/uncertainty_sim.py). "
        "With one seed only the test set's noise is known: the exact McNemar test on the "
        "discordant examples, and the report says the seed noise is missing. Each factor's "
        "leading level is tested against its runner-up in the same way (the mean over the "
        "level's variants); Holm's correction runs over every test of a comparison that a "
        f"sentence of the report states, at alpha = {alpha}. A test that does not reject is "
        'reported as "not distinguishable at this sample size" with the smallest difference '
        "the comparison detects with 80 % power (at alpha per test and at Holm's first step), "
        'never as equal; identical predictions are reported as "no difference observed". '
        f"The number of seeds a {effect}-point difference would need comes from the same "
        "variance components (the test set's part does not shrink with more seeds).",
        "Across datasets, an experiment's variants are ranked per dataset by mean test "
        "accuracy and the average ranks compared by the Friedman test (chi-square reference) and "
        "Nemenyi's critical difference (Demsar 2006); when the number of datasets is too small "
        "for any difference to reach significance, the report says so.",
    ]


def _values(series) -> str:
    """A parameter's tried values: listed when few, else their range and count."""
    values = sorted(series.dropna().unique())
    shown = [f"{v:.3g}" if isinstance(v, float) else str(v) for v in values]
    if len(values) <= 6:
        return "{" + ", ".join(shown) + "}"
    return f"[{shown[0]}, {shown[-1]}] ({len(values)} values)"


METHOD_TEXT = {
    "grid": "every point of the grid",
    "random": "seeded random draws",
    "sobol": "a scrambled Sobol' sequence (scipy.stats.qmc), seeded",
    "tpe": "TPE (Bergstra et al. 2011; Optuna's sampler, seeded) in rounds, each proposed "
    "from the trials of the rounds before at the first rung's epochs",
}
ESTIMATOR_TEXT = {
    "grid": "without replacement (a grid's trials are the whole pool; at n = N the curve is "
    "the observed best)",
    "random": "with replacement (the trials sample the search distribution)",
    "sobol": "with replacement (the trials sample the search distribution)",
    "tpe": "as the best of the first n trials in proposal order (each TPE trial depends on "
    "the ones before, so no subset is a smaller search; one realisation, no band)",
}


def tuning_methods(trials: pd.DataFrame) -> list[str]:
    """How the study tuned, from its trials: parameters and values tried per optimizer, the
    search method, rungs and budgets, the tuning seeds, selection, ties and edges."""
    parts = []
    for opt, g in trials.groupby("optimizer", sort=True):
        names = tuning_stats.tuned_names(g)
        parts.append(f"{opt}: " + ", ".join(f"{n} in {_values(g[n])}" for n in names))
    values = "; ".join(parts)
    rungs = trials.groupby("rung")["budget_epochs"].agg(
        lambda b: "/".join(f"{x:g}" for x in sorted(b.unique()))
    )
    per_rung = ", ".join(f"rung {int(k)}: {v} epochs" for k, v in rungs.items())
    methods = sorted(trials["method"].dropna().unique())
    first = trials[trials["rung"] == 0].drop_duplicates(["dataset", "variant", "candidate"])
    per_variant = sorted(first.groupby(["dataset", "variant"]).size().unique())
    seeds = ", ".join(str(int(s)) for s in sorted(trials["seed"].unique()))
    return [
        f"Searched parameters (the run-level settings and each optimizer's own "
        f"hyper-parameters; 1 - x of a decay rate on a log scale): {values or NA}. Each "
        f"variant's search: {'; '.join(METHOD_TEXT[m] for m in methods)}, "
        f"{'/'.join(map(str, per_variant))} candidates per variant, the same number and the "
        "same epochs for every optimizer of a comparison; each dataset's tuning-budget table "
        f"shows what each optimizer got ({trials['run_id'].nunique()} trial runs, "
        f"{trials['variant'].nunique()} variants; {per_rung}"
        + (
            "; successive halving (Jamieson & Talwalkar 2016; Li et al. 2017) keeps the "
            "better candidates for the next rung, at least two for the top rung"
            if len(rungs) > 1
            else ""
        )
        + "). Trials read only the training and validation splits, with the tuning seeds "
        f"({seeds}), which are none of the finals' seeds; each variant's setting is selected "
        "at the top rung, which trains for the full epochs, and then trained for every seed, "
        "and those runs make the ranking above.",
        "The selection table lists each variant's choice: a tie on validation accuracy is "
        "reported as a tie (broken by the lower validation loss, then the earlier "
        "candidate), and a selected value on its space's boundary (a grid's first or last "
        "value, or within a tenth of a range's log width of a bound) is flagged, since the "
        "optimum may lie outside the space. Tuned against default ranks the variants twice by "
        "validation accuracy, once with the selected settings and once at the optimizer's "
        "defaults from config.yaml (when they were among the trials). The learning-rate "
        "sensitivity and the expected best validation accuracy of n trials (Dodge et al. "
        "2019; performance against tuning budget, Sivaprasad et al. 2020), estimated "
        + "; ".join(ESTIMATOR_TEXT[m] for m in methods)
        + ", with its standard deviation as a band clipped to the observed range, use the "
        "first rung, which every trial ran; a diverged trial without a validation accuracy "
        "counts as 0.",
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
