"""nnstudy.tuning.plan without Snakemake: the plan (equal budgets), scoring, selection, tables."""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

import pandas as pd
import pytest
from nnstudy.config.runs import study_rows
from nnstudy.config.validation import ConfigError, validate_config
from nnstudy.tuning.plan import (
    TunedRuns,
    finals_membership,
    rung_plan,
    rung_record,
    study_tunings,
    trials_table,
)

STUDY = {
    "defaults": {"hidden": [8], "epochs": 9, "batch_size": 64},
    "experiments": {
        "t": {
            "datasets": ["spirals", "digits"],
            "grid": {"optimizer": ["sgd", "adam"], "activation": ["relu", "tanh"]},
            "tune": {
                "space": {"lr": {"factors": [0.1, 1.0, 10.0]}},
                "halving": {"eta": 3, "min_epochs": 3},
            },
            "seeds": [0, 1, 2],
        }
    },
    "select": ["t"],
}


def plan(config=STUDY, **tune):
    config = copy.deepcopy(config)
    config["experiments"]["t"]["tune"].update(tune)
    validate_config(config)
    return study_tunings(config)


def test_rung_plan_halves_candidates_and_multiplies_epochs():
    assert rung_plan(9, 5, None) == ((9, 5),)
    assert rung_plan(9, 5, {"eta": 3, "min_epochs": 3}) == ((3, 5), (9, 1))
    assert rung_plan(20, 9, {"eta": 3, "min_epochs": 2}) == ((2, 9), (6, 3), (20, 1))
    assert rung_plan(40, 8, {"eta": 2, "min_epochs": 10}) == ((10, 8), (20, 4), (40, 2))
    assert rung_plan(5, 5, {"eta": 3, "min_epochs": 6}) == ((5, 5),)  # too few epochs to halve


def test_every_optimizer_gets_the_same_budget_around_its_own_lr():
    tunings = plan()
    assert len(tunings) == 2 * 2 * 2  # datasets x optimizers x activations
    for t in tunings:
        assert t.rungs == ((3, 3), (9, 1))
        assert t.tuned == ("lr",)
        default = {"sgd": 0.1, "adam": 0.001}[t.trial_runs[0][0][0]["optimizer"]]
        assert [c["lr"] for c in t.candidates] == pytest.approx(
            [default * 0.1, default, default * 10]
        )
        assert t.untuned == {"lr": default}
        for rung, (epochs, _) in enumerate(t.rungs):
            assert {r["epochs"] for c in t.trial_runs[rung] for r in c} == {epochs}
        assert [r["seed"] for r in t.final_runs[0]] == [0, 1, 2]
    # A variant is a point without seed and tuned lr: all distinct, searches not shared.
    assert len({t.variant for t in tunings}) == len({t.key for t in tunings}) == 8


def test_tuned_experiment_has_no_rows_before_its_search():
    config = copy.deepcopy(STUDY)
    validate_config(config)
    assert study_rows(config) == []
    del config["experiments"]["t"]["tune"]
    assert len(study_rows(config)) == 8 * 3


def test_search_key_ignores_the_finals_seeds_and_the_experiment_name():
    config = copy.deepcopy(STUDY)
    config["experiments"]["u"] = copy.deepcopy(config["experiments"]["t"])
    config["experiments"]["u"]["seeds"] = [0, 1, 2, 3]
    config["select"] = ["t", "u"]
    validate_config(config)
    tunings = study_tunings(config)
    by_exp = {e: [t for t in tunings if t.experiment == e] for e in ("t", "u")}
    assert [t.key for t in by_exp["t"]] == [t.key for t in by_exp["u"]]
    assert [len(t.final_runs[0]) for t in by_exp["u"]] == [4] * 8
    # ...but a different trial seed is a different search.
    other = plan(seeds=[1])
    assert not {t.key for t in other} & {t.key for t in by_exp["t"]}


def test_drawn_candidates_are_seeded_and_shared_by_every_variant():
    space = {"lr": {"low": 1.0e-4, "high": 1.0, "log": True}, "dropout": {"values": [0.0, 0.5]}}
    first = plan(space=space, samples=3, seed=7)
    again = plan(space=space, samples=3, seed=7)
    other = plan(space=space, samples=3, seed=8)
    assert first[0].candidates == again[0].candidates != other[0].candidates
    assert len(first[0].candidates) == 6  # 2 dropout values x 3 draws
    assert all(t.candidates == first[0].candidates for t in first)
    assert all(1.0e-4 <= c["lr"] <= 1.0 for c in first[0].candidates)
    grid = plan(space={"lr": {"low": 1.0e-3, "high": 1.0e-1, "log": True, "points": 3}})
    assert [c["lr"] for c in grid[0].candidates] == [1.0e-3, 1.0e-2, 1.0e-1]


