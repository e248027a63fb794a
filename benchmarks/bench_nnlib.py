"""Epoch time of nnlib vs scikit-learn's MLPClassifier and PyTorch (CPU, when importable).

A 784-256-128-10 ReLU network trained with Adam (lr 1e-3), batch 128, float32, on 60,000
synthetic samples (no download), at BLAS thread counts 1 and 2. Prints the minimum and the
median epoch time of each library over the timed epochs, the ratios, this machine's measured
float32 GEMM rate and the share of it that nnlib's training step reaches. Then where nnlib's
step goes: its phases timed one by one in a replica of ``fit``'s step, beside the step's GEMMs
alone (back to back, hot) and the step time that 70 % of the GEMM rate allows.

    .venv/bin/python benchmarks/bench_nnlib.py [--epochs 5] [--threads 1 2] [--samples 60000]

The machine may be shared: compare the minimum columns, and rerun when it is quiet.
"""

from __future__ import annotations

import argparse
import itertools
import math
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
    return n / BATCH * sum(2.0 * m * k * n for m, k, n in gemm_shapes())


def gemm_shapes() -> list[tuple[int, int, int]]:
    """(m, k, n) of every GEMM of one step: forward, weight gradient, and input gradient of
    every layer but the first."""
    shapes = []
    for i, (n_in, n_out) in enumerate(zip(SIZES[:-1], SIZES[1:], strict=True)):
        shapes += [(BATCH, n_in, n_out), (n_in, BATCH, n_out)]
        if i:
            shapes.append((BATCH, n_out, n_in))
    return shapes


def gemm_operands(shapes) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Random float32 (a, b, out) for each (m, k, n), from a fixed seed."""
    rng = np.random.default_rng(0)
    return [
        (
            rng.standard_normal((m, k), dtype=np.float32),
            rng.standard_normal((k, n), dtype=np.float32),
            np.empty((m, n), np.float32),
        )
        for m, k, n in shapes
    ]


def gemm_rate(repeats: int = 30) -> float:
    """Best float32 GEMM rate (FLOP/s) over the first layer's three GEMM shapes (forward,
    weight gradient, input gradient), which dominate the step."""
    best = 0.0
    shapes = [(BATCH, SIZES[0], SIZES[1]), (SIZES[0], BATCH, SIZES[1]), (BATCH, SIZES[1], SIZES[0])]
    for (m, k, n), (a, b, c) in zip(shapes, gemm_operands(shapes), strict=True):
        for _ in range(3):
            np.matmul(a, b, out=c)
        t = time.perf_counter()
        for _ in range(repeats):
            np.matmul(a, b, out=c)
        best = max(best, 2.0 * m * k * n * repeats / (time.perf_counter() - t))
    return best


class NnlibRunner:
    def __init__(self, x, y):
        self.x, self.y = x, y
        self.model = nnlib.MLP(SIZES, activation="relu", init="he_uniform", rng=0)
        self.opt = nnlib.get_optimizer("adam", self.model.parameters(), lr=1e-3)
        self.loss = nnlib.get_loss("cross_entropy")
        self.rng = np.random.default_rng(0)

    def epoch(self) -> float:
        """One epoch; fit's own timing covers the epoch loop, not its one-off input checks."""
        result = nnlib.fit(
            self.model,
            self.loss,
            self.opt,
            self.x,
            self.y,
            epochs=1,
            batch_size=BATCH,
            seed=self.rng,
        )
        if result.status != "ok":
            raise RuntimeError(f"nnlib training ended with status {result.status!r}")
        self.last = result.history[0]
        return self.last["seconds"]


PHASES = ("gather", "forward", "loss", "backward", "grad norm", "optimizer")


def step_phases(x, y, epochs: int = 3) -> dict[str, float]:
    """Seconds per step of each phase of ``fit``'s training step, replayed with nnlib's public
    API (same calls, same order; a timer between phases), averaged over the best epoch."""
    runner = NnlibRunner(x, y)
    model, loss, opt = runner.model, runner.loss, runner.opt
    xb = np.empty((BATCH, x.shape[1]), x.dtype)
    best = None
    for _ in range(epochs):
        spent = dict.fromkeys(PHASES, 0.0)
        order = runner.rng.permutation(len(x))
        steps = len(x) // BATCH
        for i in range(steps):
            idx = order[i * BATCH : (i + 1) * BATCH]
            t0 = time.perf_counter()
            x.take(idx, axis=0, out=xb, mode="clip")
            yb = y[idx]
            t1 = time.perf_counter()
            out = model.forward(xb, training=True)
            t2 = time.perf_counter()
            loss.forward(out, yb)
            grad = loss.backward()
            t3 = time.perf_counter()
            model.backward(grad, input_grad=False)
            t4 = time.perf_counter()
            np.vdot(opt.flat_grad, opt.flat_grad)
            t5 = time.perf_counter()
            opt.step()
            t6 = time.perf_counter()
            for name, (a, b) in zip(
                PHASES, itertools.pairwise((t0, t1, t2, t3, t4, t5, t6)), strict=True
            ):
                spent[name] += b - a
        per_step = {name: t / steps for name, t in spent.items()}
        if best is None or sum(per_step.values()) < sum(best.values()):
            best = per_step
    return best


