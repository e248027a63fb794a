"""What the report says about tuning: the trials' numbers, and time to a target accuracy.

Inputs are the aggregate tables: ``trials`` (one row per trial run: dataset, variant, its
factors, one column per tuned setting, ``tuned`` = the ";"-joined tuned setting names,
``rung``, ``budget_epochs``, ``status``, ``val_accuracy``, ``is_default``, ``selected``, ...)
and ``histories`` (one row per run and epoch). Conventions:

- A *candidate* (one value of the tuned settings for one variant, at one rung) scores the
  mean validation metric over its trial seeds (``candidates``). A trial that diverged counts
  as 0 (it yields no usable model); failed trials are left out (and
  counted in the budget). A variant listed by several experiments counts once.
- A search that ``extend`` widened ran in *stages* (``stage``, 0 first); the candidates, the
  selection and the curves are those of each variant's last stage (the search that
  selected), and the tuning budget counts every stage's trials.
- Candidates are compared at one budget: the sensitivity and the expected-best curves use the
  first rung, which every candidate ran (the full budget when there is no successive halving);
  the curves use the estimator of the search method (:func:`budget.estimator_for`: without
  replacement for a grid's trials, with replacement for random and Sobol draws, the best so
  far in proposal order for TPE's).
- The "best" variant of an optimizer among the trials is chosen on validation numbers only.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from nnstudy.report.contents import MAIN_FACTORS
from nnstudy.tuning import budget

TRIAL_METRIC = "val_accuracy"
FLAGS = ("is_default", "selected", "tied")


def read_trials(path) -> pd.DataFrame | None:
    """aggregate's trials table, or None when there is none or it has no rows (no tuning)."""
    if path is None or not Path(path).exists() or Path(path).stat().st_size == 0:
        return None
    text = {"run_id": str, "variant": str, "tuned": str, "edge": str, "method": str}
    trials = pd.read_csv(path, dtype=text, keep_default_na=False, na_values=[""])
    if trials.empty:
        return None
    # CSV loses dtypes: the flags come back as bool, or as text next to empty cells.
    for flag in FLAGS:
        trials[flag] = trials[flag].astype(str).str.lower().eq("true")
    trials["edge"] = trials["edge"].fillna("")
    return trials


def dataset_trials(trials: pd.DataFrame | None, dataset: str) -> pd.DataFrame:
    """The trials of one dataset; an empty frame when the study has none."""
    if trials is None or trials.empty:
        return pd.DataFrame()
    return trials[trials["dataset"] == dataset]


def trial_scores(trials: pd.DataFrame, metric: str = TRIAL_METRIC) -> pd.Series:
    """The metric of each trial; a diverged trial counts as 0 whatever its last value (the
    selection ranks it last too: its setting must never look good)."""
    values = pd.to_numeric(trials[metric], errors="coerce")
    return values.mask(trials["status"].eq("diverged"), 0.0)


def tuned_names(trials: pd.DataFrame) -> list[str]:
    """The tuned settings of these trials, in first-seen order."""
    if "tuned" not in trials.columns:
        return []
    names = trials["tuned"].dropna().astype(str).str.split(";").explode()
    return list(dict.fromkeys(n for n in names if n))


def stages(trials: pd.DataFrame) -> pd.Series:
    """Each trial's stage (0 where the table has none: a search without ``extend``)."""
    if "stage" not in trials.columns:
        return pd.Series(0, index=trials.index)
    return pd.to_numeric(trials["stage"], errors="coerce").fillna(0).astype(int)


def last_stage(trials: pd.DataFrame) -> pd.DataFrame:
    """The trials of each variant's last stage: the search that selected."""
    if trials.empty:
        return trials
    stage = stages(trials)
    return trials[stage == stage.groupby([trials["dataset"], trials["variant"]]).transform("max")]


