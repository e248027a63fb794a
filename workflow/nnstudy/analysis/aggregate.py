"""Collect run folders into tidy tables and write the statistics tables.

Input: the experiment-membership table (experiment, dataset, run_id, ...), the searches of
the tuned experiments (:mod:`nnstudy.tuning.plan`, with their rung records) and the run folders
``<runs_root>/<dataset>/<run_id>/{config.json,metrics.json,history.csv}``.
Output (``write_tables``): ``runs.csv`` (one row per run: the untuned experiments' runs and the
tuned experiments' finals), ``histories.csv`` (one row per run and epoch), ``variants.csv``,
``main_effects.csv``, ``interaction.csv``, ``ranking.csv``, and the tuning tables
``trials.csv`` and ``trial_histories.csv`` (columns in :mod:`nnstudy.tuning.plan`; header only
without tuned experiments).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from nnstudy.analysis import stats
from nnstudy.config.runs import LOSS, RESIDUAL, augment_label
from nnstudy.report.contents import MAIN_FACTORS, TABLES
from nnstudy.training.runfolder import HISTORY_COLUMNS, file, read_json
from nnstudy.tuning.plan import TUNABLE, Tuning, finals_membership, read_record, trials_table
from nnstudy.tuning.stats import read_trials

METRIC = "test_accuracy"
METRIC_KEYS = (
    "test_accuracy",
    "test_loss",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "train_seconds",
    "epochs_run",
)
# Where a run was trained (train.json's provenance); not settings.
PROVENANCE_KEYS = ("git_commit", "git_dirty", "host")
# Config keys that identify a run but are not a setting of the variant.
NOT_SETTINGS = ("run_id", "seed", "dataset")


def _cell(value):
    """Scalars stay as they are; lists/dicts become canonical JSON so they can be compared."""
    if isinstance(value, list | dict):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return value


def read_membership(path: str | Path) -> pd.DataFrame:
    """The workflow's experiment-membership table; needs experiment, dataset, run_id."""
    table = pd.read_csv(path, dtype={"run_id": str, "experiment": str, "dataset": str})
    missing = {"experiment", "dataset", "run_id"} - set(table.columns)
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    return table


def _read_run(run_dir: Path, dataset: str, run_id: str) -> dict:
    config = read_json(file(run_dir, "config"))
    row = {"dataset": dataset, "run_id": run_id}
    row |= {k: _cell(v) for k, v in config.items() if k not in ("run_id", "dataset")}
    if "augment" in config:
        row["augment"] = augment_label(config["augment"])
    metrics_path = file(run_dir, "metrics")
    if metrics_path.exists():
        metrics = read_json(metrics_path)
        row["status"] = metrics.get("status") or "failed"
        row["error"] = metrics.get("error")
        row |= {k: metrics.get(k) for k in METRIC_KEYS}
    else:
        row |= {"status": "failed", "error": "metrics.json missing"}
        row |= dict.fromkeys(METRIC_KEYS)
    for key in METRIC_KEYS:
        row[key] = math.nan if row[key] is None else float(row[key])
    train_path = file(run_dir, "train")
    prov = read_json(train_path).get("provenance") or {} if train_path.exists() else {}
    row |= {k: prov.get(k) for k in PROVENANCE_KEYS}
    return row


def setting_columns(runs: pd.DataFrame) -> list[str]:
    """Config columns that define a variant (everything in config.json but seed and ids)."""
    base = {"dataset", "run_id", "status", "error", "experiments", "variant", *METRIC_KEYS}
    base |= set(PROVENANCE_KEYS)
    return [c for c in runs.columns if c not in base and c not in NOT_SETTINGS]


def _varies(group: pd.DataFrame, column: str) -> bool:
    """Whether a setting takes several values for one combination of the main factors
    (settings that follow from the main factors, like a per-optimizer lr, do not count)."""
    keys = [f for f in MAIN_FACTORS if f in group.columns]
    return bool(group.groupby(keys)[column].nunique(dropna=False).max() > 1)


