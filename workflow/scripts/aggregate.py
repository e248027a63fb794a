"""Rule aggregate: see nnstudy.aggregate."""

from contextlib import redirect_stderr, redirect_stdout

from nnstudy.aggregate import aggregate
from nnstudy.names import TABLES
from nnstudy.studylock import hold

hold()  # keeps a rerun from starting this job again beside it (nnstudy.studylock)

# Warnings and messages go to the rule's log.
with open(snakemake.log[0], "w") as log, redirect_stdout(log), redirect_stderr(log):
    aggregate(
        snakemake.input.membership,
        snakemake.params.runs_root,
        {name: snakemake.output[name] for name in TABLES},
        snakemake.params.tunings,
    )
