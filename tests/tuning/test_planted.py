"""A planted objective through the search's steps (nnstudy.tuning.plan without Snakemake):
every method finds a known optimum inside the space, the edge flag fires when it lies
outside, ``extend`` widens the space to contain it, every optimizer gets the same budget, and
a rerun or a resumed search asks for the same trials.

A fake trial's validation accuracy is a function of its run config (the planted objective:
a peak at a known lr per optimizer, on a log scale), written as the ``trial`` job would
leave its folder; the steps are run in order as the DAG runs them: each step's trials, then
its record (``plan.step_record``), until the walk finds no step left."""

from __future__ import annotations

import copy
import json
import math
import shutil
import zlib
from pathlib import Path

import pytest
from nnstudy.config.validation import validate_config
from nnstudy.tuning.plan import (
    TunedRuns,
    finals_membership,
    on_disk,
    search_records,
    selection,
    step_record,
    study_tunings,
    trials_table,
    walk,
)
from test_tuning import fake_trial

OPTIMUM = {"sgd": 0.3, "adam": 0.003}  # the planted lr of each optimizer
LR_RANGE = {"low": 1.0e-4, "high": 1.0, "log": True}
STUDY = {
    "defaults": {"hidden": [8], "epochs": 8, "batch_size": 64},
    "experiments": {
        "t": {
            "datasets": ["spirals"],
            "grid": {"optimizer": ["sgd", "adam"]},
            "tune": {"halving": {"eta": 2, "min_epochs": 2}},
            "seeds": [0, 1],
        }
    },
    "select": ["t"],
}
SEARCHES = {
    "grid": {"space": {"lr": {**LR_RANGE, "points": 9}}},
    "random": {"space": {"lr": LR_RANGE}, "method": "random", "n_trials": 16},
    "sobol": {"space": {"lr": LR_RANGE}, "method": "sobol", "n_trials": 16},
    "tpe": {"space": {"lr": LR_RANGE}, "method": "tpe", "n_trials": 16, "batch": 4},
}
# How close (log10 decades) each method gets with its 16 (grid: 9) trials: the grid's points
# are half a decade apart; random and Sobol are held to the same; TPE to less.
TOLERANCE = {"grid": 0.26, "random": 0.26, "sobol": 0.26, "tpe": 0.2}


def planted(run: dict, optimum: dict = OPTIMUM) -> float:
    """Validation accuracy of a trial: 0.9 at its optimizer's planted lr, falling with the
    squared log10 distance, with a little noise fixed by the run id."""
    x = math.log10(run["lr"] / optimum[run["optimizer"]])
    noise = (zlib.crc32(run["run_id"].encode()) % 1000) / 1e6
    return max(0.05, 0.9 - 0.1 * x * x) + noise


def tunings(**tune):
    config = copy.deepcopy(STUDY)
    config["experiments"]["t"]["tune"].update(copy.deepcopy(tune))
    validate_config(config)
    return study_tunings(config)


def drive(tuning, root: Path, score=planted) -> list[str]:
    """Run a search to its end as the DAG would, in the current folder (the records) and
    ``root`` (the trials); returns the steps' names in order."""
    done = []
    while True:
        step, record = list(walk(tuning, on_disk))[-1]
        if record is not None:
            return done
        for run in step.trials():
            if not (root / run["dataset"] / run["run_id"]).exists():
                fake_trial(root, run, score(run))
        out = Path(step.path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(step_record(step, root)))
        done.append(f"{step.tuning.stage}/{step.name}")


def selected(tuning) -> tuple[dict, dict]:
    """The final stage's selected candidate and its top-rung record."""
    step, record = selection(tuning, on_disk)
    return step.tuning.candidates[record["keep"][0]], record


def budgets(rows: list[dict]) -> dict[tuple[str, int], tuple[int, int]]:
    """(optimizer, stage) -> (trial runs, epochs) from trials.csv's rows (a run that two
    stages share counts in both: the plan's budget, not the compute)."""
    out: dict[tuple[str, int], tuple[int, int]] = {}
    for r in {(r["stage"], r["run_id"]): r for r in rows}.values():
        n, epochs = out.get((r["optimizer"], r["stage"]), (0, 0))
        out[r["optimizer"], r["stage"]] = (n + 1, epochs + r["budget_epochs"])
    return out


