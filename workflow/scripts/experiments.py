"""Rule experiments: write the run table (nnstudy.config.runs.table_csv), passed as a parameter."""

from nnstudy.jobs.frame import script_job

from nnlib.atomic import atomic_write_text

with script_job(snakemake):
    atomic_write_text(snakemake.output[0], snakemake.params.table)
    print(f"{snakemake.params.table.count(chr(10)) - 1} rows")
