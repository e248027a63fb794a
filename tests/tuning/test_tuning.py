"""nnstudy.tuning.plan without Snakemake: the plan (equal budgets, every optimizer
hyper-parameter searchable, seeded methods), scoring, selection at the full budget with ties
and edges, tables."""

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
    rung_record,
    study_tunings,
    trials_table,
)

FACTORS = [0.1, 0.316, 1.0, 3.16, 10.0, 31.6]
STUDY = {
    "defaults": {"hidden": [8], "epochs": 9, "batch_size": 64},
    "experiments": {
        "t": {
            "datasets": ["spirals", "digits"],
            "grid": {"optimizer": ["sgd", "adam"], "activation": ["relu", "tanh"]},
            "tune": {
                "space": {"lr": {"factors": FACTORS}},
                "halving": {"eta": 3, "min_epochs": 3},
            },
            "seeds": [0, 1, 2],
        }
    },
    "select": ["t"],
}


def plan(config=STUDY, replace=False, **tune):
    config = copy.deepcopy(config)
    block = config["experiments"]["t"]["tune"]
    config["experiments"]["t"]["tune"] = tune if replace else {**block, **tune}
    validate_config(config)
    return study_tunings(config)


def test_every_optimizer_gets_the_same_budget_around_its_own_lr():
    tunings = plan()
    assert len(tunings) == 2 * 2 * 2  # datasets x optimizers x activations
    for t in tunings:
        # 6 candidates for a third of the epochs, the best 2 of them for all 9.
        assert t.rungs == ((3, 6), (9, 2))
        assert t.tuned == ("lr",) and t.method == "grid"
        default = {"sgd": 0.1, "adam": 0.001}[t.optimizer]
        assert [c["lr"] for c in t.candidates] == pytest.approx([default * f for f in FACTORS])
        assert t.defaults == (False, False, True, False, False, False)
        for rung, (epochs, _) in enumerate(t.rungs):
            assert {r["epochs"] for c in t.trial_runs[rung] for r in c} == {epochs}
            assert {r["seed"] for c in t.trial_runs[rung] for r in c} == {1000}
        assert [r["seed"] for r in t.final_runs[0]] == [0, 1, 2]
    # A variant is a point without seed and tuned lr: all distinct, searches not shared.
    assert len({t.variant for t in tunings}) == len({t.key for t in tunings}) == 8


def test_min_top_keeps_candidates_at_the_full_budget():
    # Halving that would leave fewer than min_top candidates at the top does not happen.
    assert plan(halving={"eta": 3, "min_epochs": 3, "min_top": 3})[0].rungs == ((9, 6),)
    few = plan(space={"lr": {"factors": [0.1, 1.0, 10.0]}})[0]
    assert few.rungs == ((9, 3),)


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
    other = plan(seeds=[7])
    assert not {t.key for t in other} & {t.key for t in by_exp["t"]}


PER_OPTIMIZER = {
    "space": {"lr": {"min": 1.0e-4, "max": 1.0, "distribution": "log_uniform_values"}},
    "spaces": {
        "sgd": {"momentum": {"min": 0.0, "max": 0.99}, "nesterov": {"values": [True, False]}},
        "adam": {
            "one_minus_beta1": {"low": 1.0e-3, "high": 1.0, "log": True},
            "beta2": {"values": [0.99, 0.999]},
            "eps": {"min": 1.0e-10, "max": 1.0e-6, "distribution": "log_uniform_values"},
            "weight_decay": {"value": 1.0e-4},
        },
    },
    "n_trials": 4,
}


