"""The network architectures a study trained, read from its runs' saved models (model.npz):
layer sizes, each hidden layer's activation and normalization, residual blocks and parameter
counts, as the report's architecture figure shows them."""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Architecture:
    sizes: tuple[int, ...]  # [n_in, *hidden, n_out]
    activations: tuple[str, ...]  # per hidden layer: "relu", or "relu x64 + tanh x64" if mixed
    residual: tuple[bool, ...]  # per hidden layer: wrapped as x + block(x)
    dropout: float
    parameters: tuple[int, ...]  # per Dense layer: weights and biases
    # per hidden layer: "batch", "layer" (nnlib's norm names) or "" for none
    norms: tuple[str, ...]
    norm_parameters: int  # the norms' affine weights and biases, all layers

    @property
    def total_parameters(self) -> int:
        return sum(self.parameters) + self.norm_parameters

    @property
    def title(self) -> str:
        return "-".join(str(s) for s in self.sizes)


def activation_label(spec) -> str:
    """A hidden layer's activation: its name, or a mixed layer's names with neuron counts."""
    if isinstance(spec, str):
        return spec
    return " + ".join(f"{name} x{len(list(group))}" for name, group in groupby(spec))


def read_architecture(path: str | Path) -> Architecture:
    """The architecture of the model ``nnlib.save_model`` wrote to ``path``."""
    with np.load(path, allow_pickle=False) as f:
        config = json.loads(f["config"].item())
        stored = sum(f[k].size for k in f.files if k.startswith("param_"))
    if config.get("type") != "MLP":
        raise ValueError(f"{path}: not an MLP (type {config.get('type')!r})")
    sizes = tuple(int(s) for s in config["sizes"])
    pairs = list(zip(sizes[:-1], sizes[1:], strict=True))
    bias = bool(config.get("bias", True))
    parameters = tuple(n_in * n_out + (n_out if bias else 0) for n_in, n_out in pairs)
    norms = _norms(config.get("norm"), len(sizes) - 2)
    # MLP builds each norm with its defaults: an affine weight and bias per feature.
    norm_parameters = sum(2 * size for size, norm in zip(sizes[1:-1], norms, strict=True) if norm)
    if sum(parameters) + norm_parameters != stored:
        raise ValueError(
            f"{path}: {stored} stored parameters, the architecture has "
            f"{sum(parameters) + norm_parameters}"
        )
    acts = config["activation"]
    acts = [acts] * (len(sizes) - 2) if isinstance(acts, str) else acts
    return Architecture(
        sizes=sizes,
        activations=tuple(activation_label(a) for a in acts),
        residual=tuple(bool(config.get("residual")) and a == b for a, b in pairs[:-1]),
        dropout=float(config.get("dropout", 0.0)),
        parameters=parameters,
        norms=norms,
        norm_parameters=norm_parameters,
    )


def _norms(norm, n_hidden: int) -> tuple[str, ...]:
    """An MLP config's ``norm`` (absent, a name, or one name or None per hidden layer) as one
    name per hidden layer, "" for none."""
    specs = [norm] * n_hidden if norm is None or isinstance(norm, str) else norm
    return tuple(s or "" for s in specs)


def distinct_architectures(model_paths) -> list[tuple[Architecture, int]]:
    """Each distinct architecture among the readable ``model_paths`` with how many runs have
    it, most frequent first. Runs that failed before their model was built are skipped. Only
    the stored config of every model is read; the weights are counted once per distinct config
    (a study's models are mostly a few shapes, each of megabytes)."""
    unreadable = (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile)
    by_config: dict[str, list] = {}  # stored config -> [a model with it, how many]
    for path in model_paths:
        try:
            with np.load(path, allow_pickle=False) as f:
                config = str(f["config"].item())
        except unreadable:
            continue
        by_config.setdefault(config, [path, 0])[1] += 1
    counts: dict[Architecture, int] = {}
    for path, n in by_config.values():
        try:
            arch = read_architecture(path)
        except unreadable:
            continue
        counts[arch] = counts.get(arch, 0) + n
    return sorted(counts.items(), key=lambda item: (-item[1], item[0].sizes))
