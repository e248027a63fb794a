"""The IDX parser refuses malformed files with a one-line cause."""

from __future__ import annotations

import numpy as np
import pytest
from dataset_fixtures import IDX_NAMES, encode_idx, gz, idx_spec, small_idx_set
from nnstudy.datasets import FetchError, prepare
from nnstudy.datasets.idx import parse_idx


def test_round_trip():
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    np.testing.assert_array_equal(parse_idx(encode_idx(images), ndim=3), images)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00\x00\x08", "bad magic number"),
        (b"\x01\x02\x08\x01" + b"\x00" * 8, "bad magic number"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x01\x00", "bad magic number"),  # unknown type code
        (encode_idx(np.zeros(5)), "expected 3 dimensions"),
        (encode_idx(np.zeros((4, 2, 2)))[:-1], "truncated"),
        (encode_idx(np.zeros((4, 2, 2))) + b"\x00", "trailing bytes"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x04", "truncated header"),
    ],
)
def test_malformed_idx(data, message):
    with pytest.raises(ValueError, match=message) as err:
        parse_idx(data, ndim=3, name="f")
    assert "\n" not in str(err.value)


def prepare_from_mirror(tmp_path, contents, damage_file=None):
    """prepare("mnist") from a local mirror of ``contents`` (gzipped), after ``damage_file``
    has changed the mirror's first file."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for n, d in contents.items():
        (mirror / n).write_bytes(gz(d))
    if damage_file is not None:
        damage_file(mirror / IDX_NAMES[0])
    prepare(
        "mnist",
        tmp_path / "out",
        raw_dir=tmp_path / "raw",
        local_dirs=[mirror],
        spec=idx_spec(contents),
    )


@pytest.mark.parametrize("damage", ["magic", "truncate"])
def test_corrupt_file_in_a_mirror_fails_prepare_and_writes_nothing(damage, tmp_path):
    """A file whose checksum is right for its (corrupt) bytes still fails at parsing."""
    contents = small_idx_set()
    name = IDX_NAMES[0]
    data = contents[name]
    contents[name] = b"\x00\x00\x08\x02" + data[4:] if damage == "magic" else data[:-10]
    with pytest.raises(ValueError, match="expected 3 dimensions|truncated"):
        prepare_from_mirror(tmp_path, contents)
    assert not (tmp_path / "out").exists()


def test_truncated_gzip_stream_is_refused(tmp_path):
    def cut(path):
        path.write_bytes(path.read_bytes()[:-50])

    with pytest.raises(FetchError, match="corrupt gzip stream"):
        prepare_from_mirror(tmp_path, small_idx_set(), damage_file=cut)
    assert not (tmp_path / "out").exists()
