"""A failed job's cause on the console (nnstudy.console): the last line of its log below its
FAILED line, unless the job's own message already said it."""

import io
import logging

from nnstudy.console import ConsoleView, failed_job_line, failures, log_cause


def job_error(rule: str, logs: list[str]) -> logging.LogRecord:
    record = logging.LogRecord("snakemake", logging.ERROR, __file__, 0, "", None, None)
    record.rule_name, record.log, record.output = rule, logs, ["results/x.npz"]
    return record


def test_the_cause_is_the_last_line_of_the_newest_log(tmp_path):
    traceback = "Traceback (most recent call last):\n  File 'x.py', line 1\nValueError: bad lr\n\n"
    old, new = tmp_path / "old.log", tmp_path / "new.log"
    new.write_text(traceback)
    old.write_text("older cause\n")
    new.touch()  # newest
    assert log_cause([str(new), str(old)]) == "ValueError: bad lr"
    assert log_cause([str(tmp_path / "missing.log")]) is None
    # A long log is read from its end only.
    new.write_text("x" * 100_000 + "\nthe cause\n")
    assert log_cause([str(new)]) == "the cause"


def test_failed_line_shows_the_cause_once(tmp_path):
    log = tmp_path / "job.log"
    log.write_text("epoch 1\nFetchError: could not get mnist\n")
    record = job_error("download", [str(log)])
    assert failed_job_line(record) == (f"FAILED download: {log}\n  FetchError: could not get mnist")
    view = ConsoleView(io.StringIO(), interactive=False)
    view.say("FetchError: could not get mnist")  # a pooled job's own message
    assert failed_job_line(record, shown=view.said) == f"FAILED download: {log}"
    # Without a log: the outputs, no cause.
    assert failed_job_line(job_error("report", [])) == "FAILED report: results/x.npz"


def test_failures_reads_the_causes_back_from_a_console(tmp_path):
    log = tmp_path / "job.log"
    log.write_text("the cause\n")
    console = "\n".join(
        [
            "runs 0/1 | 0 failed",
            failed_job_line(job_error("download", [str(log)])),
            failed_job_line(job_error("report", [])),
            "Exiting because a job execution failed.",
        ]
    )
    assert failures(console) == ["the cause", "FAILED report: results/x.npz"]
