"""The tiny study on a real SLURM cluster (profiles/slurm) equals the local run.

Needs a controller that answers `sinfo`: .ci/run starts a single-node cluster on localhost
with .ci/slurm/start (and stops it with .ci/slurm/stop); without one the test is skipped.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess

import pytest
from faultstudy import TINY, results, run_ids, snakemake, write_study

pytestmark = [pytest.mark.system, pytest.mark.slow]

# Only for this test cluster: no slurmdbd, so job states come from squeue (slurm.conf keeps
# finished jobs listed for MinJobAge=600 s), no accounts, and a short first status check.
TEST_CLUSTER = (
    "--slurm-status-command",
    "squeue",
    "--slurm-no-account",
    "--slurm-init-seconds-before-status-checks",
    "2",
    "--latency-wait",
    "5",
)


def idle_node() -> str | None:
    """Why the cluster cannot run the test, or None when a node is idle."""
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return "the SLURM executor plugin is an extra: pip install -e '.[slurm]' (CI installs it)"
    if shutil.which("sinfo") is None:
        return "sinfo not found: install slurm-client, slurmctld, slurmd, munge (.ci/system-packages.txt)"
    try:
        info = subprocess.run(
            ["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20
        )
    except subprocess.TimeoutExpired:
        return "sinfo timed out: no SLURM controller answers"
    if info.returncode != 0:
        cause = (info.stderr.strip().splitlines() or ["no output"])[-1]
        return f"no SLURM controller answers (start one with .ci/slurm/start): {cause}"
    if "idle" not in info.stdout.split():
        return f"no idle SLURM node (states: {info.stdout.split()})"
    return None


@pytest.fixture(scope="module")
def cluster():
    reason = idle_node()
    if reason:
        pytest.skip(reason)


def test_tiny_study_on_slurm_equals_local_run(tmp_path, cluster):
    runs = run_ids(TINY)
    local, slurm = tmp_path / "local", tmp_path / "slurm"
    for folder in (local, slurm):
        write_study(folder)

    done = snakemake(local, "--cores", "2")
    assert done.returncode == 0, done.stderr[-3000:]
    done = snakemake(slurm, *TEST_CLUSTER, profile="slurm", timeout=400)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-4000:]

    # The work went through SLURM: prepare as its own job, and every train job (which
    # evaluates too) of the study grouped into one SLURM job (up to 8 runs in a group).
    submitted = re.findall(r"submitted with SLURM jobid (\d+) \(log: (\S+)\)", log)
    logs = sorted(path for _, path in submitted)
    assert len(submitted) == 2, log[-4000:]
    assert "/rule_prepare/" in logs[1] and "/group_runs_train/" in logs[0], logs

    # Same runs, same files, same numbers (timings aside).
    for folder in (local, slurm):
        assert {p.name for p in (folder / "results/runs/spirals").iterdir()} == set(runs)
    assert results(slurm, runs) == results(local, runs)
