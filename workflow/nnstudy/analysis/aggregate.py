"""Collect run folders into tidy tables and write the statistics tables, one comparison (an
experiment on a dataset, :mod:`nnstudy.analysis.comparisons`) at a time.

Input: the experiment-membership table (experiments.csv: ``experiment, dataset, run_id, seed,
factors``), the searches of the tuned experiments (:mod:`nnstudy.tuning.plan`, with their rung
records, whose finals join the membership), the run folders
``<runs_root>/<dataset>/<run_id>/{config.json,train.json,metrics.json,history.csv,
predictions.npz}`` and each dataset's prepared folder ``<data_root>/<dataset>/`` (the test
labels and the card).

Output (:func:`write_tables`, names in :data:`nnstudy.report.contents.TABLES`):

- ``runs.csv``: one row per distinct run (settings, seed, status, test metrics, the final's
  validation accuracy and loss, optimizer steps per epoch, its experiments);
- ``members.csv``: one row per (comparison, run): ``experiment, dataset, variant, seed,
  run_id``, the variant's ``order`` in its experiment and its ``levels`` (JSON, factor ->
  level);
- ``histories.csv``: one row per run and epoch (history.csv's columns);
- ``comparisons.csv``, ``variants.csv``, ``main_effects.csv``, ``interaction.csv``,
  ``across.csv``, ``time_to_target.csv``: the statistics (:mod:`nnstudy.analysis.inference`,
  :mod:`nnstudy.analysis.progress`; columns documented there);
- ``trials.csv`` and ``trial_histories.csv``: the tuning trials (columns in
  :mod:`nnstudy.tuning.plan`; header only without tuned experiments).

Each comparison's rows depend on its own runs only (its bootstrap is seeded by its own name),
so adding an experiment leaves every other experiment's rows unchanged.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from nnstudy.analysis import inference, progress
from nnstudy.analysis.comparisons import Comparison, build_comparisons, correctness
from nnstudy.config.runs import LOSS, RESIDUAL, augment_label
from nnstudy.report.contents import MAIN_FACTORS, TABLES
from nnstudy.training.runfolder import HISTORY_COLUMNS, file, read_json, read_predictions
from nnstudy.tuning.plan import (
    Tuning,
    finals_membership,
    parameter_names,
    search_records,
    trials_table,
)
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
MEMBER_COLUMNS = ("experiment", "dataset", "run_id", "seed", "factors")


def _cell(value):
    """Scalars stay as they are; lists/dicts become canonical JSON so they can be compared."""
    if isinstance(value, list | dict):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return value


def read_membership(path: str | Path) -> pd.DataFrame:
    """The workflow's experiment-membership table; needs experiment, dataset, run_id, seed."""
    table = pd.read_csv(
        path, dtype={"run_id": str, "experiment": str, "dataset": str, "factors": str}
    )
    missing = {"experiment", "dataset", "run_id", "seed"} - set(table.columns)
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    if "factors" not in table.columns:
        table["factors"] = ""
    return table[list(MEMBER_COLUMNS)].fillna({"factors": ""})


def _final_validation(history: pd.DataFrame, best_epoch) -> tuple[float, float]:
    """(val_accuracy, val_loss) of the weights a run ended with: the restored best epoch's
    after early stopping, else the last epoch's (NaN when there is none)."""
    if history.empty:
        return math.nan, math.nan
    row = history.iloc[-1]
    if best_epoch is not None and (history["epoch"] == best_epoch).any():
        row = history[history["epoch"] == best_epoch].iloc[-1]
    return float(row["val_accuracy"]), float(row["val_loss"])


def _read_run(run_dir: Path, dataset: str, run_id: str, card: dict) -> tuple[dict, dict]:
    """(runs.csv row, resolved config) of one run folder."""
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
    info = read_json(train_path) if train_path.exists() else {}
    prov = info.get("provenance") or {}
    row |= {k: prov.get(k) for k in PROVENANCE_KEYS}
    row["best_epoch"] = info.get("best_epoch")
    n_train = int(card["splits"]["train"]["shape"][0])
    row["steps_per_epoch"] = math.ceil(n_train / int(config["batch_size"]))
    return row, config


