"""The paired two-level bootstrap and what is read from it, against brute-force loops."""

import numpy as np
import pytest
from nnstudy.analysis import uncertainty as unc
from scipy import stats


def _outcomes(rng, n_variants=4, n_seeds=4, n_examples=30, accuracy=(0.9, 0.8, 0.85, 0.7)):
    p = np.asarray(accuracy)[:n_variants, None, None]
    return rng.random((n_variants, n_seeds, n_examples)) < p


def _brute_force(correct, present, n_boot, seed):
    """The documented draw protocol with explicit index resampling, one replicate at a time."""
    rng = np.random.default_rng(seed)
    n_variants, n_seeds, n_examples = correct.shape
    means = np.empty((n_boot, n_variants))
    runs_per_replicate = []
    for b in range(n_boot):
        u = rng.random(n_seeds)
        idx = rng.integers(0, n_examples, n_examples)
        drawn = {}
        for v in range(n_variants):
            runs = np.flatnonzero(present[v])
            seeds = runs[np.floor(u[: runs.size] * runs.size).astype(int)]
            per_run = correct[v][seeds][:, idx].mean(axis=1)
            means[b, v] = per_run.mean() if seeds.size else np.nan
            drawn[v] = per_run
        runs_per_replicate.append(drawn)
    return means, runs_per_replicate


@pytest.fixture
def comparison():
    rng = np.random.default_rng(7)
    correct = _outcomes(rng)
    present = np.ones(correct.shape[:2], dtype=bool)
    present[2, 1] = False  # a failed run
    # The failed run's row holds garbage that must be ignored.
    correct[2, 1] = True
    return correct, present


def test_vectorised_bootstrap_equals_brute_force_loop(comparison):
    correct, present = comparison
    boot = unc.paired_bootstrap(correct, present, n_boot=60, rng=np.random.default_rng(3))
    means, runs = _brute_force(correct, present, 60, 3)
    np.testing.assert_allclose(boot.replicate_means, means, rtol=0, atol=1e-12)
    for b in (0, 17, 59):
        for v in range(correct.shape[0]):
            got = np.repeat(boot.replicate_accuracy[b, v], boot.seed_counts[b, v])
            np.testing.assert_allclose(np.sort(got), np.sort(runs[b][v]), atol=1e-12)
    expected = [correct[v][present[v]].mean() for v in range(correct.shape[0])]
    np.testing.assert_allclose(boot.observed, expected)


