"""Rule aggregate: see nnstudy.analysis.aggregate."""

from nnstudy.analysis.aggregate import aggregate
from nnstudy.jobs.frame import script_job
from nnstudy.report.contents import TABLES

with script_job(snakemake):  # an unreadable run file: one line, not a traceback
    aggregate(
        snakemake.input.membership,
        snakemake.params.runs_root,
        snakemake.params.data_root,
        {name: snakemake.output[name] for name in TABLES},
        snakemake.params.tunings,
        snakemake.params.trials_root,
    )
