"""Snakemake `download` rule: find or fetch a dataset's raw files (nnlib.datasets.fetch)."""

import sys

from nnlib.datasets import FetchError, fetch

with open(snakemake.log[0], "w") as log:
    try:
        manifest = fetch(
            snakemake.wildcards.dataset,
            snakemake.params.raw_dir,
            snakemake.params.local_dirs,
        )
    except (FetchError, ValueError) as exc:
        print(exc, file=log)
        sys.exit(str(exc))  # one line, not a traceback
    for name, entry in manifest["files"].items():
        print(f"{name}: {entry['source']}", file=log)
