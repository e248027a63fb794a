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
atomically, so parallel jobs never share one): ``{path, size, mtime_ns, ctime_ns, sha256}``;
not in ``.snakemake/``, so deleting Snakemake's metadata leaves the protection in place.
Checking is cheap: a file whose size, modification time and inode change time (ns) are
unchanged is trusted without reading it; any other file is hashed, so a file only touched
(same content) passes. The change time is what makes the shortcut safe: `touch -r` or
``os.utime`` can set a modification time back, but every write (and every ``utime``) sets the
change time to now, and no user-space call sets it back. Snakemake touches a job's outputs
after the job recorded them, so the study's start-up check remembers the files it found only
touched and :func:`refresh_touched` (from ``onstart``: real runs only, with Snakemake's lock
held) gives their records the new time stamp; without it every start would hash every file
again.

*Parts*: a job output may stand for more files than itself: a ``directory()`` output (the
report's LaTeX fragments) or a marker that lists what the job wrote beside it (W&B's run
folders). :func:`record_parts` records each such file and a list of them (``<output>.parts``
in the store); :func:`incomplete` names the outputs that have lost a part, which the study
reruns (:func:`force_rerun`), since Snakemake sees only the output itself.

*Lost records*: :func:`adopt` (from ``onstart``) records every output of a job Snakemake
found up to date that has no record (after ``rm -rf results/.checksums``, or files of an older
version of the study): what is on disk then is trusted from that moment on.
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


def _parts_path(key: Path, store: Path) -> Path:
    """Where the list of ``key``'s parts lives (not a ``.json``: no checksum record)."""
    return _record_path(key, store).with_suffix(".parts")


def _stamp(stat: os.stat_result) -> tuple[int, int, int]:
    return stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns


def _write_stamp(key: Path, rec_path: Path, digest: str) -> None:
    size, mtime_ns, ctime_ns = _stamp(key.stat())
    stamp = {"path": str(key), "size": size, "mtime_ns": mtime_ns, "ctime_ns": ctime_ns}
    atomic_write_text(rec_path, json.dumps(stamp | {"sha256": digest}) + "\n")


def _files(path: Path) -> list[Path]:
    """``path`` itself, or every file under it when it is a directory."""
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]


def record(*paths: str | os.PathLike, store: str | os.PathLike = STORE) -> None:
    """Record the checksum of each finished file (call it after the file is closed); a
    directory is recorded as the parts of itself (:func:`record_parts`)."""
    for path in map(Path, paths):
        if path.is_dir():
            record_parts(path, [path], store)
            continue
        key = _key(path)
        _write_stamp(key, _record_path(key, Path(store)), file_digest(key))


def record_parts(
    output: str | os.PathLike,
    parts: Iterable[str | os.PathLike],
    store: str | os.PathLike = STORE,
) -> None:
    """Record every file of ``parts`` (files or directories) as part of the job output
    ``output``: each file's checksum, and their list, so that :func:`incomplete` finds
    ``output`` once one of them is gone."""
    files = [f for part in parts for f in _files(Path(part))]
    record(*files, store=store)
    names = sorted(str(_key(f)) for f in files)
    entry = {"path": str(_key(Path(output))), "parts": names}
    atomic_write_text(_parts_path(_key(Path(output)), Path(store)), json.dumps(entry) + "\n")


def _read_parts(parts_path: Path) -> dict | None:
    try:
        entry = json.loads(parts_path.read_text())
        return entry if isinstance(entry.get("parts"), list) else None
    except (OSError, ValueError, AttributeError):
        return None


def forget(*paths: str | os.PathLike, store: str | os.PathLike = STORE) -> None:
    """Drop the records of files a job is about to write again (at the job's start), so a job
    killed before it records them leaves no record that its new files contradict; an output
    with parts loses those too."""
    for path in map(Path, paths):
        key = _key(path)
        parts_path = _parts_path(key, Path(store))
        entry = _read_parts(parts_path)
        for part in entry["parts"] if entry else []:
            _record_path(Path(part), Path(store)).unlink(missing_ok=True)
        parts_path.unlink(missing_ok=True)
        _record_path(key, Path(store)).unlink(missing_ok=True)


def incomplete(store: str | os.PathLike = STORE) -> list[str]:
    """The outputs (on disk) that miss one of their recorded parts (reads only)."""
    found = []
    for parts_path in sorted(Path(store).rglob("*.parts")):
        entry = _read_parts(parts_path)
        owner_exists = entry is not None and Path(entry["path"]).exists()
        if owner_exists and not all(Path(part).exists() for part in entry["parts"]):
            found.append(entry["path"])
    return found


def force_rerun(workflow, outputs: Iterable[str]) -> list[str]:
    """Have Snakemake rerun the jobs of ``outputs`` (and what depends on them), as
    ``--forcerun OUTPUT`` would. Call it from an input function of ``rule all``: Snakemake
    evaluates it first, while it builds the DAG and before it decides what needs to run (its
    command-line settings are not yet attached to the workflow while the Snakefile is parsed).
    Returns no input. A dry run shows the jobs; nothing is written."""
    workflow.dag.forcefiles.update(outputs)
    return []


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
    if _stamp(stat) == (size, mtime_ns, stamp.get("ctime_ns")):
        return None
    if stat.st_size == size and file_digest(path) == digest:
        _touched.append((path, rec_path, digest, stat.st_mtime_ns))
        return None
    return path


# Files a check found only touched (same content): (path, record, digest, mtime_ns).
_touched: list[tuple[Path, Path, str, int]] = []
# The files the last full check (changed()) found recorded, for adopt().
_recorded: set[str] = set()


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
    records = sorted(Path(store).rglob("*.json"))
    _recorded.clear()
    _recorded.update(str(rec.relative_to(store)) for rec in records)
    found = (_changed(rec) for rec in records)
    return [path for path in found if path is not None]


def adopt(workflow, store: str | os.PathLike = STORE) -> int:
    """Record every existing output of the jobs Snakemake found up to date that has no record
    (call it from ``onstart``: a real run, Snakemake's lock held, the DAG built); returns how
    many files were recorded. Uses what the start-up check listed, else lists the store."""
    store = Path(store)
    if not _recorded:
        _recorded.update(str(rec.relative_to(store)) for rec in store.rglob("*.json"))
    dag = workflow.dag
    done = 0
    for job in dag.jobs:
        if dag.needrun(job):
            continue
        for output in map(Path, job.output):
            key = _key(output)
            if not output.exists() or _parts_path(key, store).exists():
                continue
            if output.is_dir() or str(_record_path(key, Path())) not in _recorded:
                record(output, store=store)
                done += 1
    return done


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
def guard(inputs: Iterable[str], outputs: Iterable[str]) -> Iterator[None]:
    """A job's body: forget its outputs' records, check its inputs (raise
    :class:`IntegrityError` if one changed), run, then record the outputs it wrote."""
    outputs = [str(p) for p in outputs]
    forget(*outputs)
    check(*inputs)
    yield
    record(*(p for p in outputs if Path(p).exists()))


@contextmanager
def guarded(inputs: Iterable[str], outputs: Iterable[str]) -> Iterator[None]:
    """:func:`guard` for a job process: a changed input exits with the one-line message."""
    try:
        with guard(inputs, outputs):
            yield
    except IntegrityError as error:
        sys.exit(str(error))


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
