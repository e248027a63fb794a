"""Run the study's training jobs in a few long-lived worker processes.

A core-study run trains in about 0.3 s; a fresh ``python -m nnstudy.training.job`` spends about
as much again starting Python and importing NumPy and the study. So rules ``train`` and
``trial`` are ``run:`` jobs (threads of Snakemake's process: ``force-use-threads`` in the
profiles) that hand their command line to :func:`train`, which runs
:func:`nnstudy.training.job.main` in a pool of ``workers`` processes forked from a server that
imported it once (``multiprocessing``'s forkserver). A job is still one run with its own
files, log and checkpoint; only the process that computes it is reused. Every random draw
of a run comes from its own seeded generator, so a run gives the same numbers in a fresh
process or in a worker that trained others before (tested). A worker that logged a run to W&B
live (:class:`nnstudy.training.tracking.LiveRun`) keeps wandb and its service for the next run.

A worker that dies (killed, out of memory) fails its job only: each worker is a pool of its
own (a ``ProcessPoolExecutor`` of one process, since a pool whose process dies fails every job
it holds), taken by one job at a time, so the jobs of the other workers finish and keep their
files; the dead one is dropped, the next job starts a fresh one, and the killed job's run
resumes from its checkpoint when Snakemake runs it again (the next ``snakemake``), as a killed
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


# Idle workers (one process each), taken by one job at a time.
_idle: list[ProcessPoolExecutor] = []


def _worker() -> ProcessPoolExecutor:
    """An idle worker, or a new one."""
    with _lock:
        if _idle:
            return _idle.pop()
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(JOBS.values()))
    return ProcessPoolExecutor(
        max_workers=1, mp_context=context, initializer=_watch_owner, initargs=(os.getpid(),)
    )


def _release(worker: ProcessPoolExecutor, keep: int) -> None:
    """Return a worker whose job ended; beyond ``keep`` idle ones it exits."""
    with _lock:
        if len(_idle) < keep:
            _idle.append(worker)
            return
    worker.shutdown(wait=False)


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
    nnstudy.training.evaluation ARGV``) in a pooled worker process (``workers``: how many are
    kept between jobs); raises :class:`JobFailed` (or the job's exception) when the job
    fails."""
    worker = _worker()
    try:
        worker.submit(_job_main, job, list(argv), os.getcwd()).result()
    except BrokenProcessPool:
        worker.shutdown(wait=False)
        raise JobFailed(
            "the worker process running this job died (killed, or out of memory); "
            "run snakemake again to resume the run from its last checkpoint"
        ) from None
    except BaseException:
        _release(worker, max(1, int(workers)))
        raise
    _release(worker, max(1, int(workers)))
