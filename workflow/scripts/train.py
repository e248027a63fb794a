"""Rule train: see nnstudy.train_job."""

from nnstudy.train_job import main

main(snakemake)
