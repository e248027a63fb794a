"""Files of a finished study corrupted or deleted, and what a plain `snakemake` makes of it.

Shared by test_fault_files.py (one test per fault) and fault_table.py (the README's table).
The rule under test: after any corruption or deletion of a file under data/ or results/, a
plain `snakemake --cores N` either rebuilds what depends on it, with results identical to an
undisturbed study, or stops with one line naming the file and the command that repairs it
(and that command then does so); it never exits 0 with results missing or wrong.

Two finished studies take the faults: the tiny one (two untuned runs, up to the run table) and
the full one (faultstudy.FULL: tuned searches, report, W&B offline). The faults that are not a
file of a finished study (a run killed with a damaged checkpoint, the records lost with
Snakemake's metadata, a worker killed) are the scenarios at the end.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from faultstudy import (
    FULL,
    TINY,
    UNTIL,
    group_members,
    kill_group,
    results,
    run_ids,
    snakemake,
    start,
    study_state,
    write_study,
)

TABLE = "results/runs/experiments.csv"
# What the repair line ends with (nnstudy.jobs.integrity.repair_message).
REPAIR = re.compile(r": rm (?P<files>.+?) && snakemake --cores N$")


def flip_middle_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def truncate_half(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def keep_two_lines(path: Path) -> None:
    """A CSV cut after its header and first row (a transfer that stopped early)."""
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:2]))


def empty(path: Path) -> None:
    path.write_bytes(b"")


def delete(path: Path) -> None:
    path.unlink()


def delete_tree(path: Path) -> None:
    shutil.rmtree(path)


def _rewrite_keeping_time(path: Path, data: bytes) -> None:
    """Write ``data`` (the same size) and set the old modification time back (`touch -r`)."""
    stat = path.stat()
    assert len(data) == stat.st_size
    path.write_bytes(data)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def edit_a_digit(path: Path) -> None:
    """Change the middle digit of a text file (a number in a CSV or JSON stays a number): the
    same size and modification time, a different value."""
    data = bytearray(path.read_bytes())
    digits = [i for i, byte in enumerate(data) if chr(byte).isdigit()]
    at = digits[len(digits) // 2]
    data[at] = ord(str((int(chr(data[at])) + 1) % 10))
    _rewrite_keeping_time(path, bytes(data))


def edit_keep(path: Path) -> None:
    """Make a rung record keep another candidate than the one it chose (same size and
    modification time): the issue's silent wrong choice."""
    record = json.loads(path.read_text())
    other = next(
        e["candidate"] for e in record["candidates"] if e["candidate"] not in record["keep"]
    )
    old = '"keep":[' + str(record["keep"][0])
    text = path.read_text()
    assert old in text and len(str(other)) == len(str(record["keep"][0]))
    _rewrite_keeping_time(path, text.replace(old, f'"keep":[{other}', 1).encode())


def break_json(path: Path) -> None:
    """A record that is no longer JSON (same size and modification time)."""
    _rewrite_keeping_time(path, b"x" + path.read_bytes()[1:])


@dataclass(frozen=True)
class Fault:
    kind: str
    path: str  # relative to the study; {run}, {record}, {trial}, {wandb_run}: see targets()
    inject: Callable[[Path], None] = field(compare=False)
    study: str = "tiny"  # which finished study takes it: "tiny" or "full"

    @property
    def name(self) -> str:
        return f"{self.kind} {self.path.replace('{run}', '<run>')}"

    @property
    def deletes(self) -> bool:
        return self.kind.startswith("delete")


