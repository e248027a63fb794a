"""Rule figures: see nnstudy.figures."""

from contextlib import redirect_stderr, redirect_stdout

from nnstudy.aggregate import read_tables
from nnstudy.figures import make_figures
from nnstudy.integrity import guarded
from nnstudy.names import TABLES
from nnstudy.studylock import hold
from nnstudy.tuning_stats import read_trials

hold()  # keeps a rerun from starting this job again beside it (nnstudy.studylock)

# Inputs checked, outputs recorded (nnstudy.integrity); warnings and messages go to the log.
with (
    guarded(snakemake.input, snakemake.output),
    open(snakemake.log[0], "w") as log,
    redirect_stdout(log),
    redirect_stderr(log),
):
    paths = {name: snakemake.input[name] for name in TABLES}
    tables = read_tables(paths)
    # None for a study without tuning (no trials table, or one without rows).
    tables["trials"] = read_trials(paths.get("trials"))
    make_figures(
        tables,
        snakemake.wildcards.dataset,
        snakemake.params.runs_root,
        snakemake.params.figures_dir,
    )
