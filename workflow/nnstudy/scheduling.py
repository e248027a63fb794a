"""Keep Snakemake's main process from spinning in local runs.

Snakemake 9 (9.27 checked) limits job submissions per timespan (``--max-jobs-per-timespan``,
default 100/1s). Every scheduling round that leaves ready jobs waiting starts a
``threading.Timer`` that triggers one more round a timespan later, and that round starts a new
timer: each job start or end adds a chain that never stops. With hundreds of short jobs the
main process runs hundreds of rounds a second and takes a good part of a core from the jobs
(a 36-run study: 16.8 s of main-process CPU, 5.9 s without the limiter). The limit protects a
cluster's queue; a local run has nothing to protect, so it goes without.
"""

from __future__ import annotations


def drop_local_rate_limit(workflow) -> bool:
    """Remove the job rate limiter of a local run's scheduler (call at ``onstart``, when the
    scheduler exists and before it runs). True when one was removed."""
    scheduler = getattr(workflow, "scheduler", None)
    if not workflow.local_exec or getattr(scheduler, "job_rate_limiter", None) is None:
        return False
    scheduler.job_rate_limiter = None  # what Snakemake itself uses for dry runs
    return True
