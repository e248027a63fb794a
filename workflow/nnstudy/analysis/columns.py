"""The columns of the statistics tables (written by :mod:`nnstudy.analysis.inference`, read
by the figures, the report and the console). Accuracies and differences are fractions (0.97,
not 97 %); an empty cell is "not available" (and says why in a ``note`` or ``verdict``).

``comparisons.csv``, one row per comparison (an experiment on a dataset):
    ``experiment, dataset, slug`` (the figures' folder), ``factors`` (``;``-joined varying
    factors), ``fixed`` (JSON ``[[factor, level], ...]``), ``variants``, ``seeds``
    (``;``-joined), ``n_test`` (test examples), ``runs``, ``usable`` (runs that count),
    ``reference`` (the variant with the highest mean validation accuracy), ``tied`` (every
    variant with that mean, ``;``-joined; more than one on an exact tie), ``reference_val``,
    ``reference_mean`` / ``reference_low`` / ``reference_high`` (its test accuracy and 95 %
    interval), ``reference_p_first`` (its probability of ranking first on test),
    ``family`` (the tests Holm's correction is over), ``alpha``, ``mde`` and ``mde_holm``
    (the smallest difference to the reference that the study detects with 80 % power at
    ``alpha`` per test, and at Holm's first step ``alpha / family``), ``effect`` (the effect
    the next column is about) and ``seeds_needed`` (seeds for that effect at ``alpha``; empty
    when more seeds cannot reach it because the test set's own noise is larger),
    ``n_boot`` and ``method`` (how intervals and tests were computed).
``variants.csv``, one row per comparison and variant, in validation order:
    ``experiment, dataset, variant, order`` (the experiment's order), ``levels`` (JSON),
    ``runs, usable, diverged, failed``, ``val_mean`` (selection), ``test_mean``, ``seed_sd``,
    ``low, high`` (95 % interval of the test accuracy over seeds and test examples),
    ``p_first`` (probability of ranking first), ``rank_low, rank_high`` (95 % rank interval),
    and against the reference: ``diff, diff_low, diff_high`` (test accuracy minus the
    reference's, with its 95 % interval), ``p, p_holm``, ``poi, poi_low, poi_high``
    (probability of improvement over the reference: that a seed of this variant beats a seed
    of the reference), ``mde`` (the smallest detectable difference of this pair), ``verdict``
    (``reference``, ``worse``, ``better``, ``not distinguishable`` (at this sample size: never "equal"),
    ``no difference observed`` (the same test outcomes for every seed), ``not testable``).
``main_effects.csv``, one row per comparison, varying factor and level:
    ``experiment, dataset, factor, level, variants`` (how many have it), ``val_mean``,
    ``test_mean, low, high`` (the marginal mean over its variants, 95 % interval), ``lead``
    (True on the level with the highest marginal validation accuracy), and on the runner-up's
    row the lead's test difference over it: ``diff, diff_low, diff_high, p, p_holm, mde,
    verdict`` (``better``: the lead is ahead on test, ``worse``: behind).
``interaction.csv``, one row per comparison and cell of its first two varying factors:
    ``experiment, dataset, row_factor, row_level, col_factor, col_level, test_mean, low,
    high``.
``across.csv``, one row per experiment with two datasets or more and variant:
    ``experiment, variant, mean_rank`` (its average rank over the datasets, 1 = best test
    accuracy), ``datasets``, ``variants``, ``friedman_stat, friedman_p`` (chi-square),
    ``cd`` (Nemenyi's critical difference at ``alpha``), ``alpha``, ``never`` (True when the design
    cannot reach significance at all) and ``note`` (why).
"""

COMPARISON_COLUMNS = (
    "experiment",
    "dataset",
    "slug",
    "factors",
    "fixed",
    "variants",
    "seeds",
    "n_test",
    "runs",
    "usable",
    "reference",
    "tied",
    "reference_val",
    "reference_mean",
    "reference_low",
    "reference_high",
    "reference_p_first",
    "family",
    "alpha",
    "mde",
    "mde_holm",
    "effect",
    "seeds_needed",
    "n_boot",
    "method",
)
VARIANT_COLUMNS = (
    "experiment",
    "dataset",
    "variant",
    "order",
    "levels",
    "runs",
    "usable",
    "diverged",
    "failed",
    "val_mean",
    "test_mean",
    "seed_sd",
    "low",
    "high",
    "p_first",
    "rank_low",
    "rank_high",
    "diff",
    "diff_low",
    "diff_high",
    "p",
    "p_holm",
    "poi",
    "poi_low",
    "poi_high",
    "mde",
    "verdict",
)
EFFECT_COLUMNS = (
    "experiment",
    "dataset",
    "factor",
    "level",
    "variants",
    "val_mean",
    "test_mean",
    "low",
    "high",
    "lead",
    "diff",
    "diff_low",
    "diff_high",
    "p",
    "p_holm",
    "mde",
    "verdict",
)
INTERACTION_COLUMNS = (
    "experiment",
    "dataset",
    "row_factor",
    "row_level",
    "col_factor",
    "col_level",
    "test_mean",
    "low",
    "high",
)
ACROSS_COLUMNS = (
    "experiment",
    "variant",
    "mean_rank",
    "datasets",
    "variants",
    "friedman_stat",
    "friedman_p",
    "cd",
    "alpha",
    "never",
    "note",
)