@pytest.mark.parametrize("method", ["random", "sobol"])
def test_per_optimizer_spaces_put_the_sampled_values_into_optimizer_params(method):
    tunings = plan(replace=True, method=method, **PER_OPTIMIZER)
    for t in tunings:
        assert t.method == method and len(t.candidates) == 4 and t.rungs == ((9, 4),)
        for c, seeds in zip(t.candidates, t.trial_runs[0], strict=True):
            run = seeds[0]
            assert run["lr"] == c["lr"] and 1.0e-4 <= c["lr"] <= 1.0
            params = run["optimizer_params"]
            if t.optimizer == "sgd":
                assert params == {"momentum": c["momentum"], "nesterov": c["nesterov"]}
                assert 0.0 <= c["momentum"] <= 0.99
            else:
                assert params["betas"] == [pytest.approx(1 - c["one_minus_beta1"]), c["beta2"]]
                assert params["eps"] == c["eps"] and params["weight_decay"] == 1.0e-4
                assert c["weight_decay"] == 1.0e-4 and "weight_decay" not in t.tuned
        # The finals carry the same optimizer_params as their candidate's trials.
        assert [f[0]["optimizer_params"] for f in t.final_runs] == [
            s[0]["optimizer_params"] for s in t.trial_runs[0]
        ]
        assert len({s[0]["run_id"] for s in t.trial_runs[0]}) == 4
    # Every variant of an optimizer gets the same draws; a rerun asks for the same trials.
    sgd = [t for t in tunings if t.optimizer == "sgd"]
    assert all(t.candidates == sgd[0].candidates for t in sgd)
    again = plan(replace=True, method=method, **PER_OPTIMIZER)
    assert [[r["run_id"] for s in t.trial_runs[0] for r in s] for t in again] == [
        [r["run_id"] for s in t.trial_runs[0] for r in s] for t in tunings
    ]
    other = plan(replace=True, method=method, seed=1, **PER_OPTIMIZER)
    assert other[0].candidates != tunings[0].candidates


def test_a_preset_searches_every_hyper_parameter_of_the_update_rule():
    tunings = plan(replace=True, preset="choi2019", method="sobol", n_trials=8)
    adam = next(t for t in tunings if t.optimizer == "adam")
    assert adam.tuned == ("eps", "lr", "one_minus_beta1", "one_minus_beta2")
    sgd = next(t for t in tunings if t.optimizer == "sgd")
    assert sgd.tuned == ("lr",)
    betas = {tuple(s[0]["optimizer_params"]["betas"]) for s in adam.trial_runs[0]}
    assert len(betas) == 8


def test_a_pasted_wandb_sweep_is_a_search():
    sweep = {
        "method": "random",
        "metric": {"name": "val_accuracy", "goal": "maximize"},
        "parameters": {"lr": {"min": 1.0e-3, "max": 1.0, "distribution": "log_uniform_values"}},
        "run_cap": 3,
    }
    tunings = plan(replace=True, sweep=sweep)
    assert {(t.method, len(t.candidates), t.metric) for t in tunings} == {
        ("random", 3, "val_accuracy")
    }


def check(tune):
    config = copy.deepcopy(STUDY)
    config["experiments"]["t"]["tune"] = tune
    validate_config(config)
    study_tunings(config)


LR = {"lr": {"values": [0.1, 1.0]}}


@pytest.mark.parametrize(
    ("tune", "message"),
    [
        ({"space": {"dropout": {"factors": [1.0]}}}, "factors need the optimizer's configured"),
        ({"space": {"lr": {"values": [0.1], "low": 0.1, "high": 1.0}}}, "mixes W&B keys"),
        ({"space": {"lr": {"vals": [0.1]}}}, "unknown key 'vals'"),
        ({"space": {"lr": {"low": 0.1, "high": 1.0}}}, "method random needs n_trials"),
        ({"space": {"lr": {"values": [0.1, -1.0]}}}, "-1.0 is not > 0"),
        ({"space": {"dropout": {"min": 0.0, "max": 1.5}}}, r"1.5 is not in \[0, 1\)"),
        ({"space": {"batch_size": {"values": [32, 64]}}}, "'batch_size' is not searchable for"),
        ({"space": LR, "spaces": {"adam": {"betas": {"values": [1.0]}}}}, "valid: beta1, beta2"),
        ({"space": LR, "metric": "test_accuracy"}, "valid choices"),
        ({"space": LR, "method": "tpe"}, "method tpe needs n_trials"),
        ({"space": LR, "method": "bayes"}, "valid choices: grid, random, sobol, tpe"),
        ({"space": LR, "method": "tpe", "n_trials": 3}, "2 distinct points, fewer than n_t"),
        ({"space": LR, "extend": -1}, "extend: -1 is less than the minimum of 0"),
        ({"space": LR, "seeds": [2, 5]}, r"share \[2\] with the finals' seeds"),
        ({"space": LR, "spaces": {"rmsprop": LR}}, "spaces for rmsprop, which the comparison"),
        ({"space": LR, "preset": "choi2020"}, "valid choices: choi2019"),
        ({"spaces": {"sgd": LR, "adam": {"lr": {"values": [0.1]}}}}, "unequal budgets"),
        ({"space": {"lr": {"value": 0.1}}}, "nothing to search"),
        ({"seed": 3}, "give at least one of preset, space, spaces, sweep"),
        (
            {"sweep": {"method": "bayes", "metric": {"name": "val_loss"}, "parameters": LR}},
            "needs run_cap",
        ),
    ],
)
def test_bad_tune_blocks_are_one_line_errors(tune, message):
    with pytest.raises(ConfigError, match=message) as error:
        check(tune)
    assert "\n" not in str(error.value)
    assert str(error.value).startswith("config: experiments.t")


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