def collect_runs(
    members: pd.DataFrame, runs_root: str | Path, cards: dict[str, dict]
) -> tuple[pd.DataFrame, dict[tuple[str, str], dict]]:
    """One row per distinct run (settings, seed, status, test metrics, its experiments) and
    each run's resolved config by (dataset, run id)."""
    root = Path(runs_root)
    experiments = (
        members.groupby(["dataset", "run_id"], sort=False)["experiment"]
        .agg(lambda names: json.dumps(list(dict.fromkeys(names))))
        .rename("experiments")
    )
    rows, configs = [], {}
    for ds, rid in experiments.index:
        row, config = _read_run(root / ds / rid, ds, rid, cards[ds])
        rows.append(row)
        configs[ds, rid] = config
    if not rows:
        raise ValueError("no runs to aggregate: the membership table is empty")
    runs = pd.DataFrame(rows).join(experiments, on=["dataset", "run_id"])
    # A run config leaves these out at their defaults (so older runs keep their ids).
    for column, default in (
        ("augment", augment_label(None)),
        ("loss", LOSS),
        ("residual", RESIDUAL),
    ):
        if column in runs.columns:
            runs[column] = runs[column].fillna(default)
    first = ["dataset", "run_id", "seed", *MAIN_FACTORS, "status", *METRIC_KEYS]
    rest = [c for c in runs.columns if c not in first]
    return runs[first + rest].sort_values(["dataset", "run_id"], ignore_index=True), configs


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
    # that is also a history column (lr) takes the run's value.
    tags = runs.loc[history.index.get_level_values(0), keep].reset_index(drop=True)
    history = history.drop(columns=[c for c in keep if c in history.columns])
    out = pd.concat([tags, history.reset_index(drop=True)], axis=1)
    return out[[c for c in columns if c in out.columns]]


def collect_histories(runs: pd.DataFrame, runs_root: str | Path) -> pd.DataFrame:
    """Per-epoch history of every run that wrote one, with its run id and status."""
    return _histories(runs, runs_root, ["dataset", "run_id", "seed", "status"])


def add_final_validation(runs: pd.DataFrame, histories: pd.DataFrame) -> pd.DataFrame:
    """runs with ``val_accuracy`` and ``val_loss`` of the weights each run ended with."""
    by_run = dict(list(histories.groupby(["dataset", "run_id"], sort=False)))
    values = [
        _final_validation(by_run.get((d, r), histories.iloc[0:0]), _int_or_none(b))
        for d, r, b in zip(runs["dataset"], runs["run_id"], runs["best_epoch"], strict=True)
    ]
    return runs.assign(val_accuracy=[v[0] for v in values], val_loss=[v[1] for v in values]).drop(
        columns="best_epoch"
    )


def _int_or_none(value):
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else int(value)


def members_table(comparisons: list[Comparison]) -> pd.DataFrame:
    rows = [
        {
            "experiment": c.experiment,
            "dataset": c.dataset,
            "variant": v,
            "order": i,
            "seed": s,
            "run_id": c.runs[v, s],
            "levels": json.dumps(c.levels[v], separators=(",", ":")),
        }
        for c in comparisons
        for i, v in enumerate(c.variants)
        for s in c.seeds
        if (v, s) in c.runs
    ]
    cols = ["experiment", "dataset", "variant", "order", "seed", "run_id", "levels"]
    return pd.DataFrame(rows, columns=cols)


# trials.csv's columns around the tuned settings (nnstudy.tuning.plan).
TRIAL_COLUMNS = (
    ("experiment", "dataset", "variant", *MAIN_FACTORS),
    (
        "tuned",
        "method",
        "stage",
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
        "tied",
        "edge",
    ),
)


