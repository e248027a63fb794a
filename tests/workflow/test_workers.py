"""Training jobs in pooled worker processes (nnstudy.training.workers): the same run gives the same
files as in a fresh process, a job's own failure and a dead worker fail that job only."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from nnstudy.config.runs import study_rows
from nnstudy.config.validation import validate_config
from nnstudy.jobs import integrity
from nnstudy.training import workers
from nnstudy.training.job import job_argv


def run_json(seed: int, epochs: int = 4) -> str:
    config = {
        "defaults": {"hidden": [16], "epochs": epochs, "batch_size": 32, "dropout": 0.1},
        "experiments": {"t": {"datasets": ["spirals"], "seeds": [seed]}},
        "select": ["t"],
    }
    validate_config(config)
    (row,) = study_rows(config)
    return json.dumps({**row.run, "run_id": row.run_id})


def argv(run: str, data: Path, folder: Path) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)  # Snakemake makes a log's folder
    params = SimpleNamespace(
        run=run,
        data=str(data),
        out=str(folder / "run"),
        checkpoint=str(folder / "checkpoint"),
        evaluate=True,
    )
    return job_argv(params, 1, str(folder / "job.log"))


def results(folder: Path) -> tuple[dict, list[dict]]:
    with np.load(folder / "run" / "model.npz", allow_pickle=False) as f:
        model = {k: f[k] for k in f.files}
    with open(folder / "run" / "history.csv") as f:
        history = [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]
    return model, history


def test_a_reused_worker_gives_the_files_of_a_fresh_process(spirals, tmp_path):
    # One worker: the second run trains in the process that trained the first.
    workers.train(argv(run_json(seed=1), spirals, tmp_path / "first"), workers=1)
    workers.train(argv(run_json(seed=2), spirals, tmp_path / "pooled"), workers=1)
    pids = set()
    for _ in range(3):
        worker = workers._worker()
        pids.add(worker.submit(os.getpid).result())
        workers._release(worker, 1)
    assert len(pids) == 1 and os.getpid() not in pids
    subprocess.run(
        [
            sys.executable,
            "-m",
            "nnstudy.training.job",
            *argv(run_json(2), spirals, tmp_path / "own"),
        ],
        check=True,
        capture_output=True,
    )
    pooled, own = results(tmp_path / "pooled"), results(tmp_path / "own")
    assert pooled[0].keys() == own[0].keys()
    for key in own[0]:
        np.testing.assert_array_equal(pooled[0][key], own[0][key])
    assert pooled[1] == own[1] and len(own[1]) == 4
    assert json.loads((tmp_path / "pooled/run/metrics.json").read_text())["test_accuracy"] > 0


def test_a_job_runs_in_the_callers_folder(spirals, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    workers.train(argv(run_json(seed=3), spirals, Path("relative")), workers=1)
    assert (tmp_path / "relative/run/train.json").is_file()


def test_a_jobs_exit_message_becomes_its_error(spirals, tmp_path, monkeypatch):
    data = tmp_path / "data"
    shutil.copytree(spirals, data)
    monkeypatch.chdir(tmp_path)
    integrity.record(data / "train.npz")
    (data / "train.npz").write_bytes(b"changed after it was recorded")
    with pytest.raises(workers.JobFailed, match="train.npz") as caught:
        workers.train(argv(run_json(seed=1), data, tmp_path / "run"), workers=1)
    assert "\n" not in str(caught.value)
    # The pool still works.
    workers.train(argv(run_json(seed=1), spirals, tmp_path / "after"), workers=1)
    assert (tmp_path / "after/run/metrics.json").is_file()


def test_a_killed_worker_fails_its_job_only(spirals, tmp_path):
    worker = workers._worker()
    pid = worker.submit(os.getpid).result()
    workers._release(worker, 1)  # the job below takes it
    folder = tmp_path / "killed"
    errors: list[BaseException] = []

    def job():
        try:
            workers.train(argv(run_json(seed=4, epochs=100_000), spirals, folder), workers=1)
        except BaseException as error:  # noqa: BLE001 - handed to the test thread
            errors.append(error)

    thread = threading.Thread(target=job)
    thread.start()
    log = folder / "job.log"
    deadline = time.monotonic() + 60
    while not (log.exists() and "epoch 2/" in log.read_text()):
        assert time.monotonic() < deadline, "the job never started training"
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    thread.join(60)
    assert len(errors) == 1 and isinstance(errors[0], workers.JobFailed)
    assert "died" in str(errors[0]) and "\n" not in str(errors[0])
    # A fresh pool takes the next job.
    workers.train(argv(run_json(seed=1), spirals, tmp_path / "next"), workers=1)
    assert (tmp_path / "next/run/metrics.json").is_file()
