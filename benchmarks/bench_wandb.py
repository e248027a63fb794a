"""W&B's cost per run (offline: wandb.init + logging + finish) against a short training run.

The training run is a core-study run made by the study's own code (nnstudy.training.job +
nnstudy.training.evaluation, in-process, 1 BLAS thread): digits, the config.yaml defaults (hidden [64],
20 epochs, batch 64, adam, relu, he, snapshots every 5 epochs). Its folder is then logged to W&B
(offline), copied under N run ids for the batch. W&B's cost per run is measured four ways, each
with its ratio to the training time:

- fresh process: ``python -c "log_runs([one run])"`` minus ``python -c "import
  nnstudy.training.tracking"``: what a per-run Snakemake ``script:`` job would add for W&B;
- batch of N in one process, per run: what rule ``log_wandb`` (one job per dataset) pays;
- marginal run in a batch: (batch of N - batch of 1) / (N - 1);
- live, per run: N training jobs (``nnstudy.training.job.main``, train + evaluate) one after
  another in one process, as a pooled worker runs them, with ``--wandb`` offline minus the same
  jobs without it (``mode: disabled``); the worker's first live run also pays wandb's import
  and service start, printed apart.

For scale it also prints a training job's wall time in a fresh process (imports included, as a
Snakemake ``script:`` job pays them) and projects both designs onto the core study (216 runs on
2 datasets): W&B seconds added = 216 x fresh, or 2 x (batch of 1) + 214 x marginal, or live
in 2 workers 2 x first run + 216 x live per run.

Usage: python benchmarks/bench_wandb.py [--runs N] [--repeat K]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nnstudy.config.runs import canonical_json, study_rows, unique_runs
from nnstudy.config.validation import validate_config
from nnstudy.datasets.prepare import prepare
from nnstudy.training.evaluation import evaluate_run
from nnstudy.training.job import train_run
from nnstudy.training.runfolder import train_outputs
from record import recorded
from threadpoolctl import threadpool_limits


def train_once(root: Path, seed: int, data_dir: Path) -> tuple[float, Path]:
    """Train and evaluate one core-sized digits run under ``root``; (seconds, run folder)."""
    config = {"experiments": {"b": {"datasets": ["digits"], "seeds": [seed]}}, "select": ["b"]}
    [(rid, run)] = unique_runs(study_rows(validate_config(config))).items()
    folder = root / "runs" / "digits" / rid
    outputs = train_outputs(folder)
    start = time.perf_counter()
    with threadpool_limits(1), contextlib.redirect_stdout(io.StringIO()):
        train_run(run, data_dir, outputs)
        evaluate_run(outputs["model"], outputs["train"], data_dir, folder / "metrics.json")
    return time.perf_counter() - start, folder


def copies(folder: Path, n: int) -> list[Path]:
    """``n`` copies of a run folder under distinct run ids (W&B runs are keyed by id)."""
    out = []
    for i in range(n):
        dest = folder.parent / f"{i:010x}"
        shutil.copytree(folder, dest)
        config = json.loads((dest / "config.json").read_text())
        (dest / "config.json").write_text(json.dumps({**config, "run_id": dest.name}))
        out.append(dest)
    return out


def worker_jobs(root: Path, data_dir: Path, n: int, wandb_dir: Path | None) -> list[float]:
    """Seconds of each of ``n`` training jobs (seeds 0..n-1) run one after another in this
    process, as a pooled worker runs them; live W&B (offline) into ``wandb_dir`` unless None."""
    from nnstudy.training.job import main

    config = {"experiments": {"b": {"datasets": ["digits"], "seeds": list(range(n))}}}
    runs = unique_runs(study_rows(validate_config({**config, "select": ["b"]})))
    spec = {"experiments": ["b"], "mode": "offline", "project": "bench", "entity": None}
    seconds = []
    for rid, run in runs.items():
        argv = ["--run", canonical_json(run), "--data", str(data_dir), "--evaluate"]
        argv += ["--out", str(root / rid), "--log", str(root / f"{rid}.log")]
        if wandb_dir is not None:
            argv += ["--wandb", json.dumps({**spec, "dir": str(wandb_dir), "job_type": "train"})]
        start = time.perf_counter()
        with threadpool_limits(1):
            main(argv)
        seconds.append(time.perf_counter() - start)
    return seconds


def worker_code(root: Path, data_dir: Path, n: int, wandb_dir: Path | None) -> str:
    here = str(Path(__file__).resolve().parent)
    live = None if wandb_dir is None else str(wandb_dir)
    return (
        f"import sys; sys.path.insert(0, {here!r}); from pathlib import Path; import bench_wandb; "
        f"w = {live!r}; print(bench_wandb.worker_jobs(Path({str(root)!r}), "
        f"Path({str(data_dir)!r}), {n}, w and Path(w)))"
    )


def in_worker(root: Path, data_dir: Path, n: int, live: bool) -> list[float]:
    """:func:`worker_jobs` in a fresh process (a new worker: wandb not imported yet)."""
    wandb_dir = root / "wandb" if live else None
    (root / "runs").mkdir(parents=True)  # the jobs' log folder, as Snakemake makes it
    out = subprocess.run(
        [sys.executable, "-c", worker_code(root / "runs", data_dir, n, wandb_dir)],
        cwd=root.parent,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def wall(code: str, cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=cwd, check=True)
    return time.perf_counter() - start


def log_code(folders: list[Path], wandb_dir: Path) -> str:
    runs = [(str(f), ["bench"]) for f in folders]
    return (
        "from nnstudy.training.tracking import log_runs; "
        f"log_runs({runs!r}, wandb_dir={str(wandb_dir)!r}, mode='offline')"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs in the batch (default 20)")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions, median (default 3)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        prepare("digits", tmp / "data" / "digits")
        runs = [train_once(tmp, seed, tmp / "data" / "digits") for seed in range(args.repeat)]
        train = statistics.median(seconds for seconds, _ in runs)
        here = str(Path(__file__).resolve().parent)
        job = statistics.median(
            wall(
                f"import sys; sys.path.insert(0, {here!r}); from pathlib import Path; "
                f"import bench_wandb; bench_wandb.train_once(Path({str(tmp / f'job{seed}')!r}), "
                f"{seed}, Path({str(tmp / 'data' / 'digits')!r}))",
                tmp,
            )
            for seed in range(args.repeat)
        )
        folders = copies(runs[0][1], args.runs)
        bare, one, batch = [], [], []
        for k in range(args.repeat):
            bare.append(wall("import nnstudy.training.tracking", tmp))
            one.append(wall(log_code(folders[:1], tmp / f"w1-{k}"), tmp))
            batch.append(wall(log_code(folders, tmp / f"wn-{k}"), tmp))
        bare, one, batch = map(statistics.median, (bare, one, batch))
        off, live = [], []
        for k in range(args.repeat):
            off.append(in_worker(tmp / f"off-{k}", tmp / "data" / "digits", args.runs, False))
            live.append(in_worker(tmp / f"live-{k}", tmp / "data" / "digits", args.runs, True))
    # Per run after the worker's first: the median over runs, then over repetitions.
    off_run = statistics.median(statistics.median(s[1:]) for s in off)
    live_run = statistics.median(statistics.median(s[1:]) for s in live)
    first = statistics.median(s[0] for s in live) - statistics.median(s[0] for s in off)
    live_cost = live_run - off_run

    fresh = one - bare
    per_run = (batch - bare) / args.runs
    marginal = (batch - one) / (args.runs - 1)
    rows = [
        ("training run, in-process (train + evaluate)", train, None),
        ("training job, fresh process (imports included)", job, None),
        ("W&B per run, fresh process", fresh, fresh / train),
        (f"W&B per run, batch of {args.runs} in one process", per_run, per_run / train),
        ("W&B marginal run in a batch", marginal, marginal / train),
        ("training job in a worker, W&B disabled", off_run, None),
        ("training job in a worker, W&B live (offline)", live_run, None),
        ("W&B live per run, in a worker", live_cost, live_cost / train),
        ("W&B live, a worker's first run (import, service)", first, None),
    ]
    for label, seconds, ratio in rows:
        share = "" if ratio is None else f"   ratio to training run {ratio:6.2f}"
        print(f"{label:<48} {seconds:7.3f} s{share}")
    print(f"batch speed-up over a process per run: {fresh / per_run:.1f}x")
    print(
        "core study projection (216 runs, 2 datasets), W&B seconds added: "
        f"process per run {216 * fresh:.0f} s, batch per dataset {2 * one + 214 * marginal:.0f} s; "
        f"training jobs {216 * job:.0f} s; live in 2 workers "
        f"{2 * first + 216 * live_cost:.0f} s of CPU ({first + 108 * live_cost:.0f} s wall)"
    )


if __name__ == "__main__":
    with recorded(__file__):
        main()
