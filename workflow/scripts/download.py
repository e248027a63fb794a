"""Rule download: find or fetch a dataset's raw files (nnstudy.datasets.fetch)."""

from pathlib import Path

from nnstudy.datasets import FetchError, fetch
from nnstudy.jobs.frame import script_job

with script_job(snakemake, errors=(FetchError, ValueError)):
    # fetch writes <raw_dir>/<dataset>/source.json
    manifest = fetch(
        snakemake.wildcards.dataset,
        Path(snakemake.output.source).parents[1],
        snakemake.params.local_dirs,
    )
    for name, entry in manifest["files"].items():
        print(f"{name}: {entry['source']}")
