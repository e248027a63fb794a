"""The repository's Snakemake command, timed; shared by bench_study.py and bench_scaling.py."""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def timed_snakemake(
    workdir: Path, *args: str, snakefile: Path | None = None
) -> tuple[float, float, str]:
    """Run the repository's Snakefile with its default workflow profile in ``workdir`` (or
    another ``snakefile``, with no profile); return wall seconds, CPU seconds (user + system of
    Snakemake and its jobs: what a busy machine does not inflate) and the output. Exits with
    Snakemake's error output when it fails."""
    if snakefile is None:
        snakefile = ROOT / "Snakefile"
        options = ["--workflow-profile", str(ROOT / "profiles" / "default")]
    else:
        options = ["--cores", "1"]
    cmd = [SNAKEMAKE, "--snakefile", str(snakefile), *options, "--directory", str(workdir), *args]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"snakemake {' '.join(args)} failed in {workdir}:\n{done.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu, done.stdout + done.stderr
