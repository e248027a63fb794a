"""What a new user meets: ``make run`` on a fresh clone of this repository (a new .venv, the
install, the default study offline, the report), timed, and the lines it prints after the
install step counted. Targets: <= 4 min in all and <= 100 lines after the install.

The clone is of the committed HEAD (uncommitted changes are not in it).

Usage: python benchmarks/bench_make_run.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nnstudy.invoke import ROOT
from record import recorded

SECONDS_TARGET = 240.0
LINES_TARGET = 100


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
    print(f"make run on a fresh clone: {seconds:.1f} s in all (target <= {SECONDS_TARGET:.0f} s)")
    print(
        f"lines printed after the install step: {len(study)} (target <= {LINES_TARGET}); "
        f"the install printed {start}"
    )
    print(f"report files: {', '.join(reports)}")
    print("what the study printed:")
    print("\n".join(f"  {line}" for line in study))
    return 0 if seconds <= SECONDS_TARGET and len(study) <= LINES_TARGET else 1


if __name__ == "__main__":
    with recorded(__file__):
        code = main()
    sys.exit(code)
