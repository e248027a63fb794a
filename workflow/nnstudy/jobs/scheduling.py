"""Keep Snakemake's main process cheap: no spinning in local runs, no repeated full GC sweeps.

Snakemake 9 limits job submissions per timespan (``--max-jobs-per-timespan``, default 100/1s).
Every scheduling round that leaves ready jobs waiting starts a ``threading.Timer`` that
triggers one more round a timespan later, and that round starts a new timer: each job start or
end adds a chain that never stops. With hundreds of short jobs the main process runs hundreds
of rounds a second and takes a good part of a core from the jobs. The limit protects a
cluster's queue; a local run has nothing to protect, so it goes without. No command-line
value turns the limiter off (any ``N/T`` creates one), hence :func:`drop_local_rate_limit`.
"""

from __future__ import annotations

import gc

# Python's default third threshold (10) plus its own rule (a full collection once the objects
# promoted since the last one exceed a quarter of the long-lived ones) lets a full sweep of the
# whole heap run every time the DAG grows by a quarter; planning a large grid builds millions
# of long-lived objects, so those sweeps would run again and again over all of them.
FULL_COLLECTION_THRESHOLD = 1000


def relax_full_collections() -> tuple[int, int, int]:
    """Make full garbage collections of this process rare (young generations unchanged), for
    Snakemake's main process while it builds a large DAG. Returns the previous thresholds."""
    previous = gc.get_threshold()
    gc.set_threshold(previous[0], previous[1], FULL_COLLECTION_THRESHOLD)
    return previous


def drop_local_rate_limit(workflow) -> bool:
    """Remove the job rate limiter of a local run's scheduler (call at ``onstart``, when the
    scheduler exists and before it runs). True when one was removed."""
    scheduler = getattr(workflow, "scheduler", None)
    if not workflow.local_exec or getattr(scheduler, "job_rate_limiter", None) is None:
        return False
    scheduler.job_rate_limiter = None  # what Snakemake itself uses for dry runs
    return True