def varying_factors(runs: pd.DataFrame) -> list[str]:
    """Main factors plus any other setting that varies on its own on some dataset."""
    extra = [
        c
        for c in setting_columns(runs)
        if c not in MAIN_FACTORS and any(_varies(g, c) for _, g in runs.groupby("dataset"))
    ]
    return [*[f for f in MAIN_FACTORS if f in runs.columns], *extra]


def _label_variants(runs: pd.DataFrame) -> pd.Series:
    """Readable variant names, unique within a dataset: main factors, then varying settings."""
    labels = pd.Series("", index=runs.index, dtype=str)
    settings = setting_columns(runs)
    for _, group in runs.groupby("dataset"):
        varying = [c for c in settings if c not in MAIN_FACTORS and _varies(group, c)]
        for i, row in group.iterrows():
            parts = [str(row[f]) for f in MAIN_FACTORS if f in group.columns]
            parts += [f"{c}={row[c]}" for c in varying]
            labels[i] = " / ".join(parts)
    return labels


def collect_runs(membership: pd.DataFrame, runs_root: str | Path) -> pd.DataFrame:
    """One row per run: settings, seed, status and test metrics, plus its experiments."""
    root = Path(runs_root)
    experiments = (
        membership.groupby(["dataset", "run_id"])["experiment"]
        .agg(lambda names: json.dumps(sorted(set(names))))
        .rename("experiments")
    )
    rows = [_read_run(root / ds / rid, ds, rid) for ds, rid in experiments.index]
    if not rows:
        raise ValueError("no runs to aggregate: the membership table is empty")
    runs = pd.DataFrame(rows)
    runs = runs.join(experiments, on=["dataset", "run_id"])
    # A run config leaves these out at their defaults (so older runs keep their ids).
    for column, default in (
        ("augment", augment_label(None)),
        ("loss", LOSS),
        ("residual", RESIDUAL),
    ):
        if column in runs.columns:
            runs[column] = runs[column].fillna(default)
    for factor in MAIN_FACTORS:
        if factor not in runs.columns:
            raise ValueError(f"run configs lack the factor {factor!r}")
    runs["variant"] = _label_variants(runs)
    first = ["dataset", "variant", "seed", "run_id", *MAIN_FACTORS, "status", *METRIC_KEYS]
    rest = [c for c in runs.columns if c not in first]
    return runs[first + rest].sort_values(["dataset", "variant", "seed"], ignore_index=True)


def collect_histories(runs: pd.DataFrame, runs_root: str | Path) -> pd.DataFrame:
    """Per-epoch history of every run that wrote one, tagged with its factors and status."""
    keep = ["dataset", "run_id", "variant", "seed", "status", *varying_factors(runs)]
    return _histories(runs, runs_root, keep)


def _histories(runs: pd.DataFrame, runs_root: str | Path, keep: list[str]) -> pd.DataFrame:
    """The history.csv of every run in ``runs`` that wrote one, with ``keep`` columns first."""
    frames = {}
    for index, dataset, run_id in zip(runs.index, runs["dataset"], runs["run_id"], strict=True):
        path = file(Path(runs_root) / dataset / run_id, "history")
        if path.exists() and path.stat().st_size > 0:
            frames[index] = pd.read_csv(path)
    columns = list(dict.fromkeys([*keep, *HISTORY_COLUMNS]))  # lr may be in both
    if not frames:
        return pd.DataFrame(columns=columns)
    history = pd.concat(frames)  # indexed by (the run's row in ``runs``, epoch row)
    # The run's columns joined once, not set column by column on each run's frame; a setting
    # that is also a history column (lr, when it varies) takes the run's value, as before.
    tags = runs.loc[history.index.get_level_values(0), keep].reset_index(drop=True)
    history = history.drop(columns=[c for c in keep if c in history.columns])
    out = pd.concat([tags, history.reset_index(drop=True)], axis=1)
    return out[[c for c in columns if c in out.columns]]


# trials.csv's columns around the tuned settings (nnstudy.tuning.plan).
TRIAL_COLUMNS = (
    ("experiment", "dataset", "variant", *MAIN_FACTORS),
    (
        "tuned",
        "candidate",
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
        "score",
        "is_default",
        "selected",
    ),
)


