"""nnlib's training epoch on the study's shapes, beside PyTorch (CPU, when importable) and the
GEMM-only floor, at one BLAS thread.

For each shape and optimizer the same step is timed three ways, round-robin, ``--epochs``
times (the first is warm-up): nnlib's ``fit`` over ``--steps`` batches of 128 synthetic
float32 samples; PyTorch's equivalent loop; and the floor, the step's GEMMs alone (forward,
weight gradients and the input gradients of every layer but the first, back to back on hot
operands). Times are CPU seconds of this process (what core-hours count; on a busy machine
they grow far less than wall time), per step scaled to an epoch of 60,000 samples (469
steps), as the minimum / median of the timed epochs. Then nnlib's step phase by phase (a replay of fit's
step through the public API with a timer between phases), and the targets of issue #16.

    .venv/bin/python benchmarks/bench_nnlib.py [--epochs 5] [--steps 60]
        [--shapes small paper cifar] [--optimizers adam momentum]

The machine may be shared: compare ratios (measured in the same run) and the minimum columns.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from record import recorded
from threadpoolctl import threadpool_limits

import nnlib

BATCH = 128
EPOCH_STEPS = math.ceil(60_000 / BATCH)
# name: (sizes, dropout); "paper" and "cifar" are the paper experiment's MLPs.
SHAPES = {
    "small": ([784, 256, 128, 10], 0.0),
    "paper": ([784, 1024, 1024, 10], 0.2),
    "cifar": ([3072, 2048, 1024, 512, 10], 0.2),
}
# name: (nnlib optimizer, torch.optim class, keyword arguments both take)
OPTIMIZERS = {
    "adam": ("adam", "Adam", {"lr": 1e-3}),
    "momentum": ("sgd", "SGD", {"lr": 0.01, "momentum": 0.9}),
}
# shape: (largest nnlib / floor, largest nnlib / pytorch), at one BLAS thread
TARGETS = {"small": (1 / 0.65, 0.7), "paper": (1.25, 0.8)}
PHASES = ("gather", "forward", "loss", "backward", "grad norm", "optimizer")


def synthetic_data(n: int, n_in: int, n_out: int, seed: int = 0):
    """Gaussian inputs labelled by a random two-layer teacher, so there is something to learn."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, n_in), dtype=np.float32)
    teacher = rng.standard_normal((n_in, 64), dtype=np.float32) / np.sqrt(n_in)
    y = (np.tanh(x @ teacher) @ rng.standard_normal((64, n_out), dtype=np.float32)).argmax(1)
    return x, y.astype(np.int64)


def gemm_shapes(sizes) -> list[tuple[int, int, int]]:
    """(m, k, n) of every GEMM of one step: forward, weight gradient, and input gradient of
    every layer but the first (nnlib and torch both skip that one)."""
    shapes = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        shapes += [(BATCH, n_in, n_out), (n_in, BATCH, n_out)]
        if i:
            shapes.append((BATCH, n_out, n_in))
    return shapes


class FloorRunner:
    """The step's GEMMs alone, on hot random float32 operands."""

    def __init__(self, sizes, steps: int):
        rng = np.random.default_rng(0)
        self.steps = steps
        self.ops = [
            (
                rng.standard_normal((m, k), dtype=np.float32),
                rng.standard_normal((k, n), dtype=np.float32),
                np.empty((m, n), np.float32),
            )
            for m, k, n in gemm_shapes(sizes)
        ]

    def epoch(self) -> float:
        t = time.process_time()
        for _ in range(self.steps):
            for a, b, c in self.ops:
                np.matmul(a, b, out=c)
        return time.process_time() - t


class NnlibRunner:
    def __init__(self, sizes, dropout, optimizer, x, y):
        name, _, kw = OPTIMIZERS[optimizer]
        self.x, self.y = x, y
        self.model = nnlib.MLP(sizes, init="he_uniform", dropout=dropout, rng=0)
        self.opt = nnlib.get_optimizer(name, self.model.parameters(), **kw)
        self.loss = nnlib.get_loss("cross_entropy")
        self.rng = np.random.default_rng(0)

    def epoch(self) -> float:
        """One epoch of ``fit`` (its input checks included: under 1 % of the time here)."""
        t = time.process_time()
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
        return time.process_time() - t