def test_chunking_does_not_change_the_numbers(comparison, monkeypatch):
    correct, present = comparison
    whole = unc.paired_bootstrap(correct, present, n_boot=50, rng=np.random.default_rng(1))
    monkeypatch.setattr(unc, "CHUNK_BYTES", 4 * correct.shape[2] * 7)  # chunks of 7 replicates
    chunked = unc.paired_bootstrap(correct, present, n_boot=50, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(whole.replicate_means, chunked.replicate_means)


def test_same_seed_same_numbers_other_seed_other_numbers(comparison):
    correct, present = comparison
    a, b, c = (
        unc.paired_bootstrap(correct, present, n_boot=20, rng=np.random.default_rng(s))
        for s in (5, 5, 6)
    )
    np.testing.assert_array_equal(a.replicate_means, b.replicate_means)
    assert not np.array_equal(a.replicate_means, c.replicate_means)


def test_full_variants_share_the_resampled_seeds_and_examples():
    # Variant 1 is variant 0 with one example flipped to correct: every replicate of the
    # difference is then that example's weight / N, never negative (pairing kept).
    rng = np.random.default_rng(0)
    correct = _outcomes(rng, n_variants=2, accuracy=(0.8, 0.8))
    correct[1] = correct[0]
    correct[1, :, 0] = True
    correct[0, :, 0] = False
    boot = unc.paired_bootstrap(correct, n_boot=300, rng=rng)
    diff = boot.replicate_means @ [-1.0, 1.0]
    assert diff.min() >= 0
    assert np.isclose(diff.mean(), 1 / correct.shape[2], rtol=0.2)


def test_percentile_and_contrast_intervals_from_the_replicates(comparison):
    correct, present = comparison
    boot = unc.paired_bootstrap(correct, present, n_boot=400, rng=np.random.default_rng(2))
    means, _ = _brute_force(correct, present, 400, 2)
    table = unc.percentile_intervals(boot, 0.9)
    np.testing.assert_allclose(table["low"], np.percentile(means, 5, axis=0))
    np.testing.assert_allclose(table["high"], np.percentile(means, 95, axis=0))
    assert list(table["n_seeds"]) == [4, 4, 3, 4]
    diff = unc.contrast_interval(boot, unc.difference_weights(4, 0, 3))
    brute = means[:, 0] - means[:, 3]
    assert diff["estimate"] == pytest.approx(boot.observed[0] - boot.observed[3])
    assert diff["low"] == pytest.approx(np.percentile(brute, 2.5))
    assert diff["high"] == pytest.approx(np.percentile(brute, 97.5))


def test_level_weights_are_main_effect_contrasts():
    levels = ["adam", "adam", "sgd", "sgd", "rmsprop"]
    np.testing.assert_allclose(unc.level_weights(levels, "adam", "sgd"), [0.5, 0.5, -0.5, -0.5, 0])
    np.testing.assert_allclose(
        unc.level_weights(levels, "rmsprop"), np.array([0, 0, 0, 0, 1]) - 0.2
    )
    with pytest.raises(ValueError, match="unknown level 'lion'; valid: adam, rmsprop, sgd"):
        unc.level_weights(levels, "lion")


def test_rank_probabilities_match_brute_force_with_ties():
    rng = np.random.default_rng(4)
    correct = _outcomes(rng, accuracy=(0.8, 0.8, 0.78, 0.6))
    correct[1] = correct[0]  # two identical variants: tied in every replicate
    boot = unc.paired_bootstrap(correct, n_boot=500, rng=rng)
    table = unc.rank_probabilities(boot)
    p_first, ranks = np.zeros(4), []
    for m in boot.replicate_means:
        best = np.flatnonzero(m == m.max())
        p_first[best] += 1 / best.size / len(boot.replicate_means)
        ranks.append([1 + np.sum(m > x) + (np.sum(m == x) - 1) / 2 for x in m])
    np.testing.assert_allclose(table["p_first"], p_first)
    assert table["p_first"].sum() == pytest.approx(1)
    assert table["p_first"][0] == table["p_first"][1]
    ranks = np.array(ranks)
    for v in range(4):
        sorted_ranks = np.sort(ranks[:, v])
        assert table["rank_low"][v] == sorted_ranks[int(np.ceil(0.025 * 500)) - 1]
        assert table["rank_high"][v] == sorted_ranks[int(np.ceil(0.975 * 500)) - 1]
    assert table["rank"][0] == table["rank"][1] == 1.5


def test_poi_is_mann_whitney_u_over_m_n():
    from rliable import metrics

    rng = np.random.default_rng(5)
    for m, n in ((3, 3), (5, 4), (10, 10)):
        x = rng.integers(85, 95, m) / 100  # ties on purpose
        y = rng.integers(85, 95, n) / 100
        u = stats.mannwhitneyu(x, y, alternative="greater").statistic
        assert unc.probability_of_improvement(x, y) == pytest.approx(u / (m * n))
        expected = metrics.probability_of_improvement(x[:, None], y[:, None])
        assert unc.probability_of_improvement(x, y) == pytest.approx(expected)
    assert unc.probability_of_improvement([0.9, 0.9], [0.9]) == 0.5


def test_poi_interval_from_replicates_matches_brute_force(comparison):
    correct, present = comparison
    boot = unc.paired_bootstrap(correct, present, n_boot=200, rng=np.random.default_rng(8))
    _, runs = _brute_force(correct, present, 200, 8)
    table = unc.improvement_probabilities(boot, reference=0)
    for v in (1, 2, 3):
        reps = [stats.mannwhitneyu(r[v], r[0]).statistic / (r[v].size * r[0].size) for r in runs]
        assert table["low"][v] == pytest.approx(np.percentile(reps, 2.5))
        assert table["high"][v] == pytest.approx(np.percentile(reps, 97.5))
        x = correct[v][present[v]].mean(axis=1)
        y = correct[0].mean(axis=1)
        assert table["poi"][v] == pytest.approx(unc.probability_of_improvement(x, y))
    assert np.isnan(table["poi"][0])


def test_variant_without_runs_is_left_out():
    rng = np.random.default_rng(9)
    correct = _outcomes(rng, n_variants=3)
    present = np.ones((3, 4), dtype=bool)
    present[1] = False
    boot = unc.paired_bootstrap(correct, present, n_boot=100, rng=rng)
    assert np.isnan(boot.observed[1]) and np.isnan(boot.replicate_means[:, 1]).all()
    ranks = unc.rank_probabilities(boot)
    assert np.isnan(ranks["p_first"][1]) and ranks["p_first"].sum() == pytest.approx(1)
    with pytest.raises(ValueError, match="without any run in the contrast: 1"):
        unc.contrast_interval(boot, [1, -1, 0])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"correct": np.zeros((2, 3))}, r"shape \(variants, seeds, examples\)"),
        ({"correct": np.full((2, 3, 4), np.nan)}, "mark missing runs in present"),
        ({"present": np.ones((2, 2), dtype=bool)}, "present must be a bool array of shape"),
        ({"rng": 1}, "numpy.random.Generator"),
        ({"n_boot": 0}, "n_boot must be >= 1"),
        ({"variants": ["a", "a"]}, "2 distinct names"),
    ],
)
def test_bad_input_is_a_clear_value_error(kwargs, message):
    args = {"correct": np.ones((2, 3, 4), dtype=bool), "rng": np.random.default_rng(0)} | kwargs
    correct = args.pop("correct")
    with pytest.raises(ValueError, match=message):
        unc.paired_bootstrap(correct, **args)


def test_unknown_reference_lists_the_variants():
    boot = unc.paired_bootstrap(
        np.ones((2, 2, 5), dtype=bool), n_boot=5, rng=np.random.default_rng(0), variants=["a", "b"]
    )
    with pytest.raises(ValueError, match="unknown variant 'c'; valid: a, b"):
        unc.improvement_probabilities(boot, "c")
