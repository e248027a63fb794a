"""Across-dataset ranks, Friedman, Nemenyi and the design's limits, against scipy, autorank,
scikit-posthocs and Demsar's (2006) published numbers."""

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from nnstudy.analysis import ranks
from scipy import stats

# Demsar 2006, Table 5(a): critical values q_alpha of the two-tailed Nemenyi test, k = 2..10.
Q05 = [1.960, 2.343, 2.569, 2.728, 2.850, 2.949, 3.031, 3.102, 3.164]
Q10 = [1.645, 2.052, 2.291, 2.459, 2.589, 2.693, 2.780, 2.855, 2.920]


def _scores(seed=0, n=10, k=5, spread=0.02):
    rng = np.random.default_rng(seed)
    values = 0.9 + spread * np.arange(k) + rng.normal(scale=0.02, size=(n, k))
    return pd.DataFrame(
        values, index=[f"data{i}" for i in range(n)], columns=[f"v{j}" for j in range(k)]
    )


def test_average_ranks_by_hand_with_ties():
    scores = pd.DataFrame({"a": [0.9, 0.8, 0.7], "b": [0.9, 0.9, 0.6], "c": [0.5, 0.95, 0.8]})
    # data 0: a=b tie for first (1.5 each), c third; data 1: c, b, a; data 2: c, a, b.
    expected = {"a": (1.5 + 3 + 2) / 3, "b": (1.5 + 2 + 3) / 3, "c": (3 + 1 + 1) / 3}
    assert ranks.average_ranks(scores).to_dict() == pytest.approx(expected)


def test_average_ranks_match_autorank():
    from autorank import autorank

    scores = _scores(1, n=12, k=4)
    result = autorank(scores, alpha=0.05, force_mode="nonparametric")
    assert ranks.average_ranks(scores).to_dict() == pytest.approx(
        result.rankdf["meanrank"].to_dict()
    )
    # autorank evaluates the studentized range at a large finite df instead of infinity.
    assert result.cd == pytest.approx(ranks.critical_difference(4, 12), rel=1e-4)


@pytest.mark.parametrize("rounded", [False, True])
def test_friedman_matches_scipy(rounded):
    scores = _scores(2, n=8, k=5)
    if rounded:  # many ties within datasets
        scores = scores.round(2)
    got = ranks.friedman(scores)
    expected = stats.friedmanchisquare(*scores.to_numpy().T)
    assert got["statistic"] == pytest.approx(expected.statistic)
    assert got["p"] == pytest.approx(expected.pvalue)


def test_iman_davenport_reproduces_demsar_example():
    # Demsar 2006, section 3.2.2: four classifiers on 14 data sets, chi2_F = 9.28, F_F = 3.69,
    # compared with F(3, 39) = 2.85 at alpha = 0.05.
    f, p = ranks.iman_davenport(9.28, 14, 4)
    assert f == pytest.approx(3.69, abs=0.005)
    assert stats.f.ppf(0.95, 3, 39) == pytest.approx(2.85, abs=0.005)
    assert p < 0.05
    chi2 = ranks.friedman(_scores(3, n=6, k=4))["statistic"]
    f, _ = ranks.iman_davenport(chi2, 6, 4)
    assert f == pytest.approx(5 * chi2 / (6 * 3 - chi2))


@pytest.mark.parametrize(("alpha", "table"), [(0.05, Q05), (0.10, Q10)])
def test_nemenyi_q_matches_demsar_table(alpha, table):
    got = [ranks.nemenyi_q(k, alpha) for k in range(2, 11)]
    np.testing.assert_allclose(got, table, atol=1.5e-3)


def test_critical_difference_published_values():
    assert ranks.critical_difference(4, 14) == pytest.approx(1.25, abs=0.005)  # Demsar 3.2.2
    assert ranks.critical_difference(8, 2) == pytest.approx(7.42, abs=0.005)


