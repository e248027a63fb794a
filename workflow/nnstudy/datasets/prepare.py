"""Raw dataset -> normalized, split arrays on disk (train/val/test.npz + card.json)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nnlib.atomic import atomic_savez, atomic_write_text

from . import builtin
from .catalog import DatasetSpec, get_spec
from .cifar import read_cifar10
from .fetch import fetch, read_manifest
from .hashing import file_digest, read_content
from .idx import parse_idx
from .store import CARD, SPLITS, file_checksums

# Standard deviations below this are treated as 1 (constant pixels, e.g. MNIST's borders).
_MIN_STD = 1e-6


def prepare(
    name: str,
    out_dir: str | Path,
    *,
    raw_dir: str | Path = "data/raw",
    local_dirs: Sequence[str | Path] = (),
    manifest: str | Path | dict | None = None,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    split_seed: int = 0,
    n_samples: int = 3000,
    data_seed: int = 0,
    spec: DatasetSpec | None = None,
    **fetch_options,
) -> dict:
    """Prepare dataset ``name`` into ``out_dir``; return its card.

    Downloaded sets read the files named by ``manifest`` (a ``source.json`` from ``fetch``),
    fetching first when it is None. ``test_fraction`` applies only to built-in sets (the
    downloaded ones have an official test split); ``n_samples``/``data_seed`` only to the
    synthetic ones. Every input is checked before anything is written; bad values raise a
    one-line ValueError.
    """
    spec = spec or get_spec(name)
    _check_fraction("val_fraction", val_fraction)
    _check_fraction("test_fraction", test_fraction)
    rng = np.random.default_rng(split_seed)
    if spec.downloaded:
        if manifest is None:
            manifest = fetch(spec.name, raw_dir, local_dirs, spec=spec, **fetch_options)
        elif not isinstance(manifest, dict):
            manifest = read_manifest(manifest)
        x_train, y_train, x_test, y_test = _load_downloaded(spec, manifest)
        provenance = {"source": manifest["files"]}
    else:
        x, y, provenance = _load_builtin(spec, n_samples, data_seed)
        rest, test = stratified_split(y, test_fraction, rng, "test_fraction")
        x_train, y_train, x_test, y_test = x[rest], y[rest], x[test], y[test]
    counts_before = {
        "train": _class_counts(y_train, spec.n_classes),
        "test": _class_counts(y_test, spec.n_classes),
    }
    keep, val = stratified_split(y_train, val_fraction, rng, "val_fraction")
    raw = {
        "train": (x_train[keep], y_train[keep]),
        "val": (x_train[val], y_train[val]),
        "test": (x_test, y_test),
    }
    transform, normalization = _fit_normalization(spec, raw["train"][0])
    arrays = {split: (transform(x), y.astype(np.int64)) for split, (x, y) in raw.items()}

    out_dir = Path(out_dir)
    for split, (x, y) in arrays.items():
        atomic_savez(out_dir / f"{split}.npz", {"x": x, "y": y})
    card = {
        "dataset": spec.name,
        "kind": spec.kind,
        "class_names": list(spec.class_names),
        "n_classes": spec.n_classes,
        "n_features": int(arrays["train"][0].shape[1]),
        "image_shape": list(spec.image_shape) if spec.image_shape else None,
        "layout": "rows flattened from (H, W, C)" if spec.image_shape else "features",
        "splits": {
            split: {"shape": list(x.shape), "class_counts": _class_counts(y, spec.n_classes)}
            for split, (x, y) in arrays.items()
        },
        "class_counts_before_split": counts_before,
        "split": {
            "stratified": True,
            "val_fraction": val_fraction,
            "test_fraction": None if spec.downloaded else test_fraction,
            "seed": split_seed,
        },
        "normalization": normalization,
        **provenance,
        "files": file_checksums(out_dir, [f"{s}.npz" for s in SPLITS]),
    }
    atomic_write_text(out_dir / CARD, json.dumps(card, indent=2) + "\n")
    return card


def stratified_split(
    y: np.ndarray, fraction: float, rng: np.random.Generator, what: str = "fraction"
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (kept, held out): each class gives round(fraction * its size) to held out."""
    kept, held = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        k = round(fraction * idx.size)
        if not 0 < k < idx.size:
            raise ValueError(
                f"{what}={fraction} leaves class {c} ({idx.size} samples) with an empty split"
            )
        held.append(idx[:k])
        kept.append(idx[k:])
    return np.sort(np.concatenate(kept)), np.sort(np.concatenate(held))


