"""What a study prints on the console: one progress line and the messages a person acts on.

Snakemake's own console log is a block of lines per job (20,000 lines for the default study).
:class:`LogHandler` is a Snakemake logger plugin (``--logger nnstudy``, set in the default
profile; the plugin module is ``snakemake_logger_plugin_nnstudy``) that shows instead:

- the plan (Snakemake's job-stats table), warnings and errors, each failed job in a line
  with its log file and, below it, the last line of that log (the job's cause) unless it was
  just said (a failed ``run:`` job's exception as its message, without Snakemake's traceback
  of the run block);
- a progress line: runs done / failed / diverged of the total, all jobs, elapsed and
  remaining time, and the running runs' epochs and validation accuracy (:class:`LiveRun`) --
  redrawn in place on a terminal every second (the running runs on up to three lines below
  it), printed every 30 s and at every tenth of the jobs otherwise (the running runs summed
  up on the same line). The time left is the remaining runs' epochs at their measured seconds
  per epoch (:func:`seconds_left`);
- Snakemake's closing lines (nothing to be done, where the complete log is);
- after Ctrl-C, one line (:func:`nnstudy.jobs.frame.say_interrupted`) instead of Snakemake's and
  of the jobs it cut short.

Snakemake's full log still goes to ``.snakemake/log/`` (it has its own file handler); the
study's closing summary is printed by the Snakefile's ``onsuccess`` (:func:`closing_summary`).
"""

from __future__ import annotations

import contextlib
import csv
import logging
import math
import os
import sys
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterable
from itertools import chain
from pathlib import Path
from statistics import mean, median
from typing import NamedTuple, TextIO

from snakemake_interface_logger_plugins.base import LogHandlerBase
from snakemake_interface_logger_plugins.common import LogEvent

from nnstudy.jobs.frame import interrupted, say_interrupted
from nnstudy.training.runfolder import file, read_history, read_json, read_train

# Rules whose jobs are training runs (study runs and tuning trials).
RUN_RULES = ("train", "trial")
# Seconds between two redraws of the progress, on a terminal (in place) and into a log or pipe
# (a line each: 240 in two hours); NNSTUDY_PROGRESS_SECONDS sets both.
REDRAW_SECONDS = {True: 1.0, False: 30.0}
# Running runs listed under the progress line on a terminal: the block stays under 5 lines.
RUN_LINES = 3
# Finished runs per dataset whose pace the estimate of the time left keeps: the latest, so that
# the cost of an estimate stays the same however many runs a study has.
PACED_RUNS = 100
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


def redraw_seconds(interactive: bool) -> tuple[float, str | None]:
    """Seconds between two redraws, and the line saying NNSTUDY_PROGRESS_SECONDS is not a valid
    number of seconds (None when it is valid or unset)."""
    text = os.environ.get("NNSTUDY_PROGRESS_SECONDS")
    if text is None:
        return REDRAW_SECONDS[interactive], None
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if seconds > 0 and math.isfinite(seconds):
        return seconds, None
    default = REDRAW_SECONDS[interactive]
    return default, (
        f"NNSTUDY_PROGRESS_SECONDS={text!r} is not a number of seconds > 0; redrawing every "
        f"{default:g} s"
    )


class RunPace(NamedTuple):
    """What the estimate of the time left knows of one run."""

    dataset: str
    done: int  # epochs finished
    epochs: int | None  # in all: planned while it runs, run once finished; None: not known yet
    seconds: float | None  # measured per epoch; None: no epoch yet