def search(tmp_path, accuracies, test=None, status=None, tunings=None):
    """Run the search of the first variant on fake trials: the accuracy of candidate c at
    rung r is accuracies[r][c]; returns the records by path."""
    t = (tunings or plan())[0]
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
    tuned.follow(t, lambda step: records.get(step.path))
    return t, tuned, records


# Candidate 1 leads the first rung, 4 is second; at the full budget 4 wins.
RUNGS = [[0.5, 0.9, 0.7, 0.6, 0.8, 0.1], [0.0, 0.9, 0.0, 0.0, 0.95, 0.0]]


def test_selection_is_made_at_the_full_budget_and_never_reads_test_metrics(tmp_path):
    t, tuned, records = search(tmp_path / "clean", RUNGS)
    # The same trials with test metrics that favour another candidate: same choice.
    poison = [[1.0, 0.0, 1.0, 1.0, 0.0, 1.0]] * 2
    _, _, poisoned = search(tmp_path / "poisoned", RUNGS, test=poison)
    assert poisoned == records
    top = records[t.rung_path(1)]
    assert records[t.rung_path(0)]["keep"] == [1, 4]
    assert [e["candidate"] for e in top["candidates"]] == [1, 4]
    assert top["epochs"] == 9  # the full budget
    assert (top["keep"], top["tied"], top["rule"], top["edges"]) == ([4], [4], "best", {})
    finals = t.finals(top)
    assert [r["lr"] for r in finals] == [t.candidates[4]["lr"]] * 3
    assert [r["epochs"] for r in finals] == [9] * 3
    # The finals are known to the run lookup once the top rung is decided.
    assert all(tuned.get(r["run_id"]) == r for r in finals)
    # ...and validation decides: other validation accuracies, another choice.
    flipped = [RUNGS[0], [0.0, 0.97, 0.0, 0.0, 0.95, 0.0]]
    _, _, other = search(tmp_path / "flipped", flipped)
    assert other[t.rung_path(1)]["keep"] == [1]


def test_val_loss_selects_the_lowest_loss(tmp_path):
    t = plan(metric="val_loss", halving={"eta": 3, "min_epochs": 10})[0]
    assert t.rungs == ((9, 6),)
    for c, run in enumerate(r for cand in t.trial_runs[0] for r in cand):
        fake_trial(tmp_path, run, 0.5)
        history = tmp_path / run["dataset"] / run["run_id"] / "history.csv"
        rows = history.read_text().splitlines()
        last = rows[-1].split(",")
        last[2] = str([0.3, 0.1, 0.2, 0.4, 0.5, 0.6][c])
        history.write_text("\n".join([*rows[:-1], ",".join(last)]) + "\n")
    assert rung_record(t, 0, None, tmp_path)["keep"] == [1]


def test_diverged_trials_score_worst_and_ties_are_recorded(tmp_path):
    flat = [[0.9] * 6, [0.9] * 6]
    t, _, records = search(tmp_path, flat, status={0: "diverged"})
    rung0 = records[t.rung_path(0)]
    assert [e["score"] for e in rung0["candidates"]] == [None] + [0.9] * 5
    assert rung0["keep"] == [1, 2]  # at the cut a tie goes to the earlier candidate
    top = records[t.rung_path(1)]
    # Equal accuracy and equal loss: a tie, reported, resolved to the first candidate.
    assert (top["keep"], top["tied"], top["rule"]) == ([1], [1, 2], "first")
    rows = trials_table([t], records, tmp_path)
    top_rows = [r for r in rows if r["rung"] == 1]
    assert [(r["candidate"], r["selected"], r["tied"]) for r in top_rows] == [
        (1, True, True),
        (2, False, True),
    ]
    assert not any(r["tied"] for r in rows if r["rung"] == 0)