def gemms_alone(repeats: int = 200) -> float:
    """Seconds for the step's GEMMs alone, back to back on hot operands (best of 3 blocks)."""
    ops = gemm_operands(gemm_shapes())
    best = math.inf
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(repeats):
            for a, b, c in ops:
                np.matmul(a, b, out=c)
        best = min(best, (time.perf_counter() - t) / repeats)
    return best


class SklearnRunner:
    def __init__(self, x, y):
        from sklearn.neural_network import MLPClassifier

        self.x, self.y, self.classes = x, y, np.arange(SIZES[-1])
        self.clf = MLPClassifier(
            hidden_layer_sizes=tuple(SIZES[1:-1]),
            activation="relu",
            solver="adam",
            alpha=0.0,
            batch_size=BATCH,
            learning_rate_init=1e-3,
            shuffle=True,
            random_state=0,
        )

    def epoch(self) -> float:
        """One partial_fit = one epoch of mini-batch Adam (includes sklearn's input checks)."""
        t = time.perf_counter()
        self.clf.partial_fit(self.x, self.y, classes=self.classes)
        return time.perf_counter() - t


class TorchRunner:
    def __init__(self, x, y, threads: int):
        import torch

        self.torch = torch
        torch.set_num_threads(threads)
        torch.manual_seed(0)
        layers = []
        for i, (n_in, n_out) in enumerate(zip(SIZES[:-1], SIZES[1:], strict=True)):
            layers.append(torch.nn.Linear(n_in, n_out))
            if i < len(SIZES) - 2:
                layers.append(torch.nn.ReLU())
        self.model = torch.nn.Sequential(*layers)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.loss = torch.nn.CrossEntropyLoss()
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y)
        self.gen = torch.Generator().manual_seed(0)

    def epoch(self) -> float:
        t = time.perf_counter()
        perm = self.torch.randperm(len(self.x), generator=self.gen)
        for i in range(0, len(self.x), BATCH):
            idx = perm[i : i + BATCH]
            self.opt.zero_grad(set_to_none=True)
            self.loss(self.model(self.x[idx]), self.y[idx]).backward()
            self.opt.step()
        return time.perf_counter() - t


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def summary(times: list[float]) -> tuple[float, float]:
    timed = times[1:] if len(times) > 1 else times  # the first epoch warms caches up
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
        f"784-256-128-10 ReLU, Adam, batch {BATCH}, float32, {args.samples} samples; "
        f"{args.epochs} epochs each, interleaved; seconds per epoch as min / median of "
        f"epochs 2..{args.epochs}"
    )
    for threads in args.threads:
        with threadpool_limits(threads), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sklearn's ConvergenceWarning after one epoch
            rates = [gemm_rate()]
            phases, alone = step_phases(x, y), gemms_alone()
            runners = {"nnlib": NnlibRunner(x, y), "scikit-learn": SklearnRunner(x, y)}
            if torch_available():
                runners["pytorch"] = TorchRunner(x, y, threads)
            times = {name: [] for name in runners}
            # Round-robin, so a burst of load on a shared machine hits every library alike.
            for _ in range(args.epochs):
                for name, runner in runners.items():
                    times[name].append(runner.epoch())
                rates.append(gemm_rate())
        # The best rate seen over the run: a burst of load must not inflate nnlib's share.
        rate = max(rates)
        res = {name: summary(t) for name, t in times.items()}
        last = runners["nnlib"].last
        nn = res["nnlib"]
        print(f"\n== BLAS threads: {threads}")
        print(f"float32 GEMM rate: {rate / 1e9:.1f} GFLOP/s (best of {len(rates)} measurements)")
        print(
            f"nnlib        epoch {nn[0]:.3f} / {nn[1]:.3f} s   training step at "
            f"{flops / nn[0] / 1e9:.1f} GFLOP/s = {flops / nn[0] / rate:.0%} of the GEMM rate"
        )
        print(
            f"             (last epoch: train loss {last['train_loss']:.3f}, "
            f"accuracy {last['train_accuracy']:.3f})"
        )
        sk = res["scikit-learn"]
        print(
            f"scikit-learn epoch {sk[0]:.3f} / {sk[1]:.3f} s   "
            f"nnlib is {sk[0] / nn[0]:.2f}x / {sk[1] / nn[1]:.2f}x faster"
        )
        if "pytorch" in res:
            th = res["pytorch"]
            print(
                f"pytorch      epoch {th[0]:.3f} / {th[1]:.3f} s   "
                f"nnlib / pytorch epoch time = {nn[0] / th[0]:.2f} / {nn[1] / th[1]:.2f}"
            )
        else:
            print("pytorch      not installed (skipped)")
        step = sum(phases.values())
        print(
            "nnlib step, phase by phase (ms): "
            + ", ".join(f"{name} {1e3 * t:.3f}" for name, t in phases.items())
            + f" = {1e3 * step:.3f}"
        )
        step_gemm_flops = step_flops(BATCH)
        print(
            f"the step's GEMMs alone, hot: {1e3 * alone:.3f} ms "
            f"({step_gemm_flops / alone / rate:.0%} of the GEMM rate); 70 % of the GEMM rate "
            f"allows {1e3 * step_gemm_flops / (0.7 * rate):.3f} ms per step"
        )


if __name__ == "__main__":
    main()
