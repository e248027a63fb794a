"""What a new user meets: ``make run`` on a fresh clone of this repository (a new .venv, the
install, the default study offline, the report), timed, and the lines it prints after the
install step counted. Targets: <= 4 min in all and <= 100 lines after the install; and the
default study's answer means something (issue 24): in every comparison the variants' test means
span more than 3x the typical seed sd (the median of the variants' sds over seeds), no more
than half of the variants share a test mean, and the chosen variant has a probability of
ranking first.

The clone is of the committed HEAD (uncommitted changes are not in it).

Usage: python benchmarks/bench_make_run.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from nnstudy.invoke import ROOT
from record import recorded

SECONDS_TARGET = 240.0
LINES_TARGET = 100
SPAN_TARGET = 3.0


def answer_targets(tables: Path) -> bool:
    """Print the default study's separation per comparison; True when every target is met."""
    comparisons = pd.read_csv(tables / "comparisons.csv")
    variants = pd.read_csv(tables / "variants.csv")
    met = True
    for c in comparisons.itertuples():
        rows = variants[(variants.experiment == c.experiment) & (variants.dataset == c.dataset)]
        span = rows.test_mean.max() - rows.test_mean.min()
        ratio = span / rows.seed_sd.median()
        # Means over the same seeds on the same test set tie exactly when their counts of
        # correct test examples, summed over seeds, are equal.
        tie = (rows.test_mean * c.n_test * len(str(c.seeds).split(";"))).round().value_counts()
        largest = int(tie.max())
        ok = ratio > SPAN_TARGET and largest <= len(rows) / 2 and pd.notna(c.reference_p_first)
        met &= ok
        print(
            f"{c.experiment} / {c.dataset}: span {span:.4f} / typical seed sd "
            f"{rows.seed_sd.median():.4f} = {ratio:.1f} (target > {SPAN_TARGET:.0f}); largest "
            f"tie {largest} of {len(rows)} (target <= {len(rows) // 2}); P(first) of "
            f"{c.reference} {c.reference_p_first:.2f}: {'met' if ok else 'NOT met'}"
        )
    return met


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-make-run-") as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
        started = time.perf_counter()
        done = subprocess.run(
            ["make", "run"], cwd=clone, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        seconds = time.perf_counter() - started
        output = done.stdout.splitlines()  # stderr interleaved, as on a console
        if done.returncode != 0:
            sys.exit("make run failed:\n" + "\n".join(output[-30:]))
        # The Makefile echoes the study's command after the install.
        start = output.index(".venv/bin/snakemake")
        study = output[start:]
        reports = sorted(p.name for p in (clone / "results" / "report").glob("report.*"))
        print(
            f"make run on a fresh clone: {seconds:.1f} s in all (target <= {SECONDS_TARGET:.0f} s)"
        )
        print(
            f"lines printed after the install step: {len(study)} (target <= {LINES_TARGET}); "
            f"the install printed {start}"
        )
        print(f"report files: {', '.join(reports)}")
        print("what the study printed:")
        print("\n".join(f"  {line}" for line in study))
        print("the default study's answer:")
        answered = answer_targets(clone / "results" / "tables")
    fast = seconds <= SECONDS_TARGET and len(study) <= LINES_TARGET
    return 0 if fast and answered else 1


if __name__ == "__main__":
    with recorded(__file__):
        code = main()
    sys.exit(code)
