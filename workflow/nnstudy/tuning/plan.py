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
    once, a pure function of the config, so a rerun asks for the same trials. ``tpe``
    (Optuna's TPE, seeded by ``tune.seed``): ``n_trials`` candidates in rounds of
    ``tune.batch``, round k proposed from the scores of rounds 0..k-1 replayed from their
    records (:meth:`Tuning.after_round`), so a rerun asks for the same trials and a killed
    search resumes at the first round without a record. The rounds train at rung 0's epochs;
    rung 0 then ranks the whole pool and the rungs above halve it, so TPE proposes at the
    first rung's budget and halving selects at the full one (without ``halving``, TPE's
    rounds run the full epochs and the best of them is selected). A candidate's run-level
    values go into the trial's run config, its hyper-parameters into the run config's
    ``optimizer_params`` (content-addressed like any setting).
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
``tune.extend``
    N > 0: when the selection has edges, a further *stage* searches the space widened at them
    (:meth:`Tuning.next_stage`; :func:`spaces.extend`: each flagged parameter by its space's
    own (log) width on the flagged side, a grid keeping its number of points, at most N times
    per parameter, never past a parameter's domain) with the same method, trials, rungs and
    seeds; the last stage's selection is final (an earlier stage's trials are the cost of
    finding the space: counted in the budget, not in the selection). A shared trial (the same
    point in two stages) is the same run, trained once.

