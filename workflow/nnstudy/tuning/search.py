"""Search methods, successive halving and the plan of one comparison's searches.

A :class:`Search` proposes the trials of one optimizer's space in *rounds*: ``grid`` (the
Cartesian product, dimensions in name order), ``random`` (a seeded numpy Generator per
dimension) and ``sobol`` (``scipy.stats.qmc.Sobol``, scrambled with the seed) propose every
trial in round 0; ``tpe`` (Optuna's ``TPESampler``, ask-and-tell) proposes ``batch`` trials
per round from the history of the rounds before. :meth:`Search.propose` is a pure function of
the search and the history: the history (``(point, score)`` per finished trial, in proposal
order; score None for a failed or diverged trial) is replayed into a fresh Optuna study each
time, so nothing but the trials' results is state, a rerun proposes the same trials bit for
bit (with the same Optuna version) and a killed search resumes by replaying what finished.

Points are proposed rounded (4 significant digits, integers exact; see ``spaces``), so the
run configs built from them hash stably. No point is proposed twice within a search:

- ``grid``: distinct by construction (a grid's values are distinct);
- ``random`` and ``sobol``: a draw that repeats an earlier point is skipped and the stream
  continues (the next draws of the same generators, the next Sobol points), so a finite
  space is sampled without replacement;
- ``tpe``: a proposal that repeats a finished or already proposed point is told to Optuna as
  failed (TPE ignores failed trials) and TPE is asked again; after
  :data:`DUPLICATE_ASKS` repeats in a row, the rest of the round comes from the ``random``
  stream of a seed derived from (seed, round), skipping repeats.

A space with fewer distinct points than ``n_trials`` is refused.

For TPE a failed or diverged trial is added as *pruned* (Optuna ranks pruned trials below
every completed one), so the region it came from counts as bad without inventing a score.
Each round's sampler has its own seed, derived from (seed, round), so rounds that see the
same history (e.g. all trials failed) do not repeat their random start-up draws.

Successive halving (:func:`rung_plan`) keeps at least ``min_top`` (2) candidates for its top
rung, which trains for the full epochs, so the choice is made at the full budget, on tuning
seeds disjoint from the finals' (:func:`check_seeds`); :func:`select` returns the winner and
every candidate that tied with it. :func:`plan_comparison` reads a tune block into one search
per optimizer and refuses unequal budgets (epochs, grid sizes). With ``tpe`` and halving, the
rounds run at rung 0 (TPE's history is rung 0's scores) and the rungs above halve its pool.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import warnings
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .spaces import Choice, Fixed, Range, Space, extend, optimizer_spaces, sweep_to_tune

METHODS = ("grid", "random", "sobol", "tpe")
GOALS = ("maximize", "minimize")
TPE_STARTUP = 10  # trials TPE draws at random before modelling (Optuna's default)
DUPLICATE_ASKS = 20
DRAW_BLOCK = 64  # draws of the random stream generated at a time

History = Sequence[tuple[Mapping[str, Any], float | None]]


def _positive(**values: int) -> None:
    for key, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{key} must be an integer >= 1, got {value!r}")


def _key(point: Mapping[str, Any], names: Sequence[str]) -> tuple:
    return tuple(point[n] for n in names)


def grid_points(space: Space) -> list[dict[str, Any]]:
    """Every point of a grid space (dimensions in name order, the last varying fastest)."""
    axes = []
    for d in space.dims:
        if isinstance(d, Fixed):
            axes.append([d.value])
        elif isinstance(d, Choice):
            axes.append(list(d.values))
        elif d.step is not None:
            first, last = d.lattice()
            axes.append([d.snap(k * d.step) for k in range(first, last + 1)])
        else:
            raise ValueError(f"grid: {d.name} is a continuous range; give values or points")
    return [dict(zip(space.names, p, strict=True)) for p in itertools.product(*axes)]


def _from_unit(d, u: float) -> Any:
    if isinstance(d, Choice):
        return d.values[min(int(u * len(d.values)), len(d.values) - 1)]
    return d.from_unit(u)


def _point(space: Space, units: Sequence[float]) -> dict[str, Any]:
    """The point at ``units`` (one number in [0, 1) per searched dimension, in name order)."""
    values = iter(units)
    return {
        d.name: d.value if isinstance(d, Fixed) else _from_unit(d, next(values)) for d in space.dims
    }


def _random_stream(space: Space, seed: int) -> Iterator[dict[str, Any]]:
    """Random points: dimension ``name`` draws from ``default_rng([seed, crc32(name)])``, so
    a dimension two optimizers share gets the same draws whatever else their spaces hold."""
    rngs = [np.random.default_rng([seed, zlib.crc32(d.name.encode())]) for d in space.searched]
    while True:
        block = np.array([rng.random(DRAW_BLOCK) for rng in rngs]).reshape(len(rngs), DRAW_BLOCK)
        for i in range(DRAW_BLOCK):
            yield _point(space, block[:, i])


def _sobol_stream(space: Space, n: int, seed: int) -> Iterator[dict[str, Any]]:
    from scipy.stats import qmc

    if n & (n - 1):
        warnings.warn(
            f"sobol: n_trials={n} is not a power of two, so the points lose the balance of a "
            f"Sobol' sequence (scipy's advice); {2 ** math.floor(math.log2(n))} or "
            f"{2 ** math.ceil(math.log2(n))} keep it",
            UserWarning,
            stacklevel=4,
        )
    sampler = qmc.Sobol(d=len(space.searched), scramble=True, seed=np.random.default_rng(seed))
    size = n
    while True:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # ours above says it once
            block = sampler.random(size)
        yield from (_point(space, u) for u in block)
        size = DRAW_BLOCK


def _take(stream: Iterator[dict], k: int, seen: set, names: Sequence[str]) -> list[dict]:
    """The first ``k`` points of ``stream`` not in ``seen`` (which they join)."""
    out: list[dict] = []
    for attempt, point in enumerate(stream):
        if len(out) == k:
            break
        if attempt > 100 * k + 1000:
            raise ValueError(f"found only {len(out)} new distinct points of {k} in {attempt} draws")
        key = _key(point, names)
        if key not in seen:
            seen.add(key)
            out.append(point)
    return out


def _round_seed(seed: int, round_: int) -> int:
    return int(np.random.SeedSequence([seed, round_]).generate_state(1)[0])


# --- TPE -------------------------------------------------------------------------------------


def _distributions(space: Space) -> dict[str, Any]:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out = {}
    for d in space.searched:
        if isinstance(d, Choice):
            out[d.name] = CategoricalDistribution(list(d.values))
        elif d.integer:
            out[d.name] = IntDistribution(int(d.low), int(d.high), log=d.log)
        else:
            out[d.name] = FloatDistribution(d.low, d.high, log=d.log)
    return out


def _from_trial(space: Space, params: Mapping[str, Any]) -> dict[str, Any]:
    """The point of an Optuna trial's parameters: a range's value snapped and rounded."""
    out = {}
    for d in space.dims:
        if isinstance(d, Fixed):
            out[d.name] = d.value
        else:
            out[d.name] = d.snap(params[d.name]) if isinstance(d, Range) else params[d.name]
    return out


@contextlib.contextmanager
def _quiet_optuna():
    """Optuna logs every trial at INFO; the level is restored afterwards."""
    import optuna

    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield optuna
    finally:
        optuna.logging.set_verbosity(level)


def _tpe_round(search: Search, history: History, k: int) -> list[dict[str, Any]]:
    space, names = search.space, search.space.names
    round_seed = _round_seed(search.seed, len(history) // search.batch)
    dists = _distributions(space)
    with _quiet_optuna() as optuna:
        from optuna.trial import TrialState, create_trial

        sampler = optuna.samplers.TPESampler(seed=round_seed, n_startup_trials=TPE_STARTUP)
        study = optuna.create_study(direction=search.goal, sampler=sampler)
        for point, score in history:
            params = {d: point[d] for d in dists}
            state = TrialState.PRUNED if score is None else TrialState.COMPLETE
            study.add_trial(
                create_trial(params=params, distributions=dists, value=score, state=state)
            )
        seen = {_key(p, names) for p, _ in history}
        out: list[dict[str, Any]] = []
        repeats = 0
        while len(out) < k and repeats < DUPLICATE_ASKS:
            trial = study.ask(dists)
            point = _from_trial(space, trial.params)
            if _key(point, names) in seen:
                study.tell(trial, state=TrialState.FAIL)
                repeats += 1
                continue
            # Left running: TPE's constant liar then steers the round's next asks away.
            seen.add(_key(point, names))
            out.append(point)
            repeats = 0
    return out + _take(_random_stream(space, round_seed), k - len(out), seen, names)


# --- the search ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Search:
    """One optimizer's search: ``n_trials`` points of ``space`` proposed by ``method``
    (``batch`` per round for ``tpe``; the other methods propose all in round 0)."""

    space: Space
    method: str
    n_trials: int
    seed: int = 0
    batch: int = 1
    goal: str = "maximize"

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"unknown search method {self.method!r}; valid: {', '.join(METHODS)}")
        if self.goal not in GOALS:
            raise ValueError(f"unknown goal {self.goal!r}; valid: {', '.join(GOALS)}")
        _positive(n_trials=self.n_trials, batch=self.batch)
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {self.seed!r}")
        if not self.space.searched:
            raise ValueError("nothing to search: every parameter of the space is a constant")
        size = self.space.size()
        if self.method == "grid" and len(grid_points(self.space)) != self.n_trials:
            raise ValueError(f"grid: the grid has {size} points, n_trials is {self.n_trials}")
        if size is not None and size < self.n_trials:
            raise ValueError(
                f"the space has {size} distinct points, fewer than n_trials={self.n_trials}"
            )

    @property
    def per_round(self) -> int:
        return self.batch if self.method == "tpe" else self.n_trials

    @property
    def rounds(self) -> int:
        return math.ceil(self.n_trials / self.per_round)

    def _check(self, history: History) -> None:
        done = len(history)
        if done > self.n_trials or (done % self.per_round and done != self.n_trials):
            raise ValueError(
                f"a history of {done} trials is not whole rounds of {self.per_round} "
                f"(n_trials {self.n_trials})"
            )
        for i, (point, score) in enumerate(history):
            if not self.space.contains(point):
                raise ValueError(f"history trial {i} {dict(point)} is not a point of the space")
            if score is not None and not math.isfinite(score):
                raise ValueError(f"history trial {i} scores {score}: give None for a failed trial")

    def propose(self, history: History = ()) -> list[dict[str, Any]]:
        """The next round's points given the finished trials of the rounds before (all of
        them, in proposal order); [] when the search is complete."""
        self._check(history)
        k = min(self.per_round, self.n_trials - len(history))
        if k == 0:
            return []
        if self.method == "grid":
            return grid_points(self.space)
        if self.method == "tpe":
            return _tpe_round(self, history, k)
        stream = (
            _random_stream(self.space, self.seed)
            if self.method == "random"
            else _sobol_stream(self.space, k, self.seed)
        )
        return _take(stream, k, set(), self.space.names)


# --- successive halving and selection --------------------------------------------------------


def rung_plan(
    epochs: int, n_candidates: int, eta: int, min_epochs: int, min_top: int = 2
) -> tuple[tuple[int, int], ...]:
    """``((epochs, candidates), ...)`` per rung of successive halving. With R rungs above
    the first, rung r trains ``n_candidates // eta**r`` candidates for ``epochs //
    eta**(R - r)`` epochs, so the top rung trains at the full budget; R is the largest number
    with ``min_epochs * eta**R <= epochs`` and at least ``min_top`` candidates at the top
    (R = 0, every candidate at the full budget, when there are fewer than that)."""
    _positive(epochs=epochs, n_candidates=n_candidates, min_epochs=min_epochs, min_top=min_top)
    _positive(eta=eta)
    if eta < 2:
        raise ValueError(f"eta must be >= 2, got {eta}")
    top = 0
    while min_epochs * eta ** (top + 1) <= epochs and n_candidates // eta ** (top + 1) >= min_top:
        top += 1
    return tuple((epochs // eta ** (top - r), n_candidates // eta**r) for r in range(top + 1))


def check_seeds(trial_seeds: Sequence[int], final_seeds: Sequence[int]) -> None:
    """Refuse tuning seeds that are also the finals' seeds (a final would then be a rerun of
    a trial that chose it, and its test score would be selected on its own noise)."""
    shared = sorted(set(trial_seeds) & set(final_seeds))
    if shared:
        raise ValueError(
            f"tune.seeds {list(trial_seeds)} share {shared} with the finals' seeds "
            f"{list(final_seeds)}; tuning seeds must be disjoint from them"
        )


def _order(scores: Sequence[float | None], goal: str) -> list[int]:
    """Candidate indices best first; a None (failed) score ranks last; ties keep the
    candidates' order."""
    if goal not in GOALS:
        raise ValueError(f"unknown goal {goal!r}; valid: {', '.join(GOALS)}")
    sign = 1.0 if goal == "maximize" else -1.0
    return sorted(
        range(len(scores)), key=lambda i: math.inf if scores[i] is None else -sign * scores[i]
    )


