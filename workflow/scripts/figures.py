"""Rule figures: one comparison's figures; see nnstudy.report.figures."""

from nnstudy.analysis.aggregate import read_tables
from nnstudy.jobs.frame import script_job
from nnstudy.report.contents import TABLES
from nnstudy.report.figures import make_figures
from nnstudy.report.view import comparison_views

with script_job(snakemake):
    tables = read_tables({name: snakemake.input[name] for name in TABLES})
    (view,) = [
        v
        for v in comparison_views(tables)
        if (v.slug, v.dataset) == (snakemake.wildcards.experiment, snakemake.wildcards.dataset)
    ]
    make_figures(view, snakemake.params.runs_root, snakemake.params.figures_dir)
