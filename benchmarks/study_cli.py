"""The repository's Snakemake command, timed; shared by bench_study.py and bench_scaling.py."""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

from nnstudy.invoke import snakemake_command


def timed_snakemake(
    workdir: Path, *args: str, snakefile: Path | None = None
) -> tuple[float, float, str]:
    """Run the repository's Snakefile with its default workflow profile in ``workdir`` (or
    another ``snakefile``, with no profile); return wall seconds, CPU seconds (user + system of
    Snakemake and its jobs: what a busy machine does not inflate) and the output. Exits with
    Snakemake's error output when it fails."""
    if snakefile is None:
        cmd = snakemake_command(*args, directory=workdir)
    else:
        cmd = snakemake_command(
            *args, snakefile=snakefile, profile=None, cores=1, directory=workdir
        )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"snakemake {' '.join(args)} failed in {workdir}:\n{done.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu, done.stdout + done.stderr
