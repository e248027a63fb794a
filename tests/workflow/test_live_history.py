"""history.csv grows as a run trains (issue 27, item 3): one whole row per epoch, never a
partial one, and a run killed mid-training resumes with the history of an uninterrupted run.
The train job runs as a real process (``python -m nnstudy.training.job``, what rule ``train``
runs); conftest sets NNSTUDY_CHECKPOINT_SECONDS=0, so it checkpoints after every epoch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from checkpoint_state import checkpoint_epoch
from nnstudy.config.runs import canonical_json, study_rows
from nnstudy.config.validation import validate_config
from nnstudy.training.runfolder import HISTORY_COLUMNS

pytestmark = pytest.mark.slow

EPOCHS = 120
HEADER = ",".join(HISTORY_COLUMNS)
SECONDS = HISTORY_COLUMNS.index("seconds")


@pytest.fixture(scope="module")
def run() -> dict:
    config = validate_config(
        {
            "experiments": {
                "live": {
                    "datasets": ["spirals"],
                    "fixed": {"hidden": [32, 32], "epochs": EPOCHS, "batch_size": 16},
                }
            },
            "select": ["live"],
        }
    )
    (row,) = study_rows(config)
    return {**row.run, "run_id": row.run_id}


def start(run: dict, data: Path, folder: Path) -> subprocess.Popen:
    """The train job of ``run`` in ``folder`` (its run folder ``folder/run``), started."""
    argv = ["--run", canonical_json(run), "--data", str(data), "--out", str(folder / "run")]
    argv += ["--checkpoint", str(folder / "checkpoints" / "run"), "--log", str(folder / "log")]
    return subprocess.Popen([sys.executable, "-m", "nnstudy.training.job", *argv], cwd=folder)


def poll(path: Path, proc: subprocess.Popen, until=lambda text: False) -> list[str]:
    """Every distinct content of ``path`` seen while ``proc`` runs (or until ``until`` of one)."""
    seen: list[str] = []
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            text = path.read_text()
        except FileNotFoundError:
            continue
        if not seen or text != seen[-1]:
            seen.append(text)
            if until(text):
                break
        time.sleep(0.002)
    return seen


def rows_of(text: str) -> list[list[str]]:
    """The rows of a history.csv's text, each checked whole: the header first, every row ends
    with its newline and has every column, epochs count from 1."""
    assert text.endswith("\n"), f"a partial last row: {text[-80:]!r}"
    header, *lines = text.splitlines()
    assert header == HEADER
    rows = [line.split(",") for line in lines]
    for epoch, row in enumerate(rows, start=1):
        assert len(row) == len(HISTORY_COLUMNS) and int(row[0]) == epoch, row
        [float(cell) for cell in row]
    return rows


def without_seconds(rows: list[list[str]]) -> list[list[str]]:
    return [row[:SECONDS] + row[SECONDS + 1 :] for row in rows]


def test_a_reader_polling_the_history_sees_whole_rows_that_grow(tmp_path, spirals, run):
    proc = start(run, spirals, tmp_path)
    history = tmp_path / "run" / "history.csv"
    seen = poll(history, proc)
    assert proc.wait(timeout=120) == 0
    counts = [len(rows_of(text)) for text in seen]
    assert counts == sorted(counts), "the rows never shrink"
    assert len(set(counts)) >= 10 and counts[0] < EPOCHS // 2, f"not seen growing: {counts}"
    # The last version is the job's final file: every epoch, as today's single write made it.
    assert seen[-1] == history.read_text() and counts[-1] == EPOCHS


def test_a_killed_run_resumes_to_the_history_of_an_uninterrupted_one(tmp_path, spirals, run):
    reference = tmp_path / "reference"
    reference.mkdir()
    assert start(run, spirals, reference).wait(timeout=120) == 0
    want = rows_of((reference / "run" / "history.csv").read_text())

    killed = tmp_path / "killed"
    killed.mkdir()
    checkpoint = killed / "checkpoints" / "run.npz"
    history = killed / "run" / "history.csv"
    proc = start(run, spirals, killed)
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        epoch = checkpoint_epoch(checkpoint)
        if epoch is not None and epoch >= 5:
            break
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    epoch = checkpoint_epoch(checkpoint)
    assert epoch is not None and 5 <= epoch < EPOCHS, f"not killed mid-training (epoch {epoch})"
    left = history.read_text().splitlines(keepends=True)
    # Each epoch's row is written before its checkpoint: the kill may have lost one row's epoch.
    assert len(left) - 1 in (epoch, epoch + 1)
    kept = "".join(left[: epoch + 1])  # the header and the checkpoint's epochs

    # As Snakemake does before it reruns a job cut short: its outputs are removed.
    history.unlink()
    proc = start(run, spirals, killed)
    seen = poll(history, proc)
    assert proc.wait(timeout=120) == 0
    # From the resumed fit's first write on, the file holds the checkpoint's rows, byte for
    # byte (their seconds too: those of the killed run), then the epochs trained again.
    assert seen and all(text.startswith(kept) for text in seen), seen[0][:200]
    got = rows_of(history.read_text())
    assert without_seconds(got) == without_seconds(want)  # seconds are the one timing column
    log = (killed / "log").read_text()
    assert f"epoch {epoch + 1}/{EPOCHS}" in log and f"epoch 1/{EPOCHS}" not in log  # resumed
