"""``nnstudy status`` and :func:`nnstudy.training.watch.study_progress` (issue 27, item 3):
what a study's files say about its runs, against files written by hand and while a real study
runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from nnstudy.cli import main
from nnstudy.config.runs import study_rows
from nnstudy.config.validation import validate_config
from nnstudy.console import clock
from nnstudy.invoke import snakemake_command, tiny_study
from nnstudy.training.runfolder import (
    RUN_DIR,
    TRIAL_DIR,
    file,
    read_history,
    write_history,
    write_json,
)
from nnstudy.training.watch import DONE, RUNNING, WAITING, study_progress
from nnstudy.tuning.plan import study_tunings

NNSTUDY = str(Path(sys.executable).with_name("nnstudy"))
PNG = b"\x89PNG\r\n\x1a\n"


def rows(seconds: list[float], val_accuracy: float) -> list[dict]:
    return [
        {"epoch": i, "train_loss": 1.0, "train_accuracy": 0.5, "val_loss": 1.0,
         "val_accuracy": val_accuracy, "lr": 0.1, "seconds": s, "grad_norm": 1.0}
        for i, s in enumerate(seconds, start=1)
    ]  # fmt: skip


def write_run(folder: Path, seconds: list[float], val_accuracy: float, done: bool) -> None:
    folder.mkdir(parents=True)
    write_history(file(folder, "history"), rows(seconds, val_accuracy))
    if done:
        write_json(file(folder, "train"), {"status": "ok"})


@pytest.fixture
def study(tmp_path, monkeypatch) -> dict:
    """A study folder of a tuned experiment (12 trials at its first rung, 2 epochs each) and
    an untuned one (1 run of 6 epochs), with one run done, two running, the rest waiting."""
    config = tiny_study("tuned", "plain")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.chdir(tmp_path)
    resolved = validate_config(config)
    (final,) = study_rows(resolved)
    trials = [r for t in study_tunings(resolved) for c in t.trial_runs[0] for r in c]
    assert len(trials) == 12 and {t["epochs"] for t in trials} == {2} and final.run["epochs"] == 6
    write_run(Path(RUN_DIR.format(**final.run, run_id=final.run_id)), [10.0, 10.0], 0.75, False)
    write_run(Path(TRIAL_DIR.format(**trials[0])), [3.0, 3.0], 0.5, True)
    write_run(Path(TRIAL_DIR.format(**trials[1])), [4.0], 0.6, False)
    return {"final": final.run_id, "trials": [t["run_id"] for t in trials]}


def test_study_progress_reads_each_runs_state_epochs_and_time_left(study):
    live = study_progress()
    runs = {(r.trial, r.run_id): r for r in live.runs}
    assert len(runs) == 13  # the later rung and the finals are not known before rung 0 is
    assert live.open_searches == {"tuned": 2}  # sgd's and adam's
    final = runs[False, study["final"]]
    assert (final.experiments, final.state, final.epochs_done, final.epochs) == (
        ("plain",),
        RUNNING,
        2,
        6,
    )
    assert final.val_accuracy == 0.75
    assert final.seconds_per_epoch == 10.0 and final.seconds_left == 40.0
    first, second, *waiting = (runs[True, rid] for rid in study["trials"])
    assert (first.state, first.seconds_left, first.run_dir.parts[1]) == (DONE, 0.0, "trials")
    assert (second.state, second.epochs_done, second.seconds_left) == (RUNNING, 1, 4.0)
    # Waiting: its dataset's seconds per epoch, over the 5 epochs recorded: (20 + 6 + 4) / 5.
    assert {(r.state, r.epochs_done, r.seconds_per_epoch, r.seconds_left) for r in waiting} == {
        (WAITING, 0, 6.0, 12.0)
    }
    assert all(r.experiments == ("tuned",) for r in (first, second, *waiting))


def test_status_prints_counts_running_runs_and_the_time_left(study, capsys):
    assert main(["status"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "tuned: 1 done, 1 running, 10 waiting; 2 searches open: later rungs and finals not "
        "counted yet",
        f"  spirals/{study['trials'][1]} (trial): epoch 1/2, val acc 0.6000, ~0:04 left",
        "plain: 0 done, 1 running, 0 waiting",
        f"  spirals/{study['final']}: epoch 2/6, val acc 0.7500, ~0:40 left",
        # 40 + 4 + 10 waiting x 2 epochs x 6 s; shared by the 2 runs training now
        "total: 1 done, 2 running, 10 waiting; ~2:44 of training left (~1:22 at 2 runs at a "
        "time), more for 2 open searches",
    ]


def test_status_plot_draws_the_running_runs(study, tmp_path, capsys):
    plot = tmp_path / "plots" / "live.png"
    assert main(["status", "--plot", str(plot)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"plot {plot}"
    assert plot.read_bytes().startswith(PNG)


def test_status_outside_a_study_is_one_line(tmp_path):
    done = subprocess.run([NNSTUDY, "status"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (
        f"nnstudy status: no study here: {tmp_path} has no config.yaml (run it in the "
        "study's folder, or give the study's --config)\n"
    )


def test_status_of_a_bad_config_is_its_one_line_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("config.yaml").write_text("experiments:\n  a: {datasets: [nope]}\nselect: [a]\n")
    with pytest.raises(SystemExit) as stop:
        main(["status"])
    message = str(stop.value)
    assert message.startswith("nnstudy status: config: experiments.a.datasets[0]: 'nope'")
    assert "\n" not in message


RUNNING_LINE = re.compile(
    r"  spirals/(\w+): epoch (\d+)/(\d+), val acc ([\d.]+), ~(\d+):(\d\d) left"
)


@pytest.mark.slow
def test_status_follows_a_running_study(tmp_path):
    epochs = 100
    config = {
        "defaults": {"hidden": [32, 32], "epochs": epochs, "batch_size": 16},
        "experiments": {"long": {"datasets": ["spirals"], "grid": {"optimizer": ["adam", "sgd"]}}},
        "select": ["long"],
        "wandb": {"mode": "disabled"},
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    # The runs, not the report: what status reads. Checkpoints at the study's own interval.
    proc = subprocess.Popen(
        snakemake_command(cores=1, until=("train",)),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if k != "NNSTUDY_CHECKPOINT_SECONDS"},
    )
    try:
        match, deadline = None, time.monotonic() + 240
        while match is None and proc.poll() is None and time.monotonic() < deadline:
            done = subprocess.run([NNSTUDY, "status"], cwd=tmp_path, capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
            lines = done.stdout.splitlines()
            found = [m for m in map(RUNNING_LINE.fullmatch, lines) if m and int(m[2]) >= 1]
            match = found[0] if found else None
        assert match is not None, f"no running run seen: {done.stdout}"
        assert lines[0] == "long: 0 done, 1 running, 1 waiting" or lines[0].startswith(
            "long: 1 done, 1 running"
        )
        run_id, epoch, planned, acc = match[1], int(match[2]), int(match[3]), match[4]
        assert planned == epochs
        folder = tmp_path / RUN_DIR.format(dataset="spirals", run_id=run_id)
        history = read_history(file(folder, "history"))
        assert len(history) >= epoch  # it trains on after status read it
        assert acc == f"{history[epoch - 1]['val_accuracy']:.4f}"
        # The rows status read are still the file's first ones: the same time left from them.
        per_epoch = sum(row["seconds"] for row in history[:epoch]) / epoch
        assert f"{match[5]}:{match[6]}" == clock((planned - epoch) * per_epoch)
        assert proc.wait(timeout=240) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    done = subprocess.run([NNSTUDY, "status"], cwd=tmp_path, capture_output=True, text=True)
    assert done.stdout.splitlines() == [
        "long: 2 done, 0 running, 0 waiting",
        "total: 2 done, 0 running, 0 waiting; ~0:00 of training left",
    ]
