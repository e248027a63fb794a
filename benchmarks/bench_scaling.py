"""How the study scales: wall time as the grid grows, and Snakemake's planning time.

Study wall time: the real Snakefile run (``--until train``: prepare, then train, which evaluates
too; the report is a fixed cost on top) in a fresh folder, for grids of 36, 108 and 324 runs of the tiny
setting (spirals, 200 points, hidden [8], 2 epochs, batch 32; optimizer x activation x
initializer = 4 x 3 x 3, times 1, 3 or 9 seeds), with ``--cores 1`` and ``--cores 2``. A tiny
run trains in milliseconds, so these times are Snakemake's and the jobs' start-up costs: what a
grid of short runs pays per run, whatever the network.

Planning time: ``snakemake --dry-run`` of the whole study (every rule up to the report) for a
10,000-run grid (4 optimizers x 5 activations x 5 initializers x 100 seeds), from the command
to the printed plan. Target: < 30 s. Measured in the same run as a peer: Snakemake's floor,
the dry run of a Snakefile with nothing but an empty ``train`` script rule per run (the same
number of jobs, no config, no parse-time work).

Usage: python benchmarks/bench_scaling.py [--sizes 36 108 324] [--cores 1 2] [--plan-runs 1000 10000]
(`--sizes` with no value: planning only.)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import yaml
from nnstudy.invoke import tiny_study
from record import recorded
from study_cli import timed_snakemake

PLAN_TARGET_S = 30.0
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
        expand("runs/{{run_id}}/metrics.json", run_id=RUN_IDS),


rule train:
    output:
        "runs/{{run_id}}/model.npz",
        "runs/{{run_id}}/metrics.json",
    script:
        "job.py"
"""


def timed_study(config: dict, *args: str, floor_runs: int | None = None) -> tuple[float, float]:
    """Wall and CPU seconds of one Snakemake call (target ``all``) on ``config`` in a fresh
    folder; with ``floor_runs``, of the floor Snakefile for that many runs instead."""
    with tempfile.TemporaryDirectory(prefix="bench-scaling-") as tmp:
        (Path(tmp) / "config.yaml").write_text(yaml.safe_dump(config))
        snakefile = None
        if floor_runs is not None:
            snakefile = Path(tmp) / "Snakefile"
            snakefile.write_text(FLOOR_SNAKEFILE.format(runs=floor_runs))
            (Path(tmp) / "job.py").write_text("")
        # the target before --quiet, which would take it as one of its values
        seconds, cpu, _ = timed_snakemake(
            Path(tmp), "all", "--quiet", "all", *args, snakefile=snakefile
        )
    return seconds, cpu


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
        f"\nPlanning: snakemake --dry-run of the whole study (target: 10,000 runs < {PLAN_TARGET_S:.0f} s)"
    )
    print(
        f"{'runs':>6} {'jobs':>6} {'wall (s)':>8} {'CPU (s)':>8} {'ms/job':>7} "
        f"{'floor (s)':>9} {'/ floor':>7}"
    )
    for wanted in args.plan_runs:
        seeds = -(-wanted // variants)
        runs = variants * seeds
        config = study(PLAN_GRID, seeds)
        seconds, cpu = timed_study(config, "--dry-run")
        floor, _ = timed_study(config, "--dry-run", floor_runs=runs)
        jobs = runs  # one train job per run (the few data and report jobs aside)
        note = ""
        if runs >= 10_000:
            note = "  meets the target" if seconds < PLAN_TARGET_S else "  MISSES the target"
        print(
            f"{runs:>6} {jobs:>6} {seconds:>8.1f} {cpu:>8.1f} {1000 * seconds / jobs:>7.2f} "
            f"{floor:>9.1f} {seconds / floor:>6.2f}x{note}",
            flush=True,
        )


if __name__ == "__main__":
    with recorded(__file__):
        main()