def keep_best(scores: Sequence[float | None], k: int, goal: str = "maximize") -> list[int]:
    """The ``k`` best candidates of a rung (indices, best first); at the cut a tie goes to
    the earlier candidate, so every rung keeps exactly k."""
    _positive(k=k)
    return _order(scores, goal)[:k]


@dataclass(frozen=True)
class Selection:
    """The selected candidate, and every candidate that tied with it (itself included; one
    element when nothing tied). ``rule``: ``best`` (no tie), ``tiebreak`` (the tied
    candidate with the best tie-break score) or ``first`` (the first tied candidate in
    proposal order, when no tie-break score separates them)."""

    winner: int
    tied: tuple[int, ...]
    score: float | None
    rule: str


def select(
    scores: Sequence[float | None],
    goal: str = "maximize",
    tiebreak: Sequence[float | None] | None = None,
    tiebreak_goal: str = "minimize",
) -> Selection:
    """The best candidate of the top rung. Equal scores tie (a failed candidate's None ties
    only with other failures); among the tied, the best ``tiebreak`` score (e.g. the
    validation loss when selecting on accuracy) wins, then the earliest candidate."""
    if not scores:
        raise ValueError("select needs at least one candidate")
    ranked = _order(scores, goal)
    best = scores[ranked[0]]
    tied = tuple(sorted(i for i in ranked if scores[i] == best))
    if len(tied) == 1:
        return Selection(tied[0], tied, best, "best")
    left = tied
    if tiebreak is not None:
        top = tiebreak[tied[_order([tiebreak[i] for i in tied], tiebreak_goal)[0]]]
        left = tuple(i for i in tied if tiebreak[i] == top)
    return Selection(left[0], tied, best, "tiebreak" if len(left) == 1 else "first")


