"""nnstudy: the logic behind the Snakemake study (config, runs, jobs, report)."""