def read_records(tunings: list[Tuning]) -> dict[str, dict]:
    """Every rung record of the searches, by path."""
    paths = {t.rung_path(r) for t in tunings for r in range(t.top + 1)}
    return {path: read_record(path) for path in sorted(paths)}


def collect_trials(
    tunings: list[Tuning], records: dict[str, dict], trials_root: str | Path
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """trials.csv and trial_histories.csv (see nnstudy.tuning.plan) of the trials in
    ``trials_root``."""
    tuned = [k for k in TUNABLE if any(k in t.tuned for t in tunings)]
    head, tail = TRIAL_COLUMNS
    trials = pd.DataFrame(
        trials_table(tunings, records, trials_root), columns=[*head, *tuned, *tail]
    )
    # The tuned values as tuned_<name>: history.csv has its own lr column (the scheduled lr).
    runs = trials.drop_duplicates("run_id").rename(columns={k: f"tuned_{k}" for k in tuned})
    keep = ["dataset", "run_id", "variant", "seed", "status", *MAIN_FACTORS]
    keep += [*(f"tuned_{k}" for k in tuned), "rung", "budget_epochs"]
    return trials, _histories(runs, trials_root, keep)


def build_tables(
    runs: pd.DataFrame,
    histories: pd.DataFrame,
    trials: tuple[pd.DataFrame, pd.DataFrame] | None = None,
) -> dict[str, pd.DataFrame]:
    """All tables the figures and the report need, keyed by name (see ``TABLES``);
    ``trials``: :func:`collect_trials`' tables (None: no tuned experiment)."""
    factors = varying_factors(runs)
    trials, trial_histories = trials or collect_trials([], {}, ".")
    return {
        "trials": trials,
        "trial_histories": trial_histories,
        "runs": runs,
        "histories": histories,
        "variants": stats.summarize_variants(runs, factors, METRIC),
        # Per dataset, only the settings that vary on their own there.
        "main_effects": pd.concat(
            [
                stats.main_effects(group, varying_factors(group), METRIC)
                for _, group in runs.groupby("dataset", sort=True)
            ],
            ignore_index=True,
        ),
        "interaction": stats.interaction(runs, "optimizer", "activation", METRIC),
        "ranking": stats.rank_against_best(runs, METRIC),
    }


def write_tables(tables: dict[str, pd.DataFrame], outputs: dict[str, str | Path]) -> None:
    for name in TABLES:
        path = Path(outputs[name])
        path.parent.mkdir(parents=True, exist_ok=True)
        tables[name].to_csv(path, index=False)


def read_tables(paths: dict[str, str | Path]) -> dict[str, pd.DataFrame]:
    # The trials' variant is a short hash too: text, like run ids ("0123456789" is not a number).
    ids = {"run_id": str, "variant": str}
    tables = {
        name: pd.read_csv(paths[name], dtype=ids if name.startswith("trial") else None)
        for name in TABLES
        if name != "trials"  # read below, with its flags, or None without tuning
    }
    # CSV loses dtypes: ids are text, the tri-state flag is nullable boolean.
    for name in ("runs", "histories"):
        tables[name]["run_id"] = tables[name]["run_id"].astype(str)
    rank = tables["ranking"]
    rank["indistinguishable"] = rank["indistinguishable"].astype("boolean")
    # None for a study without tuning (no trials table, or one without rows).
    tables["trials"] = read_trials(paths.get("trials"))
    return tables


def aggregate(
    membership_csv, runs_root, outputs, tunings=(), trials_root=None
) -> dict[str, pd.DataFrame]:
    """Entry point of the `aggregate` rule (``tunings``: the tuned experiments' searches, whose
    trials are in ``trials_root``, e.g. results/trials)."""
    tunings = list(tunings)
    records = read_records(tunings)
    membership = pd.concat(
        [
            read_membership(membership_csv),
            pd.DataFrame(
                finals_membership(tunings, records),
                columns=["experiment", "dataset", "run_id", "seed"],
            ),
        ],
        ignore_index=True,
    )
    runs = collect_runs(membership, runs_root)
    tables = build_tables(
        runs,
        collect_histories(runs, runs_root),
        collect_trials(tunings, records, trials_root),
    )
    write_tables(tables, outputs)
    return tables
