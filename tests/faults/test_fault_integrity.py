"""Corrupted after the fact: checksums recorded at write time catch it, the study rebuilds it."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from faultstudy import SNAKEFILE, results, snakemake
from nnstudy.integrity import LOCKS, STORE, dependents, record, verify, verify_before_run


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


def test_intact_files_pass_and_keep_their_records(folder):
    a, b = write(folder / "data/a.npz", b"a" * 5000), write(folder / "results/b.npz", b"bb")
    record(a, b)
    assert verify() == [] and verify(full=True) == []
    assert a.read_bytes() == b"a" * 5000 and b.exists()
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
def test_corrupted_file_is_deleted_so_it_is_rebuilt(folder, corrupt):
    model, other = write(folder / "m/model.npz", os.urandom(4096)), write(folder / "m/x", b"ok")
    record(model, other)
    corrupt(model)
    assert verify() == [model]
    assert not model.exists() and other.exists()
    assert verify() == []  # its record went with it


def test_same_size_and_time_is_trusted_unless_full(folder):
    model = write(folder / "model.npz", b"\x00" * 100)
    record(model)
    stat = model.stat()
    model.write_bytes(b"\x01" * 100)
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert verify() == []  # the cheap check reads nothing
    assert verify(full=True) == [model]


def test_touched_file_with_same_content_is_kept_and_rerecorded(folder):
    model = write(folder / "model.npz", b"weights")
    record(model)
    [rec] = STORE.rglob("*.json")
    before = json.loads(rec.read_text())
    os.utime(model, ns=(before["mtime_ns"] + 10**9, before["mtime_ns"] + 10**9))
    assert verify() == [] and model.exists()
    after = json.loads(rec.read_text())
    assert after["mtime_ns"] == before["mtime_ns"] + 10**9 and after["sha256"] == before["sha256"]


def test_missing_file_and_foreign_record_only_lose_the_record(folder, tmp_path_factory):
    gone = write(folder / "gone.npz", b"1")
    outside = write(tmp_path_factory.mktemp("elsewhere") / "data.npz", b"2")
    record(gone, outside)
    gone.unlink()
    write(STORE / "junk.json", b"{not json")
    assert verify() == []
    assert [p.name for p in STORE.rglob("*.json")] == ["data.npz.json"]  # outside's, kept


def test_verify_before_run_only_in_the_main_process_and_without_a_lock(folder):
    model = write(folder / "model.npz", b"w" * 10)
    record(model)
    model.write_bytes(b"x" * 11)
    assert verify_before_run(SimpleNamespace(is_main_process=False), "data") == []
    write(LOCKS / "0.output.lock", b"")  # another study runs here
    assert verify_before_run(SimpleNamespace(is_main_process=True), "data") == []
    assert model.exists()
    (LOCKS / "0.output.lock").unlink()
    assert verify_before_run(SimpleNamespace(is_main_process=True), "data") == [model]


def test_dependents_are_the_targets_computed_from_a_file(folder):
    prepared = [write(folder / f"data/p/gmm/{n}", b"x") for n in ("train.npz", "card.json")]
    write(folder / "data/p/spirals/train.npz", b"x")
    runs = [write(folder / f"results/runs/gmm/{r}/metrics.json", b"{}") for r in ("a1", "b2")]
    write(folder / "results/runs/spirals/c3/metrics.json", b"{}")
    assert dependents("data/p/gmm/train.npz", "data/p") == sorted(prepared + runs)
    assert dependents("results/runs/gmm/a1/model.npz", "data/p") == [runs[0]]
    assert dependents("results/tables/x.csv", "data/p") == []


@pytest.mark.slow
def test_corrupted_prepared_data_and_model_are_rebuilt_by_the_study(tmp_path, reference):
    folder = tmp_path / "study"
    shutil.copytree(reference.folder, folder, symlinks=True)
    data = folder / "data" / "processed" / "spirals"
    rid = sorted(reference.runs)[0]
    model = folder / "results" / "runs" / "spirals" / rid / "model.npz"
    os.chdir(folder)
    try:
        # What the prepare and train jobs record when they finish writing.
        record(*sorted(data.glob("*.npz")), data / "card.json", model)
    finally:
        os.chdir(reference.folder.parent)
    flip_first_byte(data / "train.npz")
    flip_first_byte(model)
    # The study's Snakefile with the start-up check wired in first, as the workflow does it.
    wrapper = folder / "Snakefile"
    wrapper.write_text(
        "from nnstudy.integrity import verify_before_run\n"
        "for path in verify_before_run(workflow, 'data/processed'):\n"
        "    logger.warning(f'deleted to rebuild: {path}')\n"
        f"include: {str(SNAKEFILE)!r}\n"
    )
    # (Included, the Snakefile's `rule all` is no longer the default target: name it.)
    done = snakemake(folder, "--cores", "1", "--snakefile", str(wrapper), "all")
    assert done.returncode == 0, done.stderr[-3000:]
    log = done.stdout + done.stderr
    assert "deleted to rebuild: data/processed/spirals/train.npz" in log
    assert f"deleted to rebuild: results/runs/spirals/{rid}/model.npz" in log
    # Rebuilt rather than used: the data once, the damaged run retrained.
    assert log.count("rule prepare:") == 1 and log.count("rule train:") >= 1
    assert results(folder, reference.runs) == reference.results
