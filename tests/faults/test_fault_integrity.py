"""Corrupted after the fact: checksums recorded at write time name the file, nothing is deleted."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from faultstudy import snakemake
from nnstudy.jobs.integrity import (
    LOCKS,
    STORE,
    IntegrityError,
    changed,
    check,
    check_study,
    forget,
    guarded,
    incomplete,
    record,
    record_parts,
    refresh_touched,
)


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path, data: bytes):
    """Write a file; its path relative to the working directory (how records name it)."""
    path = Path(os.path.relpath(path)) if Path(path).is_relative_to(Path.cwd()) else Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def flip_first_byte(path):
    """Corrupt in place: same size, new modification time."""
    data = bytearray(path.read_bytes())
    data[0] ^= 0xFF
    stat = path.stat()
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_intact_files_pass_and_records_are_atomic(folder):
    a, b = write(folder / "data/a.npz", b"a" * 5000), write(folder / "results/b.npz", b"bb")
    record(a, b)
    assert changed() == []
    check(a, b, "results/unrecorded.csv")
    assert len(list(STORE.rglob("*.json"))) == 2
    assert not [p for p in STORE.rglob("*") if p.name.endswith(".tmp")]


@pytest.mark.parametrize(
    "corrupt",
    [
        flip_first_byte,
        lambda p: p.write_bytes(p.read_bytes()[:-10]),  # truncated
        lambda p: p.write_bytes(b""),  # emptied
        lambda p: p.write_bytes(p.read_bytes() + b"x"),  # grown
    ],
    ids=["flipped", "truncated", "emptied", "grown"],
)
def test_a_changed_file_is_named_with_its_repair_and_nothing_is_touched(folder, corrupt):
    model, other = write(folder / "m/model.npz", os.urandom(4096)), write(folder / "m/x", b"ok")
    record(model, other)
    corrupt(model)
    before = snapshot(folder)
    assert changed() == [model]
    with pytest.raises(IntegrityError) as error:
        check(other, model)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"{model}: changed since the study wrote it")
    assert message.endswith(f"rm {model} && snakemake --cores N")
    assert snapshot(folder) == before  # checking reads only


def test_a_rewrite_that_keeps_size_and_time_is_caught(folder):
    """`touch -r` sets the modification time back, not the inode change time."""
    model = write(folder / "model.npz", b"\x00" * 100)
    record(model)
    stat = model.stat()
    model.write_bytes(b"\x01" * 100)
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert model.stat().st_mtime_ns == stat.st_mtime_ns
    assert changed() == [model]


def test_touched_file_with_same_content_passes(folder):
    model = write(folder / "model.npz", b"weights")
    record(model)
    [rec] = STORE.rglob("*.json")
    mtime = json.loads(rec.read_text())["mtime_ns"] + 10**9
    os.utime(model, ns=(mtime, mtime))
    assert changed() == [] and check(model) is None
    # Refreshed (what onstart does), the record takes the new stamp: the next check does not
    # read the file at all.
    assert refresh_touched() >= 1
    assert json.loads(rec.read_text())["mtime_ns"] == mtime
    import nnstudy.jobs.integrity as integrity

    def unreadable(path):
        raise AssertionError(f"{path} was read")

    original, integrity.file_digest = integrity.file_digest, unreadable
    try:
        assert changed() == []
    finally:
        integrity.file_digest = original


def test_missing_file_and_foreign_record_are_not_reported(folder, tmp_path_factory):
    gone = write(folder / "gone.npz", b"1")
    outside = write(tmp_path_factory.mktemp("elsewhere") / "data.npz", b"2")
    record(gone, outside)
    gone.unlink()
    write(STORE / "junk.json", b"{not json")
    assert changed() == []
    outside.write_bytes(b"22")
    assert changed() == [outside]  # recorded by absolute path


def test_a_job_forgets_its_outputs_checks_its_inputs_and_records_what_it_wrote(folder):
    data, out = write(folder / "data.npz", b"d"), write(folder / "out.csv", b"old")
    record(data, out)
    with guarded([str(data)], [str(out), "results/fragments"]):
        # A job killed here leaves no record for its half-written output.
        out.write_bytes(b"partial")
        assert changed() == []
        out.write_bytes(b"new")
    assert changed() == []
    out.write_bytes(b"corrupted")
    with pytest.raises(SystemExit) as stop, guarded([str(out)], []):
        pytest.fail("a job must not run on a changed input")
    assert str(stop.value).startswith(f"{out}: changed since the study wrote it")


def test_forget_drops_only_the_named_records(folder):
    a, b = write(folder / "a", b"a"), write(folder / "b", b"b")
    record(a, b)
    forget(a, "never/recorded")
    a.write_bytes(b"A")
    b.write_bytes(b"B")
    assert changed() == [b]


def test_check_study_only_in_the_main_process_and_without_a_lock(folder):
    model = write(folder / "model.npz", b"w" * 10)
    record(model)
    model.write_bytes(b"x" * 11)
    assert check_study(SimpleNamespace(is_main_process=False)) is None
    write(LOCKS / "0.output.lock", b"")  # another study runs here; its jobs check inputs
    assert check_study(SimpleNamespace(is_main_process=True)) is None
    (LOCKS / "0.output.lock").unlink()
    message = check_study(SimpleNamespace(is_main_process=True))
    assert message.startswith(f"{model}: changed") and model.exists()


def _study_copy(reference, tmp_path):
    folder = tmp_path / "study"
    shutil.copytree(reference.folder, folder, symlinks=True)
    return folder


def test_protection_survives_deleting_snakemake_s_metadata(reference, tmp_path):
    folder = _study_copy(reference, tmp_path)
    shutil.rmtree(folder / ".snakemake")
    [metrics] = list((folder / "results/runs").glob("*/*/metrics.json"))[:1]
    record = json.loads(metrics.read_text())
    record["test_accuracy"] = 0.1777
    stat = metrics.stat()
    metrics.write_text(json.dumps(record))
    os.utime(metrics, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    done = snakemake(folder, "--cores", "1")
    assert done.returncode != 0
    assert f"{metrics.relative_to(folder)}: changed since the study wrote it" in done.stderr


def test_after_a_rerun_every_record_matches_its_file_s_time_stamp(reference, tmp_path):
    folder = _study_copy(reference, tmp_path)
    done = snakemake(folder, "--cores", "1")
    assert done.returncode == 0, done.stderr[-2000:]
    stale = []
    for rec in (folder / STORE).rglob("*.json"):
        stamp = json.loads(rec.read_text())
        path = folder / stamp["path"]
        if path.exists() and path.stat().st_mtime_ns != stamp["mtime_ns"]:
            stale.append(stamp["path"])
    assert stale == []


def test_a_folder_is_recorded_file_by_file_and_a_lost_part_is_named(folder):
    fragments = folder / "tables" / "fragments"
    a, b = write(fragments / "a.tex", b"a"), write(fragments / "sub" / "b.tex", b"b")
    record(Path("tables/fragments"))
    assert incomplete() == [] and changed() == []
    b.write_bytes(b"B")
    assert changed() == [b]
    b.unlink()
    assert incomplete() == ["tables/fragments"]
    # The job that writes the folder again starts by forgetting it, parts included.
    forget(Path("tables/fragments"))
    assert incomplete() == [] and list(STORE.rglob("*")) == [
        p for p in STORE.rglob("*") if p.is_dir()
    ]
    assert a.exists()


def test_a_marker_s_parts_are_what_its_job_listed(folder):
    marker = write(folder / "wandb" / "spirals.json", b"{}")
    run = write(folder / "wandb" / "wandb" / "offline-run-1" / "run-1.wandb", b"w")
    record_parts(marker, [run.parent])
    record(marker)
    assert incomplete() == []
    run.unlink()
    run.parent.rmdir()
    assert incomplete() == [str(marker)]
    marker.unlink()  # a missing output is Snakemake's to rebuild
    assert incomplete() == []
