"""A checkpoint (or the snapshots saved beside it) that cannot be trusted is discarded and the
run restarts from scratch, logged in one line: never resumed from, never recorded as a failed
run. Issue 26, items 1 and 2."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from nnstudy.config.runs import study_rows
from nnstudy.config.validation import validate_config
from nnstudy.datasets import prepare
from nnstudy.training import job
from nnstudy.training.runfolder import train_outputs

EPOCHS = 4


class Killed(BaseException):
    """Stands for SIGKILL: nothing after the raise runs, the checkpoint stays behind."""


@pytest.fixture(scope="module")
def spirals(tmp_path_factory):
    out = tmp_path_factory.mktemp("spirals")
    prepare("spirals", out, n_samples=300)
    return out


@pytest.fixture
def run():
    config = validate_config(
        {
            "experiments": {
                "t": {
                    "datasets": ["spirals"],
                    "fixed": {"hidden": [8], "epochs": EPOCHS, "batch_size": 32},
                }
            },
            "select": ["t"],
        }
    )
    (row,) = study_rows(config)
    return {**row.run, "run_id": row.run_id}


def _killed_after_two_epochs(run, spirals, folder, prefix, monkeypatch):
    monkeypatch.setattr(job, "CHECKPOINT_SECONDS", 0)
    original = job.Progress.on_epoch_end

    def on_epoch_end(self, epoch, row, model, optimizer):
        original(self, epoch, row, model, optimizer)
        if int(row["epoch"]) == 2:
            raise Killed

    monkeypatch.setattr(job.Progress, "on_epoch_end", on_epoch_end)
    with pytest.raises(Killed):
        job.train_run(run, spirals, train_outputs(folder), prefix, log=io.StringIO())
    monkeypatch.setattr(job.Progress, "on_epoch_end", original)


def _flip_a_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _zero_an_array(path):
    """Still a valid archive, but its content no longer what was written."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    name = next(k for k in arrays if arrays[k].dtype.kind == "f" and arrays[k].size)
    arrays[name] = np.zeros_like(arrays[name])
    np.savez(path, **arrays)


@pytest.mark.parametrize("which", ["checkpoint", "snapshots"])
@pytest.mark.parametrize("damage", [_flip_a_byte, _zero_an_array])
def test_a_damaged_checkpoint_is_discarded_and_the_run_restarts(
    run, spirals, tmp_path, monkeypatch, which, damage
):
    reference = job.train_run(
        run, spirals, train_outputs(tmp_path / "ref"), tmp_path / "ref-ckpt", log=io.StringIO()
    )
    prefix = tmp_path / "ckpt"
    folder = tmp_path / "run"
    _killed_after_two_epochs(run, spirals, folder, prefix, monkeypatch)
    path = prefix.with_name(prefix.name + (".npz" if which == "checkpoint" else ".snapshots.npz"))
    assert zipfile.is_zipfile(path)
    damage(path)

    log = io.StringIO()
    info = job.train_run(run, spirals, train_outputs(folder), prefix, log=log)
    assert info["status"] == "ok" and info["error"] is None
    assert info["epochs_run"] == EPOCHS
    lines = [line for line in log.getvalue().splitlines() if "discarded" in line]
    assert len(lines) == 1 and str(path) in lines[0]
    assert lines[0].endswith("discarded, the run restarts from scratch")
    # From scratch: the same model and history as a run that was never interrupted.
    with np.load(folder / "model.npz") as got, np.load(tmp_path / "ref" / "model.npz") as ref:
        assert got.files == ref.files
        for key in ref.files:
            np.testing.assert_array_equal(got[key], ref[key])
    assert (folder / "history.csv").read_text().count("\n") == EPOCHS + 1
    assert not path.exists()
    assert reference["status"] == "ok"


def test_an_intact_checkpoint_is_resumed(run, spirals, tmp_path, monkeypatch):
    prefix = tmp_path / "ckpt"
    folder = tmp_path / "run"
    _killed_after_two_epochs(run, spirals, folder, prefix, monkeypatch)
    log = io.StringIO()
    info = job.train_run(run, spirals, train_outputs(folder), prefix, log=log)
    assert info["status"] == "ok" and "discarded" not in log.getvalue()
    # Only epochs 3 and 4 were trained again.
    assert log.getvalue().count("epoch 1/") == 0 and log.getvalue().count("epoch 3/") == 1