# --- the plan of a comparison ----------------------------------------------------------------

TUNE_KEYS = (
    "batch",
    "extend",
    "halving",
    "method",
    "metric",
    "n_trials",
    "preset",
    "seed",
    "seeds",
    "space",
    "spaces",
    "sweep",
)
HALVING_KEYS = ("eta", "min_epochs", "min_top")


@dataclass(frozen=True)
class Plan:
    """The searches of one comparison: one :class:`Search` per optimizer, all with the same
    method, number of trials, seed and batch, and the same rungs (epochs, candidates) on the
    same tuning seeds. ``extend``: how often an edge may be widened (0: never)."""

    searches: dict[str, Search]
    rungs: tuple[tuple[int, int], ...]
    trial_seeds: tuple[int, ...]
    metric: str
    extend: int

    def widen(self, optimizer: str, flags: Mapping[str, str]) -> tuple[Plan, list[str]]:
        """The plan with ``optimizer``'s space widened at its flagged edges
        (:func:`spaces.extend`, at most ``extend`` times per dimension), and what was done."""
        search = self.searches[optimizer]
        space, notes = extend(search.space, flags, self.extend)
        searches = {**self.searches, optimizer: replace(search, space=space)}
        return replace(self, searches=searches), notes

    def epochs_budget(self) -> int:
        """The training epochs one optimizer's search costs (the same for every one)."""
        return budget_epochs(self.rungs, self.trial_seeds)