class TorchRunner:
    def __init__(self, sizes, dropout, optimizer, x, y):
        import torch

        _, cls, kw = OPTIMIZERS[optimizer]
        self.torch = torch
        torch.set_num_threads(1)
        torch.manual_seed(0)
        layers = []
        for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
            layers.append(torch.nn.Linear(n_in, n_out))
            if i < len(sizes) - 2:
                layers.append(torch.nn.ReLU())
                if dropout:
                    layers.append(torch.nn.Dropout(dropout))
        self.model = torch.nn.Sequential(*layers)
        self.opt = getattr(torch.optim, cls)(self.model.parameters(), **kw)
        self.loss = torch.nn.CrossEntropyLoss()
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y)
        self.gen = torch.Generator().manual_seed(0)

    def epoch(self) -> float:
        t = time.process_time()
        perm = self.torch.randperm(len(self.x), generator=self.gen)
        for i in range(0, len(self.x), BATCH):
            idx = perm[i : i + BATCH]
            self.opt.zero_grad(set_to_none=True)
            self.loss(self.model(self.x[idx]), self.y[idx]).backward()
            self.opt.step()
        return time.process_time() - t


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def step_phases(runner: NnlibRunner, epochs: int = 2) -> dict[str, float]:
    """CPU seconds per step of each phase of ``fit``'s training step, replayed with nnlib's public
    API (same calls, same order; a timer between phases), from the best of ``epochs``."""
    x, y, model, loss, opt = runner.x, runner.y, runner.model, runner.loss, runner.opt
    xb = np.empty((BATCH, x.shape[1]), x.dtype)
    best = None
    for _ in range(epochs):
        spent = dict.fromkeys(PHASES, 0.0)
        order = runner.rng.permutation(len(x))
        steps = len(x) // BATCH
        for i in range(steps):
            idx = order[i * BATCH : (i + 1) * BATCH]
            t0 = time.process_time()
            x.take(idx, axis=0, out=xb, mode="clip")
            yb = y[idx]
            t1 = time.process_time()
            out = model.forward(xb, training=True)
            t2 = time.process_time()
            loss.forward(out, yb)
            grad = loss.backward()
            t3 = time.process_time()
            model.backward(grad, input_grad=False)
            t4 = time.process_time()
            np.vdot(opt.flat_grad, opt.flat_grad)
            t5 = time.process_time()
            opt.step()
            t6 = time.process_time()
            for name, (a, b) in zip(
                PHASES, itertools.pairwise((t0, t1, t2, t3, t4, t5, t6)), strict=True
            ):
                spent[name] += b - a
        per_step = {name: t / steps for name, t in spent.items()}
        if best is None or sum(per_step.values()) < sum(best.values()):
            best = per_step
    return best


def per_epoch(times: list[float], steps: int) -> tuple[float, float]:
    """(min, median) seconds of a 60,000-sample epoch from the timed epochs (the first of
    ``times`` warms caches up and is left out)."""
    timed = times[1:] if len(times) > 1 else times
    scale = EPOCH_STEPS / steps
    return min(timed) * scale, statistics.median(timed) * scale


def verdict(ratio: float, limit: float) -> str:
    return f"(target <= {limit:.2f}: {'met' if ratio <= limit else 'NOT met'})"


def bench(shape: str, optimizer: str, epochs: int, steps: int) -> None:
    sizes, dropout = SHAPES[shape]
    x, y = synthetic_data(steps * BATCH, sizes[0], sizes[-1])
    runners = {
        "nnlib": NnlibRunner(sizes, dropout, optimizer, x, y),
        "floor": FloorRunner(sizes, steps),
    }
    if torch_available():
        runners["pytorch"] = TorchRunner(sizes, dropout, optimizer, x, y)
    times = {name: [] for name in runners}
    # Round-robin, so a burst of load on a shared machine hits every contender alike.
    for _ in range(epochs):
        for name, runner in runners.items():
            times[name].append(runner.epoch())
    res = {name: per_epoch(t, steps) for name, t in times.items()}
    nn, floor = res["nnlib"], res["floor"]
    arch = "-".join(map(str, sizes))
    path = getattr(runners["nnlib"].opt, "path", "numpy")  # nnlib before #16: NumPy only
    print(f"\n== {shape} {arch}, dropout {dropout}, {optimizer}; nnlib's optimizer path: {path}")
    print(f"nnlib    {nn[0]:7.3f} / {nn[1]:7.3f} CPU s per epoch")
    print(f"floor    {floor[0]:7.3f} / {floor[1]:7.3f} CPU s per epoch (the step's GEMMs alone)")
    limits = TARGETS.get(shape) if optimizer == "adam" else None
    ratio = nn[0] / floor[0]
    print(
        f"nnlib / floor = {ratio:.2f} / {nn[1] / floor[1]:.2f} "
        f"(floor share {1 / ratio:.0%}) {verdict(ratio, limits[0]) if limits else ''}"
    )
    if "pytorch" in res:
        th = res["pytorch"]
        ratio = nn[0] / th[0]
        print(f"pytorch  {th[0]:7.3f} / {th[1]:7.3f} CPU s per epoch")
        print(
            f"nnlib / pytorch = {ratio:.2f} / {nn[1] / th[1]:.2f} "
            f"{verdict(ratio, limits[1]) if limits else ''}"
        )
    else:
        print("pytorch  not installed (skipped)")
    phases = step_phases(runners["nnlib"])
    print(
        "nnlib step, phase by phase (ms): "
        + ", ".join(f"{name} {1e3 * t:.3f}" for name, t in phases.items())
        + f" = {1e3 * sum(phases.values()):.3f}; the GEMMs alone {1e3 * floor[0] / EPOCH_STEPS:.3f}"
    )


