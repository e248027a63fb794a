"""Wall time of the default study against its compute floor, a no-op rerun, and the speed-up
of --cores 2 over 1.

Runs the shipped config.yaml (W&B mode forced to ``disabled`` unless --wandb, so the numbers
are about training) in fresh temporary directories with the repository's Snakefile and
workflow profile, data preparation included:

    .venv/bin/python benchmarks/bench_study.py            # 2 cores, no-op rerun, 1 core
    .venv/bin/python benchmarks/bench_study.py --no-serial  # skip the --cores 1 run

The compute floor is what the study's runs compute inside their jobs -- every run's training
(``train_seconds`` in train.json: its epochs, validation included; tuning trials too) and every
final's test evaluation (``eval_seconds`` in metrics.json) -- divided by the cores: the wall time of a study whose jobs cost nothing
to start and whose report is free. The ratio wall / floor is what Snakemake, process start-up,
loading, writing and the report add.

Targets: wall <= 2x the compute floor at --cores 2, no-op rerun < 3 s (best of three in a
row), speed-up >= 1.8x. Timings on a shared machine are noisy: the load average before each run
is printed with it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path

import yaml
from nnstudy.invoke import ROOT
from record import recorded
from study_cli import timed_snakemake


def snakemake(workdir: Path, cores: int, *args: str) -> tuple[float, str]:
    seconds, _, output, _ = timed_snakemake(workdir, "--cores", str(cores), *args)
    return seconds, output


def fresh(base: Path, name: str, config: dict) -> Path:
    workdir = base / name
    workdir.mkdir()
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return workdir


def compute_seconds(workdir: Path) -> tuple[int, int, float]:
    """(runs, finals, seconds of training + test evaluation inside their jobs) of a finished
    study: every run's training (train.json: tuning trials too), every evaluated run's test
    evaluation (metrics.json)."""
    results = workdir / "results"
    trained = [
        json.loads(p.read_text())
        for folder in ("runs", "trials")
        for p in (results / folder).glob("*/*/train.json")
    ]
    evaluated = [json.loads(p.read_text()) for p in (results / "runs").glob("*/*/metrics.json")]
    seconds = sum(t["train_seconds"] for t in trained) + sum(m["eval_seconds"] for m in evaluated)
    return len(trained), len(evaluated), seconds


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-serial", action="store_true", help="skip the --cores 1 run")
    parser.add_argument("--wandb", action="store_true", help="keep the config's W&B mode")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories")
    args = parser.parse_args()

    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    if not args.wandb:
        config["wandb"] = {**config.get("wandb", {}), "mode": "disabled"}
    base = Path(tempfile.mkdtemp(prefix="bench_study_"))
    try:
        parallel = fresh(base, "cores2", config)
        before = load()
        t2, log = snakemake(parallel, 2)
        n_runs, n_evaluated, compute = compute_seconds(parallel)
        print(
            f"default study, {n_runs} runs ({n_evaluated} evaluated on test), --cores 2: "
            f"{t2:.1f} s ({before})"
        )
        floor = compute / 2
        print(
            f"compute floor: {compute:.1f} s of training + evaluation in the jobs / 2 cores = "
            f"{floor:.1f} s; wall / floor = {t2 / floor:.2f}x (target <= 2x)"
        )

        # Three in a row: the first one still shares the machine with the study's tail.
        before = load()
        noops = []
        for _ in range(3):
            t_noop, log = snakemake(parallel, 2)
            assert "Nothing to be done" in log, "the rerun was not a no-op"
            noops.append(t_noop)
        times = ", ".join(f"{t:.2f}" for t in noops)
        print(f"no-op rerun: best {min(noops):.2f} s of {times} (target < 3 s; {before})")

        if not args.no_serial:
            serial = fresh(base, "cores1", config)
            before = load()
            t1, _ = snakemake(serial, 1)
            print(f"default study, --cores 1: {t1:.1f} s ({before})")
            print(f"speed-up of --cores 2 over --cores 1: {t1 / t2:.2f}x (target >= 1.8x)")
    finally:
        if args.keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    with recorded(__file__):
        main()
