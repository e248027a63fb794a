"""Let a plain rerun resume a killed study: clear Snakemake's lock when its owner is dead.

Snakemake marks a folder as in use with files in ``.snakemake/locks/`` that only a clean exit
removes, so after a SIGKILL (or an out-of-memory kill, or a power loss) every rerun stops with
"Directory cannot be locked" until ``snakemake --unlock``. Files cannot tell a dead owner from a
live one; a kernel lock can: every process of a study holds a shared ``flock`` on
``.snakemake/nnstudy.lock`` for its whole life, and the kernel drops it when the process ends,
however it ends. A new Snakemake process that gets the lock exclusively therefore knows that no
process of a study is alive here, and any Snakemake lock left is stale.

Who holds it: every main Snakemake process (:func:`claim`, called while the Snakefile is parsed,
before Snakemake takes its own lock), and every job (:func:`hold`), because a job outlives a
Snakemake process killed alone and must keep a rerun from starting the same job beside it. A
child does not inherit the lock (Python opens files close-on-exec), hence :func:`hold`. A job
holds it from its first line of study code on, so a rerun started within that first fraction
of a second (Snakemake's script preamble) after its Snakemake was killed alone can miss it.

The other state a killed run leaves is Snakemake's marks of the outputs its jobs were writing
(``.snakemake/incomplete/``): without ``--rerun-incomplete`` (which the workflow profile sets)
the next run stops on them with IncompleteFilesException. When no process of the study is
alive, :func:`claim` removes each mark whose file a job finished writing by its own account
(:func:`nnstudy.jobs.integrity.intact`: its checksum record, written once all of a job's outputs are
complete, matches): the usual case after Snakemake alone was killed and its jobs ran to their
end. It deletes no file; a mark of a file without such a record stays for Snakemake.

A kernel lock sees only this machine: the jobs of a killed cluster run may still be queued or
running on other nodes. So each run records its executor (:func:`record_executor`, at
``onstart``) and only a local run's stale lock is removed; after a cluster run the user checks
the queue and runs ``snakemake --unlock`` as before.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from base64 import urlsafe_b64decode
from pathlib import Path
from typing import TextIO

from nnlib.atomic import atomic_write_text
from nnstudy.jobs.integrity import intact

SNAKEMAKE_DIR = Path(".snakemake")
LOCK_NAME = "nnstudy.lock"
EXECUTOR_NAME = "nnstudy.executor"
LOCAL = "local"

# The open lock files of this process: the kernel keeps a flock while its file stays open.
_held: dict[Path, TextIO] = {}


def claim(folder: str | os.PathLike = SNAKEMAKE_DIR) -> str | None:
    """Join the study in ``folder`` (Snakemake's ``.snakemake``) as a main Snakemake process;
    first remove Snakemake's locks if no process of the study is alive and the run that left
    them was local. Returns a one-line message for the log, or None when there is nothing to say.

    A folder where locks cannot be taken (a file system without ``flock``) is left to Snakemake.
    """
    folder = Path(folder)
    if folder in _held:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    lock = _open(folder)
    if lock is None:
        return None
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        alone = True
    except BlockingIOError:
        alone = False
    except OSError:
        lock.close()
        return None
    message = _clear_stale(folder) if alone else _busy(folder)
    # A main process holds the exclusive lock only for the cleanup above; it may block for as
    # long as another one's cleanup takes. flock does not promise an atomic downgrade; that is
    # harmless here: this process has neither Snakemake's lock nor a job yet, so another main
    # process that slips in can only find stale locks.
    fcntl.flock(lock, fcntl.LOCK_SH)
    _held[folder] = lock
    return message


def hold(folder: str | os.PathLike = SNAKEMAKE_DIR) -> bool:
    """Keep the study in ``folder`` marked alive for as long as this job process runs, so a
    rerun after its Snakemake was killed leaves Snakemake's lock alone. Best effort: False when
    there is no study folder or no lock to be had (a job then runs as it would without this)."""
    folder = Path(folder)
    if folder in _held:
        return True
    lock = _open(folder)
    if lock is None:
        return False
    try:
        fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        lock.close()
        return False
    _held[folder] = lock
    return True


def record_executor(executor: str, folder: str | os.PathLike = SNAKEMAKE_DIR) -> None:
    """Write which executor the run that now owns Snakemake's lock uses: :data:`LOCAL` or the
    name of a cluster executor (whose jobs a kernel lock cannot see)."""
    atomic_write_text(Path(folder) / EXECUTOR_NAME, executor + "\n")


def _open(folder: Path) -> TextIO | None:
    try:
        return open(folder / LOCK_NAME, "a")  # noqa: SIM115 - kept open for the process's life
    except OSError:
        return None


def _recorded_executor(folder: Path) -> str:
    # No record: the run was killed before its onstart, so it had not started a job yet.
    try:
        return (folder / EXECUTOR_NAME).read_text().strip() or LOCAL
    except FileNotFoundError:
        return LOCAL


def _snakemake_locks(folder: Path) -> list[Path]:
    locks = folder / "locks"
    return sorted(locks.glob("*.lock")) if locks.is_dir() else []


def _marked_path(mark: Path, marks: Path) -> str | None:
    """The output a Snakemake mark names (its path, URL-safe base64, split into folders of
    names starting with ``@`` when long), or None for a file that is not a mark."""
    parts = [part.removeprefix("@") for part in mark.relative_to(marks).parts]
    try:
        return urlsafe_b64decode("".join(parts)).decode()
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        return None


def _settle_marks(folder: Path) -> list[str]:
    """Remove Snakemake's marks of outputs that a (dead) job finished; the paths."""
    marks = folder / "incomplete"
    settled = []
    for mark in sorted(marks.rglob("*")) if marks.is_dir() else []:
        path = _marked_path(mark, marks) if mark.is_file() else None
        if path is not None and intact(path):
            mark.unlink()
            settled.append(path)
    return settled


def _clear_stale(folder: Path) -> str | None:
    executor = _recorded_executor(folder)
    settled = _settle_marks(folder) if executor == LOCAL else []
    note = f"; {len(settled)} output(s) its jobs had finished kept" if settled else ""
    if not _snakemake_locks(folder):
        return f"the previous run in this folder was interrupted{note}" if settled else None
    if executor != LOCAL:
        return (
            f"Snakemake's lock in {folder}/locks is left by a run on executor {executor!r} "
            "that did not end cleanly; its jobs may still be queued or running: check the "
            "cluster queue, then run `snakemake --unlock`"
        )
    # Exactly what `snakemake --unlock` removes.
    shutil.rmtree(folder / "locks")
    return (
        f"the previous run in this folder was interrupted; removed its stale lock "
        f"({folder}/locks): no process of it is alive{note}"
    )


def _busy(folder: Path) -> str | None:
    if not _snakemake_locks(folder):
        return None
    return (
        "another process of this study is still running here (a run, or a job that a killed "
        f"run left behind: `fuser -v {folder / LOCK_NAME}` lists them), so Snakemake's lock "
        "is not stale"
    )
