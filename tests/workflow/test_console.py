"""The console's progress counts (nnstudy.console) from Snakemake's events."""

import io
import json
import logging
import os
import re
import sys
import time

import pytest
import yaml
from nnstudy.console import (
    ConsoleView,
    LogHandler,
    RunPace,
    StudyProgress,
    clock,
    redraw_seconds,
    seconds_left,
)
from nnstudy.invoke import run_snakemake, tiny_study
from nnstudy.training.runfolder import read_status, write_history, write_json
from snakemake.settings.types import OutputSettings
from snakemake_interface_logger_plugins.common import LogEvent


def test_progress_counts_runs_failures_and_diverged_runs(tmp_path):
    diverged = tmp_path / "runs" / "b"
    diverged.mkdir(parents=True)
    (diverged / "train.json").write_text(json.dumps({"status": "diverged"}))
    progress = StudyProgress(now=0.0)
    progress.planned({"prepare": 1, "train": 3, "report": 1, "total": 5})
    progress.started_job(1, "prepare", ["data/card.json"])
    progress.started_job(2, "train", [str(tmp_path / "runs" / "a" / "model.npz")])
    progress.started_job(3, "train", [str(diverged / "model.npz")])
    progress.started_job(4, "train", [str(tmp_path / "runs" / "c" / "model.npz")])
    for job in (1, 2, 3):
        progress.finished_job(job)
    progress.failed_job(4)
    progress.steps(3, 5)
    assert progress.line(now=30.0) == "runs 3/3 | 1 failed | 1 diverged | jobs 3/5 | 0:30 elapsed"
    progress.steps(3, 9)  # a checkpoint added jobs (and runs) to the DAG
    assert progress.line(now=30.0).startswith("runs 3 | 1 failed")
    assert progress.remaining(30.0) == 30.0 / 3 * 6  # from the jobs' pace then
    assert progress.waiting_runs() == 4  # 6 jobs waiting x the plan's 3 runs in 5 jobs


def test_remaining_time_follows_the_pace_of_runs():
    progress = StudyProgress(now=0.0)
    progress.planned({"train": 10, "total": 12})
    for job in range(4):
        progress.started_job(job, "train", [])
        progress.finished_job(job)
    assert progress.remaining(40.0) == 60.0
    assert progress.line(now=40.0).endswith("0:40 elapsed | ~1:00 left")


def test_run_status_is_none_when_the_record_is_missing_or_damaged(tmp_path):
    assert read_status(tmp_path) is None
    (tmp_path / "train.json").write_text("{not json")
    assert read_status(tmp_path) is None


def test_off_a_terminal_the_line_is_printed_at_each_tenth(tmp_path):
    out = tmp_path / "console.txt"
    with open(out, "w") as stream:
        view = ConsoleView(stream, interactive=False)
        view.progress.planned({"train": 100, "total": 100})
        for done in range(101):
            view.progress.steps(done, 100)
            view.update(final=done == 100)
    assert len(out.read_text().splitlines()) == 11


def test_clock():
    assert clock(5) == "0:05" and clock(3725) == "1:02:05"


def test_closing_summary_names_each_comparison_s_choice_and_the_failed_runs(tmp_path):
    from nnstudy.console import closing_summary

    tables = tmp_path / "tables"
    tables.mkdir()
    (tables / "comparisons.csv").write_text(
        "experiment,dataset,reference,tied,reference_mean,reference_low,reference_high,"
        "reference_p_first\n"
        "core,d,a,a,0.90,0.88,0.92,0.61\n"
        "wide,d,b,b;c,0.91,0.80,0.99,0.4\n"
        "crash,d,,,,,,\n"
    )
    (tables / "runs.csv").write_text(
        "dataset,run_id,variant,status,error\n"
        "d,r1,a,ok,\nd,r2,b,failed,ValueError: boom\nd,r3,b,diverged,\n"
    )
    report = tmp_path / "report.html"
    report.write_text("")
    text = closing_summary(tables, [str(report), str(tmp_path / "missing.pdf")], since=0)
    assert "  core / d: a  90.0 [88.0, 92.0], P(first) 0.61" in text
    assert "  wide / d: b = c (tied on validation)  91.0 [80.0, 99.0], P(first) 0.40" in text
    assert "  crash / d: no run produced a test accuracy" in text
    assert "Runs: 3 in the report, 1 failed, 1 diverged" in text
    assert "  failed d/r2: ValueError: boom" in text and "  diverged d/r3" in text
    assert text.rstrip().endswith(f"Report: {report}")
    # A call that did not write the report (it made other targets) says nothing.
    assert closing_summary(tables, [str(report)], since=report.stat().st_mtime + 1) == ""


