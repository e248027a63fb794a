"""Snakemake `prepare` rule: split and normalize one dataset (nnstudy.datasets.prepare)."""

import json
import sys
from pathlib import Path

from nnstudy.datasets import prepare
from nnstudy.integrity import guarded
from nnstudy.studylock import hold

hold()  # keeps a rerun from starting this job again beside it (nnstudy.studylock)

params = snakemake.params
# Inputs checked, outputs recorded (nnstudy.integrity).
with guarded(snakemake.input, snakemake.output), open(snakemake.log[0], "w") as log:
    try:
        card = prepare(
            snakemake.wildcards.dataset,
            Path(snakemake.output.train).parent,
            manifest=snakemake.input.get("source") or None,  # empty for built-in sets
            val_fraction=params.val_fraction,
            test_fraction=params.test_fraction,
            split_seed=params.split_seed,
            n_samples=params.synthetic.get("n_samples", 3000),
            data_seed=params.synthetic.get("seed", 0),
        )
    except ValueError as exc:
        print(exc, file=log)
        sys.exit(str(exc))  # one line, not a traceback
    print(json.dumps(card["splits"]), file=log)