def collect_trials(
    tunings: list[Tuning], records: dict[str, dict], trials_root: str | Path
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """trials.csv and trial_histories.csv (see nnstudy.tuning.plan) of the trials in
    ``trials_root``."""
    tuned = parameter_names(tunings)
    head, tail = TRIAL_COLUMNS
    trials = pd.DataFrame(
        trials_table(tunings, records, trials_root), columns=[*head, *tuned, *tail]
    )
    # The tuned values as tuned_<name>: history.csv has its own lr column (the scheduled lr).
    runs = trials.drop_duplicates("run_id").rename(columns={k: f"tuned_{k}" for k in tuned})
    keep = ["dataset", "run_id", "variant", "seed", "status", *MAIN_FACTORS]
    keep += [*(f"tuned_{k}" for k in tuned), "rung", "budget_epochs"]
    return trials, _histories(runs, trials_root, keep)


def read_test_labels(data_root: str | Path, datasets) -> dict[str, np.ndarray]:
    from nnstudy.datasets import load_split

    return {d: np.asarray(load_split(Path(data_root) / d, "test")[1]) for d in datasets}


def read_cards(data_root: str | Path, datasets) -> dict[str, dict]:
    return {d: read_json(Path(data_root) / d / "card.json") for d in datasets}


def load_predictions(
    runs: pd.DataFrame, runs_root: str | Path, cards: dict[str, dict]
) -> dict[str, np.ndarray]:
    """run id -> its test predictions, for every run that is not failed; a file made for
    another test split than the prepared one is an error naming it."""
    out = {}
    for dataset, run_id, status in zip(
        runs["dataset"], runs["run_id"], runs["status"], strict=True
    ):
        if status == "failed":
            continue
        path = file(Path(runs_root) / dataset / run_id, "predictions")
        pred, digest = read_predictions(path)
        if digest != cards[dataset]["files"]["test.npz"]:
            raise ValueError(
                f"{path}: made for another test split than data/processed/{dataset}/test.npz; "
                f"rebuild it: rm {path} && snakemake"
            )
        out[run_id] = pred
    return out


def build_tables(
    comparisons: list[Comparison],
    runs: pd.DataFrame,
    histories: pd.DataFrame,
    predictions: dict[str, np.ndarray],
    labels: dict[str, np.ndarray],
    trials: tuple[pd.DataFrame, pd.DataFrame] | None = None,
) -> dict[str, pd.DataFrame]:
    """All tables the figures and the report need, keyed by name (see ``TABLES``)."""
    trials, trial_histories = trials or collect_trials([], {}, ".")
    by_id = runs.set_index("run_id")
    parts: dict[str, list[pd.DataFrame]] = {name: [] for name in inference.TABLES}
    ttt = []
    for comparison in comparisons:
        runs_of = by_id.loc[comparison.run_ids()]
        usable = runs_of.index[runs_of["status"] != "failed"]
        correct, present = correctness(comparison, predictions, labels[comparison.dataset], usable)
        tables = inference.summarize(comparison, runs_of, correct, present)
        for name, frame in tables.items():
            parts[name].append(frame)
        ttt.append(progress.time_to_target(comparison, runs_of, histories))
    out = {name: _concat(frames, inference.COLUMNS[name]) for name, frames in parts.items()}
    out["across"] = inference.across_datasets(comparisons, out["variants"])
    out["time_to_target"] = _concat(ttt, progress.COLUMNS)
    return {
        "runs": runs,
        "members": members_table(comparisons),
        "histories": histories,
        **out,
        "trials": trials,
        "trial_histories": trial_histories,
    }


def _concat(frames: list[pd.DataFrame], columns) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=list(columns))
    return pd.concat(frames, ignore_index=True)[list(columns)]


def write_tables(tables: dict[str, pd.DataFrame], outputs: dict[str, str | Path]) -> None:
    for name in TABLES:
        path = Path(outputs[name])
        path.parent.mkdir(parents=True, exist_ok=True)
        tables[name].to_csv(path, index=False)


# Columns that stay text when read back (ids that look like numbers, labels, JSON).
TEXT_COLUMNS = ("run_id", "variant", "experiment", "dataset", "levels", "reference", "tied")


def read_tables(paths: dict[str, str | Path]) -> dict[str, pd.DataFrame]:
    """The aggregate tables as written; ``trials`` is None for a study without tuning."""
    tables = {}
    for name in TABLES:
        if name == "trials":
            continue
        header = pd.read_csv(paths[name], nrows=0).columns
        tables[name] = pd.read_csv(
            paths[name],
            dtype={c: str for c in TEXT_COLUMNS if c in header},
            keep_default_na=False,
            na_values=[""],
        )
    tables["trials"] = read_trials(paths.get("trials"))
    return tables


def aggregate(
    membership_csv,
    runs_root,
    data_root,
    outputs,
    tunings=(),
    trials_root=None,
) -> dict[str, pd.DataFrame]:
    """Entry point of the `aggregate` rule (``tunings``: the tuned experiments' searches,
    whose trials are in ``trials_root``, e.g. results/trials; ``data_root``: the prepared
    datasets, e.g. data/processed)."""
    tunings = list(tunings)
    records = search_records(tunings)
    members = pd.concat(
        [
            read_membership(membership_csv),
            pd.DataFrame(finals_membership(tunings, records), columns=list(MEMBER_COLUMNS)),
        ],
        ignore_index=True,
    )
    datasets = list(dict.fromkeys(members["dataset"]))
    cards = read_cards(data_root, datasets)
    runs, configs = collect_runs(members, runs_root, cards)
    histories = collect_histories(runs, runs_root)
    runs = add_final_validation(runs, histories)
    comparisons = build_comparisons(members.to_dict("records"), configs)
    tables = build_tables(
        comparisons,
        runs,
        histories,
        load_predictions(runs, runs_root, cards),
        read_test_labels(data_root, datasets),
        collect_trials(tunings, records, trials_root),
    )
    write_tables(tables, outputs)
    return tables