STARTUP = """
import time
t = time.process_time()
import numpy as np, nnlib
p = nnlib.Parameter(np.zeros(10, np.float32))
opt = nnlib.get_optimizer("adam", [p])
opt.path = "{path}"
opt.step()
print(time.process_time() - t)
"""


def startup_seconds(path: str, env=None) -> float:
    """CPU seconds a fresh process takes to import nnlib and make one optimizer step on ``path``
    (for "numba": import numba and compile its kernels, or read them from the disk cache)."""
    code = STARTUP.format(path=path)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    return float(done.stdout)


def numba_costs(repeats: int = 3) -> None:
    """numba's one-off costs beside what its update saves per parameter and step: the numbers
    behind ``nnlib.kernels.MIN_PARAMETERS``."""
    with tempfile.TemporaryDirectory() as cache:
        first = startup_seconds("numba", {**os.environ, "NUMBA_CACHE_DIR": cache})
    runs = {path: [] for path in ("numpy", "numba")}
    for _ in range(repeats):  # interleaved
        for path, times in runs.items():
            times.append(startup_seconds(path))
    plain, cached = min(runs["numpy"]), min(runs["numba"])
    n = 1 << 20
    rng = np.random.default_rng(0)
    step = {}
    for path in ("numpy", "numba"):
        p = nnlib.Parameter(rng.standard_normal(n, dtype=np.float32))
        opt = nnlib.get_optimizer("adam", [p])
        opt.path = path
        p.grad[...] = rng.standard_normal(n, dtype=np.float32)
        step[path] = opt
    best = dict.fromkeys(step, math.inf)
    for _ in range(5):
        for path, opt in step.items():
            t = time.process_time()
            for _ in range(10):
                opt.step()
            best[path] = min(best[path], (time.process_time() - t) / 10)
    saved = (best["numpy"] - best["numba"]) / n
    extra = cached - plain
    print(
        f"\n== numba's costs: a fresh process importing nnlib and making one Adam step takes "
        f"{plain:.2f} CPU s on the NumPy path, {cached:.2f} s on the numba path with its kernels in "
        f"the disk cache (+{extra:.2f} s), {first:.2f} s when it compiles them (empty cache); "
        f"the fused Adam update of {n} parameters takes {1e3 * best['numba']:.3f} ms, NumPy's "
        f"{1e3 * best['numpy']:.3f} ms: {1e9 * saved:.2f} ns saved per parameter and step, so "
        f"{nnlib.kernels.MIN_PARAMETERS} parameters (the threshold) repay the cached start-up "
        f"after {extra / (saved * nnlib.kernels.MIN_PARAMETERS):.0f} steps"
    )


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=5, help="epochs per contender (first: warm-up)")
    ap.add_argument("--steps", type=int, default=60, help="batches of 128 per epoch")
    ap.add_argument("--shapes", nargs="+", choices=SHAPES, default=list(SHAPES))
    ap.add_argument("--optimizers", nargs="+", choices=OPTIMIZERS, default=list(OPTIMIZERS))
    args = ap.parse_args(argv)
    print(
        f"batch {BATCH}, float32, ReLU, one BLAS thread, {args.steps} steps per epoch scaled to "
        f"{EPOCH_STEPS} (60,000 samples); min / median of epochs 2..{args.epochs}; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    with threadpool_limits(1):
        for shape, optimizer in itertools.product(args.shapes, args.optimizers):
            bench(shape, optimizer, args.epochs, args.steps)
        numba_costs()
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    with recorded(__file__):
        main()
