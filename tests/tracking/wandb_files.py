"""Reading what W&B wrote: offline run folders and their .wandb transaction logs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def wandb_records(wandb_file: Path) -> list[dict]:
    """The records of a .wandb transaction log, via wandb's own reader (`wandb leet inspect`)."""
    out = subprocess.run(
        [sys.executable, "-m", "wandb", "leet", "inspect", "--json", str(wandb_file)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def logged_history(records: list[dict]) -> dict[int, dict]:
    return {
        r["history"]["step"].get("num", 0): r["history"]["item"]
        for r in records
        if r["type"] == "history"
    }


def offline_runs(wandb_dir: Path) -> list[Path]:
    return sorted((wandb_dir / "wandb").glob("offline-run-*"))