def _check_fraction(what: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise ValueError(f"{what} must be a number strictly between 0 and 1, got {value!r}")


def _class_counts(y: np.ndarray, n_classes: int) -> list[int]:
    return np.bincount(y, minlength=n_classes).tolist()


def _load_downloaded(spec: DatasetSpec, manifest: dict):
    files = manifest["files"]
    missing = [f.name for f in spec.files if f.name not in files]
    if missing:
        raise ValueError(f"{spec.name}: manifest lacks {', '.join(missing)}")
    if spec.kind == "cifar":
        f = spec.files[0]
        path = Path(files[f.name]["path"])
        if f.md5 is not None and (got := file_digest(path, "md5")) != f.md5:
            raise ValueError(f"{path}: md5 {got} != published {f.md5} (changed since fetched)")
        raw = read_cifar10(path, records_per_batch=spec.records_per_batch, n_classes=spec.n_classes)
        if raw["class_names"] and tuple(raw["class_names"]) != spec.class_names:
            raise ValueError(f"{path}: class names {raw['class_names']} differ from the catalog's")
        return raw["x_train"], raw["y_train"], raw["x_test"], raw["y_test"]
    parts = {}
    for f in spec.files:
        path = Path(files[f.name]["path"])
        data = read_content(path)
        if f.sha256 is not None and (got := hashlib.sha256(data).hexdigest()) != f.sha256:
            raise ValueError(f"{path}: content sha256 {got} != expected {f.sha256}")
        split = "train" if f.name.startswith("train") else "test"
        kind = "x" if "images" in f.name else "y"
        parts[kind, split] = parse_idx(data, ndim=3 if kind == "x" else 1, name=str(path))
    out = []
    for split in ("train", "test"):
        x, y = parts["x", split], parts["y", split]
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"{spec.name} {split}: {x.shape[0]} images but {y.shape[0]} labels")
        if spec.image_shape and x.shape[1:] != spec.image_shape[:2]:
            raise ValueError(
                f"{spec.name} {split}: images are {x.shape[1:]}, expected {spec.image_shape[:2]}"
            )
        if y.size and int(y.max()) >= spec.n_classes:
            raise ValueError(
                f"{spec.name} {split}: label {int(y.max())} >= {spec.n_classes} classes"
            )
        out += [x[..., None], y.astype(np.int64)]
    return tuple(out)


def _load_builtin(spec: DatasetSpec, n_samples: int, data_seed: int):
    if spec.name == "digits":
        x, y, source = builtin.load_digits()
        return x, y, {"source": {"digits.csv.gz": source}}
    if spec.name not in builtin.GENERATORS:
        raise ValueError(f"dataset {spec.name!r} has no built-in generator")
    if isinstance(n_samples, bool) or not isinstance(n_samples, int):
        raise ValueError(f"n_samples must be an integer, got {n_samples!r}")
    x, y = builtin.GENERATORS[spec.name](
        n_samples, np.random.default_rng(data_seed), spec.n_classes
    )
    return (
        x,
        y,
        {"source": {"generator": {"name": spec.name, "n_samples": n_samples, "seed": data_seed}}},
    )


def _fit_normalization(spec: DatasetSpec, x_train: np.ndarray):
    """A function mapping raw samples to flattened float32, fitted on the training split.

    Images: scaled to [0, 1] by the pixel range, then standardized per channel (a pixel's
    value keeps its meaning under crops and flips). Other sets: standardized per feature.
    """
    if spec.image_shape is not None:
        c = spec.image_shape[2]
        counts = np.stack([np.bincount(x_train[..., i].ravel(), minlength=256) for i in range(c)])
        values = np.arange(counts.shape[1]) / spec.pixel_max
        n = counts.sum(axis=1)
        mean = counts @ values / n
        std = np.sqrt(np.maximum(counts @ values**2 / n - mean**2, 0.0))
        std = np.where(std < _MIN_STD, 1.0, std)
        # Every uint8 value maps through one float32 lookup table per channel.
        table = ((values[None, :] - mean[:, None]) / std[:, None]).astype(np.float32)

        def transform(x):
            return table[np.arange(c), x].reshape(x.shape[0], -1)

        per = "channel"
        scale = 1.0 / spec.pixel_max
    else:
        mean = x_train.mean(axis=0)
        std = x_train.std(axis=0)
        std = np.where(std < _MIN_STD, 1.0, std)

        def transform(x):
            return ((x - mean) / std).astype(np.float32)

        per = "feature"
        scale = None
    return transform, {
        "scale": scale,
        "per": per,
        "mean": mean.tolist(),
        "std": std.tolist(),
        "computed_on": "train",
        "formula": "(x * scale - mean) / std" if scale else "(x - mean) / std",
    }
