"""Rule aggregate: see nnstudy.aggregate."""

import sys
from contextlib import redirect_stderr, redirect_stdout

from nnstudy.aggregate import aggregate
from nnstudy.integrity import guarded
from nnstudy.names import TABLES
from nnstudy.studylock import hold

hold()  # keeps a rerun from starting this job again beside it (nnstudy.studylock)

# Inputs checked, outputs recorded (nnstudy.integrity); warnings and messages go to the log.
with (
    guarded(snakemake.input, snakemake.output),
    open(snakemake.log[0], "w") as log,
    redirect_stdout(log),
    redirect_stderr(log),
):
    try:
        aggregate(
            snakemake.input.membership,
            snakemake.params.runs_root,
            {name: snakemake.output[name] for name in TABLES},
            snakemake.params.tunings,
            snakemake.params.trials_root,
        )
    except ValueError as error:  # an unreadable run file: one line, not a traceback
        sys.exit(str(error))
