"""Prepared files on disk: loads checked against the zip's CRC-32, integrity checks (writes:
nnlib.atomic)."""

from __future__ import annotations

import json
import math
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


class CorruptFileError(ValueError):
    """A prepared file that cannot be read back as written (bad CRC, truncated, garbled)."""


def load_split(directory: str | Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` of a prepared split, read into memory (read-only); never unpickles.

    In memory, a batch gather ``x.take(idx, out=xb)`` costs O(batch); on a memory map of an
    ``.npz`` member (unaligned inside the zip) NumPy copies the whole array on every call.
    Every member is checked against its CRC-32 while it is read, so a file changed on disk
    (even with its modification time kept) raises :class:`CorruptFileError` before use.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
    path = Path(directory) / f"{split}.npz"
    arrays = load_npz(path)
    try:
        return arrays["x"], arrays["y"]
    except KeyError as exc:
        raise ValueError(f"{path} has no array {exc}") from None


def load_npz(path: Path) -> dict[str, np.ndarray]:
    """All arrays of an .npz, read into memory (read-only) and checked against each member's
    CRC-32; a damaged file raises a one-line CorruptFileError naming it and its rebuild."""
    out, refused, member = {}, None, None
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                member = info.filename
                with zf.open(info) as f:
                    version = np.lib.format.read_magic(f)
                    if version not in _HEADER_READERS:
                        raise ValueError(f"unsupported .npy format version {version}")
                    shape, fortran, dtype = _HEADER_READERS[version](f)
                    if dtype.hasobject:
                        refused = member
                        break
                    # Reading to the member's end is what makes zipfile compare the CRC-32.
                    data = f.read()
                count = math.prod(shape)
                if len(data) != count * dtype.itemsize:
                    raise ValueError(f"{len(data)} bytes of data for shape {shape}")
                array = np.frombuffer(data, dtype=dtype, count=count)  # read-only
                out[member.removesuffix(".npy")] = array.reshape(
                    shape, order="F" if fortran else "C"
                )
    except (zipfile.BadZipFile, EOFError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if member is not None:
            reason = f"member {member}: {reason}"
        raise CorruptFileError(
            f"{path}: corrupt ({reason}); rebuild it: snakemake --cores 1 --forcerun {path}"
        ) from None
    if refused is not None:
        raise ValueError(f"{path}: member {refused} holds Python objects; refused")
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
