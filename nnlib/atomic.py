"""Atomic file writes: readers see the old file or the whole new one, never a partial one.

Every file nnlib writes (models, checkpoints, prepared data, dataset cards and manifests) goes
through here: a temporary sibling, fsync, then a rename over the target. A temporary file is
created private (0600); the result gets the permissions a plain ``open`` would give it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

# The process umask, read once at import (reading it means setting it for a moment).
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def atomic_write(path: str | os.PathLike, write, fsync: bool = True) -> None:
    """Write through ``write(fileobj)`` (binary) to a temporary sibling of ``path``, fsync,
    then rename it over ``path``. On any error the target is untouched and nothing is left.
    ``fsync=False`` skips the fsync: readers still see the old file or the whole new one, but
    after a power loss the file may be empty (for files rewritten often and cheap to rebuild)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fchmod(f.fileno(), 0o666 & ~_UMASK)
            if fsync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str, fsync: bool = True) -> None:
    """``text`` as UTF-8, atomically (``fsync``: see :func:`atomic_write`)."""
    atomic_write(path, lambda f: f.write(text.encode()), fsync)


def atomic_savez(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """An uncompressed ``.npz`` (stored members, so they can be memory-mapped), atomically."""
    atomic_write(path, lambda f: np.savez(f, **arrays))