@pytest.mark.parametrize(
    ("tune", "message"),
    [
        ({"space": {"dropout": {"factors": [1.0]}}}, "factors are for lr only"),
        ({"space": {"lr": {"values": [0.1], "low": 0.1, "high": 1.0}}}, "exactly one of"),
        ({"space": {"lr": {"low": 0.1, "high": 1.0}}}, "samples: needed"),
        ({"space": {"lr": {"values": [0.1]}}, "samples": 3}, "samples: nothing to draw"),
        ({"space": {"lr": {"values": [0.1, -1.0]}}}, "-1.0 is not > 0"),
        ({"space": {"activation": {"values": [1.0]}}}, "unknown key 'activation'"),
        ({"space": {"lr": {"values": [0.1]}}, "metric": "test_accuracy"}, "valid choices"),
    ],
)
def test_bad_tune_blocks_are_one_line_errors(tune, message):
    config = copy.deepcopy(STUDY)
    config["experiments"]["t"]["tune"] = tune
    with pytest.raises(ConfigError, match=message) as error:
        validate_config(config)
    assert "\n" not in str(error.value)


def test_a_tuned_setting_cannot_be_fixed_too():
    config = copy.deepcopy(STUDY)
    config["experiments"]["t"]["fixed"] = {"lr": 0.01}
    with pytest.raises(ConfigError, match="'lr' is also in grid, fixed"):
        validate_config(config)


