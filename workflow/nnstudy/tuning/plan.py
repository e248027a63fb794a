"""Tune every variant before ranking: trials on the validation split, then finals on test.

An experiment with a ``tune`` block (see the schema) is not expanded into runs directly.
Each of its *variants* -- a point of its datasets x grid x search without its seed and
without the tuned settings -- gets a search of its optimizer's space; the searches of one
*comparison* (the experiment on one dataset) all have the same method, number of trials,
rungs and tuning seeds, so every optimizer has the same budget (:func:`plan_experiment`
refuses a plan where they differ).

The spaces (:mod:`nnstudy.tuning.spaces`)
    ``tune.preset`` (``choi2019``: every hyper-parameter of each optimizer's update rule),
    ``tune.space`` (for every optimizer) and ``tune.spaces.<optimizer>``, merged in that
    order; a parameter is any run-level setting (``lr``, ``dropout``, ``l2``,
    ``clip_norm``) or hyper-parameter of the optimizer (``momentum``, ``nesterov``,
    ``beta1``/``beta2`` or ``one_minus_beta1``/``one_minus_beta2``, ``eps``, ``alpha``,
    ``weight_decay``, ...), in W&B sweep's parameter format or the project's own forms
    (``factors`` multiply the optimizer's configured value). ``tune.sweep`` takes a whole
    W&B sweep document instead of method, metric, space and n_trials.
The candidates (:mod:`nnstudy.tuning.search`)
    ``tune.method``: ``grid`` (every point; the default when every space is a grid),
    ``random`` or ``sobol`` (``n_trials`` points, seeded by ``tune.seed``): all proposed at
    once, a pure function of the config, so a rerun asks for the same trials. A candidate's
    run-level values go into the trial's run config, its hyper-parameters into the run
    config's ``optimizer_params`` (content-addressed like any setting).
``tune.seeds``
    The trials' seeds (default ``[1000]``), disjoint from the finals' ``seeds`` (refused
    otherwise: a final must not be a rerun of the trial that chose it); a candidate's score
    is the mean over them.
``tune.metric``
    ``val_accuracy`` (higher is better; ties broken by the lower ``val_loss``) or
    ``val_loss`` (ties broken by the higher ``val_accuracy``) of the trial's last epoch in its
    ``history.csv`` -- the validation split only; a diverged or failed trial or a non-finite
    value scores worst.
``tune.halving``
    Successive halving ``{eta, min_epochs, min_top}`` (:func:`search.rung_plan`): rung r of R
    trains the candidates rung r-1 kept for ``E // eta**(R - r)`` epochs (a fresh run each,
    its schedule over those epochs); R is as large as ``min_epochs`` allows while at least
    ``min_top`` (default 2) candidates reach the top rung, which trains for the full E epochs.
    The *selected* candidate is the best at the top rung (:func:`search.select`); the
    candidates that tie with it are recorded as ``tied``, and the selected values that lie on
    their space's boundary as ``edges`` (:func:`spaces.edge_flags`).

Trials are ordinary runs kept apart (``results/trials/<dataset>/<run_id>/``, rule ``trial``:
the ``train`` job without ``--evaluate``, so no trial reads the test split). Rung r of a variant is a Snakemake
checkpoint that reads its trials' ``history.csv`` and ``train.json`` and writes
``results/tuning/<dataset>/<key>/rung<r>.json`` (:func:`rung_record`): the candidates of the
rung with their trials' run ids and scores, and ``keep`` (the kept candidates' indices; at
the top rung the selected one, with ``tied``, ``rule`` and ``edges``). The key hashes
everything the selection depends on (the trial run ids of every rung and candidate, the
metric, the rung sizes, the space), so experiments with the same variant and ``tune`` share
the search, and a new seed of the finals leaves it untouched. The *finals* are the selected
candidate trained for E epochs with every seed of the experiment's ``seeds`` and evaluated on
test (rule ``train``, in ``results/runs/``).

Tables (rule ``aggregate``, :func:`trials_table`): ``results/tables/trials.csv``, one row
per (experiment, trial run): ``experiment, dataset, variant`` (short id of the variant: the
hash of its run config without seed and tuned settings), ``optimizer, activation,
initializer``, one column per parameter of any space (:func:`parameter_names`; empty where a
variant's space lacks it), ``tuned`` (``;``-joined searched parameters of the variant),
``method``, ``candidate`` (index), ``rung`` (0-based), ``budget_epochs`` (the rung's epochs),
``epochs_run``, ``seed``, ``run_id``, ``status`` (train.json's), ``val_accuracy`` and
``val_loss`` (last epoch), ``best_val_accuracy``, ``train_seconds``, ``score`` (the
candidate's signed score at that rung, empty when it cannot be computed), ``is_default`` (the
candidate's run config is the variant's untuned one, e.g. the optimizer's configured lr),
``selected`` (True on the selected candidate's trials at rung R), ``tied`` (True on the
top-rung trials of every candidate that tied with the selected one, itself included, when
there was a tie) and ``edge`` (on the selected candidate's rows: ``name:low`` or
``name:high`` per parameter on its space's boundary, ``;``-joined).
``results/tables/trial_histories.csv``: ``histories.csv``'s format for the trial runs, one row
per trial run and epoch: ``dataset, run_id, variant`` (the short id), ``seed, status,
optimizer, activation, initializer, tuned_<parameter>`` (the trial's value of each
parameter; ``lr`` is the scheduled lr of the epoch), ``rung, budget_epochs``, then
history.csv's columns. The finals join ``runs.csv`` and ``histories.csv`` like any run
(:func:`finals_membership`).
"""

