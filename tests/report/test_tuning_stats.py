"""Tuning statistics against brute force and hand computations on known inputs."""

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from nnstudy.analysis import progress
from nnstudy.analysis.comparisons import Comparison
from nnstudy.tuning import stats as tuning_stats


def _enumerate_max(values, n):
    """Mean and sd of the max over every one of the len(values)**n equally likely draws."""
    maxima = np.array([max(draw) for draw in itertools.product(values, repeat=n)])
    return maxima.mean(), maxima.std()


@pytest.mark.parametrize("values", [[0.5, 0.7, 0.7, 0.9], [0.3, 0.8, 0.1], [0.6]])
def test_expected_max_equals_exact_enumeration(values):
    curve = tuning_stats.expected_max(values, n_max=4)
    assert list(curve["n"]) == [1, 2, 3, 4]
    for _, row in curve.iterrows():
        mean, sd = _enumerate_max(values, int(row["n"]))
        assert row["mean"] == pytest.approx(mean, abs=1e-12)
        assert row["std"] == pytest.approx(sd, abs=1e-7)


def test_expected_max_matches_monte_carlo():
    rng = np.random.default_rng(7)
    values = rng.uniform(0.4, 0.95, size=9)
    curve = tuning_stats.expected_max(values, n_max=12).set_index("n")
    draws = rng.choice(values, size=(200_000, 12), replace=True)
    for n in (1, 3, 12):
        maxima = draws[:, :n].max(axis=1)
        assert curve.loc[n, "mean"] == pytest.approx(maxima.mean(), abs=2e-3)
        assert curve.loc[n, "std"] == pytest.approx(maxima.std(), abs=2e-3)


def test_expected_max_limits():
    values = [0.2, 0.9, 0.5, 0.4]
    curve = tuning_stats.expected_max(values, n_max=200)
    assert curve["mean"].iloc[0] == pytest.approx(np.mean(values))
    assert curve["std"].iloc[0] == pytest.approx(np.std(values))
    assert curve["mean"].iloc[-1] == pytest.approx(0.9, abs=1e-9)
    assert (np.diff(curve["mean"]) >= -1e-12).all()  # non-decreasing up to rounding


@pytest.mark.parametrize("bad", [[], [0.5, math.nan]])
def test_expected_max_refuses_empty_or_nan(bad):
    with pytest.raises(ValueError, match="finite values"):
        tuning_stats.expected_max(bad)


def _trial(variant, opt, lr, value, *, rung=0, status="ok", default=False, selected=False):
    return {
        "experiment": "e",
        "dataset": "d",
        "variant": variant,
        "optimizer": opt,
        "activation": "relu",
        "initializer": "he",
        "lr": lr,
        "tuned": "lr",
        "rung": rung,
        "budget_epochs": 2 * (rung + 1),
        "epochs_run": 2 * (rung + 1),
        "seed": 0,
        "run_id": f"{variant}{lr}{rung}",
        "status": status,
        "val_accuracy": value,
        "val_loss": 1.0,
        "best_val_accuracy": value,
        "train_seconds": 0.5,
        "is_default": default,
        "selected": selected,
    }


def _trials():
    """Three variants on a 3-point lr grid. At the defaults a > b > c; tuned, c > a > b."""
    return pd.DataFrame(
        [
            _trial("a", "adam", 1e-3, 0.80, default=True),
            _trial("a", "adam", 1e-2, 0.85, selected=True),
            _trial("a", "adam", 1e-1, 0.50),
            _trial("b", "sgd", 1e-3, 0.60),
            _trial("b", "sgd", 1e-2, 0.70, default=True, selected=True),
            _trial("b", "sgd", 1e-1, math.nan, status="diverged"),
            _trial("c", "momentum", 1e-3, 0.55, default=True),
            _trial("c", "momentum", 1e-2, 0.65),
            _trial("c", "momentum", 1e-1, 0.90, selected=True),
        ]
    )


def test_default_vs_tuned_ranks_both_sides_at_one_budget():
    table = tuning_stats.default_vs_tuned(_trials()).set_index("variant")
    assert table.loc[["a", "b", "c"], "default_rank"].tolist() == [1, 2, 3]
    assert table.loc[["a", "b", "c"], "tuned_rank"].tolist() == [2, 3, 1]
    assert table.loc["c", "tuned_setting"] == "lr=0.1"
    assert table.loc["c", "default_setting"] == "lr=0.001"
    assert table.loc["b", "tuned_value"] == 0.70
    assert set(table["budget"]) == {2}


