"""What the report says about tuning: the trials' numbers, and time to a target accuracy.

Inputs are the aggregate tables: ``trials`` (one row per trial run: dataset, variant, its
factors, one column per tuned setting, ``tuned`` = the ";"-joined tuned setting names,
``rung``, ``budget_epochs``, ``status``, ``val_accuracy``, ``is_default``, ``selected``, ...)
and ``histories`` (one row per run and epoch). Conventions:

- Trials are compared at one budget: the sensitivity and the expected-best curves use the
  first rung, which every trial ran (the full budget when there is no successive halving).
- A trial that diverged without a finite validation accuracy counts as 0 (it yields no usable
  model); failed trials are left out and counted.
- The "best" variant of an optimizer among the trials is chosen on validation numbers only.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as sps

from nnstudy.names import MAIN_FACTORS

TRIAL_METRIC = "val_accuracy"
# The trials table's fixed columns (one more per tuned setting, e.g. lr).
TRIAL_COLUMNS = (
    "experiment",
    "dataset",
    "variant",
    *MAIN_FACTORS,
    "tuned",
    "rung",
    "budget_epochs",
    "epochs_run",
    "seed",
    "run_id",
    "status",
    "val_accuracy",
    "val_loss",
    "best_val_accuracy",
    "train_seconds",
    "is_default",
    "selected",
)
TARGET_FRACTIONS = (0.95, 0.99)


def read_trials(path) -> pd.DataFrame | None:
    """aggregate's trials table, or None when there is none (a study without tuning)."""
    if path is None or not Path(path).exists() or Path(path).stat().st_size == 0:
        return None
    trials = pd.read_csv(path, dtype={"run_id": str, "variant": str, "tuned": str})
    # CSV loses dtypes: the flags come back as bool, or as text next to empty cells.
    for flag in ("is_default", "selected"):
        trials[flag] = trials[flag].astype(str).str.lower().eq("true")
    return trials


def dataset_trials(trials: pd.DataFrame | None, dataset: str) -> pd.DataFrame:
    """The trials of one dataset; empty when the study has none."""
    if trials is None or trials.empty:
        return pd.DataFrame(columns=TRIAL_COLUMNS)
    return trials[trials["dataset"] == dataset]


def expected_max(values, n_max: int | None = None) -> pd.DataFrame:
    """Expected maximum of n draws (with replacement) from the empirical distribution of
    ``values``, and its standard deviation, for n = 1 .. n_max (default: len(values)).

    Dodge et al. 2019, "Show Your Work": with the values sorted v_1 <= ... <= v_N,
    P(max <= v_i) = (i / N)^n, so E[max] = sum_i v_i ((i/N)^n - ((i-1)/N)^n); the variance
    uses the same weights. Columns: n, mean, std."""
    v = np.sort(np.asarray(values, dtype=float))
    if v.size == 0 or not np.isfinite(v).all():
        raise ValueError(f"expected_max needs finite values, got {v.size} with non-finite ones")
    n = np.arange(1, (n_max or v.size) + 1)
    cdf = (np.arange(v.size + 1) / v.size)[None, :] ** n[:, None]
    weights = np.diff(cdf, axis=1)
    mean = weights @ v
    var = np.maximum(weights @ v**2 - mean**2, 0.0)
    return pd.DataFrame({"n": n, "mean": mean, "std": np.sqrt(var)})


def first_rung(trials: pd.DataFrame) -> pd.DataFrame:
    """Trials at the lowest rung (the budget every trial ran), without failed ones."""
    ran = trials[trials["status"] != "failed"]
    return ran[ran["rung"] == ran["rung"].min()] if len(ran) else ran


def trial_scores(trials: pd.DataFrame, metric: str = TRIAL_METRIC) -> pd.Series:
    """The metric of each trial; a diverged trial without a finite value counts as 0."""
    values = pd.to_numeric(trials[metric], errors="coerce")
    diverged = trials["status"].eq("diverged") & ~np.isfinite(values)
    return values.mask(diverged, 0.0)


def tuned_names(trials: pd.DataFrame) -> list[str]:
    """The tuned settings of these trials, in first-seen order."""
    names = trials["tuned"].dropna().astype(str).str.split(";").explode()
    return list(dict.fromkeys(n for n in names if n))


def lead_variants(trials: pd.DataFrame, metric: str = TRIAL_METRIC) -> pd.DataFrame:
    """Per (dataset, optimizer) the variant whose selected trial scores highest on the
    validation metric (ties: first variant id). Columns: dataset, optimizer, variant."""
    chosen = trials[trials["selected"].astype(bool)].assign(_score=trial_scores(trials, metric))
    chosen = chosen.sort_values(["_score", "variant"], ascending=[False, True])
    first = chosen.groupby(["dataset", "optimizer"], sort=True)["variant"].first()
    return first.reset_index()