from __future__ import annotations

import csv
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
)
from nnstudy.config.validation import ConfigError, selected
from nnstudy.training.runfolder import file, read_json
from nnstudy.tuning.search import keep_best, plan_comparison, select
from nnstudy.tuning.spaces import RUN_SETTINGS, Space, edge_flags, to_settings, to_wandb

METRICS = {"val_accuracy": 1.0, "val_loss": -1.0}  # sign: larger signed value is better
GOALS = {"val_accuracy": "maximize", "val_loss": "minimize"}
# The other metric breaks a tie of the selecting one.
TIEBREAK = {"val_accuracy": "val_loss", "val_loss": "val_accuracy"}
METHODS = ("grid", "random", "sobol")  # the single-round methods the DAG runs
BAD_STATUS = ("diverged", "failed")
TUNING_ROOT = "results/tuning"


@dataclass(frozen=True)
class Tuning:
    """The search of one variant of one experiment."""

    experiment: str
    dataset: str
    variant: str
    key: str
    space: Space
    method: str
    candidates: tuple[dict[str, Any], ...]
    defaults: tuple[bool, ...]  # per candidate: its run config is the variant's untuned one
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

    @property
    def optimizer(self) -> str:
        return self.trial_runs[0][0][0]["optimizer"]

    @property
    def tuned(self) -> tuple[str, ...]:
        """The searched parameters (a constant of the space is set, not tuned)."""
        return tuple(d.name for d in self.space.searched)

    def rung_path(self, rung: int) -> str:
        return f"{TUNING_ROOT}/{self.dataset}/{self.key}/rung{rung}.json"

    def trials(self, rung: int, candidates: list[int]) -> list[dict]:
        return [run for c in candidates for run in self.trial_runs[rung][c]]

    def rung_candidates(self, rung: int, previous: dict | None) -> list[int]:
        """The candidates rung ``rung`` trains: all at rung 0, else those rung-1 kept
        (``previous`` = rung-1's record)."""
        return list(range(len(self.candidates))) if rung == 0 else list(previous["keep"])

    def finals(self, top_record: dict) -> tuple[dict, ...]:
        """The final runs: the selected candidate (kept at the top rung), every seed."""
        return self.final_runs[top_record["keep"][0]]


def parameter_names(tunings: list[Tuning]) -> list[str]:
    """Every parameter of the searches' spaces: the run-level settings first (in
    :data:`RUN_SETTINGS` order), then the optimizers' in name order."""
    names = {n for t in tunings for n in t.space.names}
    return [n for n in RUN_SETTINGS if n in names] + sorted(names - set(RUN_SETTINGS))


def _configured(settings: dict, optimizers: dict[str, dict]) -> dict[str, dict]:
    """Each optimizer's configured hyper-parameters by nnlib's names, its lr that of the
    variant (the settings' lr, else the optimizer's own): what ``factors`` multiply."""
    lr = settings["lr"]
    return {o: {**p, "lr": p["lr"] if lr is None else lr} for o, p in optimizers.items()}


def _comparison_optimizers(points: list[tuple[str, dict]]) -> dict[str, list[str]]:
    """dataset -> the optimizers of its variants, in first-seen order."""
    out: dict[str, list[str]] = {}
    for dataset, settings in points:
        names = out.setdefault(dataset, [])
        if settings["optimizer"] not in names:
            names.append(settings["optimizer"])
    return out


