"""CIFAR-10 binary archives: parsed in memory; any unsafe or unexpected member is refused."""

from __future__ import annotations

import pickle
import tarfile

import numpy as np
import pytest
from dataset_fixtures import (
    RECORDS,
    cifar_batch,
    cifar_members,
    cifar_spec,
    make_tar_gz,
)
from nnstudy.datasets import prepare
from nnstudy.datasets.cifar import read_cifar10

FOLDER = "cifar-10-batches-bin/"


def write(tmp_path, archive: bytes):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "cifar-10-binary.tar.gz").write_bytes(archive)
    return mirror


def test_binary_records_are_decoded(tmp_path):
    archive = make_tar_gz(cifar_members())
    data = read_cifar10(
        write(tmp_path, archive) / "cifar-10-binary.tar.gz", records_per_batch=RECORDS
    )
    assert data["x_train"].shape == (5 * RECORDS, 32, 32, 3)
    assert data["x_test"].shape == (RECORDS, 32, 32, 3)
    raw = np.frombuffer(cifar_batch(1), np.uint8).reshape(RECORDS, 3073)
    np.testing.assert_array_equal(data["y_train"][:RECORDS], raw[:, 0])
    # Record layout: 1024 red (row-major), then green, then blue.
    np.testing.assert_array_equal(
        data["x_train"][0, 0, 1, :], raw[0, [1 + 1, 1 + 1024 + 1, 1 + 2048 + 1]]
    )
    assert data["class_names"][0] == "airplane"


def test_prepare_cifar_from_local_archive(tmp_path):
    archive = make_tar_gz(cifar_members())
    card = prepare(
        "cifar10",
        tmp_path / "out",
        raw_dir=tmp_path / "raw",
        local_dirs=[write(tmp_path, archive)],
        val_fraction=0.2,
        spec=cifar_spec(archive),
        progress=False,
    )
    assert card["n_features"] == 3072
    assert card["image_shape"] == [32, 32, 3]
    assert len(card["normalization"]["mean"]) == 3


def _info(name, size=0, type_=tarfile.REGTYPE, linkname=""):
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname = type_, size, linkname
    return info


class _Trap:
    """Unpickling this creates a file: the proof that nothing was unpickled is its absence."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def _cases(sentinel):
    trap = pickle.dumps(_Trap(sentinel))
    batch = len(cifar_batch(0))
    return {
        "unexpected member": ([(FOLDER + "notes.txt", b"hello")], [], "not part of the CIFAR-10"),
        "pickle member": ([("cifar-10-batches-py/data_batch_1", trap)], [], "is a pickle"),
        "pickle file": ([(FOLDER + "extra.pkl", trap)], [], "is a pickle"),
        "pickle in a .bin": (
            [(FOLDER + "data_batch_1.bin", trap + b"\0" * (batch - len(trap)))],
            [],
            "is a pickle",
        ),
        "traversal": ([("../x", b"evil")], [], "path traversal"),
        "traversal inside": ([(FOLDER + "../../x.bin", b"evil")], [], "path traversal"),
        "absolute path": ([("/tmp/x.bin", b"evil")], [], "path traversal"),
        "symlink": (
            [],
            [
                (
                    _info(
                        FOLDER + "data_batch_1.bin", type_=tarfile.SYMTYPE, linkname="/etc/passwd"
                    ),
                    None,
                )
            ],
            "is a link",
        ),
        "hard link": (
            [],
            [
                (
                    _info(FOLDER + "test_batch.bin", type_=tarfile.LNKTYPE, linkname="/etc/passwd"),
                    None,
                )
            ],
            "is a link",
        ),
        "device": ([], [(_info(FOLDER + "dev", type_=tarfile.CHRTYPE), None)], "special file"),
        "oversized": ([(FOLDER + "data_batch_1.bin", b"\0" * (batch + 3073))], [], "oversized"),
        "oversized text": ([(FOLDER + "readme.html", b" " * 70_000)], [], "oversized"),
        "duplicate": ([(FOLDER + "test_batch.bin", cifar_batch(5))], [], "appears twice"),
        "truncated batch": ([(FOLDER + "data_batch_1.bin", cifar_batch(1)[:-1])], [], "truncated"),
    }


@pytest.mark.parametrize("case", list(_cases("x")))
def test_bad_archive_is_refused_and_nothing_is_written(case, tmp_path):
    sentinel = tmp_path / "unpickled"
    extra_members, extra_infos, message = _cases(sentinel)[case]
    members = cifar_members()
    replaced = {name for name, _ in extra_members} & {name for name, _ in members}
    if case != "duplicate":
        members = [m for m in members if m[0] not in replaced]
    # The bad member comes first, before any good one is read.
    archive = make_tar_gz(extra_members + members, extra_infos)
    mirror = write(tmp_path, archive)
    before = set(tmp_path.rglob("*"))
    with pytest.raises(ValueError, match=message) as err:
        prepare(
            "cifar10",
            tmp_path / "out",
            raw_dir=tmp_path / "raw",
            local_dirs=[mirror],
            spec=cifar_spec(archive),
            progress=False,
        )
    assert "\n" not in str(err.value)
    written = set(tmp_path.rglob("*")) - before
    # Only the fetch manifest (which names the verified archive) may appear; no member, no output.
    assert {p.name for p in written if p.is_file()} <= {"source.json"}
    assert not (tmp_path / "out").exists()
    assert not sentinel.exists()


def test_missing_member_is_refused(tmp_path):
    members = [m for m in cifar_members() if not m[0].endswith("test_batch.bin")]
    path = write(tmp_path, make_tar_gz(members)) / "cifar-10-binary.tar.gz"
    with pytest.raises(ValueError, match="lacks test_batch.bin"):
        read_cifar10(path, records_per_batch=RECORDS)


def test_not_a_tar_gz(tmp_path):
    path = tmp_path / "x.tar.gz"
    path.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a readable tar.gz"):
        read_cifar10(path, records_per_batch=RECORDS)
