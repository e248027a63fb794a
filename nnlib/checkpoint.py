"""``fit``'s checkpoint: the fingerprint of a fit's settings, and the file that holds the whole
state of a fit (weights, buffers, optimizer state, the fit's own state as JSON), written
atomically with a SHA-256 digest of its content.

Layout (an uncompressed ``.npz``): ``format`` ("nnlib-checkpoint"), ``fingerprint``, ``state``
(JSON: the fit's state and the optimizer's step and hyper-parameters), ``param_{i}`` and
``buffer_{i}`` in ``parameters()``/``buffers()`` order, ``opt_{name}`` (the optimizer's state
arrays), ``best`` and ``best_buffer_{i}`` (the best epoch's weights, with early stopping) and
``digest``. Checkpoints written before the digest existed are read without it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from .atomic import atomic_savez

FORMAT = "nnlib-checkpoint"
# The keys of the fit's JSON state a checkpoint must hold (more are optional).
_REQUIRED = ("epoch", "status", "history", "best_epoch", "bad_epochs")


class CheckpointError(ValueError):
    """A checkpoint that cannot be read back as it was written (truncated, not a zip, a bad
    CRC, an array missing or of another shape, broken JSON, or content that no longer matches
    its digest). Nothing was restored: delete the file and the fit starts afresh."""

    def __init__(self, path, cause):
        if isinstance(cause, KeyError):
            text = [f"it has no {cause.args[0]!r}"]
        else:
            text = str(cause).strip().splitlines() or [type(cause).__name__]
        super().__init__(
            f"checkpoint {path} is damaged ({text[0]}); delete it to train from the start"
        )


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


def content_digest(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 over every array's name, dtype, shape and bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _indexed(arrays: dict, prefix: str) -> list[np.ndarray]:
    """``prefix0, prefix1, ...`` in index order."""
    count = sum(1 for k in arrays if k.startswith(prefix) and k[len(prefix) :].isdigit())
    return [arrays[f"{prefix}{i}"] for i in range(count)]


def _check_shapes(what: str, saved: list, live: list) -> None:
    if len(saved) != len(live):
        raise ValueError(f"it holds {len(saved)} {what} arrays, the model has {len(live)}")
    for i, (a, b) in enumerate(zip(saved, live, strict=True)):
        if a.shape != b.shape or a.dtype.kind != b.dtype.kind:
            raise ValueError(f"{what} {i} is {a.dtype} {a.shape}, the model's {b.dtype} {b.shape}")


class Checkpoint:
    """Reads and writes the full state of a fit (see ``fit``)."""

    def __init__(self, path, fingerprint: str):
        self.path, self.fingerprint = Path(path), fingerprint

    def save(self, model, optimizer, generators, schedule, state: dict, best) -> None:
        """Write the model, the optimizer, the states of ``generators`` (fit's shuffle
        generator, then the model's), the schedule's state if it has one, the fit's JSON
        ``state`` and ``best``, the best epoch's [flat parameters, *buffers] (or None)."""
        opt = optimizer.state_dict()
        arrays = {f"param_{i}": p.data for i, p in enumerate(model.parameters())}
        arrays.update({f"buffer_{i}": b for i, b in enumerate(model.buffers())})
        arrays.update({f"opt_{k}": v for k, v in opt["state"].items()})
        if best is not None:
            arrays["best"] = best[0]
            arrays.update({f"best_buffer_{i}": b for i, b in enumerate(best[1:])})
        meta = {
            **state,
            "optimizer": {k: v for k, v in opt.items() if k != "state"},
            "rng": generators[0].bit_generator.state,
            "module_rngs": [g.bit_generator.state for g in generators[1:]],
        }
        if hasattr(schedule, "state_dict"):
            meta["schedule"] = schedule.state_dict()
        arrays["format"] = np.array(FORMAT)
        arrays["fingerprint"] = np.array(self.fingerprint)
        arrays["state"] = np.array(json.dumps(meta, allow_nan=True))
        arrays["digest"] = np.array(content_digest(arrays))
        atomic_savez(self.path, arrays)

    def load(self, model, optimizer, generators, schedule) -> tuple[dict, list | None]:
        """Restore the model, the optimizer, the generators and the schedule (as passed to
        ``save``); return (the fit's state, best weights or None).

        Raises CheckpointError for a damaged file and ValueError for one written by a fit
        with other settings; in both cases before anything is restored.
        """
        arrays = self._read()
        if arrays["fingerprint"].item() != self.fingerprint:
            raise ValueError(
                f"checkpoint {self.path} was written by a fit with other settings; "
                "delete it or use another path"
            )
        try:
            meta, params, buffers, opt, best = self._parse(arrays, model, optimizer, generators)
            if hasattr(schedule, "load_state_dict"):  # checks its state before changing
                schedule.load_state_dict(meta.pop("schedule"))
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise CheckpointError(self.path, e) from None
        for p, a in zip(model.parameters(), params, strict=True):
            p.data[...] = a
        for b, a in zip(model.buffers(), buffers, strict=True):
            b[...] = a
        optimizer.load_state_dict(opt)
        for g, state in zip(generators, [meta.pop("rng"), *meta.pop("module_rngs")], strict=True):
            g.bit_generator.state = state
        return meta, best

    def _read(self) -> dict[str, np.ndarray]:
        """Every array, checked against the format marker and the content digest."""
        try:
            # Our own file object: np.load leaks the one it opens when a zip is truncated.
            with open(self.path, "rb") as fh, np.load(fh, allow_pickle=False) as f:
                arrays = {k: f[k] for k in f.files}
            if arrays["format"].item() != FORMAT:
                raise ValueError("not an nnlib checkpoint")
            digest = arrays.pop("digest", None)
            if digest is not None and digest.item() != content_digest(arrays):
                raise ValueError("its content does not match its SHA-256 digest")
        # Damaged bytes surface as any of a dozen exception types from zipfile, zlib and
        # NumPy's format reader (BadZipFile, zlib.error, EOFError, OSError, ValueError, ...):
        # each means the same, this file cannot be resumed.
        except Exception as e:
            raise CheckpointError(self.path, e) from None
        return arrays

    @staticmethod
    def _parse(arrays, model, optimizer, generators):
        """The checkpoint's parts, each checked against the model and the optimizer."""
        meta = json.loads(arrays["state"].item())
        missing = [k for k in (*_REQUIRED, "optimizer") if k not in meta]
        if missing:
            raise ValueError(f"its state has no {', '.join(missing)}")
        params, buffers = _indexed(arrays, "param_"), _indexed(arrays, "buffer_")
        _check_shapes("parameter", params, [p.data for p in model.parameters()])
        _check_shapes("buffer", buffers, model.buffers())
        opt = meta.pop("optimizer")
        opt["state"] = {k[4:]: v for k, v in arrays.items() if k.startswith("opt_")}
        optimizer.check_state_dict(opt)
        best = None
        if "best" in arrays:
            best = [arrays["best"], *_indexed(arrays, "best_buffer_")]
            n = sum(p.data.size for p in model.parameters())
            if best[0].shape != (n,):
                raise ValueError(f"best weights have shape {best[0].shape}, expected ({n},)")
            _check_shapes("best buffer", best[1:], model.buffers())
        states = [meta["rng"], *meta["module_rngs"]]
        if len(states) != len(generators):
            raise ValueError(
                f"it holds {len(states)} generator states, the fit has {len(generators)}"
            )
        for g, state in zip(generators, states, strict=True):
            type(g.bit_generator)(0).state = state  # a malformed state raises here
        return meta, params, buffers, opt, best