def test_a_tie_on_accuracy_goes_to_the_lower_validation_loss(tmp_path):
    t, _, records = search(tmp_path, [[0.9] * 6, [0.9] * 6])
    for run in t.trial_runs[1][1]:
        history = tmp_path / run["dataset"] / run["run_id"] / "history.csv"
        rows = history.read_text().splitlines()
        last = rows[-1].split(",")
        last[2] = "0.01"
        history.write_text("\n".join([*rows[:-1], ",".join(last)]) + "\n")
    top = rung_record(t, 1, records[t.rung_path(0)], tmp_path)
    assert (top["keep"], top["tied"], top["rule"]) == ([1], [0, 1], "tiebreak")


def test_an_edge_pick_is_flagged_in_the_record_and_the_table(tmp_path):
    # The largest lr (31.6x, the grid's last point) wins.
    rungs = [[0.1, 0.2, 0.3, 0.4, 0.8, 0.9], [0.0] * 4 + [0.8, 0.9]]
    t, _, records = search(tmp_path, rungs)
    assert records[t.rung_path(1)]["edges"] == {"lr": "high"}
    rows = trials_table([t], records, tmp_path)
    assert {r["edge"] for r in rows if r["selected"]} == {"lr:high"}
    assert {r["edge"] for r in rows if not r["selected"]} == {""}
    # Inside the grid: no flag.
    _, _, inside = search(tmp_path / "inside", RUNGS)
    assert inside[t.rung_path(1)]["edges"] == {}


def test_trials_table_and_membership(tmp_path):
    t, _, records = search(tmp_path, RUNGS)
    rows = trials_table([t], records, tmp_path)
    assert [(r["rung"], r["candidate"], r["budget_epochs"]) for r in rows] == [
        *((0, c, 3) for c in range(6)),
        (1, 1, 9),
        (1, 4, 9),
    ]
    assert [r["selected"] for r in rows] == [False] * 7 + [True]
    assert [r["is_default"] for r in rows] == [False, False, True, False, False, False] + [
        False,
        False,
    ]
    assert rows[1]["val_accuracy"] == pytest.approx(0.9)
    assert rows[7]["best_val_accuracy"] == pytest.approx(0.95)
    assert {r["tuned"] for r in rows} == {"lr"} and {r["method"] for r in rows} == {"grid"}
    assert sum(r["epochs_run"] for r in rows) == 6 * 3 + 2 * 9
    members = finals_membership([t], records)
    assert [(m["experiment"], m["seed"]) for m in members] == [("t", 0), ("t", 1), ("t", 2)]
    # The trials' seed (1000) is none of the finals': no final is a rerun of a trial.
    assert not {m["run_id"] for m in members} & {r["run_id"] for r in rows}


def test_aggregate_writes_the_trial_tables(tmp_path):
    from nnstudy.analysis.aggregate import collect_trials

    t, _, records = search(tmp_path, RUNGS)
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
    assert trials["selected"].tolist() == [False] * 7 + [True]
    # One row per trial run and epoch; the tuned lr beside the epoch's scheduled lr.
    assert len(histories) == 6 * 3 + 2 * 9
    assert histories.groupby("run_id")["tuned_lr"].first().to_dict() == {
        r: lr for r, lr in zip(trials["run_id"], trials["lr"], strict=True)
    }
    assert histories.groupby("run_id")["budget_epochs"].max().sum() == 6 * 3 + 2 * 9
    empty_trials, empty_histories = collect_trials([], {}, tmp_path)
    assert empty_trials.empty and "selected" in empty_trials.columns
    assert empty_histories.empty


def test_trial_tables_keep_hash_ids_as_text(tmp_path):
    from nnstudy.analysis.aggregate import collect_trials, read_tables, write_tables
    from nnstudy.report.contents import TABLES

    t, _, records = search(tmp_path / "runs", RUNGS)
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
    with pytest.raises(ConfigError, match="tune: lr: inf is not a finite number"):
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
