"""Rule report: see nnstudy.report."""

from contextlib import redirect_stderr, redirect_stdout

from nnstudy.integrity import guarded
from nnstudy.names import TABLES
from nnstudy.report import write_report
from nnstudy.studylock import hold

hold()  # keeps a rerun from starting this job again beside it (nnstudy.studylock)

# Warnings and messages go to the rule's log.
# Inputs checked, outputs recorded (nnstudy.integrity).
with (
    guarded(snakemake.input, snakemake.output),
    open(snakemake.log[0], "w") as log,
    redirect_stdout(log),
    redirect_stderr(log),
):
    write_report(
        table_paths={name: snakemake.input[name] for name in TABLES},
        figures_dir=snakemake.params.figures_dir,
        card_paths=snakemake.input.cards,
        config=snakemake.params.study,
        selected=snakemake.params.selected,
        cfg_hash=snakemake.params.config_hash,
        html=snakemake.output.html,
        tex=snakemake.output.tex,
        fragments=snakemake.output.fragments,
    )