def test_ties_share_a_rank():
    trials = _trials()
    # Tuned, all three reach 0.9: one three-way tie for rank 1.
    trials.loc[trials["selected"], "val_accuracy"] = 0.9
    table = tuning_stats.default_vs_tuned(trials).set_index("variant")
    assert table["tuned_rank"].tolist() == [1, 1, 1]


def test_tuned_and_default_are_compared_at_equal_epochs():
    trials = _trials()
    # Halving: every selected candidate went on to rung 1 (4 epochs), a's default too; b's and
    # c's defaults stopped at rung 0. Both sides are read at rung 0 (2 epochs), never the
    # tuned side's 4 epochs against the defaults' 2.
    for v, opt, lr in (("a", "adam", 1e-2), ("b", "sgd", 1e-2), ("c", "momentum", 1e-1)):
        trials.loc[len(trials)] = _trial(v, opt, lr, 0.99, rung=1, selected=True)
    trials.loc[len(trials)] = _trial("a", "adam", 1e-3, 0.98, rung=1, default=True)
    table = tuning_stats.default_vs_tuned(trials).set_index("variant")
    assert set(table["budget"]) == {2}
    assert table.loc["a", "default_value"] == 0.80 and table.loc["a", "tuned_value"] == 0.85
    assert table.loc["c", "tuned_value"] == 0.90
    # Without c's default, c has no default rank; the others keep theirs.
    trials = trials[~((trials["variant"] == "c") & trials["is_default"])]
    table = tuning_stats.default_vs_tuned(trials).set_index("variant")
    assert pd.isna(table.loc["c", "default_rank"]) and pd.isna(table.loc["c", "default_setting"])
    assert table.loc[["a", "b"], "default_rank"].tolist() == [1, 2]


def test_sensitivity_marks_chosen_and_diverged():
    trials = _trials().assign(dropout=0.0, tuned="lr;dropout")
    # A second tuned setting: the best candidate over dropout is drawn at each lr.
    extra = _trial("c", "momentum", 1e-2, 0.75) | {"dropout": 0.1, "tuned": "lr;dropout"}
    trials = pd.concat([trials, pd.DataFrame([extra])], ignore_index=True)
    sens = tuning_stats.sensitivity(trials, "lr").set_index(["variant", "lr"])
    assert sens.loc[("c", 1e-2), "val_accuracy"] == 0.75
    assert sens.loc[("c", 1e-1), "chosen"] and not sens.loc[("c", 1e-2), "chosen"]
    assert sens.loc[("b", 1e-1), "diverged"] and sens.loc[("b", 1e-1), "val_accuracy"] == 0.0
    assert len(sens) == 9


def test_candidates_average_trial_seeds_and_count_shared_trials_once():
    trials = _trials()
    # A second trial seed of a's lr 1e-2 candidate, and the whole search listed again under a
    # second experiment (trials.csv has one row per experiment and trial run).
    seed1 = _trial("a", "adam", 1e-2, 0.75, selected=True) | {"seed": 1, "run_id": "a-s1"}
    again = _trials().assign(experiment="f")
    trials = pd.concat([trials, pd.DataFrame([seed1]), again], ignore_index=True)
    cands = tuning_stats.candidates(trials).set_index(["variant", "lr"])
    assert len(cands) == 9
    assert cands.loc[("a", 1e-2), "value"] == pytest.approx(0.80)
    assert cands.loc[("a", 1e-2), "seeds"] == 2
    assert cands.loc[("b", 1e-1), "diverged"] and cands.loc[("b", 1e-1), "value"] == 0.0
    table = tuning_stats.default_vs_tuned(trials).set_index("variant")
    assert table.loc["a", "tuned_value"] == pytest.approx(0.80)
    budget = tuning_stats.tuning_budget(trials).set_index("optimizer")
    assert budget.loc["adam", "trials"] == 4 and budget.loc["adam", "settings"] == 3


