"""What the tests that kill a training run read of its checkpoint while it trains."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def checkpoint_epoch(path: Path) -> int | None:
    """The epoch a checkpoint was written after, None while there is none (or it is being
    written)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            return json.loads(f["state"].item())["epoch"]
    except (OSError, ValueError, KeyError):
        return None
