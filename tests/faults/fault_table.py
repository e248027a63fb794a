"""Print the README's fault table: every fault of faults.py injected into a copy of a finished
tiny study, a plain `snakemake --cores 1` after it (and the repair it names, if it stops).

Usage: .venv/bin/python tests/faults/fault_table.py   (a few minutes; prints Markdown)
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))

from faults import FAULTS, trial  # noqa: E402
from faultstudy import TINY, results, run_ids, snakemake, write_study  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "reference"
        write_study(folder)
        done = snakemake(folder, "--cores", "1")
        if done.returncode != 0:
            sys.exit(done.stderr[-3000:])
        runs = run_ids(TINY)
        reference = SimpleNamespace(folder=folder, runs=runs, results=results(folder, runs))
        started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        outcomes = [trial(f, reference, Path(tmp) / f"t{i}") for i, f in enumerate(FAULTS)]
    print(f"Faults injected into the finished tiny study ({started}):\n")
    print("| fault | file | first rerun | survived | identical | data lost |")
    print("|---|---|---|---:|---:|---:|")
    for o in outcomes:
        first = "stopped: one line, `rm` + rerun" if o.stopped else "rebuilt"
        print(
            f"| {o.fault.kind} | `{o.fault.path.replace('{run}', '<run>')}` | {first} | "
            f"{'yes' if o.survived else 'NO'} | {'yes' if o.identical else 'NO'} | "
            f"{len(o.lost)} |"
        )
    kinds = Counter(o.fault.kind for o in outcomes)
    survived = sum(o.survived for o in outcomes)
    identical = sum(o.identical for o in outcomes)
    lost = sum(len(o.lost) for o in outcomes)
    print(
        f"\n{len(outcomes)} faults ({', '.join(f'{k}: {n}' for k, n in kinds.items())}): "
        f"{survived} survived, {identical} identical to a clean run, {lost} files lost."
    )


if __name__ == "__main__":
    main()