def budget_epochs(rungs: Sequence[tuple[int, int]], trial_seeds: Sequence[int]) -> int:
    """The training epochs of one search: each rung's candidates x its epochs, per seed."""
    return sum(e * n for e, n in rungs) * len(trial_seeds)


def _equal(what: str, per_optimizer: Mapping[str, Any]) -> Any:
    """The one value of ``what`` that every optimizer has, else a ValueError naming them."""
    values = set(per_optimizer.values())
    if len(values) != 1:
        listed = ", ".join(f"{o}={v}" for o, v in sorted(per_optimizer.items()))
        raise ValueError(
            f"unequal budgets: {what} {listed}; every optimizer of a comparison needs the same"
        )
    return values.pop()


def _unknown(where: str, given: Mapping, valid: Sequence[str]) -> None:
    unknown = sorted(set(given) - set(valid))
    if unknown:
        raise ValueError(f"{where}: unknown key {', '.join(unknown)}; valid: {', '.join(valid)}")


def _with_sweep(tune: Mapping[str, Any], metrics: Mapping[str, str]) -> dict[str, Any]:
    """A tune block with its ``sweep`` (a pasted W&B sweep) turned into our keys."""
    if "sweep" not in tune:
        return dict(tune)
    from_sweep = sweep_to_tune(tune["sweep"], metrics)
    both = sorted(set(from_sweep) & set(tune))
    if both:
        raise ValueError(f"tune: the sweep sets {', '.join(both)} already; remove them from tune")
    return {**{k: v for k, v in tune.items() if k != "sweep"}, **from_sweep}


