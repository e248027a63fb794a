"""Config validation, one-line errors and the experiment -> run expansion (no Snakemake run)."""

from __future__ import annotations

import copy
import csv
import io
from pathlib import Path

import pytest
import yaml
from nnstudy.config.runs import (
    expand_experiment,
    run_id,
    study_rows,
    table_csv,
    unique_runs,
)
from nnstudy.config.validation import ConfigError, schema, validate_config
from nnstudy.tuning.plan import study_tunings

from nnlib.registry import optimizer_names

ROOT = Path(__file__).resolve().parents[2]


def shipped() -> dict:
    return yaml.safe_load((ROOT / "config.yaml").read_text())


def tiny(**experiment) -> dict:
    exp = {"datasets": ["spirals"], "grid": {"optimizer": ["sgd", "adam"]}, **experiment}
    return {"experiments": {"t": exp}, "select": ["t"]}


def resolve(config: dict) -> list:
    validate_config(config)
    return study_rows(config)


def test_narrowing_the_shipped_paper_to_one_dataset_leaves_cifar_settings_unused():
    # What a laptop user does (README, The paper study): the CIFAR-10 per_dataset block stays
    # in config.yaml, unused, and is no error.
    config = shipped()
    config["select"] = ["paper"]
    config["experiments"]["paper"]["datasets"] = ["fashion_mnist"]
    rows = resolve(config)
    assert len(rows) == 36 * 3
    assert {r.run["dataset"] for r in rows} == {"fashion_mnist"}
    assert {tuple(r.run["hidden"]) for r in rows} == {(1024, 1024)}
    assert {r.run["epochs"] for r in rows} == {40}