def live_run(folder, epochs=None, accuracies=(), seconds=1.0):
    """A run folder as a running run leaves it: config.json, history.csv after each epoch."""
    folder.mkdir(parents=True, exist_ok=True)
    if epochs is not None:
        write_json(folder / "config.json", {"run_id": folder.name, "epochs": epochs})
    if accuracies:
        rows = [
            {"epoch": i + 1, "val_accuracy": acc, "seconds": seconds}
            for i, acc in enumerate(accuracies)
        ]
        write_history(folder / "history.csv", rows)
    return [str(folder / "model.npz")]  # the job's first output


def test_seconds_left_from_the_measured_seconds_per_epoch():
    finished = [RunPace("a", 10, 10, 2.0), RunPace("a", 10, 10, 4.0), RunPace("b", 5, 5, 1.0)]
    running = [RunPace("a", 4, 10, 3.0), RunPace("c", 0, 8, None)]
    # Pace of a: median(2, 4, 3) = 3 s; c has none measured: median of all (2, 4, 1, 3) = 2.5.
    # Left: a 6 x 3 = 18, c 8 x 2.5 = 20; a waiting run is the mean known run:
    # mean(30, 30, 5, 30, 20) = 23.
    assert seconds_left(running, finished, waiting=2, slots=2) == (18 + 20 + 2 * 23) / 2
    assert seconds_left(running, finished, waiting=2, slots=8) == 84 / 4  # 4 runs left
    assert seconds_left(running, finished, waiting=0, slots=4) == 20  # c's own rest
    assert seconds_left([RunPace("a", 0, 10, None)], [], waiting=3, slots=2) is None
    assert seconds_left([RunPace("a", 2, None, 1.0)], [], waiting=1, slots=2) is None  # no plan
    assert seconds_left([], finished, waiting=0, slots=2) is None  # nothing left


def test_running_runs_show_their_epoch_and_validation_accuracy(tmp_path):
    progress = StudyProgress(now=0.0)
    progress.planned({"train": 4, "total": 4})
    progress.started_job(1, "train", live_run(tmp_path / "d" / "r1", 10, [0.5, 0.75, 0.875]))
    progress.started_job(2, "train", live_run(tmp_path / "d" / "r2", 20))
    progress.started_job(3, "train", live_run(tmp_path / "d" / "r3"))
    progress.refresh()
    assert progress.run_lines(3) == [
        "  d/r1 epoch 3/10 val_acc 0.875",
        "  d/r2 epoch ?/20",
        "  d/r3 epoch ?/?",
    ]
    assert progress.run_lines(2) == ["  d/r1 epoch 3/10 val_acc 0.875", "  ... and 2 more running"]
    assert progress.running_summary() == "3 running: epochs 3/?, best val_acc 0.875"
    # An unreadable history changes nothing; config.json appears later.
    (tmp_path / "d" / "r1" / "history.csv").write_text("epoch,val_accuracy\n4,0.9\n5,0.9x\n")
    live_run(tmp_path / "d" / "r3", 10)
    progress.refresh()
    assert progress.run_lines(3)[0] == "  d/r1 epoch 3/10 val_acc 0.875"
    assert progress.running_summary() == "3 running: epochs 3/40, best val_acc 0.875"
    # Time left: 1 s per epoch (r1), one run waiting, 3 slots (seen running at once):
    # r1 7, r2 20, r3 10, the waiting run mean(10, 20, 10); the longest rest, r2's, wins.
    assert progress.remaining(5.0) == 20.0
    assert progress.line(now=5.0).endswith("0:05 elapsed | ~0:20 left")


def test_finished_runs_pace_the_estimate_before_a_running_run_has_an_epoch(tmp_path):
    progress = StudyProgress(now=0.0)
    progress.planned({"train": 3, "total": 3})
    progress.cores = 2
    progress.started_job(1, "train", live_run(tmp_path / "d" / "done", 4))
    write_json(
        tmp_path / "d" / "done" / "train.json",
        {"status": "ok", "epochs_run": 4, "train_seconds": 8.0},
    )
    progress.finished_job(1)
    progress.started_job(2, "train", live_run(tmp_path / "d" / "now", 5))
    progress.refresh()
    # 2 s per epoch; now: 5 epochs = 10 s; the waiting run: mean(4 x 2, 5 x 2) = 9 s; 2 slots.
    assert progress.remaining(100.0) == 10.0


