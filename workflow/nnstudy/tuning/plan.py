"""Tune every variant before ranking: trials on the validation split, then finals on test.

An experiment with a ``tune`` block (see the schema) is not expanded into runs directly.
Each of its *variants* -- a point of its datasets x grid x search without its seed and
without the tuned settings -- gets the same *candidates* (values of the tuned settings) and
the same schedule of *rungs*, so every optimizer has the same budget:

``tune.space``
    Per tuned setting (``lr``, ``dropout``, ``l2``, ``clip_norm``) one of
    ``{values: [...]}`` (a grid), ``{factors: [...]}`` (``lr`` only: times the variant's
    untuned lr, i.e. the optimizer's configured lr), ``{low, high, log, points}`` (``points``
    values evenly spaced, on a log scale when ``log``) or ``{low, high, log}`` (drawn
    ``tune.samples`` times with ``numpy.random.default_rng(tune.seed)``, once per experiment,
    so every variant gets the same draws). The candidates are the Cartesian product of the
    grids (settings in name order) times the draws; values are rounded to 4 significant digits.
``tune.seeds``
    The trials' seeds (default ``[0]``); a candidate's score is the mean over them.
``tune.metric``
    ``val_accuracy`` (higher is better) or ``val_loss`` of the trial's last epoch in its
    ``history.csv`` -- the validation split only; a diverged or failed trial (train.json) or a
    non-finite value scores worst. Ties go to the earlier candidate.
``tune.halving``
    Successive halving ``{eta, min_epochs}``: with E the variant's epochs, R is the largest r
    with ``min_epochs * eta**r <= E``; rung r (0..R) trains the candidates that rung r-1
    kept for ``E // eta**(R - r)`` epochs (a fresh run each, its schedule over those epochs)
    and keeps the best ``max(1, n // eta**(r + 1))`` of them; without halving R = 0 (every
    candidate for E epochs). The candidate ranked first at rung R is *selected*.

Trials are ordinary runs kept apart (``results/trials/<dataset>/<run_id>/``, rule ``trial``:
the ``train`` job without ``--evaluate``, so no trial reads the test split). Rung r of a variant is a Snakemake
checkpoint that reads its trials' ``history.csv`` and ``train.json`` and writes
``results/tuning/<dataset>/<key>/rung<r>.json`` (:func:`rung_record`): the candidates of the
rung with their trials' run ids and scores, and ``keep`` (the kept candidates' indices). The
key hashes everything the selection depends on (the trial run ids of every rung and
candidate, the metric, the rung sizes), so experiments with the same variant and ``tune``
share the search, and a new seed of the finals leaves it untouched. The *finals* are the
selected candidate trained for E epochs with every seed of the experiment's ``seeds`` and
evaluated on test (rule ``train``, in ``results/runs/``: a top-rung trial with a seed in
``seeds`` has the final's run id, but is trained again there, with its test metrics).

Tables (rule ``aggregate``, :func:`trials_table`): ``results/tables/trials.csv``, one row
per (experiment, trial run): ``experiment, dataset, variant`` (short id of the variant: the
hash of its run config without seed and tuned settings), ``optimizer, activation,
initializer``, one column per tuned setting, ``tuned`` (``;``-joined tuned settings),
``candidate`` (index), ``rung`` (0-based), ``budget_epochs`` (the rung's epochs),
``epochs_run``, ``seed``, ``run_id``, ``status`` (train.json's), ``val_accuracy`` and
``val_loss`` (last epoch), ``best_val_accuracy``, ``train_seconds``, ``score`` (the
candidate's score at that rung, empty when it cannot be computed), ``is_default`` (the tuned
values equal the variant's untuned values, e.g. the optimizer's configured lr) and
``selected`` (True on the selected candidate's trials at rung R).
``results/tables/trial_histories.csv``: ``histories.csv``'s format for the trial runs, one row
per trial run and epoch: ``dataset, run_id, variant`` (the short id), ``seed, status,
optimizer, activation, initializer, tuned_<setting>`` (the trial's value of each tuned
setting; ``lr`` is the scheduled lr of the epoch), ``rung, budget_epochs``, then history.csv's
columns. The finals join ``runs.csv`` and
``histories.csv`` like any run (:func:`finals_membership`).
"""

from __future__ import annotations

import csv
import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nnlib.atomic import atomic_write_text
from nnstudy.config.runs import (
    canonical_json,
    experiment_factors,
    experiment_optimizers,
    experiment_points,
    resolve_run,
    run_id,
    sample_search,
)
from nnstudy.config.validation import ConfigError, selected
from nnstudy.training.runfolder import file, read_json