def variant_labels(trials: pd.DataFrame) -> pd.Series:
    """Readable name per trial variant id: its main factors, plus the id where two variants of
    a dataset would get the same name."""
    per_variant = trials.drop_duplicates(["dataset", "variant"]).set_index(["dataset", "variant"])
    names = per_variant[list(MAIN_FACTORS)].astype(str).agg(" / ".join, axis=1)
    clash = names.groupby(level="dataset").transform(lambda s: s.duplicated(keep=False))
    ids = per_variant.index.get_level_values("variant").astype(str)
    return names.where(~clash, names + " (" + ids + ")")


def sensitivity(trials: pd.DataFrame, setting: str = "lr", metric: str = TRIAL_METRIC):
    """Validation metric against one tuned setting at the first rung: one row per (dataset,
    variant, setting value), the best over any other tuned setting; ``chosen`` marks the value
    of the selected trial, ``diverged`` a value whose best trial diverged."""
    first = first_rung(trials)
    first = first.assign(_score=trial_scores(first, metric))
    chosen = trials[trials["selected"].astype(bool)][["dataset", "variant", setting]]
    rows = []
    for (dataset, variant), group in first.groupby(["dataset", "variant"], sort=True):
        pick = chosen[(chosen["dataset"] == dataset) & (chosen["variant"] == variant)]
        for value, g in group.groupby(setting, sort=True):
            best = g.sort_values("_score", ascending=False).iloc[0]
            rows.append(
                {
                    "dataset": dataset,
                    "variant": variant,
                    "optimizer": best["optimizer"],
                    setting: float(value),
                    metric: float(best["_score"]),
                    "diverged": best["status"] == "diverged",
                    "chosen": bool(np.isclose(pick[setting].astype(float), value).any()),
                }
            )
    cols = ["dataset", "variant", "optimizer", setting, metric, "diverged", "chosen"]
    return pd.DataFrame(rows, columns=cols)


def expected_max_curves(trials: pd.DataFrame, metric: str = TRIAL_METRIC) -> pd.DataFrame:
    """``expected_max`` of every variant's first-rung trials: one row per (dataset, variant,
    n) with the observed range (low, high) that bounds any maximum."""
    first = first_rung(trials)
    first = first.assign(_score=trial_scores(first, metric))
    frames = []
    for (dataset, variant), group in first.groupby(["dataset", "variant"], sort=True):
        scores = group["_score"].dropna()
        if scores.empty:
            continue
        curve = expected_max(scores)
        frames.append(
            curve.assign(
                dataset=dataset,
                variant=variant,
                optimizer=group["optimizer"].iloc[0],
                n_trials=len(scores),
                low=scores.min(),
                high=scores.max(),
            )
        )
    cols = ["dataset", "variant", "optimizer", "n_trials", "n", "mean", "std", "low", "high"]
    if not frames:
        return pd.DataFrame(columns=cols)
    return pd.concat(frames, ignore_index=True)[cols]


def _setting_text(row: pd.Series) -> str:
    names = [n for n in str(row["tuned"]).split(";") if n]
    return ", ".join(
        f"{n}={row[n]:.3g}" if isinstance(row[n], float) else f"{n}={row[n]}" for n in names
    )


def _rank(values: pd.Series) -> pd.Series:
    """Rank 1 = highest, ties by the index order (variant ids, sorted); NaN stays unranked."""
    order = values.dropna().sort_values(ascending=False, kind="stable")
    return pd.Series(np.arange(1, len(order) + 1), index=order.index).reindex(values.index)


def default_vs_tuned(trials: pd.DataFrame, metric: str = TRIAL_METRIC) -> pd.DataFrame:
    """Per dataset, each variant ranked by its validation metric at the optimizer's default
    settings and with the selected (tuned) settings.

    Each ranking compares one budget: the tuned side the selected trials (the last rung, the
    same for every variant), the default side the default trials at the highest rung that
    every variant's default trial reached. A variant without a default trial (the defaults
    are not in its search space) has no default rank."""
    trials = trials[trials["status"] != "failed"].assign(_score=trial_scores(trials, metric))
    out = []
    labels = variant_labels(trials) if len(trials) else None
    for dataset, data in trials.groupby("dataset", sort=True):
        variants = sorted(data["variant"].unique(), key=str)
        selected = data[data["selected"].astype(bool)].set_index("variant")
        defaults = data[data["is_default"].astype(bool)]
        reached = defaults.groupby("variant")["rung"].max()
        rung = reached.min()
        at_rung = defaults[defaults["rung"] == rung].sort_values("_score", ascending=False)
        at_rung = at_rung.drop_duplicates("variant").set_index("variant")
        frame = pd.DataFrame(index=pd.Index(variants, name="variant"))
        frame["dataset"] = dataset
        frame["label"] = [labels[(dataset, v)] for v in variants]
        frame["optimizer"] = data.drop_duplicates("variant").set_index("variant")["optimizer"]
        frame["default_setting"] = [
            _setting_text(at_rung.loc[v]) if v in at_rung.index else math.nan for v in variants
        ]
        frame["default_value"] = at_rung["_score"].reindex(variants)
        frame["default_budget"] = at_rung["budget_epochs"].reindex(variants)
        frame["tuned_setting"] = [
            _setting_text(selected.loc[v]) if v in selected.index else math.nan for v in variants
        ]
        frame["tuned_value"] = selected["_score"].reindex(variants)
        frame["tuned_budget"] = selected["budget_epochs"].reindex(variants)
        frame["default_rank"] = _rank(frame["default_value"])
        frame["tuned_rank"] = _rank(frame["tuned_value"])
        out.append(frame.reset_index().sort_values(["tuned_rank", "variant"], na_position="last"))
    cols = ["dataset", "variant", "label", "optimizer", "default_setting", "default_value"]
    cols += ["default_budget", "default_rank", "tuned_setting", "tuned_value", "tuned_budget"]
    cols += ["tuned_rank"]
    if not out:
        return pd.DataFrame(columns=cols)
    return pd.concat(out, ignore_index=True)[cols]


