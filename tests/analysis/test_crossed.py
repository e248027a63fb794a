"""The crossed seeds x examples test, its degenerate cases, Holm, MDE and seeds needed."""

import math

import numpy as np
import pandas as pd
import pytest
from nnstudy.analysis import uncertainty as unc
from scipy import stats


def _pair(rng, n_seeds, n_examples, accuracy=(0.9, 0.88)):
    return rng.random((2, n_seeds, n_examples)) < np.asarray(accuracy)[:, None, None]


def test_mean_squares_match_statsmodels_two_way_anova():
    from statsmodels.formula.api import ols
    from statsmodels.stats.anova import anova_lm

    rng = np.random.default_rng(0)
    d = rng.integers(-1, 2, (4, 40)) + (rng.random((4, 1)) < 0.5)
    comp = unc.variance_components(d)
    frame = pd.DataFrame(
        {
            "d": d.ravel().astype(float),
            "seed": np.repeat(np.arange(4), 40),
            "example": np.tile(np.arange(40), 4),
        }
    )
    table = anova_lm(ols("d ~ C(seed) + C(example)", data=frame).fit())
    assert comp.ms_seed == pytest.approx(table.loc["C(seed)", "mean_sq"])
    assert comp.ms_example == pytest.approx(table.loc["C(example)", "mean_sq"])
    assert comp.ms_error == pytest.approx(table.loc["Residual", "mean_sq"])


def test_variance_and_satterthwaite_df_by_hand():
    comp = unc.VarianceComponents(5, 100, ms_seed=2.0, ms_example=0.5, ms_error=0.1)
    var = (2.0 + 0.5 - 0.1) / 500
    assert comp.variance() == pytest.approx(var)
    den = (2.0 / 500) ** 2 / 4 + (0.5 / 500) ** 2 / 99 + (0.1 / 500) ** 2 / (4 * 99)
    assert comp.df() == pytest.approx(var**2 / den)
    # Projection: sigma2_seed = 1.9/100, sigma2_example = 0.4/5, sigma2_error = 0.1.
    assert comp.variance(20) == pytest.approx(0.019 / 20 + 0.08 / 100 + 0.1 / 2000)
    # A negative seed component is clipped: only the example-level variance is left.
    clipped = unc.VarianceComponents(5, 100, ms_seed=0.05, ms_example=0.5, ms_error=0.1)
    assert clipped.seed == 0
    assert clipped.variance() == pytest.approx(0.5 / 500)
    assert clipped.df() == pytest.approx(99)


def test_variance_components_match_statsmodels_mixedlm_reml():
    # Balanced crossed design: REML equals the ANOVA estimator when no component is clipped.
    import statsmodels.api as sm

    rng = np.random.default_rng(1)
    y = rng.normal(size=(6, 30)) + rng.normal(scale=0.8, size=(6, 1)) + rng.normal(size=(1, 30))
    frame = pd.DataFrame(
        {"y": y.ravel(), "seed": np.repeat(np.arange(6), 30), "example": np.tile(np.arange(30), 6)}
    )
    frame["group"] = 1
    model = sm.MixedLM.from_formula(
        "y ~ 1",
        groups="group",
        vc_formula={"seed": "0 + C(seed)", "example": "0 + C(example)"},
        data=frame,
    ).fit(reml=True)
    fitted = dict(zip(model.model.exog_vc.names, model.vcomp, strict=True))
    comp = unc.variance_components(y)
    assert comp.seed == pytest.approx(fitted["seed"], rel=1e-3)
    assert comp.example == pytest.approx(fitted["example"], rel=1e-3)
    assert comp.error == pytest.approx(model.scale, rel=1e-3)
    expected = fitted["seed"] / 6 + fitted["example"] / 30 + model.scale / 180
    assert comp.variance() == pytest.approx(expected, rel=1e-3)


def test_identical_predictions_say_no_difference_observed():
    rng = np.random.default_rng(2)
    correct = _pair(rng, 5, 360)
    correct[1] = correct[0]
    rec = unc.paired_test(correct, 1, 0)
    assert rec["method"] == "no difference observed"
    assert rec["estimate"] == 0 and rec["p"] == 1
    bound = 1 - 0.025 ** (1 / 360)
    assert rec["ci_low"] == pytest.approx(-bound) and rec["ci_high"] == pytest.approx(bound)
    # Clopper-Pearson's upper bound for 0 of 360 at 97.5 %, from scipy.
    assert bound == pytest.approx(stats.binomtest(0, 360).proportion_ci(0.95).high)
    assert math.isnan(rec["mde"])


def test_one_seed_is_an_exact_mcnemar_test_and_flagged():
    from statsmodels.stats.contingency_tables import mcnemar

    rng = np.random.default_rng(3)
    correct = _pair(rng, 1, 300, (0.9, 0.85))
    rec = unc.paired_test(correct, 0, 1)
    a, b = correct[0, 0], correct[1, 0]
    table = [[np.sum(a & b), np.sum(a & ~b)], [np.sum(~a & b), np.sum(~a & ~b)]]
    assert rec["p"] == pytest.approx(mcnemar(table, exact=True).pvalue)
    assert rec["method"] == "exact McNemar (one seed)"
    assert not rec["seed_noise_included"] and "seed variation not estimable" in rec["note"]
    d = a.astype(float) - b
    assert rec["se"] == pytest.approx(d.std(ddof=1) / math.sqrt(300))
    assert unc.seeds_needed(rec["components"], 0.02)["reason"] == (
        "seed variance not estimable from one seed"
    )


