"""Rule evaluate: see nnstudy.evaluate_job."""

from nnstudy.evaluate_job import main

main(snakemake)
