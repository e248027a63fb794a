"""Rule prepare: split and normalize one dataset (nnstudy.datasets.prepare)."""

import json
from pathlib import Path

from nnstudy.datasets import prepare
from nnstudy.jobs.frame import script_job

params = snakemake.params
with script_job(snakemake):
    card = prepare(
        snakemake.wildcards.dataset,
        Path(snakemake.output.train).parent,
        manifest=snakemake.input.get("source") or None,  # empty for built-in sets
        val_fraction=params.val_fraction,
        test_fraction=params.test_fraction,
        split_seed=params.split_seed,
        n_samples=params.synthetic["n_samples"],
        data_seed=params.synthetic["seed"],
    )
    print(json.dumps(card["splits"]))
