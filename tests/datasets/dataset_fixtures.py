"""Small files in the real formats (gzip IDX, CIFAR-10 binary tar.gz) and matching specs."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import tarfile

import numpy as np
from nnstudy.datasets import DATASETS, RawFile

IDX_NAMES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def encode_idx(array: np.ndarray) -> bytes:
    """IDX bytes of a uint8 array: magic 0x00000803-style header, big-endian dims, data."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    return (
        bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">u4").tobytes() + array.tobytes()
    )


def small_idx_set(seed: int = 0, n_train: int = 100, n_test: int = 20) -> dict[str, bytes]:
    """Uncompressed IDX contents of a tiny MNIST-like set (balanced labels, 28x28 images)."""
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte.gz": encode_idx(rng.integers(0, 256, (n_train, 28, 28))),
        "train-labels-idx1-ubyte.gz": encode_idx(np.arange(n_train) % 10),
        "t10k-images-idx3-ubyte.gz": encode_idx(rng.integers(0, 256, (n_test, 28, 28))),
        "t10k-labels-idx1-ubyte.gz": encode_idx(np.arange(n_test) % 10),
    }


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def idx_spec(contents: dict[str, bytes], mirrors=(), name: str = "mnist"):
    """The catalog entry of ``name`` pointed at ``mirrors``, with the small files' checksums."""
    files = tuple(
        RawFile(
            n,
            sha256=hashlib.sha256(contents[n]).hexdigest(),
            md5=hashlib.md5(gz(contents[n])).hexdigest(),
        )
        for n in IDX_NAMES
    )
    return dataclasses.replace(DATASETS[name], files=files, mirrors=tuple(mirrors))


RECORDS = 10  # records per CIFAR batch in the small archives


def cifar_batch(seed: int, records: int = RECORDS) -> bytes:
    rng = np.random.default_rng(seed)
    labels = (np.arange(records)[:, None] + seed) % 10  # every class in every batch
    pixels = rng.integers(0, 256, (records, 3072))
    return np.hstack([labels, pixels]).astype(np.uint8).tobytes()


def cifar_members() -> list[tuple[str, bytes]]:
    """(name, data) of a well-formed small CIFAR-10 binary archive."""
    folder = "cifar-10-batches-bin/"
    members = [(f"{folder}data_batch_{i}.bin", cifar_batch(i)) for i in range(1, 6)]
    members.append((f"{folder}test_batch.bin", cifar_batch(99)))
    names = "\n".join(DATASETS["cifar10"].class_names) + "\n"
    members.append((f"{folder}batches.meta.txt", names.encode()))
    members.append((f"{folder}readme.html", b"<html></html>"))
    return members


def make_tar_gz(members, extra_infos=()) -> bytes:
    """A tar.gz of (name, data) regular files plus arbitrary ready-made TarInfo entries."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        folder = tarfile.TarInfo("cifar-10-batches-bin")
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info, data in extra_infos:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def cifar_spec(archive: bytes, mirrors=()):
    files = (RawFile("cifar-10-binary.tar.gz", md5=hashlib.md5(archive).hexdigest()),)
    return dataclasses.replace(
        DATASETS["cifar10"], files=files, mirrors=tuple(mirrors), records_per_batch=RECORDS
    )


# Download options that keep the tests quick (no backoff sleeps, no progress bars).
FAST = {"timeout": 5.0, "retries": 2, "backoff": 0.0, "progress": False}