TUNABLE = ("lr", "dropout", "l2", "clip_norm")
METRICS = {"val_accuracy": 1.0, "val_loss": -1.0}  # sign: larger signed value is better
BAD_STATUS = ("diverged", "failed")
TUNING_ROOT = "results/tuning"


def _round(value: float) -> float:
    return float(f"{value:.4g}")


def grid_values(spec: dict[str, Any], untuned: float | None) -> list[float] | None:
    """The grid of one tuned setting, or None when it is drawn (a range without points)."""
    if "values" in spec:
        return [_round(v) for v in spec["values"]]
    if "factors" in spec:
        return [_round(untuned * f) for f in spec["factors"]]
    if "points" not in spec:
        return None
    low, high, n = float(spec["low"]), float(spec["high"]), int(spec["points"])
    values = np.geomspace(low, high, n) if spec.get("log") else np.linspace(low, high, n)
    return [_round(v) for v in values]


def draw_samples(tune: dict[str, Any]) -> list[dict[str, float]]:
    """The drawn part of the candidates: ``samples`` joint draws of the ranges without
    ``points`` (as ``search`` draws them), ``[{}]`` when nothing is drawn."""
    drawn = {k: spec for k, spec in tune["space"].items() if grid_values(spec, 1.0) is None}
    if not drawn:
        return [{}]
    return sample_search({"n": tune["samples"], "seed": tune["seed"], "space": drawn})