Trials are ordinary runs kept apart (``results/trials/<dataset>/<run_id>/``, rule ``trial``:
the ``train`` job without ``--evaluate``, so no trial reads the test split). Each *step* of a
search (:class:`Step`, in the order of :func:`walk`: a stage's ``tpe`` rounds, then its rungs,
then the next stage) is a Snakemake checkpoint that reads its trials' ``history.csv`` and
``train.json`` and writes ``results/tuning/<dataset>/<key>/<step>.json``: ``round<k>``
(:func:`round_record`: every candidate of the stage so far with its round, trial run ids and
score: the history of the next round) or ``rung<r>`` (:func:`rung_record`: the candidates of
the rung with their trials' run ids and scores, and ``keep``, the kept candidates' indices; at
the top rung the selected one, with ``tied``, ``rule`` and ``edges``, and with ``extend`` the
``stage``, what widening did, ``widened``, and the ``next`` stage's key or None). Its input is
the step before it (``after``: the record that decided its trials). A stage's key hashes
everything its selection depends on (the trial run ids of every rung and candidate -- of
``tpe``'s first round, with method, n_trials, batch and seed --, the metric, the rung sizes,
the space, and ``extend`` when set), so experiments with the same variant and ``tune`` share
the search, and a new seed of the finals leaves it untouched. The *finals* are the selected
candidate trained for E epochs with every seed of the experiment's ``seeds`` and evaluated on
test (rule ``train``, in ``results/runs/``).

Tables (rule ``aggregate``, :func:`trials_table`): ``results/tables/trials.csv``, one row
per (experiment, trial run): ``experiment, dataset, variant`` (short id of the variant: the
hash of its run config without seed and tuned settings), ``optimizer, activation,
initializer``, one column per parameter of any space (:func:`parameter_names`; empty where a
variant's space lacks it), ``tuned`` (``;``-joined searched parameters of the variant),
``method``, ``stage`` (0, or how often ``extend`` had widened the space), ``candidate``
(index, the proposal order), ``rung`` (0-based), ``budget_epochs`` (the rung's epochs),
``epochs_run``, ``seed``, ``run_id``, ``status`` (train.json's), ``val_accuracy`` and
``val_loss`` (last epoch), ``best_val_accuracy``, ``train_seconds``, ``score`` (the
candidate's signed score at that rung, empty when it cannot be computed), ``is_default`` (the
candidate's run config is the variant's untuned one, e.g. the optimizer's configured lr),
``selected`` (True on the selected candidate's trials at rung R of the last stage), ``tied``
(True on the top-rung trials of every candidate that tied with the selected one, itself
included, when there was a tie) and ``edge`` (on the selected candidate's rows: ``name:low`` or
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
import functools
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
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
from nnstudy.tuning.search import Search, keep_best, plan_comparison, select
from nnstudy.tuning.spaces import (
    RUN_SETTINGS,
    Space,
    edge_flags,
    extend,
    to_settings,
    to_wandb,
)

METRICS = {"val_accuracy": 1.0, "val_loss": -1.0}  # sign: larger signed value is better
GOALS = {"val_accuracy": "maximize", "val_loss": "minimize"}
# The other metric breaks a tie of the selecting one.
TIEBREAK = {"val_accuracy": "val_loss", "val_loss": "val_accuracy"}
BAD_STATUS = ("diverged", "failed")
TUNING_ROOT = "results/tuning"


@dataclass(frozen=True)
class _Variant:
    """A variant's context in its comparison's plan: what turns a candidate into run configs
    (kept out of a Tuning's repr and comparison: its own fields determine it)."""

    experiment: str
    dataset: str
    variant: str  # the short id of the run config without seed and searched parameters
    settings: dict
    optimizers: dict
    configured: dict  # the optimizer's configured hyper-parameters (what factors multiply)
    where: str
    base: dict  # the untuned run config (seed 0)
    metric: str
    rungs: tuple[tuple[int, int], ...]
    trial_seeds: tuple[int, ...]
    seeds: tuple[int, ...]
    factors: tuple[str, ...]
    extend: int  # how often an edge may be widened (tune.extend)

    def run(self, point: Mapping[str, Any], epochs: int, seed: int) -> dict[str, Any]:
        opt = self.base["optimizer"]
        values, hyper = to_settings(point, opt, self.configured)
        resolved = resolve_run(
            {**self.settings, **values, "epochs": epochs},
            {**self.optimizers, opt: {**self.optimizers[opt], **hyper}},
            self.dataset,
            seed,
            self.where,
        )
        return {**resolved, "run_id": run_id(resolved)}


@dataclass(frozen=True)
class Tuning:
    """One *stage* of the search of one variant of one experiment: stage 0 searches the
    configured space, stage s + 1 the space stage s widened at the edges of its selection
    (:meth:`next_stage`). ``candidates`` are the candidates known so far: all of them for a
    single-round method, the first round's for ``tpe`` (:meth:`after_round` adds a round's
    from the record of the round before)."""

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
    # them, through the variant id, the key and the candidates.
    trial_runs: tuple[tuple[tuple[dict, ...], ...], ...] = field(repr=False)  # [rung][cand][seed]
    final_runs: tuple[tuple[dict, ...], ...] = field(repr=False)  # [candidate][seed]
    search: Search = field(repr=False)
    stage: int = field(repr=False)
    source: _Variant = field(repr=False, compare=False)

    @property
    def top(self) -> int:
        return len(self.rungs) - 1

    @property
    def optimizer(self) -> str:
        return self.source.base["optimizer"]

    @property
    def tuned(self) -> tuple[str, ...]:
        """The searched parameters (a constant of the space is set, not tuned)."""
        return tuple(d.name for d in self.space.searched)

    @property
    def rounds(self) -> int:
        """Proposal rounds before the rungs: ``tpe``'s n_trials / batch, each a checkpoint
        ``round<k>`` at rung 0's epochs; 0 for the single-round methods (rung 0 proposes)."""
        return self.search.rounds if self.method == "tpe" else 0

    def path(self, step: str) -> str:
        """The record of a step (``round<k>`` or ``rung<r>``) of this stage."""
        return f"{TUNING_ROOT}/{self.dataset}/{self.key}/{step}.json"

    def rung_path(self, rung: int) -> str:
        return self.path(f"rung{rung}")

    def trials(self, rung: int, candidates) -> list[dict]:
        return [run for c in candidates for run in self.trial_runs[rung][c]]

    def rung_candidates(self, rung: int, previous: dict | None) -> list[int]:
        """The candidates rung ``rung`` trains: all at rung 0, else those rung-1 kept
        (``previous`` = rung-1's record)."""
        return list(range(len(self.candidates))) if rung == 0 else list(previous["keep"])

    def finals(self, top_record: dict) -> tuple[dict, ...]:
        """The final runs: the selected candidate (kept at the top rung), every seed."""
        return self.final_runs[top_record["keep"][0]]

    def after_round(self, record: dict) -> Tuning:
        """This stage knowing one more round's candidates: those the search proposes from the
        history in ``record`` (the round before's: every candidate so far with its score)."""
        sign = METRICS[self.metric]  # records hold signed scores, the search the metric's own
        history = [
            (e["values"], None if e["score"] is None else sign * e["score"])
            for e in record["candidates"]
        ]
        more = _propose(self.search, history)
        return _stage(self.source, self.search, self.stage, self.candidates + more)

    def next_stage(self, edges: Mapping[str, str]) -> tuple[Tuning | None, list[str]]:
        """The stage that searches this stage's space widened at ``edges`` (the selection's
        values on its boundary; :func:`spaces.extend`: each flagged dimension by its own (log)
        width, at most ``tune.extend`` times per dimension) with the same method, trials and
        rungs, or None when nothing was widened; and one line per edge saying what was done."""
        if not edges or not self.source.extend:
            return None, []
        space, notes = extend(self.space, edges, self.source.extend)
        if space == self.space:
            return None, notes
        search = replace(self.search, space=space)
        return _stage(self.source, search, self.stage + 1, _propose(search, [])), notes


@functools.lru_cache(maxsize=4096)
def _proposals(search: Search, history: tuple) -> tuple[tuple[tuple[str, Any], ...], ...]:
    points = search.propose([(dict(point), score) for point, score in history])
    return tuple(tuple(sorted(p.items())) for p in points)


def _propose(search: Search, history) -> tuple[dict[str, Any], ...]:
    """The search's next round after ``history`` ((point, score) pairs), cached: Snakemake
    evaluates a checkpoint's input function many times, and a TPE round replays Optuna."""
    key = tuple((tuple(sorted(p.items())), s) for p, s in history)
    return tuple(dict(p) for p in _proposals(search, key))


def _search_key(source: _Variant, search: Search, trial_runs) -> str:
    """What the selection depends on: the trials (of every candidate, rung and seed; for
    ``tpe`` the first round's, with what proposes the later rounds), the metric, the rung
    sizes, the space and ``extend`` (when set)."""
    key: dict[str, Any] = {
        "trials": [[[r["run_id"] for r in seeds] for seeds in rung] for rung in trial_runs],
        "metric": source.metric,
        "keep": [n for _, n in source.rungs],
        "space": to_wandb(search.space),
    }
    if source.extend:  # the top rung's record says what widening does
        key["extend"] = source.extend
    if search.method == "tpe":
        first = search.per_round
        key["trials"] = [rung[:first] for rung in key["trials"]]
        key["search"] = {k: getattr(search, k) for k in ("method", "n_trials", "batch", "seed")}
    return run_id(key)


def _stage(source: _Variant, search: Search, stage: int, candidates) -> Tuning:
    """The Tuning of ``search`` on the variant ``source``, knowing ``candidates``."""
    candidates = tuple(candidates)
    trial_runs = tuple(
        tuple(tuple(source.run(c, epochs, s) for s in source.trial_seeds) for c in candidates)
        for epochs, _ in source.rungs
    )
    epochs = source.base["epochs"]
    final_runs = tuple(tuple(source.run(c, epochs, s) for s in source.seeds) for c in candidates)
    untuned = {**source.base, "run_id": run_id(source.base)}
    return Tuning(
        experiment=source.experiment,
        dataset=source.dataset,
        variant=source.variant,
        key=_search_key(source, search, trial_runs),
        space=search.space,
        method=search.method,
        candidates=candidates,
        defaults=tuple(source.run(c, epochs, 0) == untuned for c in candidates),
        metric=source.metric,
        rungs=source.rungs,
        trial_seeds=source.trial_seeds,
        seeds=source.seeds,
        factors=source.factors,
        trial_runs=trial_runs,
        final_runs=final_runs,
        search=search,
        stage=stage,
        source=source,
    )


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
        search = plan.searches[opt]
        source = _Variant(
            experiment=name,
            dataset=dataset,
            variant=run_id(
                {k: v for k, v in base.items() if k not in (*search.space.names, "seed")}
            ),
            settings=settings,
            optimizers=optimizers,
            configured=configured[opt],
            where=where,
            base=base,
            metric=plan.metric,
            rungs=plan.rungs,
            trial_seeds=plan.trial_seeds,
            seeds=tuple(exp["seeds"]),
            factors=experiment_factors(exp),
            extend=plan.extend,
        )
        return _stage(source, search, 0, _propose(search, []))
    except ValueError as error:
        raise ConfigError(f"config: {where}.tune: {error}") from None


def check_budgets(tunings: list[Tuning], where: str) -> None:
    """Every optimizer of a comparison has the same searches: per dataset, the same multiset
    of (trials, rungs, tuning seeds) over its variants."""
    for dataset in dict.fromkeys(t.dataset for t in tunings):
        per: dict[str, list] = {}
        for t in tunings:
            if t.dataset == dataset:
                budget = (t.search.n_trials, t.rungs, t.trial_seeds)
                per.setdefault(t.optimizer, []).append(budget)
        budgets = {o: sorted(b) for o, b in per.items()}
        if len({repr(b) for b in budgets.values()}) > 1:
            listed = "; ".join(f"{o}: {b}" for o, b in budgets.items())
            raise ConfigError(
                f"config: {where}.tune: unequal tuning budgets on {dataset} ({listed}); every "
                "optimizer of a comparison needs the same trials and epochs"
            )


def plan_experiment(config: dict[str, Any], name: str) -> list[Tuning]:
    """The searches of one tuned experiment, one per variant (order of its points): each
    variant's first stage."""
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


# --- the steps of a search: its rounds and rungs, stage after stage -------------------------


@dataclass(frozen=True)
class Step:
    """One checkpoint of a variant's search: ``round<k>`` (a ``tpe`` round: its proposals'
    trials at rung 0's epochs) or ``rung<r>``, of the stage ``tuning`` (which knows every
    candidate the step needs). ``previous``: the record of the step before it in its stage
    (None for a stage's first step); ``after``: the path of the step before it in the whole
    search (the previous stage's top rung for a stage's first step), an input of the step."""

    tuning: Tuning
    name: str
    previous: dict | None = field(repr=False, compare=False)
    after: str | None = None

    @property
    def path(self) -> str:
        return self.tuning.path(self.name)

    @property
    def kind(self) -> str:
        return self.name.rstrip("0123456789")

    @property
    def index(self) -> int:
        return int(self.name[len(self.kind) :])

    def candidates(self) -> list[int]:
        """The candidates whose trials this step scores: a round's new ones, a rung's."""
        t = self.tuning
        if self.kind == "round":
            return list(range(t.search.batch * self.index, len(t.candidates)))
        return t.rung_candidates(self.index, self.previous)

    def trials(self) -> list[dict]:
        rung = 0 if self.kind == "round" else self.index
        return self.tuning.trials(rung, self.candidates())


def walk(tuning: Tuning, record_of) -> Iterator[tuple[Step, dict | None]]:
    """Every step of a variant's search in order, from its first stage (``tuning``) on:
    each stage's rounds (``tpe``), then its rungs, then the next stage while the top rung's
    record names one. ``record_of(step)`` gives a step's record, or None while it is not
    decided, which ends the walk (after that step). Each stage's candidates come from the
    records, so the walk is the same on disk and through Snakemake's checkpoints."""
    t, after = tuning, None
    while t is not None:
        previous = None
        for k in range(t.rounds):
            t = t if k == 0 else t.after_round(previous)
            step = Step(t, f"round{k}", previous, after)
            previous, after = record_of(step), step.path
            yield step, previous
            if previous is None:
                return
        for r in range(t.top + 1):
            step = Step(t, f"rung{r}", previous if r else None, after)
            previous, after = record_of(step), step.path
            yield step, previous
            if previous is None:
                return
        t = t.next_stage(previous["edges"])[0]


def known_runs(steps: list[tuple[Step, dict | None]]) -> tuple[list[dict], tuple[dict, ...]]:
    """The run configs a search's walk (``list(walk(...))``) makes known: every step's trials,
    and the finals once its last step is decided (the search is finished)."""
    step, record = steps[-1]
    trials = [run for s, _ in steps for run in s.trials()]
    return trials, step.tuning.finals(record) if record is not None else ()


def on_disk(step: Step) -> dict | None:
    """A step's record as the ``tune`` checkpoint wrote it, None when it is not there (not
    decided yet, or being decided again)."""
    try:
        return read_record(step.path)
    except FileNotFoundError:
        return None


def search_records(tunings: list[Tuning], record_of=on_disk) -> dict[str, dict]:
    """Every decided step's record of the searches, by path."""
    return {s.path: r for t in tunings for s, r in walk(t, record_of) if r is not None}


def selection(tuning: Tuning, record_of) -> tuple[Step, dict] | None:
    """The last step of a finished search (the top rung of its last stage) and its record;
    None while the search is not finished."""
    *_, (step, record) = walk(tuning, record_of)
    return None if record is None else (step, record)


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


def _entries(
    tuning: Tuning, rung: int, candidates: list[int], trials_root: str | Path
) -> tuple[list[dict], list[float | None]]:
    """Each candidate's trials at rung ``rung``, scored (``_mean_score``), and its tie-break
    score (the other metric)."""
    root = Path(trials_root) / tuning.dataset
    entries, tiebreak = [], []
    for c in candidates:
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
    return entries, tiebreak


def round_record(step: Step, trials_root: str | Path) -> dict[str, Any]:
    """Score a ``tpe`` round's candidates at rung 0's epochs. The record holds every candidate
    of the stage so far with its round: the history the next round is proposed from."""
    t = step.tuning
    entries, _ = _entries(t, 0, step.candidates(), trials_root)
    earlier = step.previous["candidates"] if step.previous else []
    return {
        "key": t.key,
        "round": step.index,
        "epochs": t.rungs[0][0],
        "metric": t.metric,
        "candidates": earlier + [{**e, "round": step.index} for e in entries],
    }


def rung_record(
    tuning: Tuning, rung: int, previous: dict | None, trials_root: str | Path
) -> dict[str, Any]:
    """Score rung ``rung``'s candidates from their trials' folders and keep the best; the top
    rung selects one (ties recorded), flags its values on the space's edges and, with
    ``tune.extend``, says what widening them does (``widened``: one line per edge) and which
    stage searches next (``next``: its key, None when this selection is final)."""
    entries, tiebreak = _entries(tuning, rung, tuning.rung_candidates(rung, previous), trials_root)
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
    edges = edge_flags(tuning.space, tuning.candidates[winner])
    record = {
        **record,
        "keep": [winner],
        "tied": [entries[i]["candidate"] for i in choice.tied],
        "rule": choice.rule,
        "edges": edges,
    }
    if tuning.source.extend:
        after, notes = tuning.next_stage(edges)
        record.update(stage=tuning.stage, widened=notes, next=after and after.key)
    return record


def step_record(step: Step, trials_root: str | Path) -> dict[str, Any]:
    if step.kind == "round":
        return round_record(step, trials_root)
    return rung_record(step.tuning, step.index, step.previous, trials_root)


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


def _record_fault(step: Step, record: Any) -> str | None:
    """Why ``record`` cannot be the record of ``step``, or None."""
    t = step.tuning
    if not isinstance(record, dict) or (record.get("key"), record.get(step.kind)) != (
        t.key,
        step.index,
    ):
        return f"not the record of search {t.key} {step.name}"
    scored, wanted = record.get("candidates"), step.candidates()
    last = scored[len(scored) - len(wanted) :] if isinstance(scored, list) else []
    if [e.get("candidate") if isinstance(e, dict) else None for e in last] != wanted:
        return f"its candidates are not {wanted}"
    if step.kind == "round":
        return None
    keep = record.get("keep")
    size = min(t.rungs[step.index + 1][1] if step.index < t.top else 1, len(wanted))
    if not isinstance(keep, list) or len(keep) != size or not set(keep) <= set(wanted):
        return f"keep {keep!r} is not {size} of the candidates {wanted}"
    if step.index == t.top and not isinstance(record.get("edges"), dict):
        return "it has no edges"
    return None


def write_step(step: Step, trials_root: str | Path, output: str | Path, log: str | Path) -> None:
    """Entry point of the ``tune`` checkpoint; the log gets one line per candidate scored."""
    t = step.tuning
    record = step_record(step, trials_root)
    scored = record["candidates"][-len(step.candidates()) :]
    stage = f" stage {t.stage}" if t.stage else ""
    lines = [
        f"{t.experiment}/{t.dataset}/{t.variant}{stage} {step.name} "
        f"({record['epochs']} epochs): {e['values']} {t.metric} score {e['score']}"
        + (" kept" if e["candidate"] in record.get("keep", ()) else "")
        for e in scored
    ]
    lines += record.get("widened", [])
    atomic_write_text(log, "\n".join(lines) + "\n")
    atomic_write_text(output, canonical_json(record) + "\n")


class TunedRuns:
    """run_id -> run config of every trial and final known so far, and the searches' stages
    by key: the first steps' trials from the plan, the rest as the walks over the records
    find them (:meth:`follow`; read again from disk on a miss, so a job process started after
    a checkpoint finished finds its run)."""

    def __init__(self, tunings: list[Tuning]):
        self.tunings = tunings
        self.roots = {t.key: t for t in tunings}  # any stage's key -> the search's first stage
        self.runs: dict[str, dict] = {}
        self.experiments: dict[str, list[str]] = {}  # run_id -> the experiments it serves
        for t in tunings:
            self.follow(t, lambda step: None)

    def get(self, rid: str) -> dict | None:
        if rid not in self.runs:
            self.refresh()
        return self.runs.get(rid)

    def experiments_of(self, rid: str) -> list[str]:
        """The tuned experiments whose trial or final ``rid`` is, in config order."""
        self.get(rid)
        return self.experiments.get(rid, [])

    def refresh(self) -> None:
        for t in self.tunings:
            self.follow(t, on_disk)

    def damaged_records(self) -> str | None:
        """One line naming the step records on disk that cannot be read as their search's
        (not JSON, another step's, a ``keep`` that is not the rung's candidates), with the
        repair; None when every record is readable. For the Snakefile, before any input
        function reads them."""
        bad, causes = [], []

        def checked(step: Step) -> dict | None:
            try:
                record = on_disk(step)
            except RecordError as error:
                cause = error.cause
            else:
                cause = None if record is None else _record_fault(step, record)
            if cause is None:
                return record
            bad.append(step.path)
            causes.append(cause)
            return None  # ends this search's walk: the steps after it are rebuilt

        for t in self.tunings:
            for _ in walk(t, checked):
                pass
        return record_repair(bad, "; ".join(dict.fromkeys(causes))) if bad else None

    def follow(self, tuning: Tuning, record_of) -> tuple[Step, dict | None]:
        """Walk a search (:func:`walk`), registering each step's trials and stage and, once
        it is finished, its finals; returns the last step and its record."""
        steps = list(walk(tuning, record_of))
        for step, _ in steps:
            self.roots[step.tuning.key] = tuning
        trials, finals = known_runs(steps)
        self._add(tuning, (*trials, *finals))
        return steps[-1]

    def _add(self, tuning: Tuning, runs) -> None:
        for run in runs:
            self.runs[run["run_id"]] = run
            names = self.experiments.setdefault(run["run_id"], [])
            if tuning.experiment not in names:
                names.append(tuning.experiment)

    def locate(self, key: str, name: str, record_of) -> Step:
        """The step ``name`` of the stage ``key``, reached through the records before it."""
        if key not in self.roots:
            self.refresh()
        if key not in self.roots:
            raise KeyError(f"no search has the key {key}")

        def until(step: Step) -> dict | None:
            return None if (step.tuning.key, step.name) == (key, name) else record_of(step)

        step, _ = self.follow(self.roots[key], until)
        if (step.tuning.key, step.name) != (key, name):
            raise KeyError(f"the search {key} has no step {name}")
        return step


def finals_membership(tunings: list[Tuning], records: dict[str, dict]) -> list[dict[str, Any]]:
    """``experiment, dataset, run_id, seed, factors`` of every final, as experiments.csv has
    them for untuned runs (``records``: step-record path -> record, :func:`search_records`)."""
    rows = []
    for t in tunings:
        step, record = selection(t, lambda s: records.get(s.path))
        for run in step.tuning.finals(record):
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
    """The rows of trials.csv (see the module docstring); the trials in ``trials_root``. The
    rungs of every stage are rows (a ``tpe`` round's trials are its stage's rung 0); only
    the last stage's selection is ``selected``."""
    rows = []
    trials: dict[str, dict] = {}
    for root in tunings:
        steps = [s for s, _ in walk(root, lambda s: records.get(s.path))]
        final, top = steps[-1].tuning, records[steps[-1].path]
        chosen = top["keep"][0]
        tied = set(top["tied"]) if len(top["tied"]) > 1 else set()
        for step in steps:
            t = step.tuning
            if step.kind == "round":
                continue
            rung, last = step.index, t is final and step.index == t.top
            for entry in records[step.path]["candidates"]:
                c = entry["candidate"]
                selected = last and c == chosen
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
                            "stage": t.stage,
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
                            "tied": last and c in tied,
                            "edge": _edge_text(top["edges"]) if selected else "",
                        }
                    )
    return rows
