"""save_model / load_model: one ``.npz`` with the architecture as JSON and the weights.

Layout: ``format`` ("nnlib-model"), ``version``, ``config`` (JSON string from
``Module.get_config``), ``param_0 ... param_{k-1}`` in ``parameters()`` order and, for models
with buffers (BatchNorm1d's running statistics), ``buffer_0 ...`` in ``buffers()`` order.
Files are written atomically and read with ``allow_pickle=False``.
"""

from __future__ import annotations

import json
import zipfile

import numpy as np

from .atomic import atomic_savez

FORMAT, VERSION = "nnlib-model", 1


def module_from_config(config: dict):
    """Rebuild a Module (with fresh parameters) from ``get_config()`` output."""
    from . import activations, layers, norm

    kind = config.get("type")
    args = {k: v for k, v in config.items() if k != "type"}
    if kind in ("MLP", "Dense"):
        # Weights are loaded afterwards: build with zeros, keep the recorded init name.
        module = getattr(layers, kind)(**{**args, "init": "zeros"})
        module.init = args.get("init", "zeros")
        return module
    if kind == "Sequential":
        return layers.Sequential(*(module_from_config(c) for c in args["modules"]))
    if kind == "Residual":
        return layers.Residual(module_from_config(args["module"]))
    if kind == "Dropout":
        return layers.Dropout(**args)
    if kind in ("BatchNorm1d", "LayerNorm"):
        return getattr(norm, kind)(**args)
    cls = getattr(activations, str(kind), None)
    if isinstance(cls, type) and issubclass(cls, activations._Activation):
        return cls(**args)
    raise ValueError(f"unknown module type {kind!r} in model config")


def model_arrays(model) -> dict:
    arrays = {
        "format": np.array(FORMAT),
        "version": np.array(VERSION),
        "config": np.array(json.dumps(model.get_config(), sort_keys=True)),
    }
    arrays.update({f"param_{i}": p.data for i, p in enumerate(model.parameters())})
    arrays.update({f"buffer_{i}": b for i, b in enumerate(model.buffers())})
    return arrays


def load_params(model, arrays) -> None:
    """Copy the ``param_{i}`` and ``buffer_{i}`` arrays into the model's parameters and
    buffers (counts and shapes must match)."""
    for prefix, what, live in (
        ("param_", "parameter", [p.data for p in model.parameters()]),
        ("buffer_", "buffer", model.buffers()),
    ):
        n_saved = sum(1 for k in arrays if k.startswith(prefix))
        if n_saved != len(live):
            raise ValueError(f"file holds {n_saved} {what} arrays, model has {len(live)}")
        for i, target in enumerate(live):
            a = arrays[f"{prefix}{i}"]
            if a.shape != target.shape:
                raise ValueError(f"{what} {i}: saved shape {a.shape} != model shape {target.shape}")
            target[...] = a


def save_model(model, path) -> None:
    """Write ``model`` (architecture + weights) to ``path`` (.npz), atomically."""
    atomic_savez(path, model_arrays(model))


def load_model(path):
    """Read a model written by ``save_model``; raises ValueError for files that are not one."""
    try:
        # Our own file object: np.load leaks the one it opens when a zip is truncated.
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        ok = arrays["format"].item() == FORMAT
    except (zipfile.BadZipFile, ValueError, KeyError, EOFError, TypeError):
        ok = False  # not a zip, pickled or truncated data, a bare .npy, no format marker
    if not ok:
        raise ValueError(f"{path} is not an nnlib model file")
    model = module_from_config(json.loads(arrays["config"].item()))
    load_params(model, arrays)
    return model
