"""Rule aggregate: see nnstudy.aggregate."""

from nnstudy.aggregate import aggregate
from nnstudy.job import script_job
from nnstudy.names import TABLES

with script_job(snakemake):  # an unreadable run file: one line, not a traceback
    aggregate(
        snakemake.input.membership,
        snakemake.params.runs_root,
        {name: snakemake.output[name] for name in TABLES},
        snakemake.params.tunings,
        snakemake.params.trials_root,
    )
