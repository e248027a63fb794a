"""The console's progress counts (nnstudy.console) from Snakemake's events."""

import json

from nnstudy.console import ConsoleView, StudyProgress, clock
from nnstudy.training.runfolder import read_status


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
