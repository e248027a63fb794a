"""Checksums of raw files, computed while streaming so memory stays flat."""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

_CHUNK = 1 << 20


def is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def file_digests(path: Path, algorithms: tuple[str, ...] = ("md5", "sha256")) -> dict[str, str]:
    """Digests of the file's bytes exactly as stored, computed in one pass."""
    hashes = {a: hashlib.new(a) for a in algorithms}
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            for h in hashes.values():
                h.update(chunk)
    return {a: h.hexdigest() for a, h in hashes.items()}


def file_digest(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """One digest of the file's bytes exactly as stored."""
    return file_digests(Path(path), (algorithm,))[algorithm]


def content_sha256(path: Path) -> str:
    """SHA-256 of the file's content, gunzipped first when it is gzip-compressed.

    Hashing the content (not the .gz) lets a recompressed or uncompressed mirror verify.
    """
    h = hashlib.sha256()
    opener = gzip.open if is_gzip(path) else open
    try:
        with opener(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                h.update(chunk)
    except (OSError, EOFError) as exc:  # gzip raises these on truncated/corrupt streams
        raise ValueError(f"{path}: corrupt gzip stream ({exc})") from None
    return h.hexdigest()


def read_content(path: Path) -> bytes:
    """The file's bytes, gunzipped when gzip-compressed; a one-line ValueError when corrupt."""
    if not is_gzip(path):
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError) as exc:
        raise ValueError(f"{path}: corrupt gzip stream ({exc})") from None
