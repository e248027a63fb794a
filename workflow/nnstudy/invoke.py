"""Running the study's Snakemake from Python: the one command line that ``nnstudy train``,
the tests and the benchmarks build, and Snakemake's job-stats table read back."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SNAKEFILE = ROOT / "Snakefile"
PROFILES = ROOT / "profiles"
# The tiny study the tests, the benchmarks and the docs' rule graph start from.
TEST_CONFIG = ROOT / ".test" / "config.yaml"


def snakemake_command(
    *args: str,
    directory: str | os.PathLike | None = None,
    snakefile: str | os.PathLike | None = SNAKEFILE,
    profile: str | None = "default",
    cores: int | None = None,
    until: tuple[str, ...] | None = None,
) -> list[str]:
    """Snakemake's command line with this interpreter: the repository's Snakefile (or
    ``snakefile``; None: Snakemake's own lookup in the working directory), the workflow
    profile ``profile`` of ``profiles/`` (None: no profile, as ``--workflow-profile none``),
    run in ``directory``, up to the rules ``until``."""
    command = [sys.executable, "-m", "snakemake"]
    if snakefile is not None:
        command += ["--snakefile", str(snakefile)]
    command += ["--workflow-profile", str(PROFILES / profile) if profile else "none"]
    if directory is not None:
        command += ["--directory", str(directory)]
    if cores is not None:
        command += ["--cores", str(cores)]
    if until:
        command += ["--until", *until]
    return [*command, *args]


def run_snakemake(
    *args: str,
    cwd: str | os.PathLike | None = None,
    timeout: float | None = 600,
    env: dict | None = None,
    **options,
) -> subprocess.CompletedProcess:
    """Run :func:`snakemake_command` (``options`` are its keywords) to the end; the completed
    process with its text output."""
    return subprocess.run(
        snakemake_command(*args, **options),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def tiny_study(*experiments: str) -> dict:
    """The test study's config (.test/config.yaml) with only ``experiments``, all selected."""
    import yaml

    config = yaml.safe_load(TEST_CONFIG.read_text())
    config["experiments"] = {name: config["experiments"][name] for name in experiments}
    config["select"] = list(experiments)
    return config


def job_counts(output: str) -> dict[str, int]:
    """Snakemake's "Job stats" table (from a run or a dry run) as {rule: count}."""
    counts: dict[str, int] = {}
    if "Job stats:" in output:
        for line in output.split("Job stats:", 1)[1].splitlines()[3:]:
            match = re.fullmatch(r"(\w+)\s+(\d+)", line.strip())
            if not match:
                break
            counts[match[1]] = int(match[2])
    return counts