def candidates(trials: pd.DataFrame, metric: str = TRIAL_METRIC) -> pd.DataFrame:
    """One row per (dataset, variant, rung, tuned values) of each variant's last stage:
    ``value`` = the mean metric over the candidate's trial seeds (``trial_scores``), ``seeds``
    = how many counted, ``diverged`` = all of them diverged, ``is_default``/``selected`` from
    the trials, ``candidate`` its index (the proposal order).

    Failed trials are left out. A variant listed by several experiments is taken from the
    first of them by name (trials.csv repeats shared trials once per experiment)."""
    names = tuned_names(trials)
    keys = ["dataset", "variant", "rung", *names]
    cols = [*keys, *MAIN_FACTORS, "tuned", "budget_epochs", "value", "seeds", "diverged"]
    cols += ["is_default", "selected", "candidate"]
    ran = last_stage(trials[trials["status"] != "failed"]) if len(trials) else trials
    if ran.empty:
        return pd.DataFrame(columns=cols)
    first = ran.groupby(["dataset", "variant"])["experiment"].transform("min")
    ran = ran[ran["experiment"] == first].assign(
        _value=trial_scores(ran, metric), _diverged=ran["status"].eq("diverged")
    )
    # dropna=False: a parameter of another optimizer's space is empty on this one's rows.
    out = ran.groupby(keys, sort=True, dropna=False).agg(
        candidate=("candidate", "min"),
        **{f: (f, "first") for f in (*MAIN_FACTORS, "tuned", "budget_epochs")},
        value=("_value", "mean"),
        seeds=("_value", "size"),
        diverged=("_diverged", "all"),
        is_default=("is_default", "any"),
        selected=("selected", "any"),
    )
    return out.reset_index()[cols]


def first_rung(cands: pd.DataFrame) -> pd.DataFrame:
    """Candidates at the lowest rung: the budget every candidate ran."""
    return cands[cands["rung"] == cands["rung"].min()] if len(cands) else cands


def lead_variants(trials: pd.DataFrame, metric: str = TRIAL_METRIC) -> pd.DataFrame:
    """Per (dataset, optimizer) the variant whose selected candidate scores highest on the
    validation metric (ties: first variant id). Columns: dataset, optimizer, variant."""
    cands = candidates(trials, metric)
    chosen = cands[cands["selected"]].sort_values(["value", "variant"], ascending=[False, True])
    first = chosen.groupby(["dataset", "optimizer"], sort=True)["variant"].first()
    return first.reset_index()


def variant_labels(cands: pd.DataFrame) -> pd.Series:
    """Readable name per (dataset, variant id): its main factors, plus the id where two
    variants of a dataset would get the same name."""
    per_variant = cands.drop_duplicates(["dataset", "variant"]).set_index(["dataset", "variant"])
    names = per_variant[list(MAIN_FACTORS)].astype(str).agg(" / ".join, axis=1)
    clash = names.groupby(level="dataset").transform(lambda s: s.duplicated(keep=False))
    ids = per_variant.index.get_level_values("variant").astype(str)
    return names.where(~clash, names + " (" + ids + ")")


def sensitivity(trials: pd.DataFrame, setting: str = "lr", metric: str = TRIAL_METRIC):
    """Validation metric against one tuned setting at the first rung: one row per (dataset,
    variant, setting value), the best candidate over any other tuned setting; ``chosen``
    marks the selected candidate's value, ``diverged`` a value whose candidate diverged."""
    cands = candidates(trials, metric)
    chosen = cands[cands["selected"]][["dataset", "variant", setting]]
    rows = []
    for (dataset, variant), group in first_rung(cands).groupby(["dataset", "variant"]):
        pick = chosen[(chosen["dataset"] == dataset) & (chosen["variant"] == variant)]
        for value, g in group.groupby(setting, sort=True):
            best = g.sort_values("value", ascending=False).iloc[0]
            rows.append(
                {
                    "dataset": dataset,
                    "variant": variant,
                    "optimizer": best["optimizer"],
                    setting: float(value),
                    metric: float(best["value"]),
                    "diverged": bool(best["diverged"]),
                    "chosen": bool(np.isclose(pick[setting].astype(float), value).any()),
                }
            )
    cols = ["dataset", "variant", "optimizer", setting, metric, "diverged", "chosen"]
    return pd.DataFrame(rows, columns=cols)


