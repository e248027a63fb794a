"""Rule experiment_figures: one experiment's figures across its datasets; see
nnstudy.report.figures."""

import pandas as pd
from nnstudy.config.runs import experiment_slug
from nnstudy.jobs.frame import script_job
from nnstudy.report.figures import make_experiment_figures

with script_job(snakemake):
    across = pd.read_csv(snakemake.input.across, dtype={"variant": str, "experiment": str})
    slug = snakemake.wildcards.experiment
    mine = across[across["experiment"].map(experiment_slug) == slug]
    make_experiment_figures(mine, slug, snakemake.params.figures_dir)
