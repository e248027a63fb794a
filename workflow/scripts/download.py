"""Snakemake `download` rule: find or fetch a dataset's raw files (nnstudy.datasets.fetch)."""

import sys
from pathlib import Path

from nnstudy.datasets import FetchError, fetch
from nnstudy.integrity import guarded
from nnstudy.studylock import hold

hold()  # keeps a rerun from starting this job again beside it (nnstudy.studylock)

# Inputs checked, outputs recorded (nnstudy.integrity).
with guarded(snakemake.input, snakemake.output), open(snakemake.log[0], "w") as log:
    try:
        manifest = fetch(
            snakemake.wildcards.dataset,
            Path(snakemake.output.source).parents[
                1
            ],  # fetch writes <raw_dir>/<dataset>/source.json
            snakemake.params.local_dirs,
        )
    except (FetchError, ValueError) as exc:
        print(exc, file=log)
        sys.exit(str(exc))  # one line, not a traceback
    for name, entry in manifest["files"].items():
        print(f"{name}: {entry['source']}", file=log)
