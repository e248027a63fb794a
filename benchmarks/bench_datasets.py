"""Datasets benchmark: prepare Fashion-MNIST from the local mirror; load a prepared split and
gather batches from it, against the ways it could be held.

Targets (issues 4 and 13): prepare < 10 s; load of the training split in a job < 0.2 s; a
128-row batch gather from the split as the jobs load it (``load_split``: read into memory,
CRC-checked) within 1.5x of the same gather on a plain in-memory copy. The peers, measured
in the same run: the split memory-mapped at the member's offset inside the .npz (unaligned:
NumPy copies the whole array on every ``take``; how jobs read it before issue 13) and the
same array saved as an aligned .npy and memory-mapped (``np.load(mmap_mode="r")``).
Run: .venv/bin/python benchmarks/bench_datasets.py
"""

from __future__ import annotations

import os
import statistics
import struct
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
from nnstudy.datasets import load_split, prepare
from record import recorded

MIRROR = Path("/usr/share/datasets")
PREPARE_TARGET, LOAD_TARGET, GATHER_TARGET = 10.0, 0.2, 1.5
REPEATS = 3
BATCH, GATHERS = 128, 20


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def unaligned_map(path: Path, member: str = "x.npy") -> np.memmap:
    """The member mapped at its offset inside the zip file (the pre-issue-13 load)."""
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(member)
    with open(path, "rb") as raw:
        raw.seek(info.header_offset + 26)
        name_len, extra_len = struct.unpack("<HH", raw.read(4))
        raw.seek(info.header_offset + 30 + name_len + extra_len)
        np.lib.format.read_magic(raw)
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(raw)
        return np.memmap(path, dtype=dtype, mode="r", offset=raw.tell(), shape=shape)


def gather_seconds(x: np.ndarray, rng: np.random.Generator) -> float:
    """Median seconds of one BATCH-row ``take`` into a buffer, as nnlib's fit gathers."""
    out = np.empty((BATCH, x.shape[1]), x.dtype)
    times = []
    for _ in range(GATHERS):
        idx = rng.choice(len(x), BATCH, replace=False)
        times.append(timed(lambda idx=idx: x.take(idx, axis=0, out=out, mode="clip"))[0])
    return statistics.median(times)


def main() -> int:
    if not (MIRROR / "fashion-mnist" / "train-images-idx3-ubyte.gz").is_file():
        print("skipped: Debian package dataset-fashion-mnist is not installed", file=sys.stderr)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "fashion_mnist"
        prep = [
            timed(
                lambda: prepare(
                    "fashion_mnist",
                    out,
                    raw_dir=Path(tmp) / "raw",
                    local_dirs=[MIRROR],
                    progress=False,
                )
            )[0]
            for _ in range(REPEATS)
        ]
        loads = [timed(lambda: load_split(out, "train"))[0] for _ in range(REPEATS)]
        x, _ = load_split(out, "train")
        np.save(Path(tmp) / "x.npy", x)
        holders = {
            "in memory (np.array copy)": np.array(x),
            "load_split (jobs: in memory, CRC-checked)": x,
            "aligned .npy, memory-mapped": np.load(Path(tmp) / "x.npy", mmap_mode="r"),
            "unaligned .npz member, memory-mapped": unaligned_map(out / "train.npz"),
        }
        rng = np.random.default_rng(0)
        for held in holders.values():  # touch every page once: epochs after the first
            np.asarray(held).sum()
        # Interleaved rounds, median per holder: load from other jobs hits all of them alike.
        rounds = {name: [] for name in holders}
        for _ in range(REPEATS):
            for name, held in holders.items():
                rounds[name].append(gather_seconds(held, rng))
        gathers = {name: statistics.median(times) for name, times in rounds.items()}
    one, five, fifteen = os.getloadavg()
    print(f"train split: {x.shape} {x.dtype}, {x.nbytes / 1e6:.0f} MB in memory per job")
    print(f"load {one:.2f} {five:.2f} {fifteen:.2f}; median of {REPEATS} runs")
    print(f"{'step':44s} {'median s':>9s} {'target s':>9s} {'median/target':>14s}")
    for name, times, target in (
        ("prepare fashion_mnist (local mirror)", prep, PREPARE_TARGET),
        ("load_split train (read, CRC-checked)", loads, LOAD_TARGET),
    ):
        median = statistics.median(times)
        print(f"{name:44s} {median:9.3f} {target:9.1f} {median / target:14.3f}")
    reference = gathers["in memory (np.array copy)"]
    print(f"\n{BATCH}-row gather (x.take), median of {GATHERS} x {REPEATS}; target for the jobs' ")
    print(f"load: <= {GATHER_TARGET}x the in-memory copy")
    print(f"{'split held as':44s} {'ms':>9s} {'/ in memory':>12s}")
    for name, seconds in gathers.items():
        print(f"{name:44s} {seconds * 1e3:9.3f} {seconds / reference:12.2f}")
    return 0


if __name__ == "__main__":
    with recorded(__file__):
        code = main()
    sys.exit(code)
