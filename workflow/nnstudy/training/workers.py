"""Run the study's training jobs in a few long-lived worker processes.

A core-study run trains in about 0.3 s; a fresh ``python -m nnstudy.training.job`` spends about
as much again starting Python and importing NumPy and the study. So rules ``train`` and
``trial`` are ``run:`` jobs (threads of Snakemake's process: ``force-use-threads`` in the
profiles) that hand their command line to :func:`train`, which runs
:func:`nnstudy.training.job.main` in a pool of ``workers`` processes forked from a server that
imported it once (``multiprocessing``'s forkserver). A job is still one run with its own
files, log and checkpoint; only the process that computes it is reused. Every random draw
of a run comes from its own seeded generator, so a run gives the same numbers in a fresh
process or in a worker that trained others before (tested).

A worker that dies (killed, out of memory) fails its job only: the pool is replaced and the
next job gets a fresh one; the run resumes from its checkpoint on the next call, as a killed
job process does. When Snakemake itself is killed alone, a worker behaves as a job process
would: it finishes the run it is computing, writes its files and exits (an idle worker exits at
once), so the study's lock (:mod:`nnstudy.jobs.lock`) lasts exactly as long as that run.
"""

from __future__ import annotations

import multiprocessing
import os
import select
import signal
import threading
import time
import traceback
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from nnstudy.jobs.frame import Interrupted


class JobFailed(Exception):
    """Why a job failed, in one line (its ``sys.exit`` message, or ``Type: message`` of the
    exception that ended it), raised in Snakemake's thread."""


_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
# Set in a worker while it computes a job.
_busy = threading.Event()
# How often an orphaned worker checks whether it may leave.
ORPHAN_POLL_SECONDS = 0.2


def _watch_owner(owner: int) -> None:
    """In a worker: exit once the process that owns the pool (Snakemake) is gone and no job is
    running; a job that is running finishes first. (Not the worker's parent: the forkserver
    lives as long as any worker does.)"""
    try:
        handle = os.pidfd_open(owner)  # readable once the owner exits; immune to pid reuse
    except (AttributeError, OSError):
        handle = None

    def owner_alive() -> bool:
        if handle is not None:
            return not select.select([handle], [], [], 0)[0]
        try:
            os.kill(owner, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True

    def watch():
        while owner_alive() or _busy.is_set():
            time.sleep(ORPHAN_POLL_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="owner-watch").start()
    # Ctrl-C reaches every process of the terminal's group: an idle worker leaves it to
    # Snakemake (and then exits with it, above); a job's frame takes it while the job runs.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _pool_for(workers: int) -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(list(JOBS.values()))
            _pool = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=context,
                initializer=_watch_owner,
                initargs=(os.getpid(),),
            )
        return _pool


def _drop(pool: ProcessPoolExecutor) -> None:
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
    pool.shutdown(wait=False)


# The job modules the workers run (each has ``main(argv)``): training, and the test
# predictions of a finished run (rule predict).
JOBS = {"train": "nnstudy.training.job", "predict": "nnstudy.training.evaluation"}


def _job_main(job: str, argv: list[str], cwd: str) -> None:
    import importlib

    main = importlib.import_module(JOBS[job]).main
    os.chdir(cwd)  # the job's relative paths are the caller's (the study folder)
    _busy.set()
    try:
        main(argv)
    except Interrupted:  # Ctrl-C: Snakemake cancels the study and says so, not each job
        raise KeyboardInterrupt from None
    except SystemExit as stop:  # its one-line message, not the worker's exit
        if stop.code not in (None, 0):
            raise JobFailed(str(stop.code)) from None
    except Exception as error:  # as a job process: the traceback on stderr, then one line
        traceback.print_exc()
        raise JobFailed(f"{type(error).__name__}: {error}".splitlines()[0]) from None
    finally:
        _busy.clear()


def train(argv: Sequence[str], workers: int, job: str = "train") -> None:
    """``python -m nnstudy.training.job ARGV`` (``job`` "predict": ``python -m
    nnstudy.training.evaluation ARGV``) in one of ``workers`` pooled processes; raises
    :class:`JobFailed` (or the job's exception) when the job fails."""
    pool = _pool_for(max(1, int(workers)))
    try:
        pool.submit(_job_main, job, list(argv), os.getcwd()).result()
    except BrokenProcessPool:
        _drop(pool)
        raise JobFailed(
            "the worker process running this job died (killed, or out of memory); "
            "rerun to resume the run from its last checkpoint"
        ) from None