FAULTS = [
    Fault("flip a byte", "data/processed/spirals/train.npz", flip_middle_byte),
    Fault("flip a byte", "results/runs/{run}/model.npz", flip_middle_byte),
    Fault("truncate", "results/runs/{run}/model.npz", truncate_half),
    Fault("truncate", "results/runs/{run}/history.csv", keep_two_lines),
    Fault("truncate", "results/runs/{run}/metrics.json", truncate_half),
    Fault("edit a digit, time kept", "results/runs/{run}/metrics.json", edit_a_digit),
    Fault("empty", TABLE, empty),
    Fault("delete", "data/processed/spirals/train.npz", delete),
    Fault("delete", "results/runs/{run}/history.csv", delete),
    Fault("delete", "results/runs/{run}/metrics.json", delete),
    Fault("delete", TABLE, delete),
    # Tuning records, trials, report fragments, W&B run folders (the full study).
    Fault("edit keep, time kept", "{record}", edit_keep, "full"),
    Fault("not JSON, time kept", "{record}", break_json, "full"),
    Fault("edit a digit, time kept", "{trial}/history.csv", edit_a_digit, "full"),
    Fault("flip a byte", "{trial}/train.json", flip_middle_byte, "full"),
    Fault("flip a byte", "results/tables/fragments/runs.tex", flip_middle_byte, "full"),
    Fault("delete", "{record}", delete, "full"),
    Fault("delete folder", "results/trials", delete_tree, "full"),
    Fault("delete folder", "results/tables/fragments", delete_tree, "full"),
    Fault("delete", "results/tables/fragments/runs.tex", delete, "full"),
    Fault("delete folder", "{wandb_run}", delete_tree, "full"),
]


@dataclass
class Study:
    """A finished study that faults are injected into (a copy of it), and how it is rerun."""

    folder: Path
    args: tuple[str, ...]
    until: tuple[str, ...] | None
    same: Callable[[Path], bool]  # whether a study folder ended as this one did


def tiny_study(folder: Path, runs: dict, expected: dict) -> Study:
    """The tiny study in ``folder`` (finished), ``expected`` = results(folder, runs)."""
    table = (folder / TABLE).read_text()

    def same(other: Path) -> bool:
        return (
            results(other, runs) == expected
            and (other / TABLE).exists()
            and (other / TABLE).read_text() == table
        )

    return Study(folder, ("--cores", "1"), UNTIL, same)


def full_study(folder: Path, expected: dict) -> Study:
    """The full study in ``folder`` (finished), ``expected`` = study_state(folder)."""
    return Study(folder, ("--cores", "2"), None, lambda other: study_state(other) == expected)


def finish(folder: Path, *args: str, until: tuple[str, ...] | None = UNTIL) -> None:
    """Run a study to its end, then once more (nothing to do): as a study that was run twice,
    its checksum records carry the time stamps Snakemake gave its files after the jobs."""
    for _ in range(2):
        done = snakemake(folder, *args, until=until)
        assert done.returncode == 0, done.stderr[-3000:]


def run_tiny(folder: Path) -> Study:
    write_study(folder)
    finish(folder, "--cores", "1")
    runs = run_ids(TINY)
    return tiny_study(folder, runs, results(folder, runs))


def run_full(folder: Path) -> Study:
    write_study(folder, FULL)
    finish(folder, "--cores", "2", until=None)
    return full_study(folder, study_state(folder))


def targets(folder: Path) -> dict[str, str]:
    """The placeholders of a fault's path in a finished study: the first run, rung-0 record,
    trial and W&B run folder (sorted), relative to ``folder``."""

    def first(pattern: str) -> str:
        found = sorted(folder.glob(pattern))
        return str(found[0].relative_to(folder)) if found else ""

    marker = first("results/wandb/*.json")
    runs = json.loads((folder / marker).read_text())["runs"] if marker else []
    return {
        "run": first("results/runs/*/*/")[len("results/runs/") :],
        "record": first("results/tuning/*/*/rung0.json"),
        "trial": first("results/trials/*/*/"),
        "wandb_run": runs[0]["wandb_run_dir"] if runs else "",
    }


@dataclass
class Outcome:
    fault: Fault
    stopped: str | None  # the one line the first rerun stopped with, or None if it went on
    survived: bool  # the study ended (after the repair, if it stopped) with exit 0
    identical: bool  # every result equals the undisturbed study's
    lost: list[str]  # files of the undisturbed study missing at the end
    log: str