def expected_max_curves(trials: pd.DataFrame, metric: str = TRIAL_METRIC) -> pd.DataFrame:
    """The expected best of n of every variant's first-rung candidates (Dodge et al. 2019,
    :func:`budget.budget_curves` with its search method's estimator): one row per (dataset,
    variant, n) with the band (lower, upper) clipped to the observed range."""
    frames = []
    cands = first_rung(candidates(trials, metric))
    methods = trials.groupby(["dataset", "variant"])["method"].first()
    for (dataset, variant), group in cands.groupby(["dataset", "variant"], sort=True):
        values = group.dropna(subset=["value"])
        if values.empty:
            continue
        # The proposal order: what TPE's best-so-far follows (the other estimators ignore it).
        curve = budget.budget_curves(
            values, methods[dataset, variant], by="variant", score="value", order="candidate"
        )
        frames.append(curve.assign(dataset=dataset, optimizer=group["optimizer"].iloc[0]))
    cols = ["dataset", "variant", "optimizer", "n_trials", "estimator", "n", "mean", "std"]
    cols += ["lower", "upper"]
    if not frames:
        return pd.DataFrame(columns=cols)
    return pd.concat(frames, ignore_index=True)[cols]


def budget_leaders(trials: pd.DataFrame, metric: str = TRIAL_METRIC) -> pd.DataFrame:
    """Per dataset, which optimizer leads the expected best validation score with n trials
    (:func:`budget.leaders` over each optimizer's lead variant, :func:`lead_variants`)."""
    curves = expected_max_curves(trials, metric)
    lead = lead_variants(trials, metric)
    frames = []
    for dataset, group in curves.groupby("dataset", sort=True):
        chosen = set(lead.loc[lead["dataset"] == dataset, "variant"])
        mine = group[group["variant"].isin(chosen)]
        frames.append(budget.leaders(mine, by="optimizer").assign(dataset=dataset))
    cols = ["dataset", "n", "leader", "mean", "runner_up", "margin", "changed"]
    if not frames:
        return pd.DataFrame(columns=cols)
    return pd.concat(frames, ignore_index=True)[cols]


def selections(trials: pd.DataFrame, metric: str = TRIAL_METRIC) -> pd.DataFrame:
    """One row per (dataset, variant): its selected setting at the top rung (``setting``,
    ``value`` = its mean validation metric, ``budget`` = the top rung's epochs), ``tied`` =
    how many candidates tied with it for first place (itself included, 1 without a tie),
    ``edge`` (the selected values on their space's boundary, ``name:side`` ;-joined) and
    ``widened`` (how often ``extend`` widened the space before this selection: its stage)."""
    cands = candidates(trials, metric)
    labels = variant_labels(cands) if len(cands) else pd.Series(dtype=str)
    final = last_stage(trials)
    top = final[final["rung"] == final.groupby(["dataset", "variant"])["rung"].transform("max")]
    rows = []
    for (dataset, variant), group in top.groupby(["dataset", "variant"], sort=True):
        chosen = group[group["selected"]]
        if chosen.empty:
            continue
        pick = chosen.iloc[0]
        mean = cands[
            (cands["dataset"] == dataset)
            & (cands["variant"] == variant)
            & (cands["rung"] == pick["rung"])
            & cands["selected"]
        ]["value"]
        rows.append(
            {
                "dataset": dataset,
                "variant": variant,
                "label": labels.get((dataset, variant), variant),
                "optimizer": pick["optimizer"],
                "setting": _setting_text(pick),
                "value": float(mean.iloc[0]) if len(mean) else math.nan,
                "budget": pick["budget_epochs"],
                "tied": max(1, int(group.loc[group["tied"], "candidate"].nunique())),
                "edge": str(pick["edge"] or ""),
                "widened": int(stages(chosen).iloc[0]),
            }
        )
    cols = ["dataset", "variant", "label", "optimizer", "setting", "value", "budget", "tied"]
    return pd.DataFrame(rows, columns=[*cols, "edge", "widened"])


