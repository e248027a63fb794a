"""Prepared files on disk: memory-mapped loads and integrity checks (writes: nnlib.atomic)."""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path

import numpy as np

from .hashing import file_digest

SPLITS = ("train", "val", "test")
CARD = "card.json"
_HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}


def load_split(directory: str | Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` of a prepared split, memory-mapped read-only; never unpickles.

    ``np.load(..., mmap_mode="r")`` silently reads .npz members into memory, so stored
    members are mapped here directly at their offset inside the zip file.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
    arrays = load_npz(Path(directory) / f"{split}.npz")
    try:
        return arrays["x"], arrays["y"]
    except KeyError as exc:
        raise ValueError(f"{directory}/{split}.npz has no array {exc}") from None


def load_npz(path: Path) -> dict[str, np.ndarray]:
    """All arrays of an .npz: stored members memory-mapped, compressed ones read."""
    out = {}
    with zipfile.ZipFile(path) as zf, open(path, "rb") as raw:
        for info in zf.infolist():
            key = info.filename.removesuffix(".npy")
            if info.compress_type != zipfile.ZIP_STORED:
                with zf.open(info) as member:
                    out[key] = np.lib.format.read_array(member, allow_pickle=False)
                continue
            # Local file header: 30 fixed bytes, then name and extra field of given lengths.
            raw.seek(info.header_offset)
            header = raw.read(30)
            name_len, extra_len = struct.unpack("<HH", header[26:30])
            raw.seek(info.header_offset + 30 + name_len + extra_len)
            version = np.lib.format.read_magic(raw)
            if version not in _HEADER_READERS:
                raise ValueError(f"{path}: unsupported .npy format version {version}")
            shape, fortran, dtype = _HEADER_READERS[version](raw)
            if dtype.hasobject:
                raise ValueError(f"{path}: member {info.filename} holds Python objects; refused")
            out[key] = np.memmap(
                path,
                dtype=dtype,
                mode="r",
                offset=raw.tell(),
                shape=shape,
                order="F" if fortran else "C",
            )
    return out


def file_checksums(directory: Path, names) -> dict[str, str]:
    return {n: file_digest(Path(directory) / n) for n in names}


def verify_prepared(directory: str | Path) -> None:
    """Raise ValueError if a prepared file differs from the checksum its card recorded."""
    directory = Path(directory)
    try:
        recorded = json.loads((directory / CARD).read_text())["files"]
        actual = file_checksums(directory, recorded)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{directory}: cannot verify prepared files ({exc!r})") from None
    bad = [n for n in recorded if actual[n] != recorded[n]]
    if bad:
        raise ValueError(
            f"{directory}: {', '.join(bad)} changed since prepared (checksum mismatch)"
        )