def seconds_left(
    running: list[RunPace], finished: Iterable[RunPace], waiting: int, slots: int
) -> float | None:
    """Seconds until the runs are done: the remaining epochs of each running run and of
    ``waiting`` runs not started yet (each a typical run: the mean of the known runs' epochs x
    pace), at the seconds per epoch measured on the run's dataset (the median over its measured
    runs, else over all), spread over ``slots`` parallel jobs but no shorter than the longest
    running run's rest. None before any epoch is measured, or when no run is left."""
    known = [*finished, *running]
    measured = [r for r in known if r.seconds is not None]
    if not measured or not (running or waiting):
        return None
    by_dataset = defaultdict(list)
    for run in measured:
        by_dataset[run.dataset].append(run.seconds)
    overall = median(r.seconds for r in measured)
    pace = {dataset: median(seconds) for dataset, seconds in by_dataset.items()}
    sized = [r.epochs * pace.get(r.dataset, overall) for r in known if r.epochs is not None]
    if not sized:  # no run's epochs known: neither a running run's rest nor a typical run
        return None
    typical = mean(sized)
    rest = [
        max(r.epochs - r.done, 0) * pace.get(r.dataset, overall)
        if r.epochs is not None
        else typical
        for r in running
    ]
    total = sum(rest) + waiting * typical
    parallel = max(1, min(slots, len(running) + waiting))
    return max(total / parallel, max(rest, default=0.0))


class LiveRun:
    """A running run as its folder shows it: its planned epochs (config.json, written when it
    starts) and its history so far (history.csv, rewritten after every epoch). A file missing
    or unreadable (being written) is no news: what was read before stands."""

    def __init__(self, folder: Path | None):
        self.folder = folder
        self.epochs: int | None = None
        self.rows: list[dict[str, float]] = []
        self._stamp: tuple[int, int] | None = None

    @property
    def dataset(self) -> str:
        return self.folder.parent.name if self.folder else ""

    @property
    def label(self) -> str:
        return f"{self.dataset}/{self.folder.name}" if self.folder else "?"

    @property
    def done(self) -> int:
        return self.rows[-1]["epoch"] if self.rows else 0

    @property
    def val_accuracy(self) -> float | None:
        return self.rows[-1].get("val_accuracy") if self.rows else None

    def refresh(self) -> None:
        if self.folder is None:
            return
        if self.epochs is None:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                self.epochs = int(read_json(file(self.folder, "config"))["epochs"])
        path = file(self.folder, "history")
        with contextlib.suppress(OSError, ValueError):
            stat = path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
            if stamp != self._stamp:  # read again only what changed
                self.rows, self._stamp = read_history(path), stamp

    def pace(self) -> RunPace:
        seconds = [r["seconds"] for r in self.rows if "seconds" in r]
        return RunPace(self.dataset, self.done, self.epochs, median(seconds) if seconds else None)

    def line(self) -> str:
        epoch = f"epoch {self.done if self.rows else '?'}/{self.epochs or '?'}"
        acc = self.val_accuracy
        return f"{self.label} {epoch}" + (f" val_acc {acc:.3f}" if acc is not None else "")


class StudyProgress:
    """Counts of a study's jobs and runs as Snakemake reports them, and their one-line view."""

    def __init__(self, now: float | None = None):
        self.started = time.monotonic() if now is None else now
        self.runs_total = self.runs_done = self.failed = self.diverged = 0
        self.jobs_total = self.jobs_done = 0
        self.planned_jobs = 0
        self.running: set[int] = set()  # the ids of all jobs running
        self.run_jobs: dict[int, LiveRun] = {}  # a running run job's id -> its run
        self.paced: dict[str, deque[RunPace]] = defaultdict(lambda: deque(maxlen=PACED_RUNS))
        # Parallel run jobs: the cores over a run's threads once Snakemake says them, else the
        # most run jobs seen running at once.
        self.cores: int | None = None
        self.run_threads = 1
        self.most_running = 0

    def planned(self, stats: dict[str, int]) -> None:
        """Snakemake's job counts per rule, at the start of a run."""
        self.runs_total = sum(stats.get(rule, 0) for rule in RUN_RULES)
        self.jobs_total = self.planned_jobs = stats.get("total", self.jobs_total)

    @property
    def runs_known(self) -> bool:
        """Whether the run count is still the plan's: a tune checkpoint adds runs and jobs to
        the DAG when it finishes, and Snakemake then reports only the new job total."""
        return self.jobs_total <= self.planned_jobs

    def started_job(self, jobid: int, rule: str, outputs: list[str], threads: int = 1) -> None:
        self.running.add(jobid)
        if rule in RUN_RULES:
            self.run_jobs[jobid] = LiveRun(Path(outputs[0]).parent if outputs else None)
            self.run_threads = max(threads, 1)
            self.most_running = max(self.most_running, len(self.run_jobs))

    def finished_job(self, jobid: int) -> None:
        self.running.discard(jobid)
        if jobid in self.run_jobs:
            self.runs_done += 1
            folder = self.run_jobs.pop(jobid).folder
            record = read_train(folder) if folder is not None else None
            if record is None:
                return
            if record.get("status") == "diverged":
                self.diverged += 1
            epochs, seconds = record.get("epochs_run"), record.get("train_seconds")
            if isinstance(epochs, int) and epochs > 0 and isinstance(seconds, (int, float)):
                self.paced[folder.parent.name].append(
                    RunPace(folder.parent.name, epochs, epochs, seconds / epochs)
                )

    def failed_job(self, jobid: int) -> None:
        self.running.discard(jobid)
        if self.run_jobs.pop(jobid, None) is not None:
            self.runs_done += 1
        self.failed += 1

    def refresh(self) -> None:
        """Read the running runs' files again."""
        for run in self.run_jobs.values():
            run.refresh()

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
        """Time left: the remaining runs' epochs at their measured pace (:func:`seconds_left`);
        before any epoch is measured, from the pace of runs so far, else of all jobs."""
        slots = self.cores // self.run_threads if self.cores else self.most_running
        left = seconds_left(
            [run.pace() for run in self.run_jobs.values()],
            chain.from_iterable(self.paced.values()),
            self.waiting_runs(),
            max(slots, 1),
        )
        if left is not None:
            return left
        done, total = (
            (self.runs_done, self.runs_total)
            if self.runs_total and self.runs_known
            else (self.jobs_done, self.jobs_total)
        )
        if not done or done >= total:
            return None
        return elapsed / done * (total - done)

    def waiting_runs(self) -> int:
        """Runs not started yet. Once a checkpoint added jobs, which are how many runs is not
        said: the plan's share of runs among its jobs, of the jobs waiting."""
        if self.runs_known:
            return max(self.runs_total - self.runs_done - len(self.run_jobs), 0)
        waiting_jobs = max(self.jobs_total - self.jobs_done - len(self.running), 0)
        return round(waiting_jobs * self.runs_total / self.planned_jobs) if self.planned_jobs else 0

    def run_lines(self, most: int) -> list[str]:
        """A line per running run (:meth:`LiveRun.line`), at most ``most`` lines."""
        runs = list(self.run_jobs.values())
        if len(runs) <= most:
            return [f"  {run.line()}" for run in runs]
        shown = [f"  {run.line()}" for run in runs[: most - 1]]
        return [*shown, f"  ... and {len(runs) - len(shown)} more running"]

    def running_summary(self) -> str | None:
        """The running runs in a few words (None when none runs): their epochs done of planned,
        the best latest validation accuracy."""
        runs = list(self.run_jobs.values())
        if not runs:
            return None
        planned = "?" if any(r.epochs is None for r in runs) else sum(r.epochs for r in runs)
        text = f"{len(runs)} running: epochs {sum(r.done for r in runs)}/{planned}"
        accs = [r.val_accuracy for r in runs if r.val_accuracy is not None]
        accs = [a for a in accs if math.isfinite(a)]
        return text + (f", best val_acc {max(accs):.3f}" if accs else "")

    def tenth(self) -> int:
        """Which tenth of the jobs is done (0..10): when the line is printed off a terminal."""
        return 10 * self.jobs_done // self.jobs_total if self.jobs_total else 0


class ConsoleView:
    """Prints records and the progress to ``stream``. On a terminal the progress line and the
    running runs below it are redrawn in place; otherwise the line is printed whenever another
    tenth of the jobs is done and at each :meth:`tick`, the running runs summed up on it."""

    def __init__(self, stream: TextIO, interactive: bool):
        self.stream, self.interactive = stream, interactive
        self.progress = StudyProgress()
        self.shown_tenth = -1
        self.shown = False  # whether the progress was shown: the timer redraws it from then
        self.drawn = 0  # lines of the progress on a terminal, the cursor at the end of the last
        # The latest lines said, so that a failed job's cause already on screen is not repeated.
        self.said: deque[str] = deque(maxlen=64)

    def say(self, text: str) -> None:
        self._clear()
        print(text, file=self.stream, flush=True)
        self.said.extend(line.strip() for line in text.splitlines())

    def update(self, final: bool = False) -> None:
        self.shown = True
        if self.interactive:
            self._draw()
        elif final or self.progress.tenth() > self.shown_tenth:
            self.shown_tenth = self.progress.tenth()
            self._print()

    def tick(self) -> None:
        """The timer's redraw, while jobs run: the running runs' files read again."""
        if not (self.shown and self.progress.running):
            return
        self.progress.refresh()
        if self.interactive:
            self._draw()
        else:
            self._print()

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = 0

    def _print(self) -> None:
        parts = [self.progress.line(), self.progress.running_summary()]
        print(" | ".join(p for p in parts if p), file=self.stream, flush=True)

    def _draw(self) -> None:
        self._clear()
        try:
            width = os.get_terminal_size(self.stream.fileno()).columns
        except (AttributeError, OSError, ValueError):
            width = 80
        # Cut to the width: a wrapped line would leave the next redraw one line short.
        lines = [self.progress.line(), *self.progress.run_lines(RUN_LINES)]
        self.stream.write("\n".join(line[: width - 1] for line in lines))
        self.stream.flush()
        self.drawn = len(lines)

    def _clear(self) -> None:
        if self.drawn:
            up = f"\033[{self.drawn - 1}A" if self.drawn > 1 else ""
            self.stream.write(f"\r{up}\033[J")
            self.drawn = 0


class LogHandler(LogHandlerBase):
    """Snakemake logger plugin ``nnstudy`` (see the module's docstring)."""

    def __post_init__(self) -> None:
        stream = sys.stdout if self.common_settings.stdout else sys.stderr
        self.view = ConsoleView(stream, interactive=stream.isatty())
        self.dryrun = self.common_settings.dryrun
        self._stopped = threading.Event()
        if not self.dryrun:
            seconds, problem = redraw_seconds(self.view.interactive)
            if problem:
                self.view.say(problem)
            threading.Thread(
                target=self._redraw, args=(seconds,), name="nnstudy-progress", daemon=True
            ).start()

    def _redraw(self, seconds: float) -> None:
        """The timer thread: redraws the progress every ``seconds`` until :meth:`close`. It
        takes the handler's lock, which ``handle`` holds around each record's ``emit``."""
        while not self._stopped.wait(seconds):
            with self.lock:
                if self._stopped.is_set() or interrupted():
                    continue
                try:
                    self.view.tick()
                except Exception as error:  # noqa: BLE001 -- a display bug must not stop the study
                    self.view.say(f"progress redraws stopped: {type(error).__name__}: {error}")
                    return

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
            progress.started_job(
                record.jobid,
                record.rule_name,
                list(record.output),
                getattr(record, "threads", None) or 1,
            )
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
            if getattr(record, "cores", None):
                progress.cores = record.cores
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
        with self.lock:  # the timer draws nothing after this
            self._stopped.set()
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