def rung_plan(epochs: int, n: int, halving: dict[str, int] | None) -> tuple[tuple[int, int], ...]:
    """``((epochs, candidates), ...)`` per rung: successive halving, or one full rung."""
    if not halving:
        return ((epochs, n),)
    eta, low = halving["eta"], halving["min_epochs"]
    top = 0
    while low * eta ** (top + 1) <= epochs:
        top += 1
    return tuple((epochs // eta ** (top - r), max(1, n // eta**r)) for r in range(top + 1))


@dataclass(frozen=True)
class Tuning:
    """The search of one variant of one experiment."""

    experiment: str
    dataset: str
    variant: str
    key: str
    tuned: tuple[str, ...]
    candidates: tuple[dict[str, float], ...]
    untuned: dict[str, Any]
    metric: str
    rungs: tuple[tuple[int, int], ...]  # (epochs, candidates) per rung
    trial_seeds: tuple[int, ...]
    seeds: tuple[int, ...]  # the finals'
    factors: tuple[str, ...]  # the experiment's (nnstudy.config.runs.experiment_factors)
    # Out of the repr (which Snakemake stores for a rule's params): the fields above determine
    # them, through the variant id and the candidates.
    trial_runs: tuple[tuple[tuple[dict, ...], ...], ...] = field(repr=False)  # [rung][cand][seed]
    final_runs: tuple[tuple[dict, ...], ...] = field(repr=False)  # [candidate][seed]

    @property
    def top(self) -> int:
        return len(self.rungs) - 1

    def rung_path(self, rung: int) -> str:
        return f"{TUNING_ROOT}/{self.dataset}/{self.key}/rung{rung}.json"

    def trials(self, rung: int, candidates: list[int]) -> list[dict]:
        return [run for c in candidates for run in self.trial_runs[rung][c]]

    def rung_candidates(self, rung: int, previous: dict | None) -> list[int]:
        """The candidates rung ``rung`` trains: all at rung 0, else those rung-1 kept
        (``previous`` = rung-1's record)."""
        return list(range(len(self.candidates))) if rung == 0 else list(previous["keep"])

    def finals(self, top_record: dict) -> tuple[dict, ...]:
        """The final runs: the selected candidate (first kept at the top rung), every seed."""
        return self.final_runs[top_record["keep"][0]]


def plan_experiment(config: dict[str, Any], name: str) -> list[Tuning]:
    """The searches of one tuned experiment, one per variant (order of its points)."""
    exp = config["experiments"][name]
    tune = exp["tune"]
    where = f"experiments.{name}"
    optimizers = experiment_optimizers(config, exp)
    tuned = tuple(sorted(tune["space"]))
    drawn = draw_samples(tune)
    out = []
    for dataset, settings in experiment_points(config, name):
        base = resolve_run(settings, optimizers, dataset, 0, where)
        untuned = {k: None if base[k] is None else _round(base[k]) for k in tuned}
        grids = [grid_values(tune["space"][k], untuned[k]) for k in tuned]
        gridded = [k for k, g in zip(tuned, grids, strict=True) if g is not None]
        candidates = tuple(
            {**dict(zip(gridded, point, strict=True)), **sample}
            for point in itertools.product(*(g for g in grids if g is not None))
            for sample in drawn
        )
        for value in (v for c in candidates for v in c.values()):
            if not math.isfinite(value):
                raise ConfigError(f"config: {where}.tune.space: {value} is not a finite number")
        rungs = rung_plan(base["epochs"], len(candidates), tune.get("halving"))

        def run(values, epochs, seed, settings=settings, dataset=dataset):
            resolved = resolve_run(
                {**settings, **values, "epochs": epochs}, optimizers, dataset, seed, where
            )
            return {**resolved, "run_id": run_id(resolved)}

        trial_runs = tuple(
            tuple(tuple(run(c, epochs, s) for s in tune["seeds"]) for c in candidates)
            for epochs, _ in rungs
        )
        final_runs = tuple(
            tuple(run(c, base["epochs"], s) for s in exp["seeds"]) for c in candidates
        )
        ident = {k: v for k, v in base.items() if k not in (*tuned, "seed")}
        key = {
            "trials": [[[r["run_id"] for r in seeds] for seeds in rung] for rung in trial_runs],
            "metric": tune["metric"],
            "keep": [n for _, n in rungs],
        }
        out.append(
            Tuning(
                experiment=name,
                dataset=dataset,
                variant=run_id(ident),
                key=run_id(key),
                tuned=tuned,
                candidates=candidates,
                untuned=untuned,
                metric=tune["metric"],
                rungs=rungs,
                trial_seeds=tuple(tune["seeds"]),
                seeds=tuple(exp["seeds"]),
                factors=experiment_factors(exp),
                trial_runs=trial_runs,
                final_runs=final_runs,
            )
        )
    return out


def study_tunings(config: dict[str, Any]) -> list[Tuning]:
    """The searches of the selected experiments that have ``tune``."""
    return [
        t
        for name in selected(config)
        if config["experiments"][name].get("tune")
        for t in plan_experiment(config, name)
    ]


def read_trial(run_dir: Path) -> dict[str, Any]:
    """What selection may know of a trial: train.json's status, epochs and time, and its
    history's validation metrics (last epoch, best accuracy). Nothing from the test split."""
    info = read_json(file(run_dir, "train"))
    with open(file(run_dir, "history"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    last = rows[-1] if rows else {}
    accs = [float(r["val_accuracy"]) for r in rows]
    return {
        "status": info["status"],
        "epochs_run": info["epochs_run"],
        "train_seconds": info["train_seconds"],
        "val_accuracy": float(last.get("val_accuracy", math.nan)),
        "val_loss": float(last.get("val_loss", math.nan)),
        "best_val_accuracy": max((a for a in accs if math.isfinite(a)), default=math.nan),
    }


def trial_score(trial: dict[str, Any], metric: str) -> float:
    """Signed score (larger is better); -inf for a diverged/failed or non-finite trial."""
    value = trial[metric]
    if trial["status"] in BAD_STATUS or not math.isfinite(value):
        return -math.inf
    return METRICS[metric] * value


def rung_record(
    tuning: Tuning, rung: int, previous: dict | None, trials_root: str | Path
) -> dict[str, Any]:
    """Score rung ``rung``'s candidates from their trials' folders and keep the best."""
    root = Path(trials_root) / tuning.dataset
    entries = []
    for c in tuning.rung_candidates(rung, previous):
        runs = tuning.trial_runs[rung][c]
        scores = [trial_score(read_trial(root / r["run_id"]), tuning.metric) for r in runs]
        entries.append(
            {
                "candidate": c,
                "values": tuning.candidates[c],
                "runs": [r["run_id"] for r in runs],
                "score": float(np.mean(scores)),
            }
        )
    # Stable: ties keep the candidates' order.
    ranked = sorted(entries, key=lambda e: -e["score"])
    n_keep = tuning.rungs[rung + 1][1] if rung < tuning.top else 1
    for e in entries:
        e["score"] = e["score"] if math.isfinite(e["score"]) else None
    return {
        "key": tuning.key,
        "rung": rung,
        "epochs": tuning.rungs[rung][0],
        "metric": tuning.metric,
        "candidates": entries,
        "keep": [e["candidate"] for e in ranked[:n_keep]],
    }


def read_record(path: str | Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def write_rung(
    tuning: Tuning,
    rung: int,
    previous: str | None,
    trials_root: str | Path,
    output: str | Path,
    log: str | Path,
) -> None:
    """Entry point of the ``tune`` checkpoint (``previous``: rung-1's record file); the log
    gets one line per candidate."""
    record = rung_record(tuning, rung, read_record(previous) if previous else None, trials_root)
    lines = [
        f"{tuning.experiment}/{tuning.dataset}/{tuning.variant} rung {rung} "
        f"({record['epochs']} epochs): {e['values']} {tuning.metric} score {e['score']}"
        + (" kept" if e["candidate"] in record["keep"] else "")
        for e in record["candidates"]
    ]
    atomic_write_text(log, "\n".join(lines) + "\n")
    atomic_write_text(output, canonical_json(record) + "\n")


class TunedRuns:
    """run_id -> run config of every trial and final known so far: rung-0 trials from the
    plan, later rungs and finals from the rung records on disk (read again on a miss, so a
    job process started after a checkpoint finished finds its run)."""

    def __init__(self, tunings: list[Tuning]):
        self.tunings = tunings
        self.by_key = {t.key: t for t in tunings}
        self.runs = {r["run_id"]: r for t in tunings for r in t.trials(0, range(len(t.candidates)))}

    def get(self, rid: str) -> dict | None:
        if rid not in self.runs:
            self.refresh()
        return self.runs.get(rid)

    def refresh(self) -> None:
        for t in self.tunings:
            for rung in range(t.top + 1):
                path = Path(t.rung_path(rung))
                if not path.exists():
                    break
                self.add(t, rung, read_record(path))

    def add(self, tuning: Tuning, rung: int, record: dict) -> list[dict]:
        """Register what rung ``rung``'s record decides (the next rung's trials, or the
        finals) and return those runs."""
        if rung < tuning.top:
            runs = tuning.trials(rung + 1, tuning.rung_candidates(rung + 1, record))
        else:
            runs = list(tuning.finals(record))
        self.runs.update({r["run_id"]: r for r in runs})
        return runs


def finals_membership(tunings: list[Tuning], records: dict[str, dict]) -> list[dict[str, Any]]:
    """``experiment, dataset, run_id, seed, factors`` of every final, as experiments.csv has
    them for untuned runs (``records``: rung-record path -> record, the top rungs at least)."""
    rows = []
    for t in tunings:
        for run in t.finals(records[t.rung_path(t.top)]):
            rows.append(
                {
                    "experiment": t.experiment,
                    "dataset": t.dataset,
                    "run_id": run["run_id"],
                    "seed": run["seed"],
                    "factors": ";".join(t.factors),
                }
            )
    return rows


def trials_table(
    tunings: list[Tuning], records: dict[str, dict], trials_root: str | Path
) -> list[dict[str, Any]]:
    """The rows of trials.csv (see the module docstring); the trials in ``trials_root``."""
    rows = []
    trials: dict[str, dict] = {}
    for t in tunings:
        chosen = records[t.rung_path(t.top)]["keep"][0]
        for rung in range(t.top + 1):
            record = records[t.rung_path(rung)]
            for entry in record["candidates"]:
                c = entry["candidate"]
                values = t.candidates[c]
                for run in t.trial_runs[rung][c]:
                    rid = run["run_id"]
                    if rid not in trials:
                        trials[rid] = read_trial(Path(trials_root) / t.dataset / rid)
                    rows.append(
                        {
                            "experiment": t.experiment,
                            "dataset": t.dataset,
                            "variant": t.variant,
                            "optimizer": run["optimizer"],
                            "activation": run["activation"],
                            "initializer": run["initializer"],
                            **{k: values[k] for k in t.tuned},
                            "tuned": ";".join(t.tuned),
                            "candidate": c,
                            "rung": rung,
                            "budget_epochs": t.rungs[rung][0],
                            "epochs_run": trials[rid]["epochs_run"],
                            "seed": run["seed"],
                            "run_id": rid,
                            "status": trials[rid]["status"],
                            "val_accuracy": trials[rid]["val_accuracy"],
                            "val_loss": trials[rid]["val_loss"],
                            "best_val_accuracy": trials[rid]["best_val_accuracy"],
                            "train_seconds": trials[rid]["train_seconds"],
                            "score": entry["score"],
                            "is_default": all(values[k] == t.untuned[k] for k in t.tuned),
                            "selected": rung == t.top and c == chosen,
                        }
                    )
    return rows
