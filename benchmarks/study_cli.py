"""The repository's Snakemake command, timed; shared by bench_study.py, bench_scaling.py and
bench_real_data.py."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from nnstudy.invoke import snakemake_command


class Timing(NamedTuple):
    seconds: float  # wall
    cpu: float  # user + system of Snakemake and its jobs: what a busy machine does not inflate
    output: str  # stdout, then stderr
    peak_mb: float  # the largest resident set of Snakemake or one of its jobs


def timed_snakemake(workdir: Path, *args: str, snakefile: Path | None = None) -> Timing:
    """Run the repository's Snakefile with its default workflow profile in ``workdir`` (or
    another ``snakefile``, with no profile). Exits with Snakemake's error output when it
    fails."""
    if snakefile is None:
        cmd = snakemake_command(*args, directory=workdir)
    else:
        cmd = snakemake_command(
            *args, snakefile=snakefile, profile=None, cores=1, directory=workdir
        )
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        # wait4: this child's own resource use (its waited-for descendants included).
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        sys.exit(f"snakemake {' '.join(args)} failed in {workdir}:\n{stderr[-3000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return Timing(seconds, cpu, stdout + stderr, usage.ru_maxrss / 1024)
