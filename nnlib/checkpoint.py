"""``fit``'s checkpoint: the fingerprint of a fit's settings, and the file that holds the whole
state of a fit (weights, optimizer state, the fit's own state as JSON), written atomically."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .atomic import atomic_savez
from .serialize import load_params

FORMAT = "nnlib-checkpoint"


def setting_name(fn):
    """A callable setting's identity for the fingerprint (a repr would hold a memory
    address): its ``get_config()``, else its qualified name."""
    if hasattr(fn, "get_config"):
        return fn.get_config()
    return getattr(fn, "__qualname__", type(fn).__name__)


def fingerprint(
    model, loss, optimizer, schedule, n, epochs, batch_size, shuffle, es, clip, extra=None
) -> str:
    """The settings a checkpoint must have been written with to be resumed, as JSON text.

    ``extra`` holds the settings added after the first checkpoints were written, each only
    when it differs from its default, so that the fingerprint of existing settings (and with
    it every checkpoint written before) stays valid.
    """
    hyper = {k: v for k, v in optimizer.hyper.items() if k != "lr" or schedule is None}
    return json.dumps(
        {
            **(extra or {}),
            "model": model.get_config(),
            "loss": loss.get_config(),
            "optimizer": [type(optimizer).__name__, hyper],
            "schedule": setting_name(schedule),
            "n_samples": n,
            "epochs": epochs,
            "batch_size": batch_size,
            "shuffle": shuffle,
            "early_stopping": es,
            "clip_norm": clip,
        },
        sort_keys=True,
        default=str,
    )


class Checkpoint:
    """Reads and writes the full state of a fit (see ``fit``)."""

    def __init__(self, path, fingerprint: str):
        self.path, self.fingerprint = Path(path), fingerprint

    def save(self, model, optimizer, state: dict, best: np.ndarray | None) -> None:
        opt = optimizer.state_dict()
        arrays = {f"param_{i}": p.data for i, p in enumerate(model.parameters())}
        arrays.update({f"opt_{k}": v for k, v in opt["state"].items()})
        if best is not None:
            arrays["best"] = best
        meta = {
            **state,
            "optimizer": {"name": opt["name"], "step": opt["step"], "hyper": opt["hyper"]},
        }
        arrays["format"] = np.array(FORMAT)
        arrays["fingerprint"] = np.array(self.fingerprint)
        arrays["state"] = np.array(json.dumps(meta, allow_nan=True))
        atomic_savez(self.path, arrays)

    def load(self, model, optimizer):
        """Restore model and optimizer; return (state dict, best weights or None)."""
        try:
            with np.load(self.path, allow_pickle=False) as f:
                arrays = {k: f[k] for k in f.files}
            ok = arrays["format"].item() == FORMAT
        except (OSError, ValueError, KeyError) as e:
            raise ValueError(f"cannot read checkpoint {self.path}: {e}") from None
        if not ok:
            raise ValueError(f"{self.path} is not an nnlib checkpoint")
        if arrays["fingerprint"].item() != self.fingerprint:
            raise ValueError(
                f"checkpoint {self.path} was written by a fit with other settings; "
                "delete it or use another path"
            )
        meta = json.loads(arrays["state"].item())
        load_params(model, arrays)
        opt = meta.pop("optimizer")
        opt["state"] = {k[4:]: v for k, v in arrays.items() if k.startswith("opt_")}
        optimizer.load_state_dict(opt)
        return meta, arrays.get("best")