def _plan_variant(config, name, dataset, settings, comparison) -> Tuning:
    exp = config["experiments"][name]
    where = f"experiments.{name}"
    optimizers = experiment_optimizers(config, exp)
    base = resolve_run(settings, optimizers, dataset, 0, where)
    opt = base["optimizer"]
    configured = _configured(settings, optimizers)
    try:
        plan = plan_comparison(
            exp["tune"],
            comparison,
            dict.fromkeys(comparison, base["epochs"]),
            exp["seeds"],
            GOALS,
            {o: configured[o] for o in comparison},
        )
        if plan.searches[opt].method not in METHODS:
            raise ValueError(
                f"method {plan.searches[opt].method} is not run by the workflow; "
                f"valid: {', '.join(METHODS)}"
            )
        search = plan.searches[opt]
        candidates = tuple(search.propose())
        split = [to_settings(c, opt, configured[opt]) for c in candidates]
    except ValueError as error:
        raise ConfigError(f"config: {where}.tune: {error}") from None

    def run(c, epochs, seed):
        values, hyper = split[c]
        resolved = resolve_run(
            {**settings, **values, "epochs": epochs},
            {**optimizers, opt: {**optimizers[opt], **hyper}},
            dataset,
            seed,
            where,
        )
        return {**resolved, "run_id": run_id(resolved)}

    indices = range(len(candidates))
    trial_runs = tuple(
        tuple(tuple(run(c, epochs, s) for s in plan.trial_seeds) for c in indices)
        for epochs, _ in plan.rungs
    )
    final_runs = tuple(tuple(run(c, base["epochs"], s) for s in exp["seeds"]) for c in indices)
    untuned = {**base, "run_id": run_id(base)}
    defaults = tuple(run(c, base["epochs"], 0) == untuned for c in indices)
    names = set(search.space.names)
    ident = {k: v for k, v in base.items() if k not in (*names, "seed")}
    key = {
        "trials": [[[r["run_id"] for r in seeds] for seeds in rung] for rung in trial_runs],
        "metric": plan.metric,
        "keep": [n for _, n in plan.rungs],
        "space": to_wandb(search.space),
    }
    return Tuning(
        experiment=name,
        dataset=dataset,
        variant=run_id(ident),
        key=run_id(key),
        space=search.space,
        method=search.method,
        candidates=candidates,
        defaults=defaults,
        metric=plan.metric,
        rungs=plan.rungs,
        trial_seeds=plan.trial_seeds,
        seeds=tuple(exp["seeds"]),
        factors=experiment_factors(exp),
        trial_runs=trial_runs,
        final_runs=final_runs,
    )


def check_budgets(tunings: list[Tuning], where: str) -> None:
    """Every optimizer of a comparison has the same searches: per dataset, the same multiset
    of (trials, rungs, tuning seeds) over its variants."""
    for dataset in dict.fromkeys(t.dataset for t in tunings):
        per: dict[str, list] = {}
        for t in tunings:
            if t.dataset == dataset:
                per.setdefault(t.optimizer, []).append((len(t.candidates), t.rungs, t.trial_seeds))
        budgets = {o: sorted(b) for o, b in per.items()}
        if len({repr(b) for b in budgets.values()}) > 1:
            listed = "; ".join(f"{o}: {b}" for o, b in budgets.items())
            raise ConfigError(
                f"config: {where}.tune: unequal tuning budgets on {dataset} ({listed}); every "
                "optimizer of a comparison needs the same trials and epochs"
            )


def plan_experiment(config: dict[str, Any], name: str) -> list[Tuning]:
    """The searches of one tuned experiment, one per variant (order of its points)."""
    points = list(experiment_points(config, name))
    comparisons = _comparison_optimizers(points)
    out = [
        _plan_variant(config, name, dataset, settings, comparisons[dataset])
        for dataset, settings in points
    ]
    check_budgets(out, f"experiments.{name}")
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


def _mean_score(trials: list[dict], metric: str) -> float | None:
    """A candidate's signed score: the mean over its trial seeds, None when not finite."""
    score = float(np.mean([trial_score(t, metric) for t in trials]))
    return score if math.isfinite(score) else None


def rung_record(
    tuning: Tuning, rung: int, previous: dict | None, trials_root: str | Path
) -> dict[str, Any]:
    """Score rung ``rung``'s candidates from their trials' folders and keep the best; the top
    rung selects one (ties recorded) and flags its values on the space's edges."""
    root = Path(trials_root) / tuning.dataset
    entries, tiebreak = [], []
    for c in tuning.rung_candidates(rung, previous):
        runs = tuning.trial_runs[rung][c]
        trials = [read_trial(root / r["run_id"]) for r in runs]
        entries.append(
            {
                "candidate": c,
                "values": tuning.candidates[c],
                "runs": [r["run_id"] for r in runs],
                "score": _mean_score(trials, tuning.metric),
            }
        )
        tiebreak.append(_mean_score(trials, TIEBREAK[tuning.metric]))
    scores = [e["score"] for e in entries]
    record = {
        "key": tuning.key,
        "rung": rung,
        "epochs": tuning.rungs[rung][0],
        "metric": tuning.metric,
        "candidates": entries,
    }
    if rung < tuning.top:
        kept = keep_best(scores, tuning.rungs[rung + 1][1])
        return {**record, "keep": [entries[i]["candidate"] for i in kept]}
    choice = select(scores, "maximize", tiebreak, "maximize")
    winner = entries[choice.winner]["candidate"]
    return {
        **record,
        "keep": [winner],
        "tied": [entries[i]["candidate"] for i in choice.tied],
        "rule": choice.rule,
        "edges": edge_flags(tuning.space, tuning.candidates[winner]),
    }


