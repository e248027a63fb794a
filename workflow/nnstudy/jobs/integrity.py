"""Checksums recorded when a result is written, checked before it is used again.

Snakemake decides what to rebuild from file presence and modification times, so a prepared
data file or a run's result corrupted after it was written (a bad disk, a stray copy, a
truncated transfer) would be used as is. Every job forgets the records of its outputs when it
starts (:func:`forget`: Snakemake has just deleted them) and records them when they are
complete (:func:`record`). What is recorded is then checked twice, never changed:

- when the study starts (:func:`check_study`, while the Snakefile is parsed): any recorded file
  whose content changed stops the study, a dry run too, with one line naming the files and
  the command that rebuilds them (delete them; `rule all` reaches every output, so Snakemake
  rebuilds a missing file and everything made from it);
- by each job, for its inputs, before it uses them (:func:`check`): the same line as an error,
  for a file that changed while a study ran.

A missing file is Snakemake's to rebuild and is not reported here.

Records live in ``results/.checksums/`` (one small JSON file per recorded file, written
atomically, so parallel jobs never share one): ``{path, size, mtime_ns, sha256}``; not in
``.snakemake/``, so deleting Snakemake's metadata leaves the protection in place. Checking is
cheap: a file whose size and modification time (ns) are unchanged is trusted without reading
it; any other file is hashed, so a file only touched (same content) passes. Snakemake
touches a job's outputs after the job recorded them, so the study's start-up check remembers
the files it found only touched and :func:`refresh_touched` (from ``onstart``: real runs
only, with Snakemake's lock held) gives their records the new time stamp; without it every
start would hash every file again.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from nnlib.atomic import atomic_write_text
from nnstudy.datasets.hashing import file_digest

STORE = Path("results") / ".checksums"
LOCKS = Path(".snakemake") / "locks"


class IntegrityError(ValueError):
    """Recorded files whose content changed since they were written; ``str()`` is one line."""


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


def _write_stamp(key: Path, rec_path: Path, digest: str) -> None:
    stat = key.stat()
    stamp = {"path": str(key), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    atomic_write_text(rec_path, json.dumps(stamp | {"sha256": digest}) + "\n")


def record(*paths: str | os.PathLike, store: str | os.PathLike = STORE) -> None:
    """Record the checksum of each finished file (call it after the file is closed);
    directories are skipped."""
    for path in map(Path, paths):
        if path.is_dir():
            continue
        key = _key(path)
        _write_stamp(key, _record_path(key, Path(store)), file_digest(key))


def forget(*paths: str | os.PathLike, store: str | os.PathLike = STORE) -> None:
    """Drop the records of files a job is about to write again (at the job's start), so a job
    killed before it records them leaves no record that its new files contradict."""
    for path in map(Path, paths):
        _record_path(_key(path), Path(store)).unlink(missing_ok=True)


def _changed(rec_path: Path) -> Path | None:
    """The recorded file if it exists and its content differs from the record, else None.
    A record that is not one of ours proves nothing and is ignored."""
    try:
        stamp = json.loads(rec_path.read_text())
        path = Path(stamp["path"])
        size, mtime_ns, digest = stamp["size"], stamp["mtime_ns"], stamp["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    if (stat.st_size, stat.st_mtime_ns) == (size, mtime_ns):
        return None
    if stat.st_size == size and file_digest(path) == digest:
        _touched.append((path, rec_path, digest, stat.st_mtime_ns))
        return None
    return path


# Files a check found only touched (same content): (path, record, digest, mtime_ns).
_touched: list[tuple[Path, Path, str, int]] = []


def refresh_touched() -> int:
    """Give the records of the files the last checks found only touched their current time
    stamp (unless the file changed again since); returns how many were refreshed."""
    done = 0
    while _touched:
        path, rec_path, digest, mtime_ns = _touched.pop()
        try:
            if path.stat().st_mtime_ns == mtime_ns:
                _write_stamp(path, rec_path, digest)
                done += 1
        except OSError:
            pass  # gone or read-only: the next check hashes it again
    return done


def intact(path: str | os.PathLike, store: str | os.PathLike = STORE) -> bool:
    """Whether ``path`` exists, is recorded, and still holds what was recorded: a job finished
    writing it (a job records its outputs only once all of them are complete)."""
    key = _key(Path(path))
    rec_path = _record_path(key, Path(store))
    return rec_path.is_file() and key.exists() and _changed(rec_path) is None


def changed(store: str | os.PathLike = STORE) -> list[Path]:
    """Every recorded file whose content changed since it was recorded (reads only)."""
    found = (_changed(rec) for rec in sorted(Path(store).rglob("*.json")))
    return [path for path in found if path is not None]


def repair_message(paths: list[Path]) -> str:
    """One line: which files changed, and the command that rebuilds them."""
    names = " ".join(str(p) for p in paths)
    return (
        f"{names}: changed since the study wrote {'it' if len(paths) == 1 else 'them'} "
        "(checksum mismatch); delete and rebuild with what was made from "
        f"{'it' if len(paths) == 1 else 'them'}: rm {names} && snakemake --cores N"
    )


def check(*paths: str | os.PathLike, store: str | os.PathLike = STORE) -> None:
    """Raise :class:`IntegrityError` if a recorded file among ``paths`` changed (a job calls
    it on its inputs before it reads them); unrecorded files pass."""
    bad = [
        path
        for path in (_changed(_record_path(_key(Path(p)), Path(store))) for p in paths)
        if path is not None
    ]
    if bad:
        raise IntegrityError(repair_message(bad))


@contextmanager
def guarded(inputs: Iterable[str], outputs: Iterable[str]) -> Iterator[None]:
    """A job's body: forget its outputs' records, check its inputs (exit with the one-line
    message if one changed), run, then record the outputs it wrote."""
    outputs = [str(p) for p in outputs]
    forget(*outputs)
    try:
        check(*inputs)
    except IntegrityError as error:
        sys.exit(str(error))
    yield
    record(*(p for p in outputs if Path(p).exists()))


def check_study(workflow, store: str | os.PathLike = STORE) -> str | None:
    """:func:`changed` for the Snakefile, which Snakemake parses before it builds the DAG:
    the one-line message that stops the study, or None when every recorded file is intact.

    Runs in the main Snakemake process only (cluster jobs parse the Snakefile again while
    other jobs write), and not while Snakemake's lock directory holds a lock: another study
    may be writing here (the lock of a killed local run is gone by then: nnstudy.jobs.lock
    clears it first); its jobs check their inputs themselves.
    """
    if not workflow.is_main_process:
        return None
    if LOCKS.is_dir() and any(LOCKS.iterdir()):
        return None
    bad = changed(store)
    return repair_message(bad) if bad else None