def test_significant_pairs_match_scikit_posthocs_nemenyi():
    import scikit_posthocs as sp

    scores = _scores(4, n=20, k=6, spread=0.01)
    result = ranks.nemenyi(scores)
    pvalues = sp.posthoc_nemenyi_friedman(scores.to_numpy())
    for row in result["pairs"].itertuples():
        a, b = int(row.a[1:]), int(row.b[1:])
        assert row.significant == (pvalues.iloc[a, b] < 0.05)
    assert result["pairs"]["significant"].any() and not result["pairs"]["significant"].all()


def test_cliques_are_maximal_runs_within_cd():
    avg = pd.Series({"a": 1.0, "b": 1.5, "c": 2.4, "d": 3.0, "e": 4.9})
    assert ranks.cliques(avg, 1.5) == [["a", "b", "c"], ["b", "c", "d"]]
    assert ranks.cliques(avg, 0.1) == []
    assert ranks.cliques(avg, 10) == [["a", "b", "c", "d", "e"]]
    # The order of the input does not matter, ties keep the given order.
    assert ranks.cliques(avg[::-1], 1.5) == [["a", "b", "c"], ["b", "c", "d"]]
    assert ranks.cliques(pd.Series({"x": 2.0, "y": 2.0, "z": 4.0}), 1.0) == [["x", "y"]]


def test_eight_variants_on_two_datasets_can_never_differ():
    limits = ranks.design_limits(8, 2)
    assert not limits["nemenyi_possible"]
    assert limits["max_rank_gap"] == 7 and limits["cd"] == pytest.approx(7.42, abs=0.005)
    assert "7.42" in limits["reasons"][0] and "needs at least 3 datasets" in limits["reasons"][0]
    assert limits["min_datasets_nemenyi"] == 3
    assert ranks.critical_difference(8, 3) < 7 <= ranks.critical_difference(8, 2)
    # Identical rankings on both datasets give Friedman's largest statistic n (k - 1) = 14 and
    # the smallest p of the chi-square reference, still above 0.05.
    perfect = pd.DataFrame([np.arange(8.0), np.arange(8.0)])
    result = ranks.friedman(perfect)
    assert result["statistic"] == pytest.approx(14)
    assert result["p"] == pytest.approx(limits["friedman_min_p"]) and result["p"] > 0.05
    assert not limits["friedman_possible"] and "can never reject" in limits["reasons"][1]


def test_exact_friedman_minimum_p_by_enumeration():
    k, n = 3, 2
    perms = list(itertools.permutations(range(1, k + 1)))
    stats_ = [
        ranks.friedman(pd.DataFrame([np.array(p1, float), np.array(p2, float)]))["statistic"]
        for p1, p2 in itertools.product(perms, perms)
    ]
    largest = max(stats_)
    exact = np.mean(np.isclose(stats_, largest))
    assert ranks.design_limits(k, n)["friedman_min_p_exact"] == pytest.approx(exact)
    assert exact == pytest.approx(1 / math.factorial(k) ** (n - 1))


def test_a_large_design_has_no_limits():
    limits = ranks.design_limits(4, 14)
    assert limits["nemenyi_possible"] and limits["friedman_possible"] and limits["reasons"] == []


def test_all_tied_datasets_give_no_evidence():
    scores = pd.DataFrame(np.full((3, 4), 0.9))
    result = ranks.friedman(scores)
    assert result["statistic"] == 0 and result["p"] == 1
    assert ranks.average_ranks(scores).tolist() == [2.5] * 4


def test_bad_input_is_a_clear_value_error():
    scores = _scores(n=3, k=3)
    scores.iloc[1, 2] = np.nan
    with pytest.raises(ValueError, match="variant 'v2' has no score on dataset 'data1'"):
        ranks.friedman(scores)
    with pytest.raises(ValueError, match="need >= 2 datasets"):
        ranks.average_ranks(_scores(n=1, k=3))
    with pytest.raises(ValueError, match="need >= 2 datasets for an across-dataset"):
        ranks.design_limits(5, 1)
    with pytest.raises(ValueError, match="must be a DataFrame"):
        ranks.friedman(np.ones((3, 3)))