def test_zero_variance_nonzero_difference_is_a_sign_test():
    correct = np.zeros((2, 3, 12), dtype=bool)
    correct[0] = True
    rec = unc.paired_test(correct, 0, 1)
    assert rec["estimate"] == 1 and rec["method"] == "sign test (zero variance)"
    assert rec["p"] == pytest.approx(2 * 0.5**12)


def test_missing_run_uses_the_seeds_both_ran():
    rng = np.random.default_rng(4)
    correct = _pair(rng, 5, 200)
    present = np.ones((2, 5), dtype=bool)
    present[1, 3] = False
    rec = unc.paired_test(correct, 0, 1, present)
    keep = [0, 1, 2, 4]
    same = unc.paired_test(correct[:, keep], 0, 1)
    assert rec["n_seeds"] == 4
    assert rec["p"] == pytest.approx(same["p"]) and rec["se"] == pytest.approx(same["se"])
    present[0, [0, 1, 2, 4]] = False
    untested = unc.paired_test(correct, 0, 1, present)
    assert untested["method"] == "not tested" and math.isnan(untested["p"])


def test_consistent_two_image_gap_is_not_significant_but_seed_t_says_so():
    # The reviewer's case: on 359 images the variant is 2, 2, 2, 1, 2 images behind on the five
    # seeds. Two models disagree on many images both ways (here 8 wins against 8 + gap losses per
    # seed): the seed spread is tiny, so a seed-only t test calls the gap significant, but the
    # test set's own noise makes a 2-image net gap unremarkable.
    rng = np.random.default_rng(5)
    ref = rng.random((5, 359)) < 0.95
    variant = ref.copy()
    for s, gap in enumerate((2, 2, 2, 1, 2)):
        wins = rng.choice(np.flatnonzero(~ref[s]), 8, replace=False)
        losses = rng.choice(np.flatnonzero(ref[s]), 8 + gap, replace=False)
        variant[s, wins], variant[s, losses] = True, False
    assert list(ref.sum(axis=1) - variant.sum(axis=1)) == [2, 2, 2, 1, 2]
    correct = np.stack([variant, ref])
    seed_t = stats.ttest_rel(variant.mean(axis=1), ref.mean(axis=1)).pvalue
    assert seed_t < 0.001
    assert unc.paired_test(correct, 0, 1)["p"] > 0.2


def test_holm_matches_statsmodels():
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(6)
    for m in (1, 3, 10):
        p = rng.random(m) ** 3
        np.testing.assert_allclose(unc.holm(p), multipletests(p, method="holm")[1])
    p = np.array([0.01, np.nan, 0.04, 0.03])
    expected = multipletests(p[[0, 2, 3]], method="holm")[1]
    np.testing.assert_allclose(unc.holm(p)[[0, 2, 3]], expected)
    assert np.isnan(unc.holm(p)[1])


def test_compare_to_reference_wording_and_holm_family():
    rng = np.random.default_rng(7)
    correct = rng.random((4, 5, 2000)) < np.array([0.9, 0.9, 0.8, 0.9])[:, None, None]
    correct[3] = correct[0]
    table = unc.compare_to_reference(correct, reference=0, variants=["ref", "a", "b", "same"])
    assert list(table["variant"]) == ["a", "b", "same"]
    np.testing.assert_allclose(table["p_holm"], unc.holm(table["p"]))
    verdicts = dict(zip(table["variant"], table["verdict"], strict=True))
    assert verdicts["b"] == "worse"
    assert verdicts["same"] == "no difference observed"
    assert verdicts["a"] == "no difference detected"
    statement = table.set_index("variant").loc["a", "statement"]
    assert "would likely be missed" in statement
    assert not table["statement"].str.contains("equal").any()
    # Holm's first step tests at alpha / 3: it needs a larger difference.
    assert (table["mde_holm"].dropna() > table["mde"].dropna()).all()


@pytest.mark.parametrize("df", [5, 12, 60, 5000])
def test_mde_gives_the_stated_power_by_the_noncentral_t(df):
    se = 0.01
    mde = unc.minimum_detectable_difference(se, df, 0.05, 0.8)
    crit = stats.t.ppf(0.975, df)
    power = stats.nct.sf(crit, df, mde / se) + stats.nct.cdf(-crit, df, mde / se)
    assert power == pytest.approx(0.8, abs=0.015)


def test_seeds_needed_is_the_smallest_sufficient_number():
    comp = unc.VarianceComponents(3, 10_000, ms_seed=0.4, ms_example=0.09, ms_error=0.06)

    def mde(s):
        return unc.minimum_detectable_difference(math.sqrt(comp.variance(s)), comp.df(s))

    for effect in (0.012, 0.008, 0.006):
        n = unc.seeds_needed(comp, effect)["n_seeds"]
        assert mde(n) <= effect < mde(n - 1)
    floor = unc.minimum_detectable_difference(math.sqrt(comp.example / 10_000), 9_999)
    result = unc.seeds_needed(comp, floor * 0.99)
    assert result["n_seeds"] is None and result["reason"].startswith("needs a larger test set")
    with pytest.raises(ValueError, match="effect must be a positive"):
        unc.seeds_needed(comp, 0)


def test_bad_test_input_is_a_clear_value_error():
    correct = np.ones((2, 3, 10), dtype=bool)
    with pytest.raises(ValueError, match="variant and reference are the same"):
        unc.paired_test(correct, 1, 1)
    with pytest.raises(ValueError, match="unknown variant 'x'; valid: a, b"):
        unc.compare_to_reference(correct, "x", variants=["a", "b"])
    with pytest.raises(ValueError, match="weights must be 2 finite numbers"):
        unc.crossed_interval(correct, [0, 0])
