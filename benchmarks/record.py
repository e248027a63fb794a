"""Each benchmark writes its last results into benchmarks/README.md: one section per script
with the date, the machine, the command and everything the script printed. Measured numbers
live there and nowhere else; the rest of the docs link to it.

``with recorded(__file__): main()`` tees the script's output; the section is rewritten only
when the script finishes without an exception (a failed run leaves the last good numbers).
"""

from __future__ import annotations

import contextlib
import io
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

README = Path(__file__).resolve().parent / "README.md"
HEADER = """# Benchmarks

Speed and memory targets live here, in scripts that print a ratio against a peer measured in
the same run (never in timed unit tests: the machines are shared and noisy). `make bench` runs
them all. Each script rewrites its own section below when it finishes (`benchmarks/record.py`):
the date, the machine, the command and what it printed. A section that says *not yet recorded*
has no measurement from its current script; older numbers are in the history of the top-level
README.md, up to commit 48dc18b.

| script | measures | target |
|---|---|---|
| `bench_nnlib.py` | nnlib's epoch CPU time vs PyTorch and vs the step's matrix products alone | paper shape <= 1.25x floor, <= 0.8x PyTorch |
| `bench_datasets.py` | preparing Fashion-MNIST; loading a split; a batch gather from it vs memory | < 10 s; < 0.2 s; <= 1.5x |
| `bench_real_data.py` | a paper-shape run through the DAG vs nnlib's `fit` in memory, per epoch | <= 1.05 |
| `bench_paper_cost.py` | the `paper` experiment in core-hours from measured s/epoch | |
| `bench_tuning_cost.py` | `real_small` and `paper` in core-hours with the tuning protocol: `nnstudy train`'s s/epoch x the planner's epochs | |
| `bench_study.py` | default study wall time vs its compute floor; no-op rerun | <= 2x floor; < 3 s |
| `bench_make_run.py` | `make run` on a fresh clone: time in all, lines printed after the install | <= 4 min; <= 100 lines |
| `bench_wandb.py` | W&B cost per run, fresh process vs batch | off the critical path |
| `bench_scaling.py` | wall time for 36/108/324 tiny runs; planning 10,000 runs vs Snakemake's floor | < 30 s |
"""


class _Tee(io.TextIOBase):
    def __init__(self, stream):
        self.stream, self.buffer = stream, io.StringIO()

    def write(self, text):
        self.buffer.write(text)
        return self.stream.write(text)

    def flush(self):
        self.stream.flush()


def machine() -> str:
    """Host, CPU, cores, memory, load and the code's commit, in one line."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 2**20:.0f} GiB"

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=README.parent, capture_output=True, text=True, check=False
        ).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD")
    if commit and git("status", "--porcelain", "--untracked-files=no"):
        commit += " with uncommitted changes"
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{platform.node()}: {cpu}, {os.cpu_count()} cores{memory}; load {load}; "
        f"Python {platform.python_version()}; commit {commit or 'unknown'}"
    )


def write_section(script: str, started: datetime, seconds: float, host: str, output: str):
    name = Path(script).name
    begin, end = f"<!-- {name}: begin -->", f"<!-- {name}: end -->"
    body = "\n".join(
        [
            begin,
            f"## {name}",
            "",
            f"- run: {started:%Y-%m-%d %H:%M} UTC, {seconds:.0f} s",
            f"- machine: {host}",
            f"- command: `{shlex.join(['python', f'benchmarks/{name}', *sys.argv[1:]])}`",
            "",
            "```text",
            output.rstrip(),
            "```",
            end,
        ]
    )
    text = README.read_text() if README.exists() else HEADER
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: body, text) if pattern.search(text) else f"{text}\n{body}\n"
    README.write_text(text)


@contextlib.contextmanager
def recorded(script: str):
    """Tee stdout while the benchmark runs; then rewrite its section of benchmarks/README.md."""
    started, clock, host = datetime.now(UTC), time.perf_counter(), machine()
    tee = _Tee(sys.stdout)
    with contextlib.redirect_stdout(tee):
        yield
    write_section(script, started, time.perf_counter() - clock, host, tee.buffer.getvalue())
    print(f"recorded in {README}")
