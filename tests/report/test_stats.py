"""Statistics against scipy and hand computations on known inputs."""

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from nnstudy.analysis import stats
from scipy import stats as sps


def _runs(values: dict, seeds=(0, 1, 2)) -> pd.DataFrame:
    """A runs table from {(dataset, optimizer, activation): [metric per seed]}."""
    rows = []
    for (dataset, opt, act), accs in values.items():
        for seed, acc in zip(seeds, accs, strict=True):
            rows.append(
                {
                    "dataset": dataset,
                    "variant": f"{opt} / {act}",
                    "optimizer": opt,
                    "activation": act,
                    "initializer": "he_normal",
                    "seed": seed,
                    "status": "ok",
                    "test_accuracy": acc,
                    "train_seconds": 1.0,
                }
            )
    return pd.DataFrame(rows)


def test_t_interval_matches_scipy():
    x = [0.91, 0.93, 0.95, 0.90]
    got = stats.t_interval(x)
    low, high = sps.t.interval(0.95, df=3, loc=np.mean(x), scale=sps.sem(x))
    assert got["n"] == 4
    assert got["mean"] == pytest.approx(np.mean(x))
    assert got["std"] == pytest.approx(np.std(x, ddof=1))
    assert (got["ci_low"], got["ci_high"]) == pytest.approx((low, high))


def test_single_value_has_no_ci_not_zero():
    got = stats.t_interval([0.9])
    assert got["mean"] == 0.9
    assert math.isnan(got["std"]) and math.isnan(got["ci_low"]) and math.isnan(got["ci_high"])


def test_holm_hand_computed():
    # Sorted: .005*4=.02, .01*3=.03, .03*2=.06, .04*1=.04 -> monotone max .06.
    got = stats.holm([0.01, 0.04, 0.03, 0.005])
    assert got == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    with_nan = stats.holm([0.01, math.nan, 0.02])
    assert math.isnan(with_nan[1]) and with_nan[[0, 2]] == pytest.approx([0.02, 0.02])


def test_compare_paired_matches_ttest_rel():
    a = pd.Series([0.9, 0.92, 0.95], index=[0, 1, 2])
    b = pd.Series([0.85, 0.91, 0.9], index=[2, 0, 1])  # same seeds, other order
    got = stats.compare(a, b)
    ref = sps.ttest_rel(a.to_numpy(), b.loc[[0, 1, 2]].to_numpy())
    assert got["test"] == "paired t"
    assert got["p"] == pytest.approx(ref.pvalue)
    assert got["statistic"] == pytest.approx(ref.statistic)
    ci = ref.confidence_interval(0.95)
    assert (got["diff_low"], got["diff_high"]) == pytest.approx((ci.low, ci.high))


def test_compare_welch_when_seeds_differ():
    a = pd.Series([0.9, 0.92, 0.95], index=[0, 1, 2])
    b = pd.Series([0.85, 0.91], index=[0, 5])
    got = stats.compare(a, b)
    ref = sps.ttest_ind(a, b, equal_var=False)
    assert got["test"] == "Welch t"
    assert got["p"] == pytest.approx(ref.pvalue)


def test_compare_one_seed_is_not_available():
    got = stats.compare(pd.Series([0.9], index=[0]), pd.Series([0.8], index=[0]))
    assert got["test"] == "n/a" and math.isnan(got["p"])
    assert got["diff"] == pytest.approx(0.1)


def test_compare_identical_runs_is_no_difference():
    a = pd.Series([0.9, 0.8], index=[0, 1])
    assert stats.compare(a, a.copy())["p"] == 1.0


def test_rank_against_best_holm_and_flags():
    values = {
        ("d", "adam", "relu"): [0.95, 0.96, 0.97],
        ("d", "adam", "tanh"): [0.94, 0.97, 0.96],
        ("d", "sgd", "relu"): [0.80, 0.81, 0.79],
        ("d", "sgd", "tanh"): [0.70, 0.72, 0.69],
    }
    table = stats.rank_against_best(_runs(values))
    assert list(table["variant"]) == ["adam / relu", "adam / tanh", "sgd / relu", "sgd / tanh"]
    assert list(table["rank"]) == [1, 2, 3, 4]
    best = np.array(values[("d", "adam", "relu")])
    raw = [
        sps.ttest_rel(values[("d",) + k], best).pvalue
        for k in [("adam", "tanh"), ("sgd", "relu"), ("sgd", "tanh")]
    ]
    assert table["p"].iloc[1:].to_numpy() == pytest.approx(raw)
    assert table["p_holm"].iloc[1:].to_numpy() == pytest.approx(stats.holm(raw))
    assert list(table["indistinguishable"]) == [True, True, False, False]


def test_rank_one_seed_flags_not_available():
    values = {("d", "adam", "relu"): [0.9], ("d", "sgd", "relu"): [0.8]}
    table = stats.rank_against_best(_runs(values, seeds=(0,)))
    assert table["indistinguishable"].iloc[0]
    assert pd.isna(table["indistinguishable"].iloc[1])
    assert math.isnan(table["p_holm"].iloc[1])


def test_main_effects_and_interaction_average_per_seed():
    rng = np.random.default_rng(0)
    values = {
        ("d", o, a): list(rng.uniform(0.5, 1.0, size=3))
        for o, a in itertools.product(["adam", "sgd"], ["relu", "tanh", "gelu"])
    }
    runs = _runs(values)
    effects = stats.main_effects(runs, ["optimizer", "activation"])
    adam = effects[(effects.factor == "optimizer") & (effects.level == "adam")].iloc[0]
    per_seed = np.mean([values[("d", "adam", a)] for a in ["relu", "tanh", "gelu"]], axis=0)
    ref = stats.t_interval(per_seed)
    assert adam["n"] == 3
    assert adam["mean"] == pytest.approx(per_seed.mean())
    assert (adam["ci_low"], adam["ci_high"]) == pytest.approx((ref["ci_low"], ref["ci_high"]))
    inter = stats.interaction(runs)
    cell = inter[(inter.optimizer == "sgd") & (inter.activation == "gelu")].iloc[0]
    assert cell["mean"] == pytest.approx(np.mean(values[("d", "sgd", "gelu")]))
    assert len(inter) == 6


def test_failed_runs_counted_not_averaged():
    values = {("d", "adam", "relu"): [0.9, 0.8, 0.7]}
    runs = _runs(values)
    runs.loc[2, ["status", "test_accuracy"]] = ["failed", math.nan]
    runs.loc[1, "status"] = "diverged"
    summary = stats.summarize_variants(runs, ["optimizer", "activation"])
    row = summary.iloc[0]
    assert (row["n_runs"], row["n"], row["n_failed"], row["n_diverged"]) == (3, 2, 1, 1)
    assert row["mean"] == pytest.approx(0.85)