# What a study keeps (W&B run folders are named by the time they were logged: not compared).
KEPT = ("data/processed", "results/runs", "results/trials", "results/tuning", "results/tables")


def study_files(folder: Path) -> set[str]:
    """Every file of the study's results and prepared data, relative to ``folder``."""
    return {
        str(p.relative_to(folder)) for top in KEPT for p in (folder / top).rglob("*") if p.is_file()
    }


def trial(fault: Fault, study: Study, folder: Path, profile: str | None = None) -> Outcome:
    """Copy the finished ``study`` to ``folder``, inject ``fault``, rerun it as a user would
    (`snakemake --cores N`, without the workflow profile unless ``profile``), and follow the
    repair line if it stops."""
    shutil.copytree(study.folder, folder, symlinks=True)
    target = fault.path.format(**targets(folder))
    fault.inject(folder / target)
    before = study_files(folder)

    def rerun():
        return snakemake(folder, *study.args, profile=profile, until=study.until)

    first = rerun()
    log = first.stdout + first.stderr
    stopped, done = None, first
    if first.returncode != 0:
        lines = [line for line in first.stderr.splitlines() if REPAIR.search(line)]
        assert len(lines) == 1, f"{fault.name}: no single repair line:\n{first.stderr[-3000:]}"
        stopped = lines[0]
        assert target in stopped.split(": rm ", 1)[0], stopped
        assert study_files(folder) == before, "a study that stops must not delete anything"
        for name in REPAIR.search(stopped)["files"].split():
            (folder / name).unlink()
        done = rerun()
        log += done.stdout + done.stderr
    survived = done.returncode == 0
    identical = survived and study.same(folder)
    lost = sorted(study_files(study.folder) - study_files(folder))
    return Outcome(fault, stopped, survived, identical, lost, log)


# Scenarios: faults that are not one file of a finished study.


def lost_records(study: Study, folder: Path) -> Outcome:
    """`rm -rf .snakemake results/.checksums` (Snakemake's metadata and every checksum
    record), a rerun, then one digit of a run's metrics.json edited (time kept): the rerun
    recorded what it found again, so the next one names the edited file."""
    fault = Fault(
        "rm -rf, rerun, then edit a metrics.json", ".snakemake + results/.checksums", None
    )
    shutil.copytree(study.folder, folder, symlinks=True)
    shutil.rmtree(folder / ".snakemake")
    shutil.rmtree(folder / "results" / ".checksums")
    first = snakemake(folder, *study.args, profile=None, until=study.until)
    log = first.stdout + first.stderr
    metrics = sorted(folder.glob("results/runs/*/*/metrics.json"))[0]
    edit_a_digit(metrics)
    second = snakemake(folder, *study.args, profile=None, until=study.until)
    log += second.stdout + second.stderr
    lines = [line for line in second.stderr.splitlines() if REPAIR.search(line)]
    stopped = lines[0] if len(lines) == 1 and str(metrics.relative_to(folder)) in lines[0] else None
    survived = False
    if first.returncode == 0 and stopped:
        metrics.unlink()
        done = snakemake(folder, *study.args, profile=None, until=study.until)
        log += done.stdout + done.stderr
        survived = done.returncode == 0
    identical = survived and study.same(folder)
    lost = sorted(study_files(study.folder) - study_files(folder))
    return Outcome(fault, stopped, survived, identical, lost, log)


# A study whose runs train long enough for a kill to land mid-run: the tiny study's two runs
# for 1000 epochs (a few seconds each), checkpointed after every epoch.
LONG = {
    **TINY,
    "experiments": {
        "tiny": {
            **TINY["experiments"]["tiny"],
            "fixed": {
                **TINY["experiments"]["tiny"]["fixed"],
                "epochs": 1000,
                "snapshot_every": 100,
            },
        }
    },
}