def _rungs(halving: Mapping[str, int] | None, epochs: int, n: int) -> tuple[tuple[int, int], ...]:
    if not halving:
        return ((epochs, n),)
    _unknown("tune.halving", halving, HALVING_KEYS)
    if "min_epochs" not in halving:
        raise ValueError("tune.halving needs min_epochs")
    return rung_plan(
        epochs, n, halving.get("eta", 3), halving["min_epochs"], halving.get("min_top", 2)
    )


def plan_comparison(
    tune: Mapping[str, Any],
    optimizers: Sequence[str],
    epochs: Mapping[str, int],
    final_seeds: Sequence[int],
    metrics: Mapping[str, str],
    configured: Mapping[str, Mapping[str, Any]] | None = None,
) -> Plan:
    """The plan of a tune block for the ``optimizers`` of one comparison. ``epochs``: each
    optimizer's training epochs (they must be equal); ``metrics``: metric name -> goal (the
    first is the default); ``configured``: each optimizer's configured hyper-parameters.

    Defaults: ``method`` grid when every space is a grid, else random; ``n_trials`` the
    grid's size (required otherwise); ``batch`` 1; ``seed`` 0; ``seeds`` (the trials') one
    seed after the finals' largest; ``extend`` 0; without ``halving`` one rung at the full
    budget."""
    _unknown("tune", tune, TUNE_KEYS)
    tune = _with_sweep(tune, metrics)
    metric = tune.get("metric", next(iter(metrics)))
    if metric not in metrics:
        raise ValueError(f"tune: metric {metric!r}; valid: {', '.join(metrics)}")
    spaces = optimizer_spaces(tune, optimizers, configured)
    grids = all(s.size() is not None for s in spaces.values())
    method = tune.get("method", "grid" if grids else "random")
    if "n_trials" in tune:
        n_trials = tune["n_trials"]
    elif method == "grid":
        n_trials = _equal("grid points", {o: len(grid_points(s)) for o, s in spaces.items()})
    else:
        raise ValueError(f"tune: method {method} needs n_trials")
    searches = {
        opt: Search(
            space,
            method,
            n_trials,
            seed=tune.get("seed", 0),
            batch=tune.get("batch", 1),
            goal=metrics[metric],
        )
        for opt, space in spaces.items()
    }
    missing = sorted(set(optimizers) - set(epochs))
    if missing:
        raise ValueError(f"epochs of {', '.join(missing)} missing")
    full = _equal("epochs", {o: epochs[o] for o in optimizers})
    rungs = _rungs(tune.get("halving"), full, n_trials)
    trial_seeds = tuple(tune.get("seeds", (max(final_seeds, default=-1) + 1,)))
    check_seeds(trial_seeds, final_seeds)
    extend = tune.get("extend", 0)
    if not isinstance(extend, int) or isinstance(extend, bool) or extend < 0:
        raise ValueError(f"tune: extend must be an integer >= 0, got {extend!r}")
    return Plan(searches, rungs, trial_seeds, metric, extend)
