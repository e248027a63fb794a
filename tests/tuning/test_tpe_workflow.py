"""TPE rounds and ``extend`` stages through the real DAG (Snakemake's CLI on a tiny study):
one checkpoint per round fed by the rounds before, equal budgets, a rerun that has nothing
to do, a search whose last round was lost that asks for the same trials again, and a widened
space that the tables and the report name."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
from nnstudy.invoke import job_counts, tiny_study
from nnstudy.tuning.plan import walk
from test_tuning_workflow import read_csv, setup, snakemake, tunings

pytestmark = pytest.mark.slow

# `tuned` of .test/config.yaml searched by TPE: lr on a log range beside each optimizer's own
# hyper-parameter, 4 candidates in 2 rounds of 2 at 3 epochs, the best 2 for all 6. `wide`:
# sgd's lr on a grid far below its useful range with extend 1, so its pick is the grid's top,
# the grid is widened once and searched again.
STUDY = tiny_study("tuned")
STUDY["experiments"]["tuned"]["tune"].update(
    method="tpe",
    n_trials=4,
    batch=2,
    space={"lr": {"low": 1.0e-3, "high": 1.0, "log": True}},
    halving={"eta": 2, "min_epochs": 3},
)
STUDY["experiments"]["wide"] = {
    **copy.deepcopy(STUDY["experiments"]["tuned"]),
    "grid": {"optimizer": ["sgd"]},
    "tune": {"space": {"lr": {"values": [1.0e-5, 3.162e-5, 1.0e-4]}}, "extend": 1},
    "seeds": [0],
}
STUDY["select"] = ["tuned", "wide"]


def records(workdir: Path) -> dict[str, dict]:
    """Every step record of the study's searches, by path (read in ``workdir``)."""
    return {
        str(p.relative_to(workdir)): json.loads(p.read_text())
        for p in sorted(workdir.glob("results/tuning/**/*.json"))
    }


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    data = setup(tmp_path_factory.mktemp("tpedata") / "w", config=STUDY)
    done = snakemake(data, "data/processed/spirals/card.json")
    assert done.returncode == 0, done.stderr
    workdir = setup(tmp_path_factory.mktemp("tpestudy") / "w", data / "data", STUDY)
    done = snakemake(workdir)
    assert done.returncode == 0, done.stderr[-3000:]
    return workdir


def test_tpe_rounds_are_checkpoints_with_equal_budgets(study):
    found = records(study)
    tpe = [t for t in tunings(STUDY) if t.experiment == "tuned"]
    for t in tpe:
        rounds = [found[t.path(f"round{k}")] for k in range(2)]
        # Round 1 holds round 0's candidates and scores, then its own two.
        assert [e["round"] for e in rounds[1]["candidates"]] == [0, 0, 1, 1]
        assert rounds[1]["candidates"][:2] == rounds[0]["candidates"]
        assert [e["candidate"] for e in found[t.rung_path(0)]["candidates"]] == [0, 1, 2, 3]
    trials = [
        r for r in read_csv(study / "results/tables/trials.csv") if r["experiment"] == "tuned"
    ]
    for opt in ("sgd", "adam"):
        mine = [r for r in trials if r["optimizer"] == opt]
        assert [(r["rung"], r["budget_epochs"]) for r in mine] == [("0", "3")] * 4 + [
            ("1", "6")
        ] * 2
        assert {r["method"] for r in mine} == {"tpe"}
        assert sum(r["selected"] == "True" for r in mine) == 1
        assert 1.0e-3 <= min(float(r["lr"]) for r in mine) <= max(float(r["lr"]) for r in mine) <= 1
    runs = read_csv(study / "results/tables/runs.csv")
    finals = [r for r in runs if json.loads(r["experiments"]) == ["tuned"]]
    assert sorted((r["optimizer"], r["seed"]) for r in finals) == [
        ("adam", "0"),
        ("adam", "1"),
        ("sgd", "0"),
        ("sgd", "1"),
    ]
    html = (study / "results/report/report.html").read_text()
    assert "TPE (Bergstra et al. 2011" in html


def test_a_widened_space_is_searched_again_and_reported(study):
    trials = [r for r in read_csv(study / "results/tables/trials.csv") if r["experiment"] == "wide"]
    # The grid keeps its 3 points over one more log width at the top.
    assert sorted({(int(r["stage"]), float(r["lr"])) for r in trials}) == [
        (0, 1.0e-5),
        (0, 3.162e-5),
        (0, 1.0e-4),
        (1, 1.0e-5),
        (1, 1.0e-4),
        (1, 1.0e-3),
    ]
    chosen = [r for r in trials if r["selected"] == "True"]
    assert [(r["stage"], float(r["lr"])) for r in chosen] == [("1", 1.0e-3)]
    (wide,) = [t for t in tunings(STUDY) if t.experiment == "wide"]
    top = json.loads((study / wide.rung_path(0)).read_text())
    assert top["edges"] == {"lr": "high"} and top["next"] is not None
    assert top["widened"] == [
        "lr: at the high edge of [1e-05, 3.162e-05, 0.0001]; widened to [1e-05, 0.0001, 0.001] "
        "(1 of 1)"
    ]
    # Still on the top edge: extend 1 is used up, and the report says both.
    assert chosen[0]["edge"] == "lr:high"
    html = (study / "results/report/report.html").read_text()
    assert "lr of sgd / relu / he at the top edge after 1 widening" in html
    assert "was widened 1 time (tune.extend" in html


def test_rerun_has_nothing_to_do(study):
    again = snakemake(study, "--dry-run")
    assert again.returncode == 0, again.stderr
    assert "Nothing to be done" in again.stdout + again.stderr


def test_a_lost_last_round_asks_for_the_same_trials(tmp_path, study):
    workdir = tmp_path / "w"
    shutil.copytree(study, workdir, symlinks=True)
    before = records(study)
    t = next(t for t in tunings(STUDY) if t.experiment == "tuned" and t.optimizer == "adam")
    lost = next(s for s, _ in walk(t, lambda s: before.get(s.path)) if s.name == "round1")
    lost_ids = [r["run_id"] for r in lost.trials()]
    (workdir / lost.path).unlink()
    for rid in lost_ids:
        shutil.rmtree(workdir / "results/trials/spirals" / rid)
    done = snakemake(workdir)
    assert done.returncode == 0, done.stderr[-3000:]
    counts = job_counts(done.stdout + done.stderr)
    assert counts["trial"] == 2 and "train" not in counts  # the same finals: not retrained
    assert all(
        (workdir / "results/trials/spirals" / rid / "train.json").exists() for rid in lost_ids
    )
    assert records(workdir) == before
