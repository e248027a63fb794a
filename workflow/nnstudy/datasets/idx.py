"""The IDX format of MNIST-style files: a 4-byte magic, big-endian dimensions, then data."""

from __future__ import annotations

import numpy as np

# Third magic byte -> element type (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT").
_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def parse_idx(data: bytes, *, ndim: int | None = None, name: str = "IDX data") -> np.ndarray:
    """Array held by the IDX bytes ``data``; ValueError naming ``name`` if malformed.

    Checks the magic number, the number of dimensions (``ndim`` if given) and that the
    byte count matches the dimensions exactly (truncated or padded files are refused).
    """
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _TYPES:
        raise ValueError(f"{name}: not an IDX file (bad magic number {data[:4].hex() or 'empty'})")
    dtype, dims = _TYPES[data[2]], data[3]
    if ndim is not None and dims != ndim:
        raise ValueError(f"{name}: expected {ndim} dimensions, the header says {dims}")
    header = 4 + 4 * dims
    if len(data) < header:
        raise ValueError(f"{name}: truncated header ({len(data)} bytes)")
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", count=dims, offset=4))
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has trailing bytes"
        raise ValueError(f"{name}: {what}: {len(data)} bytes, dimensions {shape} need {expected}")
    return np.frombuffer(data, dtype, offset=header).reshape(shape)
