"""Rule experiments: write the run table (nnstudy.runs.table_csv), passed as a parameter."""

from nnstudy.integrity import guarded
from nnstudy.studylock import hold

from nnlib.atomic import atomic_write_text

hold()  # keeps a rerun from starting this job again beside it (nnstudy.studylock)

# Inputs checked, outputs recorded (nnstudy.integrity).
with guarded(snakemake.input, snakemake.output), open(snakemake.log[0], "w") as log:
    atomic_write_text(snakemake.output[0], snakemake.params.table)
    print(f"{snakemake.params.table.count(chr(10)) - 1} rows", file=log)
