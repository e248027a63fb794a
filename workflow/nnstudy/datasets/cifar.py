"""CIFAR-10, binary version, read straight from the tar.gz stream into memory.

Nothing is extracted to disk and nothing is unpickled: every member is checked (name,
type, size) from its header before a byte of it is read, and any surprise — a path that
escapes the folder, a link, a device, an unexpected or oversized member, a pickle from
the Python version of the archive — refuses the whole archive.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import tarfile

FOLDER = "cifar-10-batches-bin"
TRAIN_BATCHES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_BATCH = "test_batch.bin"
_TEXT_MEMBERS = {"batches.meta.txt", "readme.html"}
_TEXT_LIMIT = 64 * 1024
_RECORD = 1 + 32 * 32 * 3  # label byte, then 1024 red, 1024 green, 1024 blue bytes
# Member names of the pickled Python version (cifar-10-batches-py).
_PICKLED = {*(b.removesuffix(".bin") for b in TRAIN_BATCHES), "test_batch", "batches.meta"}


def read_cifar10(
    path: str | Path, *, records_per_batch: int = 10_000, n_classes: int = 10
) -> dict[str, np.ndarray | list[str]]:
    """Images (N, 32, 32, 3) uint8 and labels of the official binary archive at ``path``.

    Returns ``x_train, y_train, x_test, y_test`` and ``class_names`` (from batches.meta.txt,
    empty if the archive has none). Raises ValueError naming the offending member.
    """
    import tarfile  # here: a training job imports this module but never reads an archive

    path = Path(path)
    batch_bytes = records_per_batch * _RECORD
    members: dict[str, bytes] = {}
    try:
        with tarfile.open(path, mode="r|gz") as tar:  # stream mode: one pass, no seeking
            for member in tar:
                name = _check_member(path, member, batch_bytes, members)
                if name is None:
                    continue
                fileobj = tar.extractfile(member)
                members[name] = fileobj.read() if fileobj is not None else b""
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ValueError(f"{path}: not a readable tar.gz archive ({exc})") from None
    missing = [b for b in (*TRAIN_BATCHES, TEST_BATCH) if b not in members]
    if missing:
        raise ValueError(f"{path}: archive lacks {', '.join(missing)}")
    x_train, y_train = zip(
        *(_parse_batch(path, b, members[b], batch_bytes, n_classes) for b in TRAIN_BATCHES),
        strict=True,
    )
    x_test, y_test = _parse_batch(path, TEST_BATCH, members[TEST_BATCH], batch_bytes, n_classes)
    meta = members.get("batches.meta.txt", b"").decode("ascii", errors="replace")
    return {
        "x_train": np.concatenate(x_train),
        "y_train": np.concatenate(y_train),
        "x_test": x_test,
        "y_test": y_test,
        "class_names": [line.strip() for line in meta.splitlines() if line.strip()],
    }


def _check_member(path: Path, member: tarfile.TarInfo, batch_bytes: int, seen: dict) -> str | None:
    """The member's base name if it is to be read, None for the folder entry; else raise."""
    where = f"{path}: member {member.name!r}"
    parts = PurePosixPath(member.name).parts
    if member.name.startswith("/") or ".." in parts or "\\" in member.name:
        raise ValueError(f"{where} points outside the archive folder (path traversal); refused")
    if member.issym() or member.islnk():
        raise ValueError(f"{where} is a link (to {member.linkname!r}); refused")
    if member.isdir():
        if parts != (FOLDER,):
            raise ValueError(f"{where} is an unexpected folder; refused")
        return None
    if not member.isfile():
        raise ValueError(f"{where} is a special file; refused")
    base = parts[-1] if len(parts) == 2 and parts[0] == FOLDER else None
    if base is None or base not in {*TRAIN_BATCHES, TEST_BATCH, *_TEXT_MEMBERS}:
        if (parts[-1] in _PICKLED) or parts[-1].endswith((".pkl", ".pickle")):
            raise ValueError(
                f"{where} is a pickle (Python version of CIFAR-10); only the binary version "
                "is accepted; refused"
            )
        raise ValueError(f"{where} is not part of the CIFAR-10 binary archive; refused")
    if base in seen:
        raise ValueError(f"{where} appears twice; refused")
    limit = _TEXT_LIMIT if base in _TEXT_MEMBERS else batch_bytes
    if member.size > limit:
        raise ValueError(f"{where} is oversized ({member.size} bytes > {limit}); refused")
    return base


def _parse_batch(path: Path, name: str, data: bytes, batch_bytes: int, n_classes: int):
    where = f"{path}: {name}"
    if len(data) > 1 and data[0] == 0x80 and 2 <= data[1] <= 5:
        raise ValueError(f"{where} is a pickle, not binary records; refused")
    if len(data) != batch_bytes:
        raise ValueError(
            f"{where}: {len(data)} bytes, expected {batch_bytes} ({_RECORD}-byte records); "
            "truncated or corrupt"
        )
    records = np.frombuffer(data, np.uint8).reshape(-1, _RECORD)
    labels = records[:, 0].astype(np.int64)
    if labels.max() >= n_classes:
        raise ValueError(f"{where}: label {labels.max()} out of range 0..{n_classes - 1}")
    # Stored channel-major (C, H, W) per record; images are kept as (H, W, C).
    images = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels
