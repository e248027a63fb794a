"""What a study prints on the console: one progress line and the messages a person acts on.

Snakemake's own console log is a block of lines per job (20,000 lines for the default study).
:class:`LogHandler` is a Snakemake logger plugin (``--logger nnstudy``, set in the default
profile; the plugin module is ``snakemake_logger_plugin_nnstudy``) that shows instead:

- the plan (Snakemake's job-stats table), warnings and errors, each failed job in a line
  with its log file and, below it, the last line of that log (the job's cause) unless it was
  just said (a failed ``run:`` job's exception as its message, without Snakemake's traceback
  of the run block);
- a progress line: runs done / failed / diverged of the total, all jobs, elapsed and
  remaining time -- rewritten in place on a terminal, printed at every tenth otherwise;
- Snakemake's closing lines (nothing to be done, where the complete log is);
- after Ctrl-C, one line (:func:`nnstudy.jobs.frame.say_interrupted`) instead of Snakemake's and
  of the jobs it cut short.

Snakemake's full log still goes to ``.snakemake/log/`` (it has its own file handler); the
study's closing summary is printed by the Snakefile's ``onsuccess`` (:func:`closing_summary`).
"""

from __future__ import annotations

import csv
import logging
import os
import sys
import time
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from snakemake_interface_logger_plugins.base import LogHandlerBase
from snakemake_interface_logger_plugins.common import LogEvent

from nnstudy.jobs.frame import interrupted, say_interrupted
from nnstudy.training.runfolder import read_status

# Rules whose jobs are training runs (study runs and tuning trials).
RUN_RULES = ("train", "trial")
# Snakemake's informational lines that say nothing a person acts on during a run.
_CHATTER = (
    "Building DAG of jobs",
    "Using shell:",
    "Provided cores:",
    "Provided resources:",
    "Rules claiming more threads",
    "Select jobs to execute",
    "Execute ",
    "Finished jobid",
    "Assuming unrestricted shared filesystem",
    "host:",
    "Conda environments: ignored",
    "Singularity containers: ignored",
    "Updating checkpoint dependencies",
    "DAG of jobs will be updated",
    "Updating job",
    "Waiting for more resources",
    "Removing temporary output",
    "Touching output file",
    "Storing output in storage",
    "Retrieving from storage",
    "Reason:",
)
# What Snakemake says when Ctrl-C stopped its scheduler.
_TERMINATING = "Terminating processes on user request"
# Snakemake's own exception kinds whose message is ours: the run: block's traceback adds nothing.
_FAILED_RUN_BLOCK = "RuleException"


def clock(seconds: float) -> str:
    """``H:MM:SS`` (or ``M:SS`` under an hour) for a duration in seconds."""
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class StudyProgress:
    """Counts of a study's jobs and runs as Snakemake reports them, and their one-line view."""

    def __init__(self, now: float | None = None):
        self.started = time.monotonic() if now is None else now
        self.runs_total = self.runs_done = self.failed = self.diverged = 0
        self.jobs_total = self.jobs_done = 0
        self.planned_jobs = 0
        self.run_jobs: dict[int, Path | None] = {}  # a run job's id -> its run folder

    def planned(self, stats: dict[str, int]) -> None:
        """Snakemake's job counts per rule, at the start of a run."""
        self.runs_total = sum(stats.get(rule, 0) for rule in RUN_RULES)
        self.jobs_total = self.planned_jobs = stats.get("total", self.jobs_total)

    @property
    def runs_known(self) -> bool:
        """Whether the run count is still the plan's: a tune checkpoint adds runs and jobs to
        the DAG when it finishes, and Snakemake then reports only the new job total."""
        return self.jobs_total <= self.planned_jobs

    def started_job(self, jobid: int, rule: str, outputs: list[str]) -> None:
        if rule in RUN_RULES:
            self.run_jobs[jobid] = Path(outputs[0]).parent if outputs else None

    def finished_job(self, jobid: int) -> None:
        if jobid in self.run_jobs:
            self.runs_done += 1
            folder = self.run_jobs.pop(jobid)
            if folder is not None and read_status(folder) == "diverged":
                self.diverged += 1

    def failed_job(self, jobid: int) -> None:
        if self.run_jobs.pop(jobid, False) is not False:
            self.runs_done += 1
        self.failed += 1

    def steps(self, done: int, total: int) -> None:
        self.jobs_done, self.jobs_total = done, total

    def line(self, now: float | None = None) -> str:
        elapsed = (time.monotonic() if now is None else now) - self.started
        parts = []
        if self.runs_total and self.runs_known:
            parts.append(f"runs {self.runs_done}/{self.runs_total}")
        elif self.runs_total:
            parts.append(f"runs {self.runs_done}")
        parts.append(f"{self.failed} failed")
        if self.runs_total:
            parts.append(f"{self.diverged} diverged")
        parts.append(f"jobs {self.jobs_done}/{self.jobs_total}")
        parts.append(f"{clock(elapsed)} elapsed")
        left = self.remaining(elapsed)
        if left is not None:
            parts.append(f"~{clock(left)} left")
        return " | ".join(parts)

    def remaining(self, elapsed: float) -> float | None:
        """Time left, from the pace so far: of runs (most of the work), else of all jobs."""
        done, total = (
            (self.runs_done, self.runs_total)
            if self.runs_total and self.runs_known
            else (self.jobs_done, self.jobs_total)
        )
        if not done or done >= total:
            return None
        return elapsed / done * (total - done)

    def tenth(self) -> int:
        """Which tenth of the jobs is done (0..10): when the line is printed off a terminal."""
        return 10 * self.jobs_done // self.jobs_total if self.jobs_total else 0


class ConsoleView:
    """Prints records and the progress line to ``stream``: the line rewritten in place on a
    terminal, else printed whenever another tenth of the jobs is done."""

    def __init__(self, stream: TextIO, interactive: bool):
        self.stream, self.interactive = stream, interactive
        self.progress = StudyProgress()
        self.shown_tenth = -1
        self.line_open = False
        # The latest lines said, so that a failed job's cause already on screen is not repeated.
        self.said: deque[str] = deque(maxlen=64)

    def say(self, text: str) -> None:
        self._clear()
        print(text, file=self.stream, flush=True)
        self.said.extend(line.strip() for line in text.splitlines())

    def update(self, final: bool = False) -> None:
        line = self.progress.line()
        if self.interactive:
            self._clear()
            self.stream.write(line)
            self.stream.flush()
            self.line_open = True
        elif final or self.progress.tenth() > self.shown_tenth:
            self.shown_tenth = self.progress.tenth()
            print(line, file=self.stream, flush=True)

    def close(self) -> None:
        if self.line_open:
            self.stream.write("\n")
            self.stream.flush()
            self.line_open = False

    def _clear(self) -> None:
        if self.line_open:
            self.stream.write("\r\033[K")
            self.line_open = False


class LogHandler(LogHandlerBase):
    """Snakemake logger plugin ``nnstudy`` (see the module's docstring)."""

    def __post_init__(self) -> None:
        stream = sys.stdout if self.common_settings.stdout else sys.stderr
        self.view = ConsoleView(stream, interactive=stream.isatty())
        self.dryrun = self.common_settings.dryrun

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._emit(record)
        except Exception:  # noqa: BLE001 -- a display problem must not stop the study
            self.handleError(record)

    def _emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, "event", None)
        progress = self.view.progress
        if interrupted() and not self.common_settings.verbose and self._interrupted(record, event):
            return
        if event == LogEvent.RUN_INFO:
            self.view.say(self.format(record).rstrip())
            progress.planned(getattr(record, "stats", {}))
            if not self.dryrun:
                self.view.update()
        elif event == LogEvent.JOB_INFO:
            progress.started_job(record.jobid, record.rule_name, list(record.output))
            if self.dryrun or self.common_settings.verbose:
                self.view.say(self.format(record))
        elif event == LogEvent.JOB_FINISHED:
            progress.finished_job(record.job_id)
            if self.common_settings.verbose:
                self.view.say(self.format(record))
        elif event == LogEvent.PROGRESS:
            progress.steps(record.done, record.total)
            self.view.update(final=record.done >= record.total)
        elif event == LogEvent.JOB_ERROR:
            progress.failed_job(record.jobid)
            self.view.say(failed_job_line(record, shown=self.view.said))
        elif event in (LogEvent.SHELLCMD, LogEvent.JOB_STARTED, LogEvent.RESOURCES_INFO):
            if self.common_settings.verbose:
                self.view.say(self.format(record))
        elif event in (LogEvent.GROUP_ERROR, LogEvent.ERROR) or record.levelno >= logging.WARNING:
            text = self.format(record)
            if getattr(record, "exception", None) == _FAILED_RUN_BLOCK:
                text = text if self.common_settings.verbose else run_block_cause(text)
            self.view.say(text)
        elif event is None:
            # --verbose shows everything Snakemake says, as its own console log would.
            text = self.format(record)
            shown = self.dryrun or not text.lstrip().startswith(_CHATTER)
            if text.strip() and (
                self.common_settings.verbose or (shown and record.levelno >= logging.INFO)
            ):
                self.view.say(text)

    def _interrupted(self, record: logging.LogRecord, event) -> bool:
        """After Ctrl-C: say so once, where Snakemake says it is stopping; the jobs it cut short
        are no failures. True when the record is not to be shown."""
        if event is None and self.format(record).startswith(_TERMINATING):
            say_interrupted(self.view.say)
            return True
        return event in (LogEvent.JOB_ERROR, LogEvent.GROUP_ERROR, LogEvent.ERROR)

    def close(self) -> None:
        self.view.close()
        super().close()

    @property
    def writes_to_stream(self) -> bool:
        return True

    @property
    def writes_to_file(self) -> bool:
        return False

    @property
    def has_filter(self) -> bool:
        return False  # Snakemake's default filter: --quiet and --printshellcmds still apply

    @property
    def has_formatter(self) -> bool:
        return False  # Snakemake's default formatter, for the records shown whole

    @property
    def needs_rulegraph(self) -> bool:
        return False


def run_block_cause(text: str) -> str:
    """Snakemake's text for an exception raised by a ``run:`` block ("RuleException:", then
    "<Type> in file <snakefile>, line N:", the message, and the frames of its traceback): the
    message alone. Any other text is returned as it is."""
    lines = text.splitlines()
    if len(lines) < 3 or lines[0] != f"{_FAILED_RUN_BLOCK}:" or " in file " not in lines[1]:
        return text
    cause = []
    for line in lines[2:]:
        if line.startswith("  File "):
            break
        cause.append(line)
    return "\n".join(cause) or text


def failed_job_line(record: logging.LogRecord, shown: Iterable[str] = ()) -> str:
    """A failed job: its rule, its log and, on the next line, the cause the log ends with
    (unless it is among the lines ``shown`` already, as a pooled job's own message is)."""
    logs = list(getattr(record, "log", None) or [])
    where = ", ".join(logs) or ", ".join(record.output)
    cause = log_cause(logs)
    below = f"\n  {cause}" if cause and cause not in shown else ""
    return f"FAILED {record.rule_name}: {where}{below}"


def failures(console: str) -> list[str]:
    """The causes of the failed jobs in a console output written by this plugin (the lines
    :func:`failed_job_line` wrote under their FAILED lines), else the FAILED lines."""
    lines = console.splitlines()
    failed = [i for i, line in enumerate(lines) if line.startswith("FAILED ")]
    return [
        lines[i + 1].strip() if i + 1 < len(lines) and lines[i + 1].startswith("  ") else lines[i]
        for i in failed
    ]


def log_cause(logs: list[str], tail: int = 8192) -> str | None:
    """The last non-empty line of ``logs`` (the newest first): a job's one-line cause (the job
    frame ends a failed job's log with it; a traceback ends with the exception)."""
    for log in sorted(logs, key=_mtime, reverse=True):
        try:
            with open(log, "rb") as f:
                f.seek(max(0, f.seek(0, os.SEEK_END) - tail))
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            continue
        for line in reversed(lines):
            if line.strip():
                return line.strip()
    return None


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0


def _pct(cell: str) -> str:
    return f"{100 * float(cell):.1f}" if cell else "n/a"


def closing_summary(tables: str | os.PathLike, reports: list[str], since: float) -> str:
    """What a finished study says last: per comparison (an experiment on a dataset) the variant
    chosen on validation with its test accuracy, 95 % interval and probability of ranking
    first, runs that failed or diverged, and where the report is. Empty when this Snakemake
    call did not write the report (it made other targets)."""
    written = [p for p in reports if os.path.exists(p) and os.path.getmtime(p) >= since]
    csvs = {name: Path(tables, f"{name}.csv") for name in ("comparisons", "runs")}
    if not written or not all(path.exists() for path in csvs.values()):
        return ""
    rows = {}
    for name, path in csvs.items():
        with open(path, newline="") as fh:
            rows[name] = list(csv.DictReader(fh))
    lines = [
        "",
        "Chosen on validation, per comparison (test accuracy %, 95% interval over seeds and "
        "test examples, probability of ranking first):",
    ]
    for row in rows["comparisons"]:
        where = f"{row['experiment']} / {row['dataset']}"
        if not row["reference"]:
            lines.append(f"  {where}: no run produced a test accuracy")
            continue
        tied = row["tied"].split(";")
        name = " = ".join(tied) + " (tied on validation)" if len(tied) > 1 else row["reference"]
        ci = f" [{_pct(row['reference_low'])}, {_pct(row['reference_high'])}]"
        first = (
            f", P(first) {float(row['reference_p_first']):.2f}" if row["reference_p_first"] else ""
        )
        lines.append(f"  {where}: {name}  {_pct(row['reference_mean'])}{ci}{first}")
    runs, runs_csv = rows["runs"], csvs["runs"]
    bad = [r for r in runs if r["status"] in ("failed", "diverged")]
    lines.append(
        f"Runs: {len(runs)} in the report, {sum(r['status'] == 'failed' for r in bad)} failed, "
        f"{sum(r['status'] == 'diverged' for r in bad)} diverged"
        + (f" (see {runs_csv}, column status):" if bad else ".")
    )
    for r in bad[:10]:
        error = f": {r['error']}" if r.get("error") else ""
        lines.append(f"  {r['status']} {r['dataset']}/{r['run_id']}{error}")
    if len(bad) > 10:
        lines.append(f"  ... and {len(bad) - 10} more")
    lines.append("Report: " + ", ".join(os.path.abspath(p) for p in written))
    return "\n".join(lines) + "\n"
