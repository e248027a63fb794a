"""The rates the report claims, over many simulated comparisons with a known truth
(uncertainty_sim's probit model: seed effects, example difficulty, variant-by-example effects):
a null (identical variants) is flagged at about the nominal rate, a planted difference of the
size the report calls detectable is found at about the stated 80 % power, and the intervals
cover the true difference. The whole per-comparison pipeline (selection on validation, tests,
Holm) runs in each repetition, as the report's numbers do."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from nnstudy.analysis import inference
from nnstudy.analysis import uncertainty as unc
from nnstudy.analysis.comparisons import Comparison

sys.path.insert(0, str(Path(__file__).parent))
from uncertainty_sim import simulate  # noqa: E402

SEEDS, EXAMPLES = 5, 400
# Binomial bands of +-3.3 sd around the nominal rates for these repetition counts.
NULL_REPS, ALT_REPS = 400, 300


def _comparison(n_variants: int) -> tuple[Comparison, pd.DataFrame]:
    names = tuple(f"v{j}" for j in range(n_variants))
    runs = {(v, s): f"{v}-{s}" for v in names for s in range(SEEDS)}
    comparison = Comparison(
        experiment="sim",
        dataset="d",
        factors=("optimizer",),
        fixed=(),
        variants=names,
        levels={v: {"optimizer": v} for v in names},
        seeds=tuple(range(SEEDS)),
        runs=runs,
    )
    # v0 is best on validation (the selection never sees the test outcomes).
    table = pd.DataFrame(
        {
            "status": "ok",
            "val_accuracy": [0.9 if v == "v0" else 0.8 for v, _ in runs],
        },
        index=list(runs.values()),
    )
    return comparison, table


def _summaries(reps: np.ndarray, n_variants: int) -> list[pd.DataFrame]:
    comparison, runs = _comparison(n_variants)
    present = np.ones((n_variants, SEEDS), bool)
    return [
        inference.summarize(comparison, runs, correct, present, n_boot=20)["variants"]
        for correct in reps
    ]


def test_a_null_comparison_is_flagged_at_about_the_nominal_rate():
    reps = simulate(np.random.default_rng(1), NULL_REPS, [0.9, 0.9, 0.9], SEEDS, EXAMPLES)
    flagged = [
        (v["verdict"].isin(["better", "worse"])).any() for v in _summaries(reps, n_variants=3)
    ]
    # Holm keeps the family-wise rate at or below 5 % (up to Monte Carlo error).
    assert np.mean(flagged) <= 0.05 + 3.3 * np.sqrt(0.05 * 0.95 / NULL_REPS)
    # ... and the test is not mute: a single pair rejects at about 5 %.
    p = np.array([unc.paired_test(x, 1, 0)["p"] for x in reps])
    assert abs(np.mean(p < 0.05) - 0.05) <= 3.3 * np.sqrt(0.05 * 0.95 / NULL_REPS)


def _stated_mde(summaries) -> float:
    return float(np.median([v.set_index("variant").loc["v1", "mde"] for v in summaries]))


def test_a_planted_difference_of_the_stated_detectable_size_is_found_at_about_80_percent():
    # The difference the report calls detectable for a comparison whose true difference is
    # that size (the spread grows as accuracy falls): found from the null's by one step.
    null = simulate(np.random.default_rng(2), 100, [0.9, 0.9], SEEDS, EXAMPLES)
    first = _stated_mde(_summaries(null, 2))
    near = simulate(np.random.default_rng(3), 100, [0.9, 0.9 - first], SEEDS, EXAMPLES)
    mde = _stated_mde(_summaries(near, 2))
    assert 0.01 < mde < 0.1
    planted = simulate(np.random.default_rng(4), ALT_REPS, [0.9, 0.9 - mde], SEEDS, EXAMPLES)
    summaries = _summaries(planted, 2)
    assert _stated_mde(summaries) == pytest.approx(mde, rel=0.1)
    found = [v.set_index("variant").loc["v1", "verdict"] == "worse" for v in summaries]
    assert abs(np.mean(found) - 0.8) <= 3.3 * np.sqrt(0.8 * 0.2 / ALT_REPS)


def test_the_difference_interval_covers_the_truth_at_95_percent():
    delta = 0.02
    reps = simulate(np.random.default_rng(4), ALT_REPS, [0.9, 0.9 - delta], SEEDS, EXAMPLES)
    covered = []
    for x in reps:
        test = unc.paired_test(x, 1, 0)
        covered.append(test["ci_low"] <= -delta <= test["ci_high"])
    assert abs(np.mean(covered) - 0.95) <= 3.3 * np.sqrt(0.95 * 0.05 / ALT_REPS)


@pytest.mark.parametrize("weights", [[0.5, 0.5, -1.0], [1.0, -1.0, 0.0]])
def test_contrast_test_is_the_pair_test_for_a_pair_and_calibrated_for_a_contrast(weights):
    reps = simulate(np.random.default_rng(5), NULL_REPS, [0.9, 0.9, 0.9], SEEDS, EXAMPLES)
    p = np.array([unc.contrast_test(x, weights)["p"] for x in reps])
    assert abs(np.mean(p < 0.05) - 0.05) <= 3.3 * np.sqrt(0.05 * 0.95 / NULL_REPS)
    if weights == [1.0, -1.0, 0.0]:
        pair = [unc.paired_test(x, 0, 1) for x in reps[:20]]
        mine = [unc.contrast_test(x, weights) for x in reps[:20]]
        for a, b in zip(pair, mine, strict=True):
            assert (a["estimate"], a["se"], a["df"]) == pytest.approx(
                (b["estimate"], b["se"], b["df"])
            )
            assert a["p"] == pytest.approx(b["p"])
