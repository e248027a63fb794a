"""What an experiment trains, tuning included: epochs per dataset, for a cost estimate.

A tuned experiment (:func:`nnstudy.tuning.plan.plan_experiment`) trains, per variant, its
search's trials (:func:`search.budget_epochs`: every rung's candidates x the rung's epochs x
the tuning seeds; ``stages`` > 1 counts that many full searches, the most ``tune.extend`` can
add per widened parameter) and then its finals (the experiment's seeds x the full epochs).
An untuned one trains its runs (:func:`nnstudy.config.runs.study_rows`). Epochs times the
measured seconds per epoch of the dataset's shape give core-seconds
(``benchmarks/bench_tuning_cost.py``)."""

from __future__ import annotations

import copy
from typing import Any

from nnstudy.config.runs import study_rows, unique_runs
from nnstudy.tuning.plan import plan_experiment
from nnstudy.tuning.search import budget_epochs

FIELDS = ("variants", "finals", "final_epochs", "trials", "trial_epochs")


def experiment_epochs(
    config: dict[str, Any], name: str, stages: int = 1
) -> dict[str, dict[str, int]]:
    """dataset -> ``variants``, ``finals`` (runs that the ranking uses), ``final_epochs``,
    ``trials`` (tuning runs) and ``trial_epochs`` of experiment ``name`` of a validated
    config; ``stages``: the searches per variant to count (1 without ``extend``)."""
    if not isinstance(stages, int) or stages < 1:
        raise ValueError(f"stages must be an integer >= 1, got {stages!r}")
    out: dict[str, dict[str, int]] = {}

    def add(dataset: str, **counts: int) -> None:
        row = out.setdefault(dataset, dict.fromkeys(FIELDS, 0))
        for key, value in counts.items():
            row[key] += value

    if config["experiments"][name].get("tune"):
        for t in plan_experiment(config, name):
            epochs = t.source.base["epochs"]
            add(
                t.dataset,
                variants=1,
                finals=len(t.seeds),
                final_epochs=len(t.seeds) * epochs,
                trials=stages * sum(n for _, n in t.rungs) * len(t.trial_seeds),
                trial_epochs=stages * budget_epochs(t.rungs, t.trial_seeds),
            )
        return out
    only = {**copy.deepcopy(config), "select": [name]}
    runs = unique_runs(study_rows(only)).values()
    for run in runs:
        add(run["dataset"], finals=1, final_epochs=run["epochs"])
    for dataset in out:
        out[dataset]["variants"] = len({_variant(r) for r in runs if r["dataset"] == dataset})
    return out


def _variant(run: dict) -> str:
    return repr(sorted((k, repr(v)) for k, v in run.items() if k not in ("seed", "run_id")))
