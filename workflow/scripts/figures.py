"""Rule figures: see nnstudy.figures."""

from contextlib import redirect_stderr, redirect_stdout

from nnstudy.aggregate import read_tables
from nnstudy.figures import make_figures
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
    make_figures(
        read_tables({name: snakemake.input[name] for name in TABLES}),
        snakemake.wildcards.dataset,
        snakemake.params.runs_root,
        snakemake.params.figures_dir,
    )
