"""Datasets for the study: fetched from verified sources, prepared once, loaded CRC-checked.

- ``DATASETS``: the catalog (names, official URLs and mirrors, checksums, class names).
- ``fetch(name, raw_dir, local_dirs)``: find or download the raw files, verified.
- ``prepare(name, out_dir, ...)``: split, normalize and write train/val/test.npz + card.json.
- ``load_split(dir, split)``: ``(x, y)`` read into memory, CRC-checked, no pickle.
- ``augment_batch(x, image_shape, rng)``: seeded random crop + horizontal flip.

The download stack (urllib, ssl, e-mail, tqdm) is imported by ``download`` when it runs, and
tarfile by the CIFAR-10 reader, so a training job that only loads prepared splits does not pay
for them in every process. The names themselves are imported eagerly: three are also
module names (``fetch``, ``download``, ``prepare``), and a lazy package attribute would be
replaced by the submodule as soon as anything imported it.
"""

from .augment import augment_batch
from .catalog import DATASETS, DatasetSpec, RawFile, get_spec
from .download import DownloadError, download
from .fetch import FetchError, fetch
from .prepare import prepare, stratified_split
from .store import CorruptFileError, load_split, verify_prepared

__all__ = [
    "DATASETS",
    "CorruptFileError",
    "DatasetSpec",
    "DownloadError",
    "FetchError",
    "RawFile",
    "augment_batch",
    "download",
    "fetch",
    "get_spec",
    "load_split",
    "prepare",
    "stratified_split",
    "verify_prepared",
]
