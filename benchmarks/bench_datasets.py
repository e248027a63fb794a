"""Datasets benchmark: prepare Fashion-MNIST from the local mirror; load a prepared split.

Targets (issue 4): prepare < 10 s, load of the training split in a job < 0.2 s.
Run: .venv/bin/python benchmarks/bench_datasets.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from nnlib.datasets import load_split, prepare

MIRROR = Path("/usr/share/datasets")
PREPARE_TARGET, LOAD_TARGET = 10.0, 0.2
REPEATS = 3


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


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
        # Open (memory-map) only, then open and read every byte (what one epoch touches).
        open_only = [timed(lambda: load_split(out, "train"))[0] for _ in range(REPEATS)]
        read_all = [
            timed(lambda: [np.asarray(a).sum() for a in load_split(out, "train")])[0]
            for _ in range(REPEATS)
        ]
        baseline = [
            timed(lambda: [np.load(out / "train.npz", allow_pickle=False)[k] for k in "xy"])[0]
            for _ in range(REPEATS)
        ]
        x, _ = load_split(out, "train")
    rows = [
        ("prepare fashion_mnist (local mirror)", prep, PREPARE_TARGET),
        ("load_split train (memory-mapped)", open_only, LOAD_TARGET),
        ("load_split train + read all bytes", read_all, LOAD_TARGET),
        ("np.load train.npz into memory (reference)", baseline, LOAD_TARGET),
    ]
    print(f"train split: {x.shape} {x.dtype}, {x.nbytes / 1e6:.0f} MB; median of {REPEATS} runs")
    print(f"{'step':44s} {'median s':>9s} {'target s':>9s} {'median/target':>14s}")
    for name, times, target in rows:
        median = statistics.median(times)
        print(f"{name:44s} {median:9.3f} {target:9.1f} {median / target:14.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
