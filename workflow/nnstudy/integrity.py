"""Checksums recorded when a result is written, checked when the next study starts.

Snakemake decides what to rebuild from file presence and modification times, so a prepared
data file or a model corrupted after it was written (a bad disk, a stray copy, a truncated
transfer) would be used as is. The jobs that write such files call :func:`record` once the file
is complete; the workflow calls :func:`verify_before_run` at start-up, which deletes every
recorded file whose content no longer matches together with the study targets computed from it
(:func:`dependents`). Deleting the corrupted file alone is not enough: Snakemake does not
rebuild a missing intermediate file while the targets made from it exist and look up to date.

Records live in ``.snakemake/checksums/`` (one small JSON file per recorded file, written
atomically, so parallel jobs never share one): ``{path, size, mtime_ns, sha256}``. Checking is
cheap: a file whose size and modification time (ns) are unchanged is trusted without reading
it; any other file is hashed (pass ``full=True`` to :func:`verify` to hash every file).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from nnlib.atomic import atomic_write_text
from nnlib.datasets.hashing import file_digest

STORE = Path(".snakemake") / "checksums"
LOCKS = Path(".snakemake") / "locks"
RUNS_ROOT = Path("results") / "runs"


def _key(path: Path) -> Path:
    """``path`` relative to the working directory when inside it (the study folder can move),
    else absolute."""
    absolute = path.absolute()
    try:
        return absolute.relative_to(Path.cwd())
    except ValueError:
        return absolute


def _record_path(key: Path, store: Path) -> Path:
    """Where the record of ``key`` lives: its path mirrored under ``store``."""
    if key.is_absolute():
        key = Path("_absolute", *key.parts[1:])
    return store / f"{key}.json"


def _stamp(path: Path, digest: str) -> dict:
    stat = path.stat()
    return {
        "path": str(path),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "sha256": digest,
    }


def record(*paths: str | os.PathLike, store: str | os.PathLike = STORE) -> None:
    """Record the checksum of each finished file (call it after the file is closed)."""
    for path in map(Path, paths):
        key = _key(path)
        stamp = _stamp(key, file_digest(key))
        atomic_write_text(_record_path(key, Path(store)), json.dumps(stamp) + "\n")


def verify(store: str | os.PathLike = STORE, full: bool = False) -> list[Path]:
    """Check every recorded file; delete the corrupted ones (and their records).

    Returns the deleted paths. A recorded file that no longer exists only loses its record
    (Snakemake rebuilds a missing file anyway); a file whose content is unchanged although its
    time stamp moved (``touch``) keeps it and gets a fresh record.
    """
    removed = []
    for rec_path in sorted(Path(store).rglob("*.json")):
        try:
            stamp = json.loads(rec_path.read_text())
            path = Path(stamp["path"])
            size, mtime_ns, digest = stamp["size"], stamp["mtime_ns"], stamp["sha256"]
        except (OSError, ValueError, KeyError, TypeError):
            rec_path.unlink(missing_ok=True)  # not one of ours: a record proves nothing
            continue
        try:
            stat = path.stat()
        except FileNotFoundError:
            rec_path.unlink(missing_ok=True)
            continue
        if not full and (stat.st_size, stat.st_mtime_ns) == (size, mtime_ns):
            continue
        if stat.st_size == size and file_digest(path) == digest:
            if stat.st_mtime_ns != mtime_ns:
                atomic_write_text(rec_path, json.dumps(_stamp(path, digest)) + "\n")
            continue
        path.unlink(missing_ok=True)
        rec_path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def dependents(path: str | os.PathLike, processed_dir: str | os.PathLike) -> list[Path]:
    """What to delete with a corrupted study file so that Snakemake rebuilds it.

    ``<processed_dir>/<dataset>/...``: every prepared file of the dataset (so ``prepare`` runs
    again) and every ``metrics.json`` of its runs (the targets of ``rule all``; the runs are
    re-evaluated, and retrained where the data they were trained on changed).
    ``results/runs/<dataset>/<run_id>/...``: that run's ``metrics.json`` (it is evaluated again,
    and retrained because its model or history is gone).
    """
    path, processed = Path(path), Path(processed_dir)
    if path.is_relative_to(processed) and len(path.relative_to(processed).parts) >= 2:
        dataset = path.relative_to(processed).parts[0]
        prepared = [p for p in (processed / dataset).iterdir() if p.is_file()]
        return sorted({*prepared, *RUNS_ROOT.glob(f"{dataset}/*/metrics.json")})
    if path.is_relative_to(RUNS_ROOT) and len(path.relative_to(RUNS_ROOT).parts) >= 3:
        dataset, run_id = path.relative_to(RUNS_ROOT).parts[:2]
        return [RUNS_ROOT / dataset / run_id / "metrics.json"]
    return []


def verify_before_run(
    workflow, processed_dir: str | os.PathLike, store: str | os.PathLike = STORE
) -> list[Path]:
    """:func:`verify` for the Snakefile, which Snakemake parses before it builds the DAG;
    deletes the corrupted files' :func:`dependents` too. Returns everything it deleted.

    Runs in the main Snakemake process only: cluster jobs parse the Snakefile again while other
    jobs write. Skipped while Snakemake's lock directory holds a lock, because the Snakefile is
    parsed before Snakemake takes its own lock and another study may be writing here (the lock
    of a killed local run is gone by then: nnstudy.studylock clears it first). Any command
    of the main process verifies, a dry run too: a corrupted file is rebuilt in any case, and
    the plan then shows it.
    """
    if not workflow.is_main_process:
        return []
    if LOCKS.is_dir() and any(LOCKS.iterdir()):
        return []
    deleted = verify(store)
    for path in list(deleted):
        for dependent in dependents(path, processed_dir):
            if dependent.exists():
                dependent.unlink()
                deleted.append(dependent)
    return deleted
