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
  every job, whatever else the job expects.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from typing import TextIO

from nnstudy.datasets.store import CorruptFileError
from nnstudy.jobs.integrity import guarded
from nnstudy.jobs.lock import hold


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
            yield stream
        except (CorruptFileError, *errors) as error:
            cause = str(error) or type(error).__name__
            if stream is not None:  # SystemExit prints it on stderr
                print(cause, file=stream, flush=True)
            raise SystemExit(cause) from None


def script_job(snakemake, own_log: bool = False, **options):
    """:func:`job_frame` for a Snakemake ``script:`` job (its inputs, outputs, log, threads);
    ``own_log``: the job writes its log itself."""
    log = None if own_log or not len(snakemake.log) else snakemake.log[0]
    return job_frame(snakemake.input, snakemake.output, log, snakemake.threads, **options)
