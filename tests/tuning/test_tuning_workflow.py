"""Tuning through the real DAG (Snakemake's CLI on a tiny tuned study in temporary folders):
trials never touch the test split, the search survives a kill, a new seed trains only new
finals."""

from __future__ import annotations

import copy
import csv
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from nnstudy.config.validation import validate_config
from nnstudy.invoke import job_counts, run_snakemake, snakemake_command, tiny_study
from nnstudy.tuning.plan import study_tunings

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

# The test study's tuned search (2 optimizers x 3 learning rates x 2 values of sgd's
# momentum / adam's beta1, successive halving: 6 candidates for 2 epochs, the best 2 for 6;
# trial seed 1000; finals with seeds 0 and 1) beside its untuned experiment `plain`
# (.test/config.yaml).
STUDY = tiny_study("tuned", "plain")


def command(workdir: Path, *args: str) -> list[str]:
    return snakemake_command(*args, directory=workdir, cores=2)


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return run_snakemake(*args, directory=workdir, cores=2)


def setup(workdir: Path, data: Path | None = None, config: dict = STUDY) -> Path:
    workdir.mkdir(parents=True)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    if data is not None:
        (workdir / "data").symlink_to(data)
    return workdir


def tunings(config: dict = STUDY):
    config = copy.deepcopy(config)
    validate_config(config)
    return study_tunings(config)


def records(workdir: Path) -> dict[str, dict]:
    """Every rung record of the study's searches, by path."""
    paths = {t.rung_path(r) for t in tunings() for r in range(t.top + 1)}
    return {p: json.loads((workdir / p).read_text()) for p in sorted(paths)}


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    workdir = setup(tmp_path_factory.mktemp("tdata") / "w")
    done = snakemake(workdir, "data/processed/spirals/card.json")
    assert done.returncode == 0, done.stderr
    return workdir / "data"


@pytest.fixture(scope="module")
def study(tmp_path_factory, data):
    workdir = setup(tmp_path_factory.mktemp("tstudy") / "w", data)
    done = snakemake(workdir)
    assert done.returncode == 0, done.stderr[-3000:]
    return workdir


def test_trials_select_on_validation_and_finals_are_the_tuned_runs(study):
    trials = read_csv(study / "results/tables/trials.csv")
    # Equal budgets: each optimizer trains 6 candidates for 2 epochs, then 2 for 6.
    for opt in ("sgd", "adam"):
        mine = [r for r in trials if r["optimizer"] == opt]
        assert [(r["rung"], r["budget_epochs"]) for r in mine] == [("0", "2")] * 6 + [
            ("1", "6")
        ] * 2
        assert [r["selected"] for r in mine].count("True") == 1
        assert all(r["selected"] == "False" for r in mine if r["rung"] == "0")
        assert {r["seed"] for r in mine} == {"1000"}
    # adam's configured lr and betas are one of its candidates; sgd's momentum 0.0 is not its
    # config (which has none).
    defaults = {
        o: sum(r["is_default"] == "True" for r in trials if r["optimizer"] == o)
        for o in ("sgd", "adam")
    }
    assert defaults == {"sgd": 0, "adam": 1}
    # Trials are apart from the runs and never evaluated on test: no test metrics.
    runs = {r["run_id"]: r for r in read_csv(study / "results/tables/runs.csv")}
    for r in trials:
        folder = study / "results/trials/spirals" / r["run_id"]
        assert (folder / "train.json").exists()
        assert not (folder / "metrics.json").exists()
        # The searched hyper-parameter is in the trial's run config.
        config = json.loads((folder / "config.json").read_text())
        params = config["optimizer_params"]
        if r["optimizer"] == "sgd":
            assert params["momentum"] == float(r["momentum"])
        else:
            assert params["betas"][0] == float(r["beta1"])
    # The finals: the selected values with every seed, plus the untuned experiment's run.
    selected = {r["optimizer"]: r for r in trials if r["selected"] == "True"}
    finals = [r for r in runs.values() if json.loads(r["experiments"]) == ["tuned"]]
    assert sorted((r["optimizer"], r["seed"]) for r in finals) == [
        ("adam", "0"),
        ("adam", "1"),
        ("sgd", "0"),
        ("sgd", "1"),
    ]
    for r in finals:
        assert float(r["lr"]) == float(selected[r["optimizer"]]["lr"])
        assert r["epochs"] == "6"
        params = json.loads(r["optimizer_params"])
        if r["optimizer"] == "sgd":
            assert params["momentum"] == float(selected["sgd"]["momentum"])
        else:
            assert params["betas"][0] == float(selected["adam"]["beta1"])
        assert r["run_id"] not in {t["run_id"] for t in trials}  # other seeds than the trials'
    assert [r["optimizer"] for r in runs.values() if r["experiments"] == '["plain"]'] == ["rmsprop"]
    histories = read_csv(study / "results/tables/trial_histories.csv")
    assert len(histories) == 2 * (6 * 2 + 2 * 6)
    assert (study / "results/report/report.html").exists()


