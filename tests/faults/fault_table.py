"""Print docs/reliability.md's fault table: every fault of faults.py injected into a copy of a
finished study (the tiny one, or the full tuned one with its report and W&B runs), a plain
`snakemake` after it (and the repair it names, if it stops), then the scenarios that are not
one file of a finished study (records lost with Snakemake's metadata, a damaged checkpoint
after a kill, a killed worker).

Usage: .venv/bin/python tests/faults/fault_table.py   (about ten minutes; prints Markdown)
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# As in conftest.py: the kill scenarios need a checkpoint after every epoch.
os.environ["NNSTUDY_CHECKPOINT_SECONDS"] = "0"

from faults import (  # noqa: E402
    FAULTS,
    SCENARIOS,
    damaged_checkpoint,
    killed_worker,
    lost_records,
    run_full,
    run_long,
    run_tiny,
    trial,
)

# What the first rerun of a scenario does when it goes as docs/reliability.md says.
SCENARIO_RERUN = {
    lost_records: "records made again; the later edit: one line, `rm` + rerun",
    damaged_checkpoint: "checkpoint discarded (one log line), run restarted",
    killed_worker: "only its job failed; rerun trains it",
}


# How a fault's path placeholders (faults.targets) read in the table.
PLACES = {
    "{run}": "<run>",
    "{record}": "results/tuning/<dataset>/<key>/rung0.json",
    "{trial}": "results/trials/<trial>",
    "{wandb_run}": "results/wandb/wandb/offline-run-<...>",
}


def place(path: str) -> str:
    for key, text in PLACES.items():
        path = path.replace(key, text)
    return path


def main() -> None:
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        studies = {"tiny": run_tiny(root / "tiny"), "full": run_full(root / "full")}
        studies["long"] = run_long(root / "long")
        rows = []
        for i, fault in enumerate(FAULTS):
            o = trial(fault, studies[fault.study], root / f"f{i}")
            first = "stopped: one line, `rm` + rerun" if o.stopped else "rebuilt"
            rows.append((o, fault.study, first))
        for name, scenarios in SCENARIOS.items():
            for j, scenario in enumerate(scenarios):
                o = scenario(studies[name], root / f"s{name}{j}")
                rows.append((o, name, SCENARIO_RERUN[scenario] if o.survived else "FAILED"))
    print(f"Faults injected into finished studies ({started}):\n")
    print("| fault | file | study | first rerun | survived | identical | data lost |")
    print("|---|---|---|---|---:|---:|---:|")
    for o, study, first in rows:
        print(
            f"| {o.fault.kind} | `{place(o.fault.path)}` | {study} | {first} | "
            f"{'yes' if o.survived else 'NO'} | {'yes' if o.identical else 'NO'} | "
            f"{len(o.lost)} |"
        )
    outcomes = [o for o, _, _ in rows]
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