def ranking_change(table: pd.DataFrame) -> dict:
    """Whether the order of the variants ranked both ways differs, how many moved, and
    Kendall's tau between the two rankings (NaN with fewer than two such variants)."""
    both = table.dropna(subset=["default_rank", "tuned_rank"])
    by_default = list(both.sort_values("default_rank")["variant"])
    by_tuned = list(both.sort_values("tuned_rank")["variant"])
    default_pos = {v: i for i, v in enumerate(by_default)}
    tuned_pos = {v: i for i, v in enumerate(by_tuned)}
    tau = math.nan
    if len(both) >= 2:
        tau = float(sps.kendalltau([default_pos[v] for v in by_tuned], range(len(both)))[0])
    return {
        "n": len(both),
        "changed": by_default != by_tuned,
        "moved": sum(default_pos[v] != tuned_pos[v] for v in by_tuned),
        "tau": tau,
        "top_default": by_default[0] if by_default else None,
        "top_tuned": by_tuned[0] if by_tuned else None,
    }


def tuning_budget(trials: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, optimizer): variants, distinct settings tried, trials, epochs trained
    (the tuning budget in epochs), training seconds and failed trials."""
    names = tuned_names(trials)
    rows = []
    for (dataset, opt), g in trials.groupby(["dataset", "optimizer"], sort=True):
        per_variant = g.groupby("variant")
        rows.append(
            {
                "dataset": dataset,
                "optimizer": opt,
                "variants": g["variant"].nunique(),
                "settings": int(per_variant.apply(lambda t: len(t.drop_duplicates(names))).max())
                if names
                else 0,
                "trials": len(g),
                "epochs": float(pd.to_numeric(g["epochs_run"], errors="coerce").sum()),
                "seconds": float(pd.to_numeric(g["train_seconds"], errors="coerce").sum()),
                "failed": int(g["status"].eq("failed").sum()),
            }
        )
    cols = ["dataset", "optimizer", "variants", "settings", "trials", "epochs", "seconds"]
    return pd.DataFrame(rows, columns=[*cols, "failed"])


def time_to_target(
    histories: pd.DataFrame, picks: pd.Series, fractions=TARGET_FRACTIONS
) -> pd.DataFrame:
    """Epochs and training seconds until the validation accuracy first reaches a fraction of
    the best validation accuracy any run in ``histories`` (one dataset) reached.

    ``picks`` maps a level (e.g. each optimizer) to the variant shown for it. Per level and
    fraction: how many of the variant's runs reached the target, and the median over its runs
    of the epoch and of the cumulative seconds at which each first did -- a run that never did
    counts as infinitely late, so the median is "not reached" (inf) when half of them did not.
    """
    accuracy = pd.to_numeric(histories["val_accuracy"], errors="coerce")
    finite = accuracy[np.isfinite(accuracy)]
    best = float(finite.max()) if len(finite) else math.nan
    rows = []
    for level, variant in picks.items():
        h = histories[histories["variant"] == variant].sort_values(["run_id", "epoch"])
        for fraction in fractions:
            target = fraction * best
            epochs, secs = [], []
            for _, run in h.groupby("run_id", sort=True):
                elapsed = pd.to_numeric(run["seconds"], errors="coerce").fillna(0.0).cumsum()
                hit = np.flatnonzero(
                    pd.to_numeric(run["val_accuracy"], errors="coerce").to_numpy() >= target
                )
                epochs.append(float(run["epoch"].iloc[hit[0]]) if hit.size else math.inf)
                secs.append(float(elapsed.iloc[hit[0]]) if hit.size else math.inf)
            reached = int(np.isfinite(epochs).sum())
            rows.append(
                {
                    "level": level,
                    "variant": variant,
                    "fraction": fraction,
                    "best": best,
                    "target": target,
                    "runs": len(epochs),
                    "reached": reached,
                    "epochs": float(np.median(epochs)) if epochs else math.nan,
                    "seconds": float(np.median(secs)) if secs else math.nan,
                }
            )
    cols = ["level", "variant", "fraction", "best", "target", "runs", "reached", "epochs"]
    return pd.DataFrame(rows, columns=[*cols, "seconds"])
