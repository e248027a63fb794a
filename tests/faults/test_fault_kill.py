"""SIGKILL of the whole Snakemake process group at random moments, then a rerun."""

from __future__ import annotations

import os
import shutil
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from faultstudy import (
    group_members,
    incomplete_jobs,
    kill_group,
    results,
    snakemake,
    snakemake_locks,
    start,
    write_study,
)

KILLS = 20

pytestmark = pytest.mark.slow


def kill_and_rerun(folder, moment: float, reference) -> tuple[float | None, bool, str]:
    """Kill a fresh study ``moment`` seconds in and rerun it: (when it was killed, or None,
    whether the kill left Snakemake's lock behind, and what differs from the reference)."""
    # A study that beats the clock (a warm machine runs faster than the reference did) is
    # started afresh and killed earlier, so every trial really interrupts a study.
    for _ in range(4):
        shutil.rmtree(folder, ignore_errors=True)
        write_study(folder)
        proc = start(folder, "--cores", "1", log=folder / "killed.log")
        time.sleep(moment)
        if proc.poll() is None:
            kill_group(proc)
            killed_at = moment
            break
        proc.log.close()
        moment /= 2
    else:
        killed_at = None
    # What a user does after a crash: run the study again, no `--unlock` first. A lock the
    # killed Snakemake left behind is removed, and said so.
    stale = snakemake_locks(folder)
    rerun = snakemake(folder, "--cores", "1")
    assert rerun.returncode == 0, f"kill at {moment:.2f} s: {rerun.stderr[-3000:]}"
    assert ("previous run in this folder was interrupted" in rerun.stderr) == bool(stale)
    # Snakemake finished every job it had started again (none still marked incomplete)...
    assert not incomplete_jobs(folder), f"kill at {moment:.2f} s: {incomplete_jobs(folder)}"
    # ...and every result equals the undisturbed study's.
    got = results(folder, reference.runs)
    return (
        killed_at,
        bool(stale),
        ", ".join(
            f"{rid}/{part}"
            for rid in got
            for part in got[rid]
            if got[rid][part] != reference.results[rid][part]
        ),
    )


def test_sigkill_at_20_random_moments_costs_time_not_results(tmp_path, reference):
    rng = np.random.default_rng(20261123)
    # Anywhere from Snakemake's start-up (parsing the workflow) to the study's last job.
    moments = rng.uniform(0.2, reference.seconds, size=KILLS)
    # Two studies at a time (one core each), in their own folders.
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(
            pool.map(
                lambda i: kill_and_rerun(tmp_path / f"kill{i:02d}", moments[i], reference),
                range(KILLS),
            )
        )
    bad = {f"{at} s": d for at, _, d in outcomes if d}
    assert not bad, f"results differ from the undisturbed study after a kill at: {bad}"
    assert all(at is not None for at, _, _ in outcomes), "a study ended before every kill moment"
    # Kills after Snakemake locked the folder (most of a study's time) are what a plain rerun
    # has to get past.
    assert any(stale for _, stale, _ in outcomes), "no kill left Snakemake's lock behind"


def test_after_snakemake_alone_is_killed_a_plain_rerun_finishes_the_study(tmp_path, reference):
    """kill -9 of the Snakemake process while its jobs run (they finish on their own), then
    `snakemake --cores 1` without the profile, so without --rerun-incomplete."""
    for trial in range(3):
        folder = tmp_path / f"alone{trial}"
        write_study(folder)
        proc = start(folder, "--cores", "1", log=folder / "killed.log")
        # The moment the first, second, third job is being written.
        deadline = time.monotonic() + 120
        while len(list((folder / "results" / "logs").rglob("*.log"))) <= trial or not (
            incomplete_jobs(folder)
        ):
            assert proc.poll() is None, (folder / "killed.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "no job started"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.log.close()
        while group_members(proc.pid):  # its running job finishes and writes its outputs
            time.sleep(0.05)
        assert incomplete_jobs(folder), "the killed run left no mark of a running job"
        rerun = snakemake(folder, "--cores", "1", profile=None)
        assert rerun.returncode == 0, rerun.stderr[-3000:]
        assert "previous run in this folder was interrupted" in rerun.stderr
        assert not incomplete_jobs(folder)
        assert results(folder, reference.runs) == reference.results
