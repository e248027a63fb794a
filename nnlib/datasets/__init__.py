"""Datasets for the study: fetched from verified sources, prepared once, loaded CRC-checked.

- ``DATASETS``: the catalog (names, official URLs and mirrors, checksums, class names).
- ``fetch(name, raw_dir, local_dirs)``: find or download the raw files, verified.
- ``prepare(name, out_dir, ...)``: split, normalize and write train/val/test.npz + card.json.
- ``load_split(dir, split)``: ``(x, y)`` read into memory, CRC-checked, no pickle.
- ``augment_batch(x, image_shape, rng)``: seeded random crop + horizontal flip.

Each name is imported from its module on first use (PEP 562), so a training job that only
loads prepared splits imports neither the catalog, the download stack (urllib, ssl, e-mail,
tqdm: ``download`` imports it when it runs), nor the archive readers (tarfile for CIFAR-10).
"""

from __future__ import annotations

import importlib

# name -> the submodule that defines it
_HOMES = {
    "augment_batch": "augment",
    "DATASETS": "catalog",
    "DatasetSpec": "catalog",
    "RawFile": "catalog",
    "get_spec": "catalog",
    "DownloadError": "download",
    "download": "download",
    "FetchError": "fetch",
    "fetch": "fetch",
    "prepare": "prepare",
    "stratified_split": "prepare",
    "CorruptFileError": "store",
    "load_split": "store",
    "verify_prepared": "store",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    try:
        home = _HOMES[name]
    except KeyError:
        raise AttributeError(f"module 'nnlib.datasets' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
