"""nnlib.atomic: whole files or nothing, with ordinary permissions."""

import os
import stat

import numpy as np
import pytest

from nnlib.atomic import atomic_savez, atomic_write, atomic_write_text


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("fsync", [True, False])
def test_text_lands_whole_with_the_permissions_open_would_give(tmp_path, fsync):
    path = tmp_path / "sub" / "card.json"
    atomic_write_text(path, "{}\n", fsync=fsync)
    assert path.read_text() == "{}\n"
    # not the private 0600 of the temporary file it was written to
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~current_umask()
    assert [p.name for p in path.parent.iterdir()] == ["card.json"]


def test_a_failing_writer_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "model.npz"
    path.write_bytes(b"old")

    def write(f):
        f.write(b"half of the new")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, write)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]


def test_npz_round_trip_without_pickle(tmp_path):
    path = tmp_path / "train.npz"
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    atomic_savez(path, {"x": x, "y": np.array([0, 1, 2])})
    with np.load(path, allow_pickle=False) as data:
        np.testing.assert_array_equal(data["x"], x)
        assert data["y"].tolist() == [0, 1, 2]
