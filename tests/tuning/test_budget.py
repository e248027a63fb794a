"""nnstudy.tuning.budget: both expected-best estimators against brute-force enumeration and
Monte Carlo, the estimator per method, and who leads at which budget."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from nnstudy.tuning.budget import (
    best_so_far,
    budget_curves,
    estimator_for,
    expected_best,
    leaders,
)

SCORES = [0.61, 0.70, 0.70, 0.52, 0.83, 0.66, 0.79]  # a tie, unsorted


def brute_force(scores, n, replace):
    """Mean and std of the best of n over every equally likely draw."""
    draws = itertools.product(scores, repeat=n) if replace else itertools.combinations(scores, n)
    best = np.array([max(d) for d in draws])
    return best.mean(), best.std()


@pytest.mark.parametrize("replace", [True, False])
def test_both_estimators_equal_brute_force_enumeration(replace):
    curve = expected_best(SCORES, replace=replace, n_max=5 if replace else None)
    for row in curve.itertuples():
        mean, std = brute_force(SCORES, row.n, replace)
        assert row.mean == pytest.approx(mean, abs=1e-12)
        assert row.std == pytest.approx(std, abs=1e-9)
        assert min(SCORES) <= row.lower <= row.mean <= row.upper <= max(SCORES)


def test_without_replacement_reaches_the_observed_maximum_and_with_replacement_does_not():
    n = len(SCORES)
    without = expected_best(SCORES, replace=False).set_index("n")
    with_ = expected_best(SCORES, replace=True).set_index("n")
    assert without.loc[n, "mean"] == max(SCORES) and without.loc[n, "std"] == 0
    assert with_.loc[n, "mean"] < max(SCORES)
    assert without.loc[1, "mean"] == pytest.approx(np.mean(SCORES))
    assert with_.loc[1, "mean"] == pytest.approx(np.mean(SCORES))
    assert (without["mean"].to_numpy() >= with_["mean"].to_numpy() - 1e-12).all()


def test_both_estimators_match_monte_carlo_on_a_larger_pool():
    rng = np.random.default_rng(0)
    scores = rng.beta(8, 3, size=40)
    for replace in (True, False):
        curve = expected_best(scores, replace=replace).set_index("n")
        for n in (3, 10, 25):
            best = np.array([rng.choice(scores, n, replace=replace).max() for _ in range(20000)])
            se = best.std() / np.sqrt(best.size)
            assert abs(curve.loc[n, "mean"] - best.mean()) < 4 * se
            assert curve.loc[n, "std"] == pytest.approx(best.std(), rel=0.05)


def test_minimize_is_the_best_of_the_least():
    losses = [0.9, 0.4, 1.3, 0.4, 0.7]
    least = expected_best(losses, replace=False, goal="minimize")
    mirrored = expected_best([-v for v in losses], replace=False)
    assert np.allclose(least["mean"], -mirrored["mean"])
    assert np.allclose(least["lower"], -mirrored["upper"])
    assert least["mean"].iloc[-1] == min(losses)
    assert brute_force([-v for v in losses], 2, False)[0] == pytest.approx(-least["mean"].iloc[1])


def test_bad_scores_raise_one_line():
    with pytest.raises(
        ValueError, match="1 of 3 scores are not finite; give a failed trial its score"
    ):
        expected_best([0.5, np.nan, 0.7], replace=True)
    with pytest.raises(
        ValueError, match=r"n_max must be an integer >= 1 <= 3 \(without replacement\)"
    ):
        expected_best([0.5, 0.6, 0.7], replace=False, n_max=4)
    assert len(expected_best([0.5, 0.6, 0.7], replace=True, n_max=6)) == 6
    with pytest.raises(ValueError, match="unknown search method 'bayes'; valid: grid, random"):
        estimator_for("bayes")


def test_each_method_gets_its_estimator():
    trials = pd.DataFrame(
        {
            "optimizer": ["adam"] * 5 + ["sgd"] * 5,
            "trial": [4, 3, 2, 1, 0] * 2,
            "score": [0.9, 0.5, 0.6, 0.7, 0.4, 0.3, 0.8, 0.6, 0.6, 0.2],
        }
    )
    assert [estimator_for(m) for m in ("grid", "random", "sobol", "tpe")] == [
        "without_replacement",
        "with_replacement",
        "with_replacement",
        "best_so_far",
    ]
    grid = budget_curves(trials, "grid").set_index(["optimizer", "n"])
    assert grid.loc[("adam", 5), "mean"] == 0.9 and grid.loc[("sgd", 5), "mean"] == 0.8
    rand = budget_curves(trials, "random").set_index(["optimizer", "n"])
    assert rand.loc[("adam", 5), "mean"] < 0.9
    tpe = budget_curves(trials, "tpe")
    adam = tpe[tpe["optimizer"] == "adam"]["mean"].tolist()
    assert adam == [0.4, 0.7, 0.7, 0.7, 0.9]  # in trial order (0, 1, ...), not row order
    assert best_so_far([3.0, 1.0, 2.0], goal="minimize")["mean"].tolist() == [3.0, 1.0, 1.0]


def test_the_lead_changes_where_the_curves_cross():
    steady = [0.80] * 8  # always 0.80
    lucky = [0.50] * 7 + [0.95]  # one great trial among poor ones
    trials = pd.DataFrame(
        {
            "optimizer": ["steady"] * 8 + ["lucky"] * 8,
            "trial": list(range(8)) * 2,
            "score": steady + lucky,
        }
    )
    lead = leaders(budget_curves(trials, "grid"))
    # Brute force: the smallest n at which lucky's expected best beats 0.80.
    cross = min(n for n in range(1, 9) if brute_force(lucky, n, False)[0] > 0.80)
    assert lead.set_index("n")["leader"].to_dict() == {
        n: "lucky" if n >= cross else "steady" for n in range(1, 9)
    }
    assert lead.loc[lead["changed"], "n"].tolist() == [cross]
    first = lead.iloc[0]
    assert first["runner_up"] == "lucky" and first["margin"] == pytest.approx(0.80 - np.mean(lucky))
    tied = leaders(
        budget_curves(trials.assign(optimizer=["a"] * 8 + ["b"] * 8, score=steady * 2), "grid")
    )
    assert (
        set(tied["leader"]) == {"a;b"}
        and tied["runner_up"].eq("").all()
        and tied["margin"].isna().all()
    )