class RecordError(ValueError):
    """A rung record that is not one; ``str()`` is one line with the repair."""

    def __init__(self, path: str | Path, cause: str):
        self.path, self.cause = str(path), cause
        super().__init__(record_repair([self.path], cause))


def record_repair(paths: list[str], cause: str) -> str:
    names = " ".join(paths)
    return (
        f"{names}: not a valid rung record ({cause}); delete and rebuild with what was made "
        f"from it: rm {names} && snakemake --cores N"
    )


def read_record(path: str | Path) -> dict[str, Any]:
    """A rung record; :class:`RecordError` (one line, with the repair) when it is not JSON."""
    try:
        return json.loads(Path(path).read_text())
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError
        raise RecordError(path, str(error).splitlines()[0]) from None


def _record_fault(tuning: Tuning, rung: int, record: Any, previous: dict | None) -> str | None:
    """Why ``record`` cannot be rung ``rung`` of ``tuning``, or None."""
    if not isinstance(record, dict) or (record.get("key"), record.get("rung")) != (
        tuning.key,
        rung,
    ):
        return f"not the record of search {tuning.key} rung {rung}"
    keep, allowed = record.get("keep"), tuning.rung_candidates(rung, previous)
    size = min(tuning.rungs[rung + 1][1] if rung < tuning.top else 1, len(allowed))
    if not isinstance(keep, list) or len(keep) != size or not set(keep) <= set(allowed):
        return f"keep {keep!r} is not {size} of the candidates {allowed}"
    return None


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
                try:
                    record = read_record(t.rung_path(rung))
                except FileNotFoundError:  # not decided yet, or being decided again
                    break
                self.add(t, rung, record)

    def damaged_records(self) -> str | None:
        """One line naming the rung records on disk that cannot be read as their search's
        (not JSON, another search's, a ``keep`` that is not the rung's candidates), with the
        repair; None when every record is readable. For the Snakefile, before any input
        function reads them."""
        bad, causes = [], []
        for t in self.tunings:
            previous = None
            for rung in range(t.top + 1):
                path = t.rung_path(rung)
                try:
                    record = read_record(path)
                except FileNotFoundError:
                    break
                except RecordError as error:
                    cause = error.cause
                else:
                    cause = _record_fault(t, rung, record, previous)
                if cause is not None:
                    bad.append(path)
                    causes.append(cause)
                    break
                previous = record
        return record_repair(bad, "; ".join(dict.fromkeys(causes))) if bad else None

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


def _edge_text(edges: dict[str, str]) -> str:
    return ";".join(f"{name}:{side}" for name, side in sorted(edges.items()))


def trials_table(
    tunings: list[Tuning], records: dict[str, dict], trials_root: str | Path
) -> list[dict[str, Any]]:
    """The rows of trials.csv (see the module docstring); the trials in ``trials_root``."""
    rows = []
    trials: dict[str, dict] = {}
    for t in tunings:
        top = records[t.rung_path(t.top)]
        chosen = top["keep"][0]
        tied = set(top["tied"]) if len(top["tied"]) > 1 else set()
        for rung in range(t.top + 1):
            record = records[t.rung_path(rung)]
            for entry in record["candidates"]:
                c = entry["candidate"]
                selected = rung == t.top and c == chosen
                for run in t.trial_runs[rung][c]:
                    rid = run["run_id"]
                    if rid not in trials:
                        trials[rid] = read_trial(Path(trials_root) / t.dataset / rid)
                    trial = trials[rid]
                    rows.append(
                        {
                            "experiment": t.experiment,
                            "dataset": t.dataset,
                            "variant": t.variant,
                            "optimizer": run["optimizer"],
                            "activation": run["activation"],
                            "initializer": run["initializer"],
                            **t.candidates[c],
                            "tuned": ";".join(t.tuned),
                            "method": t.method,
                            "candidate": c,
                            "rung": rung,
                            "budget_epochs": t.rungs[rung][0],
                            "epochs_run": trial["epochs_run"],
                            "seed": run["seed"],
                            "run_id": rid,
                            "status": trial["status"],
                            "val_accuracy": trial["val_accuracy"],
                            "val_loss": trial["val_loss"],
                            "best_val_accuracy": trial["best_val_accuracy"],
                            "train_seconds": trial["train_seconds"],
                            "score": entry["score"],
                            "is_default": t.defaults[c],
                            "selected": selected,
                            "tied": rung == t.top and c in tied,
                            "edge": _edge_text(top["edges"]) if selected else "",
                        }
                    )
    return rows