def test_on_a_terminal_the_progress_and_running_runs_are_redrawn_in_place(tmp_path):
    stream = io.StringIO()
    view = ConsoleView(stream, interactive=True)
    view.progress.planned({"train": 2, "total": 2})
    view.progress.started_job(1, "train", live_run(tmp_path / "d" / "r1", 5, [0.5]))
    view.progress.refresh()
    view.update()
    block = stream.getvalue()
    assert block.startswith("runs 0/2 | ") and block.endswith("\n  d/r1 epoch 1/5 val_acc 0.500")
    view.say("a warning")  # the block is wiped: up one line, clear to the end of the screen
    assert stream.getvalue() == block + "\r\033[1A\033[Ja warning\n"
    view.update()
    view.close()
    assert stream.getvalue().endswith("val_acc 0.500\n")


def record(event, **fields):
    return logging.makeLogRecord({"msg": "", "levelno": logging.INFO, "event": event, **fields})


def test_the_handler_redraws_on_a_timer_until_the_runs_end(tmp_path, monkeypatch):
    monkeypatch.setenv("NNSTUDY_PROGRESS_SECONDS", "0.25")
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal: a line per redraw
    handler = LogHandler(OutputSettings(), None)
    stream = handler.view.stream
    folder = tmp_path / "results" / "runs" / "d" / "r1"
    handler.handle(record(LogEvent.RUN_INFO, stats={"train": 1, "total": 2}))
    handler.handle(
        record(LogEvent.JOB_INFO, jobid=1, rule_name="train", output=live_run(folder), threads=1)
    )
    time.sleep(1.5)
    live_run(folder, 10, [0.5, 0.625])
    time.sleep(1.5)
    handler.handle(record(LogEvent.JOB_FINISHED, job_id=1))
    handler.handle(record(LogEvent.PROGRESS, done=1, total=2))
    lines = stream.getvalue().splitlines()
    time.sleep(0.6)
    assert stream.getvalue().splitlines() == lines  # no job runs: nothing to redraw
    handler.close()
    before = [line for line in lines if "epochs 0/?" in line]
    after = [line for line in lines if line.endswith("1 running: epochs 2/10, best val_acc 0.625")]
    assert len(before) >= 3 and len(after) >= 3, lines
    assert re.fullmatch(
        r"runs 1/1 \| 0 failed \| 0 diverged \| jobs 1/2 \| 0:0\d elapsed", lines[-1]
    )


def test_a_bad_redraw_interval_is_one_line_and_the_default(monkeypatch):
    monkeypatch.setenv("NNSTUDY_PROGRESS_SECONDS", "soon")
    assert redraw_seconds(interactive=True) == (
        1.0,
        "NNSTUDY_PROGRESS_SECONDS='soon' is not a number of seconds > 0; redrawing every 1 s",
    )
    monkeypatch.setenv("NNSTUDY_PROGRESS_SECONDS", "0.5")
    assert redraw_seconds(interactive=False) == (0.5, None)
    monkeypatch.delenv("NNSTUDY_PROGRESS_SECONDS")
    assert redraw_seconds(interactive=False) == (30.0, None)


@pytest.mark.slow
def test_a_real_study_s_progress_moves_while_its_runs_train(tmp_path):
    config = tiny_study("tiny")
    config["experiments"]["tiny"]["fixed"]["epochs"] = 800  # a few seconds per run
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    # Checkpoints at the default interval: conftest.py asks for one after every epoch.
    env = {k: v for k, v in os.environ.items() if k != "NNSTUDY_CHECKPOINT_SECONDS"}
    env["NNSTUDY_PROGRESS_SECONDS"] = "0.5"
    done = run_snakemake(
        "--until",
        "train",
        directory=tmp_path,
        cores=2,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    progress = [line for line in done.stderr.splitlines() if line.startswith("runs ")]
    training = [line for line in progress if re.search(r"\| \d running: epochs \d+/\d+", line)]
    elapsed = {re.search(r"(\d+:\d\d) elapsed", line)[1] for line in training}
    assert len(training) >= 4 and len(elapsed) >= 2, progress
    assert " 0 failed " in progress[-1] and "running" not in progress[-1]  # the runs ended
