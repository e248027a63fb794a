"""Prepared data changed on disk with its modification time kept and its checksum record lost:
refused by the job that loads it (#14.5; with its record, the start-up check names it first)."""

from __future__ import annotations

import os
import shutil
import struct
import zipfile

from faultstudy import results, snakemake
from nnstudy.jobs.integrity import forget


def flip_in_member_keeping_mtime(path, member: str) -> None:
    """Flip one byte in the middle of an .npz member's array data; restore the file's times."""
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(member)
    with open(path, "rb") as f:
        f.seek(info.header_offset + 26)
        name_len, extra_len = struct.unpack("<HH", f.read(4))
    # Past the local file header and the .npy header (128 bytes), half way into the data.
    at = info.header_offset + 30 + name_len + extra_len + 128 + (info.file_size - 128) // 2
    stat = path.stat()
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_prepared_file_corrupted_with_its_mtime_kept_stops_the_job_naming_it(
    tmp_path, reference, monkeypatch
):
    folder = tmp_path / "study"
    shutil.copytree(reference.folder, folder, symlinks=True)
    train = folder / "data" / "processed" / "spirals" / "train.npz"
    monkeypatch.chdir(folder)
    # Without its record (lost with results/.checksums) the study adopts the file as it finds
    # it: the zip CRC-32 checked as a job loads it is then what stands between it and a run.
    forget(train)
    flip_in_member_keeping_mtime(train, "x.npy")
    # Snakemake sees nothing changed; a forced retrain must still not train on damaged data.
    done = snakemake(folder, "--cores", "1", "--forcerun", "train")
    assert done.returncode != 0
    rel = "data/processed/spirals/train.npz"
    cause = (
        f"{rel}: corrupt (member x.npy: Bad CRC-32 for file 'x.npy'); "
        f"rebuild it: snakemake --cores 1 --forcerun {rel}"
    )
    # One line per failed job on the console, and the same line in the job's log: no
    # traceback of the job, of its worker or of Snakemake's run block.
    console = (done.stdout + done.stderr).splitlines()
    assert "Traceback" not in done.stderr and not any(ln.startswith("  File ") for ln in console)
    about = [line for line in console if "train.npz" in line]
    assert about == [cause] * len(reference.runs), about
    for log in (folder / "results" / "logs" / "train").rglob("*.log"):
        assert log.read_text() == cause + "\n"
    # The command the message names repairs the study: same results as the undisturbed one.
    repaired = snakemake(folder, "--cores", "1", "--forcerun", rel)
    assert repaired.returncode == 0, repaired.stderr[-3000:]
    assert results(folder, reference.runs) == reference.results
