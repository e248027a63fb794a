"""Rule figures: see nnstudy.figures."""

from nnstudy.aggregate import read_tables
from nnstudy.figures import make_figures
from nnstudy.job import script_job
from nnstudy.names import TABLES

with script_job(snakemake):
    make_figures(
        read_tables({name: snakemake.input[name] for name in TABLES}),
        snakemake.wildcards.dataset,
        snakemake.params.runs_root,
        snakemake.params.figures_dir,
    )
