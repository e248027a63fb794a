"""Rule figures: see nnstudy.report.figures."""

from nnstudy.analysis.aggregate import read_tables
from nnstudy.jobs.frame import script_job
from nnstudy.report.contents import TABLES
from nnstudy.report.figures import make_figures

with script_job(snakemake):
    make_figures(
        read_tables({name: snakemake.input[name] for name in TABLES}),
        snakemake.wildcards.dataset,
        snakemake.params.runs_root,
        snakemake.params.figures_dir,
    )
