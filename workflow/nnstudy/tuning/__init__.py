"""Tuning before the finals: the searches, their Snakemake inputs, the trials' numbers."""