def run_long(folder: Path) -> Study:
    """LONG run undisturbed at --cores 2: the study the kill scenarios must end as."""
    write_study(folder, LONG)
    finish(folder, "--cores", "2")
    runs = run_ids(LONG)
    study = tiny_study(folder, runs, results(folder, runs))
    study.args = ("--cores", "2")
    return study


def _wait(condition: Callable[[], bool], proc, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, f"the study ended before {what}"
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.02)


def damaged_checkpoint(study: Study, folder: Path) -> Outcome:
    """LONG killed (SIGKILL of the group) once a run has a checkpoint, one byte of that
    checkpoint flipped, then a plain rerun: the run restarts from scratch (one log line) to
    the undisturbed result."""
    fault = Fault("flip a byte after a kill", "results/checkpoints/runs/<run>.npz", None)
    write_study(folder, LONG)
    proc = start(folder, "--cores", "2", log=folder / "killed.log")
    checkpoints = folder / "results" / "checkpoints" / "runs"
    _wait(lambda: any(checkpoints.rglob("*.npz")), proc, "checkpoint")
    kill_group(proc)
    path = sorted(p for p in checkpoints.rglob("*.npz") if not p.name.endswith("snapshots.npz"))[0]
    flip_middle_byte(path)
    # With the workflow profile (--rerun-incomplete), as a plain `snakemake` after a kill.
    done = snakemake(folder, *study.args)
    log = done.stdout + done.stderr
    logs = "".join(p.read_text() for p in (folder / "results" / "logs").rglob("*.log"))
    discarded = [line for line in logs.splitlines() if "discarded, the run restarts" in line]
    survived = done.returncode == 0 and len(discarded) == 1
    identical = survived and study.same(folder)
    lost = sorted(study_files(study.folder) - study_files(folder))
    return Outcome(fault, discarded[0] if discarded else None, survived, identical, lost, log)


def worker_processes(snakemake_pid: int) -> list[int]:
    """The pool's worker processes of a Snakemake process: the children of its forkserver."""
    parents = {}
    for pid in group_members(snakemake_pid):
        stat = Path(f"/proc/{pid}/stat").read_text()
        parents[pid] = int(stat.rsplit(")", 1)[1].split()[1])
    servers = {pid for pid, parent in parents.items() if parent == snakemake_pid}
    return sorted(pid for pid, parent in parents.items() if parent in servers)


def killed_worker(study: Study, folder: Path) -> Outcome:
    """SIGKILL of one pooled worker while both runs of LONG train (--cores 2): only that job
    fails; the other run finishes and keeps its files; a plain rerun trains the killed one."""
    fault = Fault("SIGKILL one worker", "a pooled training worker", None)
    write_study(folder, LONG)
    proc = start(folder, "--cores", "2", log=folder / "killed.log")
    logs = folder / "results" / "logs" / "train"
    # Both runs past their first epoch: two workers busy.
    _wait(
        lambda: len([p for p in logs.rglob("*.log") if "epoch 2/" in p.read_text()]) == 2,
        proc,
        "two runs training",
    )
    victim = worker_processes(proc.pid)[0]
    os.kill(victim, signal.SIGKILL)
    proc.wait(timeout=300)
    proc.log.close()
    while group_members(proc.pid):
        time.sleep(0.05)
    first = (folder / "killed.log").read_text()
    finished = [
        p.parent.name for p in sorted((folder / "results" / "runs").glob("*/*/metrics.json"))
    ]
    failed = sum(line.startswith("FAILED ") for line in first.splitlines())
    done = snakemake(folder, *study.args, profile=None)
    log = first + done.stdout + done.stderr
    stopped = f"{failed} job failed, {len(finished)} run finished" if proc.returncode else None
    survived = proc.returncode != 0 and failed == 1 and len(finished) == 1
    survived = survived and done.returncode == 0
    identical = survived and study.same(folder)
    lost = sorted(study_files(study.folder) - study_files(folder))
    return Outcome(fault, stopped, survived, identical, lost, log)


SCENARIOS = {
    "tiny": [lost_records],
    "long": [damaged_checkpoint, killed_worker],
}
