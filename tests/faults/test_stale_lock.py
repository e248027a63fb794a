"""nnstudy.jobs.lock with real processes: Snakemake's lock is removed only when it is stale.

Each "process of a study" here is a real Python process that takes the kernel lock the way a
Snakemake main process (claim) or a job (hold) does, and is ended with SIGKILL like a crash.
"""

from __future__ import annotations

import contextlib
import copy
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from faultstudy import (
    LOCK_MESSAGE,
    TINY,
    group_members,
    incomplete_jobs,
    results,
    run_ids,
    snakemake,
    start,
    write_study,
)
from nnstudy.jobs.lock import LOCAL, hold, record_executor


def python(code: str, folder: Path) -> subprocess.Popen:
    """Run ``code`` in a new Python process (``folder`` is the study's .snakemake); returns
    once the process has printed its first line, which is kept as ``proc.first``."""
    proc = subprocess.Popen(
        [sys.executable, "-c", f"folder = {str(folder)!r}\n" + textwrap.dedent(code)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    proc.first = proc.stdout.readline().strip()
    return proc


def snakemake_process(folder: Path) -> subprocess.Popen:
    """A main Snakemake process: claims the study folder and stays alive until killed."""
    proc = python(
        """
        import sys
        from nnstudy.jobs.lock import claim
        print(repr(claim(folder)), flush=True)
        sys.stdin.read()
        """,
        folder,
    )
    assert proc.first == "None"
    return proc


def rerun(folder: Path) -> str | None:
    """What a new Snakemake process logs when it claims the folder (then it exits)."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            f"from nnstudy.jobs.lock import claim; print(claim({str(folder)!r}) or '')",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip() or None


def kill(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.wait()
    proc.stdout.close()
    proc.stdin.close()


def kill_pid(pid: int) -> None:
    """SIGKILL a process that is not our child and wait until it is dead (its locks released)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while True:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return
        if state == "Z":
            return
        assert time.monotonic() < deadline, f"process {pid} survived SIGKILL"
        time.sleep(0.01)


def stale_locks(folder: Path) -> list[str]:
    """Snakemake's lock files as a Snakemake run writes them (what a SIGKILL leaves behind)."""
    locks = folder / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    (locks / "0.input.lock").write_text("data/processed/spirals/train.npz\n")
    (locks / "0.output.lock").write_text("results/runs/spirals/0123456789/train.json\n")
    return sorted(p.name for p in locks.iterdir())


def lock_files(folder: Path) -> list[str]:
    locks = folder / "locks"
    return sorted(p.name for p in locks.iterdir()) if locks.is_dir() else []


@pytest.fixture
def folder(tmp_path) -> Path:
    return tmp_path / ".snakemake"


def test_a_stale_lock_of_a_local_run_is_removed_with_one_warning(folder):
    stale_locks(folder)
    message = rerun(folder)
    assert "previous run in this folder was interrupted" in message
    assert lock_files(folder) == []
    # Nothing stale any more: nothing to say.
    assert rerun(folder) is None


def test_the_lock_of_a_live_study_is_kept_until_the_study_is_killed(folder):
    study = snakemake_process(folder)
    try:
        locks = stale_locks(folder)
        message = rerun(folder)
        assert "another process of this study is still running" in message
        assert lock_files(folder) == locks
    finally:
        kill(study)
    # The kernel released the killed process's lock: the files are stale now.
    assert "interrupted" in rerun(folder)
    assert lock_files(folder) == []


def test_a_job_left_running_by_a_killed_snakemake_keeps_the_lock(folder):
    # The "Snakemake" process starts two jobs the way Snakemake's shell() does (close_fds),
    # one that holds the study lock and one that does not, then is killed alone.
    study = python(
        """
        import subprocess, sys
        from nnstudy.jobs.lock import claim
        claim(folder)
        job = "import time; from nnstudy.jobs.lock import hold; print(hold(%r), flush=True); "
        job += "time.sleep(600)"
        holding = subprocess.Popen([sys.executable, "-c", job % folder], stdout=subprocess.PIPE,
                                   text=True)
        assert holding.stdout.readline().strip() == "True"
        # Even with every descriptor left open, exec does not pass the lock on (close-on-exec).
        plain = subprocess.Popen(["sleep", "60"], close_fds=False)
        print(holding.pid, plain.pid, flush=True)
        sys.stdin.read()
        """,
        folder,
    )
    holding, plain = (int(pid) for pid in study.first.split())
    try:
        stale_locks(folder)
        kill(study)
        assert "still running" in rerun(folder)
        assert lock_files(folder) != []
        kill_pid(holding)
        # Only the job that does not hold the lock is left: the lock is stale.
        assert "interrupted" in rerun(folder)
        assert lock_files(folder) == []
    finally:
        kill_pid(holding)
        kill_pid(plain)


def test_the_lock_of_a_cluster_run_is_left_with_a_hint(folder):
    folder.mkdir()
    record_executor("slurm", folder)
    locks = stale_locks(folder)
    message = rerun(folder)
    assert "'slurm'" in message and "cluster queue" in message and "--unlock" in message
    assert lock_files(folder) == locks
    # A later local run's record replaces it.
    record_executor(LOCAL, folder)
    assert "interrupted" in rerun(folder)
    assert lock_files(folder) == []


def test_a_job_outside_a_study_folder_holds_nothing_and_creates_nothing(tmp_path):
    assert hold(tmp_path / ".snakemake") is False
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_job_outliving_its_killed_snakemake_keeps_the_folder_locked_until_it_ends(tmp_path):
    # One run trained long enough (300 epochs, ~1 s) to be caught mid-way.
    config = copy.deepcopy(TINY)
    config["experiments"]["tiny"]["grid"]["optimizer"] = ["sgd"]
    config["experiments"]["tiny"]["fixed"].update(epochs=300, snapshot_every=100)
    runs = run_ids(config)
    (run_id,) = runs
    undisturbed = tmp_path / "undisturbed"
    write_study(undisturbed, config)
    assert snakemake(undisturbed, "--cores", "1").returncode == 0

    folder = tmp_path / "killed"
    write_study(folder, config)
    study = start(folder, "--cores", "1", log=folder / "killed.log")
    checkpoint = folder / f"results/checkpoints/runs/spirals/{run_id}.npz"
    deadline = time.monotonic() + 120
    while not checkpoint.exists():
        assert study.poll() is None, (folder / "killed.log").read_text()[-3000:]
        assert time.monotonic() < deadline, "training never started"
        time.sleep(0.01)
    # Freeze the study with its train job mid-training, then kill Snakemake alone (as `kill -9
    # <pid>` or the out-of-memory killer would): the job is left running on its own.
    os.killpg(study.pid, signal.SIGSTOP)
    study.kill()
    study.wait()
    study.log.close()
    try:
        assert group_members(study.pid), "the train job did not outlive its Snakemake"
        blocked = snakemake(folder, "--cores", "1")
    finally:
        os.killpg(study.pid, signal.SIGCONT)
    # A rerun beside the job would write the same files: it stops and says why.
    assert blocked.returncode != 0
    assert LOCK_MESSAGE in blocked.stderr, blocked.stderr[-3000:]
    assert "another process of this study is still running" in blocked.stderr
    assert "rule train" not in blocked.stdout + blocked.stderr

    while group_members(study.pid):
        assert time.monotonic() < deadline + 120, "the train job never ended"
        time.sleep(0.05)
    rerun = snakemake(folder, "--cores", "1")
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "previous run in this folder was interrupted" in rerun.stderr
    assert not incomplete_jobs(folder)
    assert results(folder, runs) == results(undisturbed, runs)