@pytest.mark.parametrize("method", SEARCHES)
def test_each_method_finds_the_planted_optimum_with_equal_budgets(method, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    searches = tunings(**SEARCHES[method])
    steps = {t.optimizer: drive(t, tmp_path / "trials") for t in searches}
    n = 9 if method == "grid" else 16
    rungs = [f"0/rung{r}" for r in range(3)]  # 8 epochs, eta 2: rungs of 2, 4 and 8 epochs
    rounds = [f"0/round{k}" for k in range(4)] if method == "tpe" else []
    assert steps == {"sgd": rounds + rungs, "adam": rounds + rungs}
    for t in searches:
        assert t.rungs == ((2, n), (4, n // 2), (8, n // 4))
        pick, record = selected(t)
        assert abs(math.log10(pick["lr"] / OPTIMUM[t.optimizer])) <= TOLERANCE[method]
        assert record["edges"] == {} and record["epochs"] == 8
    rows = trials_table(searches, search_records(searches), tmp_path / "trials")
    per = budgets(rows)
    assert (
        per[("sgd", 0)]
        == per[("adam", 0)]
        == (n + n // 2 + n // 4, 2 * n + 4 * (n // 2) + 8 * (n // 4))
    )
    assert len(per) == 2
    assert {r["method"] for r in rows} == {method}
    assert sum(r["selected"] for r in rows) == 2
    # The finals: the selected lr with every seed, known to the run lookup from the records.
    members = finals_membership(searches, search_records(searches))
    tuned = TunedRuns(searches)
    assert [(m["seed"], tuned.get(m["run_id"])["lr"]) for m in members] == [
        (s, selected(t)[0]["lr"]) for t in searches for s in (0, 1)
    ]


def test_tpe_proposes_each_round_from_the_rounds_before(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    t = tunings(**SEARCHES["tpe"])[0]
    assert len(t.candidates) == 4  # the plan knows the first round only
    drive(t, tmp_path / "trials")
    steps = [s for s, _ in walk(t, on_disk)]
    rounds = [s for s in steps if s.kind == "round"]
    assert [len(s.tuning.candidates) for s in rounds] == [4, 8, 12, 16]
    assert [s.candidates() for s in rounds] == [list(range(4 * k, 4 * k + 4)) for k in range(4)]
    # Each round's record holds the history so far; the rung-0 record scores the same pool.
    history = on_disk(rounds[-1])["candidates"]
    assert [e["round"] for e in history] == [k for k in range(4) for _ in range(4)]
    rung0 = on_disk(steps[len(rounds)])
    assert [e["values"] for e in rung0["candidates"]] == [e["values"] for e in history]
    assert [e["score"] for e in rung0["candidates"]] == [e["score"] for e in history]
    # The later rounds depend on the scores: another objective, other proposals.
    shutil.rmtree("results")
    other = {"sgd": 1.0e-4, "adam": 1.0e-4}
    drive(t, tmp_path / "other", lambda run: planted(run, other))
    again = [s for s, _ in walk(t, on_disk) if s.kind == "round"]
    assert again[0].tuning.candidates == rounds[0].tuning.candidates
    assert again[-1].tuning.candidates != rounds[-1].tuning.candidates


def test_a_rerun_and_a_resumed_search_ask_for_the_same_trials(tmp_path, monkeypatch):
    first, second = tmp_path / "first", tmp_path / "second"
    for folder in (first, second):
        folder.mkdir()
        monkeypatch.chdir(folder)
        for t in tunings(**SEARCHES["tpe"]):
            drive(t, folder / "trials")
    records = {p: json.loads((first / p).read_text()) for p in search_records_in(first)}
    assert records == {p: json.loads((second / p).read_text()) for p in search_records_in(second)}
    # Killed after round 2: its record and round 3's trials are lost. The walk stops at the
    # lost round, which asks for the same trials, and the search ends as before.
    t = tunings(**SEARCHES["tpe"])[0]
    steps = [s for s, _ in walk(t, on_disk)]
    lost = steps[3]
    assert lost.name == "round3"
    for later in steps[3:]:
        Path(later.path).unlink()
    for run in lost.trials():
        shutil.rmtree(second / "trials" / run["dataset"] / run["run_id"])
    step, record = list(walk(t, on_disk))[-1]
    assert (step.name, record) == ("round3", None)
    assert [r["run_id"] for r in step.trials()] == [r["run_id"] for r in lost.trials()]
    assert drive(t, second / "trials") == ["0/round3", "0/rung0", "0/rung1", "0/rung2"]
    assert {p: json.loads((second / p).read_text()) for p in search_records_in(second)} == records


def search_records_in(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.glob("results/tuning/**/*.json"))


OUTSIDE = {"sgd": 30.0, "adam": 0.003}  # sgd's optimum above the space's top (1.0)
# A grid keeps its 9 points over the wider range; a range doubles its log width.
WIDENED = {
    "grid": "lr: at the high edge of [0.0001, 0.0003162, 0.001, 0.003162, 0.01, 0.03162, 0.1, "
    "0.3162, 1]; widened to [0.0001, 0.001, 0.01, 0.1, 1, 10, 100, 1000, 1e+04] (1 of 2)",
    "tpe": "lr: at the high edge of [0.0001, 1] (log); widened to [0.0001, 1e+04] (log) (1 of 2)",
}


@pytest.mark.parametrize("method", ["grid", "tpe"])
def test_an_optimum_outside_is_flagged_and_extend_widens_the_space_to_it(
    method, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    score = lambda run: planted(run, OUTSIDE)  # noqa: E731
    # Without extend: sgd's pick is on the top edge, and flagged.
    plain = tunings(**SEARCHES[method])
    for t in plain:
        drive(t, tmp_path / "trials", score)
    picks = {t.optimizer: selected(t) for t in plain}
    assert picks["sgd"][1]["edges"] == {"lr": "high"} and picks["adam"][1]["edges"] == {}
    assert "next" not in picks["sgd"][1]  # no extend: the record is as before
    # extend 2: a second stage searches lr over [1e-4, 1e4] (one log width more on the top),
    # with the same trials and rungs, and its pick is inside, near the optimum.
    wide = tunings(**SEARCHES[method], extend=2)
    # The first stage runs the same trials (cached), under another key: its records say what
    # widening did.
    assert [t.trial_runs for t in wide] == [t.trial_runs for t in plain]
    assert not {t.key for t in wide} & {t.key for t in plain}
    for t in wide:
        drive(t, tmp_path / "trials", score)
    sgd = next(t for t in wide if t.optimizer == "sgd")
    stage0 = on_disk(next(s for s, _ in walk(sgd, on_disk) if s.name == f"rung{sgd.top}"))
    assert stage0["edges"] == {"lr": "high"} and stage0["stage"] == 0
    assert stage0["widened"] == [WIDENED[method]]
    last_stage = selection(sgd, on_disk)[0].tuning
    assert last_stage.stage == 1
    assert last_stage.search.n_trials == sgd.search.n_trials and last_stage.rungs == sgd.rungs
    lrs = [c["lr"] for c in last_stage.candidates]
    assert min(lrs) >= 1.0e-4 and max(lrs) <= 1.0e4 and max(lrs) > 30.0
    pick, record = selected(sgd)
    assert record["edges"] == {} and record["next"] is None and record["stage"] == 1
    assert abs(math.log10(pick["lr"] / OUTSIDE["sgd"])) <= 0.5
    rows = trials_table(wide, search_records(wide), tmp_path / "trials")
    assert {(r["optimizer"], r["stage"]) for r in rows} == {("sgd", 0), ("sgd", 1), ("adam", 0)}
    assert {r["stage"] for r in rows if r["selected"]} == {0, 1}  # adam's stage 0, sgd's 1
    per = budgets(rows)
    assert per[("sgd", 0)] == per[("sgd", 1)] == per[("adam", 0)]  # the same per stage
    # A trial of the wider grid that the first stage ran is the same run, trained once.
    shared = {r["run_id"] for r in rows if r["stage"] == 0} & {
        r["run_id"] for r in rows if r["stage"] == 1
    }
    assert bool(shared) == (method == "grid")
    # A job process finds the second stage's steps and its finals from the records on disk.
    tuned = TunedRuns(wide)
    step = tuned.locate(last_stage.key, "round0" if method == "tpe" else "rung0", on_disk)
    assert step.tuning.stage == 1 and step.after == stage0_path(sgd)
    final = last_stage.finals(record)[0]
    assert tuned.get(final["run_id"]) == final and final["lr"] == pick["lr"]


def stage0_path(tuning) -> str:
    return tuning.rung_path(tuning.top)


@pytest.mark.parametrize("method", ["grid", "tpe"])
def test_the_cost_estimate_counts_the_epochs_the_searches_train(method, tmp_path, monkeypatch):
    from nnstudy.tuning.cost import experiment_epochs

    monkeypatch.chdir(tmp_path)
    config = copy.deepcopy(STUDY)
    config["experiments"]["t"]["tune"].update(copy.deepcopy(SEARCHES[method]))
    validate_config(config)
    searches = study_tunings(config)
    for t in searches:
        drive(t, tmp_path / "trials")
    rows = trials_table(searches, search_records(searches), tmp_path / "trials")
    ran = {r["run_id"]: r["budget_epochs"] for r in rows}
    finals = [
        run
        for t in searches
        for run in selection(t, on_disk)[0].tuning.finals(selection(t, on_disk)[1])
    ]
    assert experiment_epochs(config, "t") == {
        "spirals": {
            "variants": 2,
            "finals": len(finals),
            "final_epochs": sum(r["epochs"] for r in finals),
            "trials": len(ran),
            "trial_epochs": sum(ran.values()),
        }
    }
    assert experiment_epochs(config, "t", stages=2)["spirals"]["trial_epochs"] == 2 * sum(
        ran.values()
    )
    # Untuned: the experiment's runs, once each.
    del config["experiments"]["t"]["tune"]
    assert experiment_epochs(config, "t") == {
        "spirals": {"variants": 2, "finals": 4, "final_epochs": 32, "trials": 0, "trial_epochs": 0}
    }