def test_expected_max_curves_use_first_rung_and_lead_variants_use_validation():
    trials = _trials()
    trials.loc[len(trials)] = _trial("a", "adam", 1e-2, 0.99, rung=1)
    curves = tuning_stats.expected_max_curves(trials)
    b = curves[curves["variant"] == "b"].set_index("n")
    ref = tuning_stats.expected_max([0.6, 0.7, 0.0]).set_index("n")
    assert b["mean"].to_numpy() == pytest.approx(ref["mean"].to_numpy())
    assert (b["low"].iloc[0], b["high"].iloc[0], b["n_trials"].iloc[0]) == (0.0, 0.7, 3)
    a = curves[curves["variant"] == "a"]
    assert a["high"].iloc[0] == 0.85  # the rung-1 trial is a larger budget: not a draw
    lead = tuning_stats.lead_variants(trials)
    assert dict(zip(lead["optimizer"], lead["variant"], strict=True)) == {
        "adam": "a",
        "momentum": "c",
        "sgd": "b",
    }


def test_tuning_budget_counts_epochs_per_optimizer():
    trials = _trials()
    trials.loc[len(trials)] = _trial("a", "adam", 1e-2, 0.9, rung=1)
    trials.loc[len(trials)] = _trial("a", "adam", 1e-4, math.nan, status="failed")
    budget = tuning_stats.tuning_budget(trials).set_index("optimizer")
    assert budget.loc["adam", "trials"] == 5
    assert budget.loc["adam", "settings"] == 4
    assert budget.loc["adam", "epochs"] == 2 + 2 + 2 + 4 + 2
    assert budget.loc["adam", "failed"] == 1
    assert budget.loc["sgd", "epochs"] == 6 and budget.loc["sgd", "seconds"] == 1.5


def _history(run_id, accs):
    return pd.DataFrame(
        {"run_id": run_id, "epoch": np.arange(1, len(accs) + 1), "val_accuracy": accs}
    )


def test_time_to_target_in_epochs_and_steps_by_hand():
    histories = pd.concat(
        [
            _history("r1", [0.5, 0.96, 0.99, 1.0]),
            _history("r2", [0.9, 0.95, 0.97, 0.98]),
            _history("r3", [0.96, 0.97, 0.98, 0.985]),
            _history("s1", [0.1, 0.2, 0.94, 0.96]),
            _history("s2", [0.1, math.nan, 0.5, 0.6]),
        ]
    )
    runs = pd.DataFrame(
        {"status": "ok", "steps_per_epoch": [10, 10, 10, 7, 7]},
        index=["r1", "r2", "r3", "s1", "s2"],
    )
    comparison = Comparison(
        experiment="e",
        dataset="d",
        factors=("optimizer",),
        fixed=(),
        variants=("fast", "slow"),
        levels={"fast": {"optimizer": "adam"}, "slow": {"optimizer": "sgd"}},
        seeds=(0, 1, 2),
        runs={("fast", 0): "r1", ("fast", 1): "r2", ("fast", 2): "r3",
              ("slow", 0): "s1", ("slow", 1): "s2"},
    )  # fmt: skip
    got = progress.time_to_target(comparison, runs, histories, fractions=(0.95, 0.99))
    got = got.set_index(["variant", "fraction"])
    # The bar: fast's median curve (0.9, 0.96, 0.98, 0.985) peaks at 0.985 (r1's 1.0 alone
    # does not count). Target 0.95 x 0.985: r1 epoch 2, r2 epoch 2, r3 epoch 1.
    fast = got.loc[("fast", 0.95)]
    assert fast["best"] == pytest.approx(0.985)
    assert (fast["reached"], fast["runs"], fast["epochs"], fast["steps"]) == (3, 3, 2.0, 20.0)
    # 0.99 x 0.985 = 0.975: r1 epoch 3, r2 epoch 4, r3 epoch 3.
    slowest = got.loc[("fast", 0.99)]
    assert (slowest["reached"], slowest["epochs"], slowest["steps"]) == (3, 3.0, 30.0)
    # slow at 0.95: s1 at epoch 4, s2 never -> median of (4, inf) = inf.
    assert got.loc[("slow", 0.95), "reached"] == 1 and math.isinf(got.loc[("slow", 0.95), "epochs"])
