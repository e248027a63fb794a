"""Epoch time of nnlib vs scikit-learn's MLPClassifier and PyTorch (CPU, when importable).

A 784-256-128-10 ReLU network trained with Adam (lr 1e-3), batch 128, float32, on 60,000
synthetic samples (no download), at BLAS thread counts 1 and 2. Prints the minimum and the
median epoch time of each library over the timed epochs, the ratios, this machine's measured
float32 GEMM rate and the share of it that nnlib's training step reaches.

    .venv/bin/python benchmarks/bench_nnlib.py [--epochs 5] [--threads 1 2] [--samples 60000]

The machine may be shared: compare the minimum columns, and rerun when it is quiet.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

import nnlib

SIZES = [784, 256, 128, 10]
BATCH = 128


def synthetic_data(n: int, seed: int = 0):
    """Gaussian inputs labelled by a random two-layer teacher, so there is something to learn."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, SIZES[0]), dtype=np.float32)
    teacher = rng.standard_normal((SIZES[0], 64), dtype=np.float32) / 28
    y = (np.tanh(x @ teacher) @ rng.standard_normal((64, SIZES[-1]), dtype=np.float32)).argmax(1)
    return x, y.astype(np.int64)


def step_flops(n: int) -> float:
    """FLOPs of the GEMMs in one epoch of training: forward, weight gradients, and input
    gradients of every layer but the first (nnlib skips that one; so do torch and sklearn)."""
    macs = sum(a * b for a, b in zip(SIZES[:-1], SIZES[1:], strict=True))
    return 2.0 * n * (3 * macs - SIZES[0] * SIZES[1])


def gemm_rate(repeats: int = 30) -> float:
    """Best float32 GEMM rate (FLOP/s) over the first layer's three GEMM shapes (forward,
    weight gradient, input gradient), which dominate the step."""
    rng = np.random.default_rng(0)
    best = 0.0
    for m, k, n in [
        (BATCH, SIZES[0], SIZES[1]),
        (SIZES[0], BATCH, SIZES[1]),
        (BATCH, SIZES[1], SIZES[0]),
    ]:
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        c = np.empty((m, n), np.float32)
        for _ in range(3):
            np.matmul(a, b, out=c)
        t = time.perf_counter()
        for _ in range(repeats):
            np.matmul(a, b, out=c)
        best = max(best, 2.0 * m * k * n * repeats / (time.perf_counter() - t))
    return best


def time_nnlib(x, y, epochs: int) -> list[float]:
    model = nnlib.MLP(SIZES, activation="relu", init="he_uniform", rng=0)
    opt = nnlib.get_optimizer("adam", model.parameters(), lr=1e-3)
    result = nnlib.fit(
        model, nnlib.get_loss("cross_entropy"), opt, x, y, epochs=epochs, batch_size=BATCH, seed=0
    )
    return [row["seconds"] for row in result.history]


def time_sklearn(x, y, epochs: int) -> list[float]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(
        hidden_layer_sizes=tuple(SIZES[1:-1]),
        activation="relu",
        solver="adam",
        alpha=0.0,
        batch_size=BATCH,
        learning_rate_init=1e-3,
        max_iter=1,
        shuffle=True,
        random_state=0,
    )
    classes = np.arange(SIZES[-1])
    times = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(epochs):
            t = time.perf_counter()
            clf.partial_fit(x, y, classes=classes)  # one epoch of mini-batch Adam
            times.append(time.perf_counter() - t)
    return times


def time_torch(x, y, epochs: int, threads: int) -> list[float] | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(SIZES[:-1], SIZES[1:], strict=True)):
        layers.append(torch.nn.Linear(n_in, n_out))
        if i < len(SIZES) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(0)
    times = []
    for _ in range(epochs):
        t = time.perf_counter()
        perm = torch.randperm(len(xt), generator=gen)
        for i in range(0, len(xt), BATCH):
            idx = perm[i : i + BATCH]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - t)
    return times


def summary(times: list[float]) -> tuple[float, float]:
    timed = times[1:] if len(times) > 2 else times  # the first epoch warms caches up
    return min(timed), statistics.median(timed)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=5, help="epochs per library (first is warm-up)")
    ap.add_argument("--samples", type=int, default=60_000)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args(argv)

    x, y = synthetic_data(args.samples)
    flops = step_flops(args.samples)
    print(
        f"784-256-128-10 ReLU, Adam, batch {BATCH}, float32, {args.samples} samples, "
        f"{args.epochs} epochs each (min / median of epochs 2..{args.epochs}, seconds)"
    )
    for threads in args.threads:
        with threadpool_limits(threads):
            rate = gemm_rate()
            nn = summary(time_nnlib(x, y, args.epochs))
            sk = summary(time_sklearn(x, y, args.epochs))
            th = time_torch(x, y, args.epochs, threads)
        th = summary(th) if th is not None else None
        print(f"\n== BLAS threads: {threads}")
        print(f"float32 GEMM rate: {rate / 1e9:.1f} GFLOP/s")
        print(
            f"nnlib        epoch {nn[0]:.3f} / {nn[1]:.3f} s   "
            f"{flops / nn[0] / 1e9:.1f} GFLOP/s = {flops / nn[0] / rate:.0%} of GEMM rate (min)"
        )
        print(
            f"scikit-learn epoch {sk[0]:.3f} / {sk[1]:.3f} s   "
            f"nnlib is {sk[0] / nn[0]:.2f}x / {sk[1] / nn[1]:.2f}x faster"
        )
        if th is None:
            print("pytorch      not installed (skipped)")
        else:
            print(
                f"pytorch      epoch {th[0]:.3f} / {th[1]:.3f} s   "
                f"nnlib / torch = {nn[0] / th[0]:.2f} / {nn[1] / th[1]:.2f}"
            )


if __name__ == "__main__":
    main()
