"""Datasets for the study: fetched from verified sources, prepared once, loaded CRC-checked.

- ``DATASETS``: the catalog (names, official URLs and mirrors, checksums, class names).
- ``fetch(name, raw_dir, local_dirs)``: find or download the raw files, verified.
- ``prepare(name, out_dir, ...)``: split, normalize and write train/val/test.npz + card.json.
- ``load_split(dir, split)``: ``(x, y)`` read into memory, CRC-checked, no pickle.
- ``augment_batch(x, image_shape, rng)``: seeded random crop + horizontal flip.

Names are imported on first use (PEP 562): a training job that only loads prepared splits
does not pay for the download stack (urllib, ssl, email, tqdm), about 0.1 s per process.
"""

from importlib import import_module

# Public name -> the submodule that defines it.
_EXPORTS = {
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

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__():
    return sorted({*globals(), *__all__})
