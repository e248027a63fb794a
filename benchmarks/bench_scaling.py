"""How the study scales: wall time as the grid grows, and Snakemake's planning time.

Study wall time: the real Snakefile run (``--until train``: prepare, then train, which evaluates
too; the report is a fixed cost on top) in a fresh folder, for grids of 36, 108 and 324 runs of the tiny
setting (spirals, 200 points, hidden [8], 2 epochs, batch 32; optimizer x activation x
initializer = 4 x 3 x 3, times 1, 3 or 9 seeds), with ``--cores 1`` and ``--cores 2``. A tiny
run trains in milliseconds, so these times are Snakemake's and the jobs' start-up costs: what a
grid of short runs pays per run, whatever the network.

Planning time: ``snakemake --dry-run`` of the whole study (every rule up to the report) for
grids of 1,000, 10,000 and (with ``--plan-runs``) 100,000 runs (4 optimizers x 5 activations x
5 initializers x seeds), from the command to the printed plan, with its CPU seconds and the
largest resident set. Targets (issue 26): 10,000 runs < 30 s; 100,000 runs <= 5 min and
<= 4 GB. Measured in the same run as a peer: Snakemake's floor, the dry run of a Snakefile with
the study's shape and nothing else (per run a ``train`` and a ``predict`` script rule, as the
study's finals have, so the same number of jobs; no config, no parse-time work).

Usage: python benchmarks/bench_scaling.py [--sizes 36 108 324] [--cores 1 2] [--plan-runs 1000 10000 100000]
(`--sizes` with no value: planning only.)
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

import yaml
from nnstudy.invoke import tiny_study
from record import recorded
from study_cli import Timing, timed_snakemake

PLAN_TARGET_S = 30.0  # 10,000 runs
LARGE_RUNS, LARGE_TARGET_S, LARGE_TARGET_MB = 100_000, 300.0, 4096.0
GRID = {
    "optimizer": ["sgd", "momentum", "rmsprop", "adam"],
    "activation": ["relu", "tanh", "sigmoid"],
    "initializer": ["normal", "xavier", "he"],
}
PLAN_GRID = {**GRID, "activation": [*GRID["activation"], "leaky_relu", "gelu"]}
PLAN_GRID["initializer"] = [*GRID["initializer"], "uniform", "he_uniform"]


def study(grid: dict, seeds: int) -> dict:
    """The test study's tiny runs (.test/config.yaml, experiment ``tiny``) over ``grid`` with
    ``seeds`` seeds."""
    config = tiny_study("tiny")
    tiny = config["experiments"]["tiny"]
    config["experiments"] = {"scaling": {**tiny, "grid": grid, "seeds": list(range(seeds))}}
    config["select"] = ["scaling"]
    return config


def runs_of(grid: dict, seeds: int) -> int:
    n = seeds
    for values in grid.values():
        n *= len(values)
    return n


FLOOR_SNAKEFILE = """\
RUN_IDS = [f"{{i:010x}}" for i in range({runs})]


rule all:
    input:
        expand("runs/{{run_id}}/predictions.npz", run_id=RUN_IDS),


rule train:
    output:
        "runs/{{run_id}}/model.npz",
        "runs/{{run_id}}/metrics.json",
    script:
        "job.py"


rule predict:
    input:
        "runs/{{run_id}}/model.npz",
    output:
        "runs/{{run_id}}/predictions.npz",
    script:
        "job.py"
"""


def timed_study(config: dict, *args: str, floor_runs: int | None = None) -> Timing:
    """One Snakemake call (target ``all``) on ``config`` in a fresh folder; with
    ``floor_runs``, of the floor Snakefile for that many runs instead."""
    with tempfile.TemporaryDirectory(prefix="bench-scaling-") as tmp:
        (Path(tmp) / "config.yaml").write_text(yaml.safe_dump(config))
        snakefile = None
        if floor_runs is not None:
            snakefile = Path(tmp) / "Snakefile"
            snakefile.write_text(FLOOR_SNAKEFILE.format(runs=floor_runs))
            (Path(tmp) / "job.py").write_text("")
        # the target before --quiet, which would take it as one of its values
        return timed_snakemake(Path(tmp), "all", "--quiet", "all", *args, snakefile=snakefile)


def planned_jobs(output: str) -> int:
    """The ``total`` of a dry run's job stats."""
    return int(re.search(r"^total\s+(\d+)$", output, re.MULTILINE)[1])


def verdict(runs: int, t: Timing) -> str:
    if runs == 10_000:
        return "  meets the target" if t.seconds < PLAN_TARGET_S else "  MISSES the target"
    if runs == LARGE_RUNS:
        met = t.seconds <= LARGE_TARGET_S and t.peak_mb <= LARGE_TARGET_MB
        return "  meets the target" if met else "  MISSES the target"
    return ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[36, 108, 324])
    parser.add_argument("--cores", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--plan-runs", type=int, nargs="+", default=[1_000, 10_000])
    args = parser.parse_args()

    base = runs_of(GRID, 1)
    if args.sizes:
        print(f"Study wall time (tiny runs, --until train; {base} variants x seeds)")
        header = f"{'runs':>6} " + " ".join(f"{f'--cores {c} (s)':>15}" for c in args.cores)
        header += " " + " ".join(f"{f's/run @{c}':>10}" for c in args.cores)
        if len(args.cores) > 1:
            header += f" {'speed-up':>9}"
        print(header)
        for size in args.sizes:
            if size % base:
                sys.exit(f"--sizes: {size} is not a multiple of the {base} grid variants")
            config = study(GRID, size // base)
            times = [
                timed_study(config, "--cores", str(c), "--until", "train")[0] for c in args.cores
            ]
            row = f"{size:>6} " + " ".join(f"{t:>15.1f}" for t in times)
            row += " " + " ".join(f"{t / size:>10.3f}" for t in times)
            if len(times) > 1:
                row += f" {times[0] / times[-1]:>8.2f}x"
            print(row, flush=True)

    variants = runs_of(PLAN_GRID, 1)
    print(
        f"\nPlanning: snakemake --dry-run of the whole study (targets: 10,000 runs < "
        f"{PLAN_TARGET_S:.0f} s; {LARGE_RUNS:,} runs <= {LARGE_TARGET_S:.0f} s and "
        f"<= {LARGE_TARGET_MB:.0f} MB)"
    )
    print(
        f"{'runs':>7} {'jobs':>7} {'wall (s)':>8} {'CPU (s)':>8} {'ms/job':>7} {'MB':>6} "
        f"{'floor (s)':>9} {'floor MB':>8} {'CPU / floor':>11}"
    )
    for wanted in args.plan_runs:
        seeds = -(-wanted // variants)
        runs = variants * seeds
        t = timed_study(study(PLAN_GRID, seeds), "--dry-run")
        floor = timed_study({}, "--dry-run", floor_runs=runs)
        jobs = planned_jobs(t.output)
        print(
            f"{runs:>7} {jobs:>7} {t.seconds:>8.1f} {t.cpu:>8.1f} "
            f"{1000 * t.cpu / jobs:>7.2f} {t.peak_mb:>6.0f} {floor.seconds:>9.1f} "
            f"{floor.peak_mb:>8.0f} {t.cpu / floor.cpu:>10.2f}x{verdict(runs, t)}",
            flush=True,
        )


if __name__ == "__main__":
    with recorded(__file__):
        main()