def _setting_text(row: pd.Series) -> str:
    names = [n for n in str(row["tuned"]).split(";") if n]
    return ", ".join(
        f"{n}={row[n]:.3g}" if isinstance(row[n], float) else f"{n}={row[n]}" for n in names
    )


def _rank(values: pd.Series) -> pd.Series:
    """Rank 1 = highest; equal values share the better rank (1, 1, 3); NaN stays unranked."""
    return values.rank(method="min", ascending=False)


def default_vs_tuned(trials: pd.DataFrame, metric: str = TRIAL_METRIC) -> pd.DataFrame:
    """Per dataset, each variant ranked by its validation metric at the optimizer's default
    settings and with the selected (tuned) settings, **at equal epochs**: both sides at the
    highest rung that every variant's default candidate reached (the selected candidate ran
    every rung, so it has a trial there). A variant without a default candidate (the defaults
    are not in its search space) has no default rank. ``budget`` is that rung's epochs."""
    cands = candidates(trials, metric)
    labels = variant_labels(cands)
    names = tuned_names(trials)
    out = []
    for dataset, data in cands.groupby("dataset", sort=True):
        variants = sorted(data["variant"].unique(), key=str)
        defaults = data[data["is_default"]]
        if defaults.empty:
            continue
        rung = defaults.groupby("variant")["rung"].max().min()
        at_rung = data[data["rung"] == rung]
        # The selected setting (marked on every rung its candidate ran).
        chosen = data[data["selected"]].drop_duplicates("variant").set_index("variant")[names]
        tuned = at_rung.merge(chosen.reset_index(), on=["variant", *names]).set_index("variant")
        default = defaults[defaults["rung"] == rung].set_index("variant")
        frame = pd.DataFrame(index=pd.Index(variants, name="variant"))
        frame["dataset"] = dataset
        frame["label"] = [labels[(dataset, v)] for v in variants]
        frame["optimizer"] = data.drop_duplicates("variant").set_index("variant")["optimizer"]
        frame["budget"] = at_rung.groupby("variant")["budget_epochs"].first().reindex(variants)
        for side, table in (("default", default), ("tuned", tuned)):
            frame[f"{side}_setting"] = [
                _setting_text(table.loc[v]) if v in table.index else math.nan for v in variants
            ]
            frame[f"{side}_value"] = table["value"].reindex(variants)
            frame[f"{side}_rank"] = _rank(frame[f"{side}_value"])
        frame = frame.reset_index().sort_values(["tuned_rank", "label"], na_position="last")
        out.append(frame)
    cols = ["dataset", "variant", "label", "optimizer", "budget", "default_setting"]
    cols += ["default_value", "default_rank", "tuned_setting", "tuned_value", "tuned_rank"]
    if not out:
        return pd.DataFrame(columns=cols)
    return pd.concat(out, ignore_index=True)[cols]


def tuning_budget(trials: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, optimizer): variants, candidates per variant (settings tried), trial runs
    (each once, however many experiments list it), the epochs they trained (the tuning budget
    in epochs), their training seconds and how many failed."""
    names = tuned_names(trials)
    runs = trials.drop_duplicates(["dataset", "run_id"])
    rows = []
    for (dataset, opt), g in runs.groupby(["dataset", "optimizer"], sort=True):
        settings = g.drop_duplicates(["variant", *names]).groupby("variant").size()
        rows.append(
            {
                "dataset": dataset,
                "optimizer": opt,
                "variants": g["variant"].nunique(),
                "settings": int(settings.max()),
                "trials": len(g),
                "epochs": float(pd.to_numeric(g["epochs_run"], errors="coerce").sum()),
                "seconds": float(pd.to_numeric(g["train_seconds"], errors="coerce").sum()),
                "failed": int(g["status"].eq("failed").sum()),
            }
        )
    cols = ["dataset", "optimizer", "variants", "settings", "trials", "epochs", "seconds"]
    return pd.DataFrame(rows, columns=[*cols, "failed"])
