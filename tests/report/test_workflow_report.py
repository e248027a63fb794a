"""The report rules in the real workflow: a tiny study end to end, `snakemake --report`
(HTML and zip), and what reruns when an experiment is added."""

import os
import re
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from nnstudy.invoke import run_snakemake
from nnstudy.report.contents import tex_engine

REPO = Path(__file__).resolve().parents[2]
# Until the Snakefile includes report.smk (and puts report_targets() in `rule all`), the
# wrapper includes it; afterwards it only names the report's targets.
WRAPPER = f"""\
include: "{REPO}/Snakefile"


if "report" not in [r.name for r in workflow.rules]:

    include: "{REPO}/workflow/rules/report.smk"


rule report_all:
    input:
        report_targets(),
"""
EXPERIMENT = {
    "datasets": ["spirals"],
    "grid": {"optimizer": ["sgd", "adam"]},
    "fixed": {"hidden": [8], "epochs": 2, "snapshot_every": 1},
    "seeds": [0, 1],
}


def _config(path: Path, experiments: dict) -> Path:
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["experiments"] = experiments
    config["select"] = list(experiments)
    config["data"]["synthetic"]["n_samples"] = 300
    config["wandb"]["mode"] = "disabled"
    path.write_text(yaml.safe_dump(config))
    return path


def _snakemake(workdir: Path, configfile: Path, *args) -> str:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    res = run_snakemake(
        *args,
        "--configfile",
        str(configfile),
        snakefile="Snakefile",
        profile=None,
        cores=2,
        cwd=workdir,
        env=env,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout + res.stderr


@pytest.mark.slow
def test_report_rules_end_to_end(tmp_path):
    (tmp_path / "Snakefile").write_text(WRAPPER)
    config = _config(tmp_path / "tiny.yaml", {"tiny": EXPERIMENT})
    _snakemake(tmp_path, config, "report_all")
    out = tmp_path / "results" / "report"
    html = (out / "report.html").read_text()
    runs = (tmp_path / "results/tables/runs.csv").read_text().splitlines()
    assert len(runs) == 1 + 4
    for line in runs[1:]:
        assert line.split(",")[3] in html  # run id column
    assert (out / "report.tex").exists()
    assert (out / "report.pdf").exists() == (tex_engine() is not None)

    _snakemake(tmp_path, config, "report_all", "--report", "smk.html")
    _snakemake(tmp_path, config, "report_all", "--report", "smk.zip")
    assert (tmp_path / "smk.html").stat().st_size > 0
    names = zipfile.ZipFile(tmp_path / "smk.zip").namelist()
    assert any(n.endswith("/ranking.png") for n in names)
    assert any(n.endswith("/report.html") for n in names)

    # A run trained before predictions.npz existed (here: the file deleted) gets it from its
    # saved model, without being trained again (`rule all` lists every run's predictions).
    [predictions] = list((tmp_path / "results/runs/spirals").glob("*/predictions.npz"))[:1]
    with np.load(predictions, allow_pickle=False) as npz:
        before = dict(npz)
    predictions.unlink()
    plan = _snakemake(tmp_path, config, "all", "-n")
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", plan.split("Job stats:")[1], re.M))
    assert counts.get("predict") == "1" and "train" not in counts
    _snakemake(tmp_path, config, "all")
    with np.load(predictions, allow_pickle=False) as npz:
        assert {k: v.tolist() for k, v in npz.items()} == {k: v.tolist() for k, v in before.items()}

    # A new experiment: only its runs train and predict; the membership table (rule
    # experiments) is rewritten, then aggregate, every comparison's figures (the tables they
    # read changed; the old comparison's figures come out byte-identical, tests/report/
    # test_report.py) and the report rerun.
    extra = {**EXPERIMENT, "grid": {"optimizer": ["rmsprop"]}}
    config2 = _config(tmp_path / "tiny2.yaml", {"tiny": EXPERIMENT, "extra": extra})
    plan = _snakemake(tmp_path, config2, "report_all", "-n")
    stats = dict(re.findall(r"^(\w+)\s+(\d+)$", plan.split("Job stats:")[1], re.M))
    expected = {"train": "2", "predict": "2", "aggregate": "1", "figures": "2", "report": "1"}
    # The run table gains the new experiment's rows (rule experiments, its table a parameter).
    expected["experiments"] = "1"
    expected["report_all"] = "1"
    if tex_engine():
        expected["report_pdf"] = "1"
    expected["total"] = str(sum(map(int, expected.values())))
    assert stats == expected


def test_snakemake_report_before_the_study_says_to_run_it_first(tmp_path):
    _config(tmp_path / "config.yaml", {"tiny": EXPERIMENT})
    res = run_snakemake("--report", "report.html", cwd=tmp_path)
    assert res.returncode != 0
    lines = [line for line in res.stderr.splitlines() if "profile" not in line]
    assert lines == [
        "No study results yet (results/report/report.html is missing): run the study first "
        "(make run, or snakemake), then snakemake --report report.html"
    ]
    assert not (tmp_path / "report.html").exists() and not (tmp_path / "results").exists()
