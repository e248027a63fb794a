"""The report's reproduce command rebuilds the study it describes: run on a fresh copy of the
study's config files, it gives the same runs and the same tables."""

from __future__ import annotations

import csv
import html
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from nnstudy.invoke import SNAKEFILE, run_snakemake, tiny_study
from nnstudy.jobs.provenance import study_command

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "faults"))
from faultstudy import results, run_ids  # noqa: E402

# Overrides of the kind a study is run with: a data setting and the selection.
OVERRIDES = ["data={synthetic: {n_samples: 240, seed: 3}}", "select=[tiny]"]
VENV_FIRST = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}


def test_the_command_names_what_snakemake_was_given(tmp_path):
    (tmp_path / "Snakefile").touch()
    inside = study_command(tmp_path / "Snakefile", [tmp_path / "a b.yaml"], OVERRIDES, tmp_path)
    assert shlex.split(inside) == [
        *("snakemake", "--cores", "all", "--configfile", "a b.yaml", "--config", *OVERRIDES)
    ]
    elsewhere = study_command(SNAKEFILE, [Path("/etc/study.yaml")], [], tmp_path)
    assert shlex.split(elsewhere) == [
        *("snakemake", "--cores", "all", "--snakefile", str(SNAKEFILE)),
        *("--configfile", "/etc/study.yaml"),
    ]


def reproduce_command(report: Path) -> str:
    """The command shown in report.html's Reproducibility section."""
    found = re.search(r"<dt>command</dt><dd><code>(.*?)</code>", report.read_text("utf-8"))
    return html.unescape(found.group(1))


def study_results(folder: Path, config: dict) -> dict:
    """Every run's files and the variants table, without what measures time."""
    with open(folder / "results" / "tables" / "variants.csv", newline="") as f:
        variants = [
            {k: v for k, v in row.items() if "seconds" not in k} for row in csv.DictReader(f)
        ]
    return {
        "runs": results(folder, run_ids(config)),
        "members": (folder / "results" / "runs" / "experiments.csv").read_text(),
        "variants": variants,
    }


@pytest.mark.slow
def test_the_reports_command_rebuilds_the_study_from_a_fresh_copy(tmp_path):
    config = tiny_study("tiny")
    first = tmp_path / "first"
    first.mkdir()
    (first / "study.yaml").write_text(yaml.safe_dump(config))
    done = run_snakemake(
        "--configfile", "study.yaml", "--config", *OVERRIDES, cwd=first, cores=2, env=VENV_FIRST
    )
    assert done.returncode == 0, done.stderr[-3000:]
    command = reproduce_command(first / "results" / "report" / "report.html")
    checkout, _, rerun = command.partition(" && ")
    assert checkout.startswith("git checkout ")
    assert f"--configfile study.yaml --config {shlex.join(OVERRIDES)}" in rerun
    # A fresh copy: the config files, nothing the first study made.
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    shutil.copy(first / "study.yaml", fresh / "study.yaml")
    again = subprocess.run(
        rerun, shell=True, cwd=fresh, capture_output=True, text=True, env=VENV_FIRST, timeout=600
    )
    assert again.returncode == 0, again.stderr[-3000:]
    config["data"]["synthetic"] = {"n_samples": 240, "seed": 3}
    assert study_results(fresh, config) == study_results(first, config)
    assert reproduce_command(fresh / "results" / "report" / "report.html") == command
