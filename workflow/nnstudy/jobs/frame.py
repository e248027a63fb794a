"""The frame every job of the study runs in (the ``script:`` jobs and the train/trial jobs):

- it holds the study lock (a rerun cannot start the same job beside it, :mod:`nnstudy.jobs.lock`);
- it limits BLAS to the job's threads (Snakemake's ``threads:``), so ``--cores 4`` on two cores
  never runs 4 x 2 BLAS threads;
- it checks the inputs' checksums and records the outputs' (:mod:`nnstudy.jobs.integrity`);
- it opens the job's log and sends the job's output there (``redirect``), or leaves the log to
  the job (``script_job(..., own_log=True)``);
- an expected error (a damaged or unreadable input, a failed download) ends the job with its
  one-line cause, in the log and on stderr, instead of a traceback. A prepared file that fails
  its CRC check as it is read (:class:`~nnstudy.datasets.store.CorruptFileError`) is one for
  every job, whatever else the job expects;
- Ctrl-C (SIGINT, which a terminal sends to Snakemake and every job at once) ends the job
  quietly with status :data:`INTERRUPTED` (:class:`Interrupted`); its log says so and its outputs
  are not recorded, so the next run redoes it (a run resumes from its last checkpoint).

Ctrl-C in the command that runs the jobs is said once, in one line, by that command:
``snakemake`` (:func:`watch_interrupts` and :func:`exit_if_interrupted`, from the Snakefile)
and ``nnstudy train`` (:mod:`nnstudy.cli`), both with :func:`interrupted_message`.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TextIO

from nnstudy.datasets.store import CorruptFileError
from nnstudy.jobs.integrity import guarded
from nnstudy.jobs.lock import hold

# The shell's status of a command ended by SIGINT.
INTERRUPTED = 128 + signal.SIGINT


class Interrupted(SystemExit):
    """Ends a process cut short by Ctrl-C with status :data:`INTERRUPTED`, printing nothing."""

    def __init__(self) -> None:
        super().__init__(INTERRUPTED)


def interrupted_message(command: str) -> str:
    return f"interrupted; run {command} again to resume from the last checkpoint"


@contextlib.contextmanager
def job_frame(
    inputs: Iterable[str | os.PathLike],
    outputs: Iterable[str | os.PathLike],
    log: str | os.PathLike | None,
    threads: int = 1,
    errors: tuple[type[BaseException], ...] = (ValueError,),
    redirect: bool = True,
) -> Iterator[TextIO | None]:
    """Run the body as a job (see the module docstring); yields the open log (None without
    one). With ``redirect``, stdout and stderr go to the log too."""
    from threadpoolctl import threadpool_limits

    hold()
    with contextlib.ExitStack() as stack:
        stack.enter_context(guarded(inputs, outputs))
        stack.enter_context(threadpool_limits(limits=threads))
        stream = stack.enter_context(open(log, "w")) if log else None
        if stream is not None and redirect:
            stack.enter_context(contextlib.redirect_stdout(stream))
            stack.enter_context(contextlib.redirect_stderr(stream))
        try:
            with _interruptible():
                yield stream
        except (CorruptFileError, *errors) as error:
            cause = str(error) or type(error).__name__
            if stream is not None:  # SystemExit prints it on stderr
                print(cause, file=stream, flush=True)
            raise SystemExit(cause) from None
        except KeyboardInterrupt:
            if stream is not None:
                print("interrupted (Ctrl-C)", file=stream, flush=True)
            raise Interrupted from None


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt in the body, also in a process that ignores it between
    jobs (a pooled worker leaves it to Snakemake while idle)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only
        return
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def script_job(snakemake, own_log: bool = False, **options):
    """:func:`job_frame` for a Snakemake ``script:`` job (its inputs, outputs, log, threads);
    ``own_log``: the job writes its log itself."""
    log = None if own_log or not len(snakemake.log) else snakemake.log[0]
    return job_frame(snakemake.input, snakemake.output, log, snakemake.threads, **options)


# Set in Snakemake's main process by the first Ctrl-C (watch_interrupts), and once it is said.
_interrupted = threading.Event()
_said = threading.Event()


def watch_interrupts() -> None:
    """In Snakemake's main process, first thing while the Snakefile is read: Ctrl-C stops the
    process with :class:`Interrupted` instead of a KeyboardInterrupt traceback. While jobs run,
    Snakemake catches it as it catches KeyboardInterrupt (it cancels the jobs, which stop on
    their own Ctrl-C) and calls the study's ``onerror``, which calls :func:`exit_if_interrupted`;
    before that (reading the workflow, building the DAG) it ends the process. Either way
    :func:`interrupted_message` is said once: by the console (:mod:`nnstudy.console`) when
    Snakemake starts cancelling, else by ``onerror`` or at exit."""
    if threading.current_thread() is not threading.main_thread():
        return

    def on_sigint(signum, frame):
        _interrupted.set()
        raise Interrupted

    signal.signal(signal.SIGINT, on_sigint)
    atexit.register(say_interrupted, _stderr)


def interrupted() -> bool:
    """Whether Ctrl-C stopped this (Snakemake) process."""
    return _interrupted.is_set()


def say_interrupted(say: Callable[[str], object]) -> None:
    """After Ctrl-C, :func:`interrupted_message` for ``snakemake`` with ``say``, the first time
    only."""
    if _interrupted.is_set() and not _said.is_set():
        _said.set()
        say(interrupted_message("snakemake"))


def exit_if_interrupted(say: Callable[[str], object]) -> None:
    """In the study's ``onerror``: after a Ctrl-C, say so with ``say`` (Snakemake's logger,
    which clears the console's progress line) unless it was said, and stop with
    :data:`INTERRUPTED` instead of Snakemake's "At least one job did not complete"."""
    if _interrupted.is_set():
        say_interrupted(say)
        raise Interrupted


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