def test_rerun_is_cached_and_a_new_seed_trains_only_new_finals(study):
    again = snakemake(study, "--dry-run")
    assert again.returncode == 0, again.stderr
    assert "Nothing to be done" in again.stdout + again.stderr
    config = copy.deepcopy(STUDY)
    config["experiments"]["tuned"]["seeds"] = [0, 1, 2]
    path = study / "config.yaml"
    original = path.read_text()
    path.write_text(yaml.safe_dump(config))
    try:
        dry = snakemake(study, "--dry-run")
    finally:
        path.write_text(original)
    assert dry.returncode == 0, dry.stderr
    counts = job_counts(dry.stdout + dry.stderr)
    assert counts["train"] == 2  # seed 2 of sgd and of adam (trained and evaluated)
    assert "tune" not in counts and "trial" not in counts


def test_poisoned_test_split_leaves_the_choice_unchanged(tmp_path, study, data):
    """A copy of the data whose test labels are shuffled and test features are noise: the
    searches (every rung's record) are the same as the clean study's."""
    poisoned = tmp_path / "data"
    processed = poisoned / "processed" / "spirals"
    processed.mkdir(parents=True)
    for name in ("train.npz", "val.npz", "card.json"):
        (processed / name).symlink_to(data / "processed" / "spirals" / name)
    with np.load(data / "processed" / "spirals" / "test.npz", allow_pickle=False) as test:
        arrays = {k: test[k] for k in test.files}
    rng = np.random.default_rng(0)
    for key, value in arrays.items():
        if np.issubdtype(value.dtype, np.floating):
            arrays[key] = rng.normal(size=value.shape).astype(value.dtype) * 1e3
        else:
            arrays[key] = rng.permutation(value)
    np.savez(processed / "test.npz", **arrays)
    workdir = setup(tmp_path / "w", poisoned)
    targets = sorted(records(study))
    done = snakemake(workdir, *targets)
    assert done.returncode == 0, done.stderr[-3000:]
    assert records(workdir) == records(study)
    assert "train" not in job_counts(done.stdout + done.stderr)  # trials only, no test read


def test_kill_in_the_middle_of_the_search_resumes_to_the_same_choice(tmp_path, study, data):
    workdir = setup(tmp_path / "w", data)
    first_rung = [p for p in records(study) if p.endswith("rung0.json")]
    log = open(tmp_path / "killed.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        command(workdir), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 300
        # In the middle: a first rung decided, the search not finished.
        while not any((workdir / p).exists() for p in first_rung):
            assert proc.poll() is None, (tmp_path / "killed.log").read_text()[-3000:]
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        log.close()
    assert not (workdir / "results/tables/trials.csv").exists()
    rerun = snakemake(workdir)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert records(workdir) == records(study)
    timing = {"train_seconds"}
    strip = [
        {k: v for k, v in r.items() if k not in timing}
        for r in (read_csv(workdir / "results/tables/trials.csv"))
    ]
    assert strip == [
        {k: v for k, v in r.items() if k not in timing}
        for r in read_csv(study / "results/tables/trials.csv")
    ]


def test_deleted_trial_and_final_files_are_rebuilt_by_a_plain_rerun(tmp_path, study):
    """rule all reaches every file of a search (nnstudy.tuning.rules.kept_files), so Snakemake
    rebuilds a deleted trial or final file, with identical content, like any run's."""
    workdir = tmp_path / "w"
    shutil.copytree(study, workdir, symlinks=True)
    trials = read_csv(workdir / "results/tables/trials.csv")
    loser = next(r for r in trials if r["rung"] == "0" and r["selected"] == "False")
    final = next(r for r in read_csv(workdir / "results/tables/runs.csv") if r["seed"] == "1")
    lost = [
        workdir / "results/trials/spirals" / loser["run_id"] / "history.csv",
        workdir / "results/runs/spirals" / final["run_id"] / "metrics.json",
    ]
    before = {p: json.loads(p.read_text()) if p.suffix == ".json" else p.read_text() for p in lost}
    for path in lost:
        path.unlink()
    done = snakemake(workdir)  # no --forcerun, no --rerun-incomplete
    assert done.returncode == 0, done.stderr[-3000:]
    for path, content in before.items():
        now = json.loads(path.read_text()) if path.suffix == ".json" else path.read_text()
        if path.suffix == ".json":
            now.pop("eval_seconds"), content.pop("eval_seconds")
            now.pop("train_seconds"), content.pop("train_seconds")
        else:  # the epochs' seconds differ between two trainings
            now, content = (
                [row.split(",")[:6] + row.split(",")[7:] for row in text.splitlines()]
                for text in (now, content)
            )
        assert now == content, path
    assert records(workdir) == records(study)
