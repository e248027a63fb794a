"""Files of a finished study corrupted or deleted, and what a plain `snakemake` makes of it.

Shared by test_fault_files.py (one test per fault) and fault_table.py (the README's table).
The rule under test: after any corruption or deletion of a file under data/ or results/, a
plain `snakemake --cores N` either rebuilds what depends on it, with results identical to an
undisturbed study, or stops with one line naming the file and the command that repairs it
(and that command then does so); it never exits 0 with results missing or wrong.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from faultstudy import results, snakemake

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


@dataclass(frozen=True)
class Fault:
    kind: str
    path: str  # relative to the study; {run} is the first run's folder
    inject: Callable[[Path], None] = field(compare=False)

    @property
    def name(self) -> str:
        return f"{self.kind} {self.path.replace('{run}', '<run>')}"


FAULTS = [
    Fault("flip a byte", "data/processed/spirals/train.npz", flip_middle_byte),
    Fault("flip a byte", "results/runs/{run}/model.npz", flip_middle_byte),
    Fault("truncate", "results/runs/{run}/model.npz", truncate_half),
    Fault("truncate", "results/runs/{run}/history.csv", keep_two_lines),
    Fault("truncate", "results/runs/{run}/metrics.json", truncate_half),
    Fault("empty", TABLE, empty),
    Fault("delete", "data/processed/spirals/train.npz", delete),
    Fault("delete", "results/runs/{run}/history.csv", delete),
    Fault("delete", "results/runs/{run}/metrics.json", delete),
    Fault("delete", TABLE, delete),
]


@dataclass
class Outcome:
    fault: Fault
    stopped: str | None  # the one line the first rerun stopped with, or None if it went on
    survived: bool  # the study ended (after the repair, if it stopped) with exit 0
    identical: bool  # every run's files and the run table equal the undisturbed study's
    lost: list[str]  # files of the undisturbed study missing at the end
    log: str


def study_files(folder: Path) -> set[str]:
    """Every file of the study's results and prepared data, relative to ``folder``."""
    return {
        str(p.relative_to(folder))
        for top in ("data/processed", "results/runs")
        for p in (folder / top).rglob("*")
        if p.is_file()
    }


def trial(fault: Fault, reference, folder: Path) -> Outcome:
    """Copy the finished reference study to ``folder``, inject ``fault``, rerun it as a user
    would (`snakemake --cores 1`, no profile), and follow the repair line if it stops."""
    shutil.copytree(reference.folder, folder, symlinks=True)
    rid = sorted(reference.runs)[0]
    target = fault.path.replace("{run}", f"{reference.runs[rid]['dataset']}/{rid}")
    fault.inject(folder / target)
    before = study_files(folder)
    first = snakemake(folder, "--cores", "1", profile=None)
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
        done = snakemake(folder, "--cores", "1", profile=None)
        log += done.stdout + done.stderr
    table = folder / TABLE
    expected_table = (reference.folder / TABLE).read_text()
    survived = done.returncode == 0
    identical = (
        survived
        and results(folder, reference.runs) == reference.results
        and table.exists()
        and table.read_text() == expected_table
    )
    lost = sorted(study_files(reference.folder) - study_files(folder))
    return Outcome(fault, stopped, survived, identical, lost, log)