def fake_trial(root: Path, run: dict, val_accuracy: float, status="ok", test_accuracy=None):
    """A trial's folder as `trial` leaves it (history.csv, train.json); optionally the
    metrics.json a `train` job (which evaluates) would add."""
    folder = root / run["dataset"] / run["run_id"]
    folder.mkdir(parents=True)
    rows = [
        {"epoch": e, "val_accuracy": val_accuracy * e / run["epochs"], "val_loss": 1.0 - 0.1 * e}
        for e in range(1, run["epochs"] + 1)
    ]
    with open(folder / "history.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    info = {"status": status, "epochs_run": run["epochs"], "train_seconds": 0.5}
    (folder / "train.json").write_text(json.dumps(info))
    if test_accuracy is not None:
        (folder / "metrics.json").write_text(json.dumps({"test_accuracy": test_accuracy}))


def search(tmp_path, accuracies, test=None, status=None):
    """Run the search of the first variant on fake trials: the accuracy of candidate c at
    rung r is accuracies[r][c]; returns the records by path."""
    t = plan()[0]
    tuned = TunedRuns([t])
    records, previous = {}, None
    for rung in range(t.top + 1):
        for c in t.rung_candidates(rung, previous):
            for run in t.trial_runs[rung][c]:
                fake_trial(
                    tmp_path,
                    run,
                    accuracies[rung][c],
                    status=(status or {}).get(c, "ok"),
                    test_accuracy=None if test is None else test[rung][c],
                )
        previous = rung_record(t, rung, previous, tmp_path)
        records[t.rung_path(rung)] = previous
        tuned.add(t, rung, previous)
    return t, tuned, records


def test_selection_follows_validation_and_never_reads_test_metrics(tmp_path):
    accuracies = [[0.5, 0.9, 0.7], [0.0, 0.95, 0.0]]
    t, tuned, records = search(tmp_path / "clean", accuracies)
    # The same trials with test metrics that favour another candidate: same choice.
    poison = [[1.0, 0.0, 1.0], [1.0, 0.0, 1.0]]
    _, _, poisoned = search(tmp_path / "poisoned", accuracies, test=poison)
    assert poisoned == records
    top = records[t.rung_path(1)]
    assert records[t.rung_path(0)]["keep"] == [1] == top["keep"]
    assert [e["candidate"] for e in top["candidates"]] == [1]
    finals = t.finals(top)
    assert [r["lr"] for r in finals] == [t.candidates[1]["lr"]] * 3
    assert [r["epochs"] for r in finals] == [9] * 3
    # The finals are known to the run lookup once the top rung is decided.
    assert all(tuned.get(r["run_id"]) == r for r in finals)
    # ...and validation decides: other validation accuracies, another choice.
    _, _, flipped = search(tmp_path / "flipped", [[0.9, 0.5, 0.7], [0.95, 0.0, 0.0]])
    assert flipped[t.rung_path(1)]["keep"] == [0]


def test_val_loss_selects_the_lowest_loss(tmp_path):
    t = plan(metric="val_loss")[0]
    for c, run in enumerate(r for cand in t.trial_runs[0] for r in cand):
        fake_trial(tmp_path, run, 0.5)
        history = tmp_path / run["dataset"] / run["run_id"] / "history.csv"
        rows = history.read_text().splitlines()
        last = rows[-1].split(",")
        last[2] = str([0.3, 0.1, 0.2][c])
        history.write_text("\n".join([*rows[:-1], ",".join(last)]) + "\n")
    assert rung_record(t, 0, None, tmp_path)["keep"] == [1]


def test_diverged_trials_score_worst_and_ties_keep_the_first(tmp_path):
    t, _, records = search(tmp_path, [[0.9, 0.9, 0.9], [0.9, 0.9, 0.9]], status={0: "diverged"})
    rung0 = records[t.rung_path(0)]
    assert [e["score"] for e in rung0["candidates"]] == [None, 0.9, 0.9]
    assert rung0["keep"] == [1]


def test_trials_table_and_membership(tmp_path):
    t, _, records = search(tmp_path, [[0.5, 0.9, 0.7], [0.0, 0.95, 0.0]])
    rows = trials_table([t], records, tmp_path)
    assert [(r["rung"], r["candidate"], r["budget_epochs"]) for r in rows] == [
        (0, 0, 3),
        (0, 1, 3),
        (0, 2, 3),
        (1, 1, 9),
    ]
    assert [r["selected"] for r in rows] == [False, False, False, True]
    assert [r["is_default"] for r in rows] == [False, True, False, True]
    assert rows[1]["val_accuracy"] == pytest.approx(0.9)
    assert rows[3]["best_val_accuracy"] == pytest.approx(0.95)
    assert {r["tuned"] for r in rows} == {"lr"}
    assert sum(r["epochs_run"] for r in rows) == 3 * 3 + 9
    members = finals_membership([t], records)
    assert [(m["experiment"], m["seed"]) for m in members] == [("t", 0), ("t", 1), ("t", 2)]
    # The top-rung trial with seed 0 is the final with seed 0 (trained once).
    assert members[0]["run_id"] == rows[3]["run_id"]


def test_aggregate_writes_the_trial_tables(tmp_path):
    from nnstudy.analysis.aggregate import collect_trials

    t, _, records = search(tmp_path, [[0.5, 0.9, 0.7], [0.0, 0.95, 0.0]])
    trials, histories = collect_trials([t], records, tmp_path)
    assert list(trials.columns[:7]) == [
        "experiment",
        "dataset",
        "variant",
        "optimizer",
        "activation",
        "initializer",
        "lr",
    ]
    assert trials["selected"].tolist() == [False, False, False, True]
    # One row per trial run and epoch; the tuned lr beside the epoch's scheduled lr.
    assert len(histories) == 3 * 3 + 9
    assert histories.groupby("run_id")["tuned_lr"].first().to_dict() == {
        r: lr for r, lr in zip(trials["run_id"], trials["lr"], strict=True)
    }
    assert histories.groupby("run_id")["budget_epochs"].max().sum() == 3 * 3 + 9
    empty_trials, empty_histories = collect_trials([], {}, tmp_path)
    assert empty_trials.empty and "selected" in empty_trials.columns
    assert empty_histories.empty


def test_trial_tables_keep_hash_ids_as_text(tmp_path):
    from nnstudy.analysis.aggregate import collect_trials, read_tables, write_tables
    from nnstudy.report.contents import TABLES

    t, _, records = search(tmp_path / "runs", [[0.5, 0.9, 0.7], [0.0, 0.95, 0.0]])
    trials, histories = collect_trials([t], records, tmp_path / "runs")
    trials["variant"] = histories["variant"] = "0123456789"
    paths = {name: tmp_path / f"{name}.csv" for name in TABLES}
    frame = pd.DataFrame({"run_id": ["a"], "indistinguishable": [True]})
    write_tables(
        {**dict.fromkeys(TABLES, frame), "trials": trials, "trial_histories": histories}, paths
    )
    back = read_tables(paths)
    assert (
        set(back["trials"]["variant"]) == set(back["trial_histories"]["variant"]) == {"0123456789"}
    )
    assert back["trials"]["run_id"].tolist() == trials["run_id"].tolist()


def test_a_factor_that_overflows_the_lr_is_a_config_error():
    config = copy.deepcopy(STUDY)
    config["experiments"]["t"]["optimizers"] = {"sgd": {"lr": 10.0}}
    config["experiments"]["t"]["tune"]["space"] = {"lr": {"factors": [1.0e308]}}
    validate_config(config)
    with pytest.raises(ConfigError, match="tune.space: inf is not a finite number"):
        study_tunings(config)


def test_histories_carry_each_runs_columns_once(tmp_path):
    # One run's settings joined to every epoch row of its history.csv; a setting that is also
    # a history column (lr, when an experiment's grid varies it) is one column, the run's.
    import pandas as pd
    from nnstudy.analysis.aggregate import _histories

    runs = pd.DataFrame(
        {"dataset": ["d", "d"], "run_id": ["a" * 10, "b" * 10], "seed": [0, 1], "lr": [0.1, 0.5]}
    )
    for rid, epochs in (("a" * 10, 2), ("b" * 10, 3)):
        folder = tmp_path / "d" / rid
        folder.mkdir(parents=True)
        rows = "".join(f"{e},{1.0 / e},0.01\n" for e in range(1, epochs + 1))
        (folder / "history.csv").write_text("epoch,train_loss,lr\n" + rows)
    out = _histories(runs, tmp_path, ["dataset", "run_id", "seed", "lr"])
    assert list(out.columns) == ["dataset", "run_id", "seed", "lr", "epoch", "train_loss"]
    assert out["run_id"].tolist() == ["a" * 10] * 2 + ["b" * 10] * 3
    assert out["lr"].tolist() == [0.1] * 2 + [0.5] * 3
    assert out["epoch"].tolist() == [1, 2, 1, 2, 3]