def test_shipped_core_tunes_every_variant_then_runs_five_seeds():
    config = shipped()
    rows = resolve(config)
    assert config["select"] == ["core"]
    assert rows == []  # a tuned experiment's runs follow from its searches
    tunings = study_tunings(config)
    assert len(tunings) == 4 * 2 * 2  # optimizer x activation x dataset
    assert {t.trial_runs[0][0][0]["optimizer"] for t in tunings} == {
        "sgd",
        "momentum",
        "rmsprop",
        "adam",
    }
    assert {t.dataset for t in tunings} == {"peaks8", "checkerboard"}
    for t in tunings:
        assert len(t.candidates) == 9 and t.tuned == ("lr",)
        assert t.seeds == (0, 1, 2, 3, 4)
        # Successive halving: 9 lrs for a third of the epochs, the best 3 (at least the two
        # the selection needs) for all of them.
        full = {"peaks8": 24, "checkerboard": 40}[t.dataset]
        assert [n for _, n in t.rungs] == [9, 3]
        assert [e for e, _ in t.rungs] == [full // 3, full]
        assert t.trial_seeds == (1000,)
        for run in (r for rung in t.trial_runs for c in rung for r in c):
            assert run["run_id"] == run_id(run)


def test_shipped_paper_resolves_per_dataset_settings():
    config = shipped()
    validate_config(config)
    rows = expand_experiment(config, "paper")
    assert len(rows) == 4 * 3 * 3 * 3 * 3
    hidden = {r.dataset: r.run["hidden"] for r in rows}
    assert hidden["cifar10"] != hidden["mnist"] == hidden["fashion_mnist"]


def test_defaults_are_filled_and_momentum_is_sgd_with_momentum():
    config = tiny(grid={"optimizer": ["momentum"]})
    (row,) = resolve(config)
    assert config["wandb"] == {
        "mode": "offline",
        "project": "nnlib-study",
        "entity": None,
        "dir": "results/wandb",
    }
    assert row.run["optimizer_params"] == {"momentum": 0.9, "nesterov": False}
    assert row.run["lr"] == 0.01
    assert row.run["seed"] == 0


def test_a_validated_config_holds_plain_types_and_writes_back_as_yaml():
    # Tests and tools write a validated config back to config.yaml for Snakemake.
    config = validate_config(shipped())
    again = yaml.safe_load(yaml.safe_dump(config))
    assert again == config
    assert validate_config(again) == config


def test_run_id_ignores_experiment_name_and_number_spelling():
    a = tiny(fixed={"lr": 1})
    b = tiny(fixed={"lr": 1.0})
    b["experiments"]["other"] = b["experiments"].pop("t")
    b["select"] = ["other"]
    assert [r.run_id for r in resolve(a)] == [r.run_id for r in resolve(b)]


def test_changing_one_optimizer_changes_only_its_runs():
    base = resolve(tiny())
    config = tiny()
    config["defaults"] = {"optimizers": {"adam": {"lr": 0.002}}}
    changed = resolve(config)
    same = {r.run["optimizer"]: r.run_id for r in base}
    new = {r.run["optimizer"]: r.run_id for r in changed}
    assert same["sgd"] == new["sgd"]
    assert same["adam"] != new["adam"]


def test_shared_run_is_listed_per_experiment_but_is_one_run():
    config = tiny(seeds=[0, 1])
    config["experiments"]["u"] = {
        "datasets": ["spirals"],
        "grid": {"optimizer": ["adam", "rmsprop"]},
    }
    config["select"] = ["t", "u"]
    rows = resolve(config)
    assert len(rows) == 4 + 2
    assert len(unique_runs(rows)) == 4 + 1  # adam with seed 0 is in both
    csv = table_csv(rows).splitlines()
    assert csv[0].startswith("experiment,dataset,run_id,seed,optimizer,")
    assert len(csv) == 1 + len(rows)


def test_grid_is_a_cartesian_product_over_any_setting():
    config = tiny(grid={"hidden": [[8], [16, 16]], "lr": [0.1, 0.01], "dropout": [0.0, 0.5]})
    rows = resolve(config)
    assert len({r.run_id for r in rows}) == 8
    assert rows[0].factors == ("hidden", "lr", "dropout", "seed")


def test_random_search_is_seeded_and_inside_its_ranges():
    search = {
        "n": 5,
        "seed": 3,
        "space": {
            "lr": {"low": 1e-4, "high": 1e-1, "log": True},
            "batch_size": {"low": 16, "high": 128},
        },
    }
    rows = resolve(tiny(search=copy.deepcopy(search), seeds=[0, 1]))
    again = resolve(tiny(search=copy.deepcopy(search), seeds=[0, 1]))
    assert [r.run_id for r in rows] == [r.run_id for r in again]
    assert len(rows) == 2 * 5 * 2
    lrs = {r.run["lr"] for r in rows}
    assert len(lrs) == 5 and all(1e-4 <= lr <= 1e-1 for lr in lrs)
    assert all(
        isinstance(r.run["batch_size"], int) and 16 <= r.run["batch_size"] <= 128 for r in rows
    )
    other = resolve(tiny(search={**copy.deepcopy(search), "seed": 4}))
    assert {r.run["lr"] for r in other} != lrs


def _set(path: str, value):
    """A mutation of tiny(): set a dotted key."""

    def mutate(config):
        *parents, last = path.split(".")
        node = config
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value

    return mutate


BAD = [
    (_set("defaults.lr", float("nan")), ["defaults.lr: must be a finite number"]),
    (
        _set("experiments.t.fixed.clip_norm", float("inf")),
        ["experiments.t.fixed.clip_norm: must be a finite"],
    ),
    (_set("two\nlines", 1), ["unknown key 'two\\nlines'"]),
    (
        _set("experiment", {}),
        ["(top level)", "unknown key 'experiment'", "valid keys: data, defaults"],
    ),
    (
        _set("experiments.t.grid.optimizer", ["sgd", "adma"]),
        [
            "experiments.t.grid.optimizer[1]",
            "'adma'",
            "did you mean 'adam'",
            f"valid choices: {', '.join(optimizer_names())}",
        ],
    ),
    (
        _set("experiments.t.grid.activation", ["relu", "softplus"]),
        ["experiments.t.grid.activation[1]", "valid choices: relu, tanh, sigmoid"],
    ),
    (
        _set("defaults.initializer", "glorot"),
        ["defaults.initializer", "valid choices: normal, uniform, xavier, he"],
    ),
    (
        _set("experiments.t.grid.optimiser", ["sgd"]),
        ["experiments.t.grid", "unknown key 'optimiser'", "did you mean 'optimizer'"],
    ),
    (_set("defaults.epochs", "ten"), ["defaults.epochs", "'ten' is not of type integer"]),
    (_set("defaults.lr", "1e-3"), ["defaults.lr", "write it with a dot"]),
    (_set("defaults.lr", "1.0e12"), ["defaults.lr", "a signed exponent", "1.0e+12"]),
    (_set("experiments.t.grid.optimizer", []), ["experiments.t.grid.optimizer: must not be empty"]),
    (
        _set("experiments.t.datasets", ["spiral"]),
        ["experiments.t.datasets[0]", "did you mean 'spirals'", "digits, spirals, gmm, peaks"],
    ),
    (_set("select", ["core"]), ["select: unknown experiment 'core'", "valid choices: t"]),
    (_set("wandb.mode", "offfline"), ["wandb.mode", "valid choices: offline, online, disabled"]),
    (
        _set("experiments.t.fixed.optimizer", "sgd"),
        ["experiments.t", "'optimizer' is set in both grid and fixed"],
    ),
    (
        _set("experiments.t.search", {"n": 2, "space": {"lr": {"low": 0.1, "high": 0.01}}}),
        ["experiments.t.search.space.lr", "low (0.1) must be <= high (0.01)"],
    ),
    (
        _set("experiments.t.fixed.schedule", {"name": "constant", "warmup_epochs": 1}),
        [
            "experiments.t.schedule",
            "'warmup_epochs' does not apply to schedule 'constant'",
            "valid keys: name",
        ],
    ),
    (
        _set("defaults.optimizers.adam.beta", [0.9, 0.99]),
        ["defaults.optimizers.adam", "unknown key 'beta'", "valid keys: betas, eps, lr"],
    ),
    (
        _set("experiments.t.per_dataset", {"spiral": {"epochs": 3}}),
        ["experiments.t.per_dataset", "'spiral'", "spirals"],
    ),
    (
        _set("defaults.augment", {"pad": 2}),
        ["experiments.t", "augment is for image datasets only", "mnist", "not 'spirals'"],
    ),
    (
        _set("experiments.t.fixed.augment", True),
        ["experiments.t", "augment is for image datasets only", "not 'spirals'"],
    ),
    (
        _set("experiments.t.grid.augment", [False, {"pad": 2}]),
        ["experiments.t", "augment is for image datasets only", "not 'spirals'"],
    ),
    (
        _set("experiments.t.grid.augment", [False, True, False]),
        ["experiments.t.grid.augment: repeated value"],
    ),
    (
        _set("defaults.augment", {"pad": 2, "flipp": True}),
        ["defaults.augment", "unknown key 'flipp'", "valid keys: flip, pad"],
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), BAD, ids=[e[0] for _, e in BAD])
def test_bad_config_gives_one_line_naming_key_and_choices(mutate, expected):
    config = tiny()
    mutate(config)
    with pytest.raises(ConfigError) as info:
        resolve(config)
    message = str(info.value)
    assert "\n" not in message
    for part in expected:
        assert part in message, message


def test_schema_enums_match_nnlib_registries():
    import nnstudy.datasets

    import nnlib.activations
    import nnlib.optim

    defs = schema()["$defs"]
    assert set(defs["activation"]["enum"]) <= set(nnlib.activations.ACTIVATIONS)
    assert set(defs["dataset"]["enum"]) == set(nnstudy.datasets.DATASETS)
    # The optimizers are nnlib's registry itself (filled in at load time).
    assert defs["optimizer"]["enum"] == optimizer_names()
    assert set(nnlib.optim.OPTIMIZERS) < set(optimizer_names())


def test_augment_is_off_by_default_and_changes_only_the_runs_that_use_it():
    def ids(**exp):
        config = tiny(datasets=["digits", "spirals"], **exp)
        return {(r.dataset, r.run["optimizer"]): r for r in resolve(config)}

    plain = ids()
    assert all("augment" not in r.run for r in plain.values())
    assert ids(fixed={"augment": False}).keys() == plain.keys()
    assert {k: r.run_id for k, r in ids(fixed={"augment": None}).items()} == {
        k: r.run_id for k, r in plain.items()
    }
    augmented = ids(per_dataset={"digits": {"augment": {"pad": 1}}})
    for key, row in augmented.items():
        if key[0] == "digits":
            assert row.run["augment"] == {"pad": 1, "flip": True}
            assert row.run_id != plain[key].run_id
        else:
            assert row.run_id == plain[key].run_id
    same = ids(per_dataset={"digits": {"augment": True}})
    assert same[("digits", "sgd")].run["augment"] == {"pad": 4, "flip": True}


def test_augment_in_the_grid_doubles_the_runs_and_keeps_the_plain_ids():
    plain = resolve(tiny(datasets=["digits"], seeds=[0, 1]))
    rows = resolve(
        tiny(
            datasets=["digits"],
            seeds=[0, 1],
            grid={"optimizer": ["sgd", "adam"], "augment": [False, True]},
        )
    )
    assert len(rows) == 2 * len(plain) == len({r.run_id for r in rows})
    assert rows[0].factors == ("optimizer", "augment", "seed")
    off = [r for r in rows if "augment" not in r.run]
    assert [r.run_id for r in off] == [r.run_id for r in plain]
    assert all(r.run["augment"] == {"pad": 4, "flip": True} for r in rows if r not in off)
    table = list(csv.DictReader(io.StringIO(table_csv(rows))))
    assert [(t["optimizer"], t["augment"]) for t in table[::2]] == [
        ("sgd", "off"),
        ("sgd", "pad4+flip"),
        ("adam", "off"),
        ("adam", "pad4+flip"),
    ]
    assert {t["factors"] for t in table} == {"optimizer;augment;seed"}


def test_augment_levels_have_readable_labels():
    config = tiny(
        datasets=["digits"], grid={"augment": [None, {"pad": 2, "flip": False}, {"pad": 0}]}
    )
    labels = [t["augment"] for t in csv.DictReader(io.StringIO(table_csv(resolve(config))))]
    assert labels == ["off", "pad2", "flip"]
