"""load_split as the jobs use it: in memory, O(batch) gathers, damaged files refused."""

from __future__ import annotations

import os
import subprocess
import sys
import tracemalloc
import zipfile

import numpy as np
import pytest
from nnstudy.datasets import CorruptFileError, load_split

from nnlib import MLP, fit, get_loss, get_optimizer
from nnlib.atomic import atomic_savez


def write_split(folder, n, features, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, features), dtype=np.float32)
    y = rng.integers(0, 2, n).astype(np.int64)
    atomic_savez(folder / "train.npz", {"x": x, "y": y})  # how prepare writes a split
    return x, y


def test_a_batch_gather_does_no_work_proportional_to_the_split(tmp_path):
    """One epoch of fit on a 41 MB split: on a memory map of the unaligned .npz member,
    NumPy copied the whole array for every batch (peak >= 41 MB); in memory a batch costs
    its own size. (fit's one check that x is finite allocates x.size bytes, a quarter.)"""
    x_written, _ = write_split(tmp_path, 20_000, 512)
    x, y = load_split(tmp_path, "train")
    np.testing.assert_array_equal(x, x_written)
    assert x.flags.aligned and x.flags.c_contiguous
    model = MLP([512, 4, 2], rng=np.random.default_rng(0))
    optimizer = get_optimizer("sgd", model.parameters(), lr=0.01)
    tracemalloc.start()
    try:
        fit(model, get_loss("cross_entropy"), optimizer, x, y, epochs=1, batch_size=500)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < x.nbytes / 2, f"fit allocated {peak / 1e6:.1f} MB on a {x.nbytes / 1e6} MB split"


def test_loaded_arrays_are_read_only_copies_in_memory(tmp_path):
    x_written, y_written = write_split(tmp_path, 50, 3)
    x, y = load_split(tmp_path, "train")
    assert not isinstance(x, np.memmap) and not x.flags.writeable and not y.flags.writeable
    (tmp_path / "train.npz").unlink()  # nothing refers to the file any more
    np.testing.assert_array_equal(x, x_written)
    np.testing.assert_array_equal(y, y_written)


def data_offset(path, member):
    """Offset of an .npz member's array data (after its local header and .npy header)."""
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(member)
        with zf.open(info) as f:
            np.lib.format.read_magic(f)
            np.lib.format.read_array_header_1_0(f)
            npy_header = f.tell()
    with open(path, "rb") as f:
        f.seek(info.header_offset + 26)
        name_len, extra_len = np.frombuffer(f.read(4), "<u2")
    return int(info.header_offset + 30 + name_len + extra_len + npy_header)


def flip(path, at):
    stat = path.stat()
    data = bytearray(path.read_bytes())
    data[at] ^= 0x10
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the modification time is kept


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda p: flip(p, data_offset(p, "x.npy") + 7), "Bad CRC-32 for file 'x.npy'"),
        (lambda p: flip(p, data_offset(p, "y.npy") + 1), "Bad CRC-32 for file 'y.npy'"),
        (lambda p: flip(p, data_offset(p, "x.npy") - 3), "x.npy"),  # inside the .npy header
        (lambda p: p.write_bytes(p.read_bytes()[:-100]), ""),  # truncated
        (lambda p: p.write_bytes(b""), ""),  # emptied
    ],
    ids=["x-data", "y-data", "npy-header", "truncated", "emptied"],
)
def test_a_damaged_split_is_refused_with_one_line_naming_it(tmp_path, damage, reason):
    write_split(tmp_path, 300, 8)
    path = tmp_path / "train.npz"
    damage(path)
    with pytest.raises(CorruptFileError) as err:
        load_split(tmp_path, "train")
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{path}: corrupt (")
    assert reason in message
    assert message.endswith(f"rebuild it: snakemake --cores 1 --forcerun {path}")


def test_public_names_are_the_functions_whatever_was_imported_first():
    # fetch, download and prepare are also module names: importing the submodules first (as
    # the rule scripts' other imports may) must not leave the package's names bound to them.
    code = (
        "import nnstudy.datasets.fetch, nnstudy.datasets.download, nnstudy.datasets.prepare\n"
        "from nnstudy.datasets import FetchError, download, fetch, prepare\n"
        "import nnstudy.datasets as d, types\n"
        "modules = [n for n in d.__all__ if isinstance(getattr(d, n), types.ModuleType)]\n"
        "assert not modules and callable(fetch) and callable(prepare), modules\n"
        "import sys\n"
        "assert 'tarfile' not in sys.modules  # the CIFAR-10 reader imports it when it runs\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
