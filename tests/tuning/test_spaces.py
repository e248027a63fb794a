"""nnstudy.tuning.spaces: the W&B and project parameter forms, searchable names from nnlib's
signatures, per-optimizer spaces and the Choi et al. preset, edges and their widening."""

from __future__ import annotations

import inspect
import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from nnstudy.tuning.spaces import (
    PRESETS,
    Choice,
    Fixed,
    Range,
    Space,
    edge_flags,
    extend,
    hyper_defaults,
    looks_log,
    optimizer_spaces,
    parse_parameter,
    parse_space,
    round_value,
    searchable,
    sweep_to_tune,
    to_settings,
    to_wandb,
)

from nnlib.core import Parameter
from nnlib.optim import OPTIMIZERS
from nnlib.registry import get_optimizer

ROOT = Path(__file__).resolve().parents[2]
SWEEPS = sorted((Path(__file__).parent / "sweeps").glob("*.yaml"))
METRICS = {"val_accuracy": "maximize", "val_loss": "minimize"}


def study_optimizers() -> dict[str, dict]:
    """The default study's optimizers and their configured hyper-parameters."""
    return yaml.safe_load((ROOT / "config.yaml").read_text())["defaults"]["optimizers"]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"value": 0.5}, Fixed("x", 0.5)),
        ({"values": [0.1, 0.2]}, Choice("x", (0.1, 0.2), ordered=True)),
        ({"values": ["a", "b"]}, Choice("x", ("a", "b"), ordered=False)),
        ({"values": [True, False]}, Choice("x", (True, False), ordered=False)),
        ({"values": [1, 2], "distribution": "categorical"}, Choice("x", (1, 2), ordered=False)),
        ({"min": 1, "max": 8}, Range("x", 1, 8, integer=True)),  # W&B infers int_uniform
        ({"min": 0.0, "max": 1}, Range("x", 0.0, 1.0)),  # ... and uniform
        ({"min": 1, "max": 8, "distribution": "int_uniform"}, Range("x", 1, 8, integer=True)),
        (
            {"min": 1e-4, "max": 0.1, "distribution": "log_uniform_values"},
            Range("x", 1e-4, 0.1, log=True),
        ),
        (
            {"min": 0.0, "max": 1.0, "distribution": "q_uniform", "q": 0.25},
            Range("x", 0.0, 1.0, q=0.25),
        ),
        (
            {"min": 2, "max": 64, "distribution": "q_log_uniform_values"},
            Range("x", 2, 64, log=True, integer=True),
        ),
        (
            {"min": 2, "max": 64, "distribution": "q_uniform", "q": 2},
            Range("x", 2, 64, integer=True, q=2),
        ),
        ({"low": 1e-3, "high": 1.0, "log": True}, Range("x", 1e-3, 1.0, log=True)),
        ({"low": 0, "high": 1, "points": 3}, Choice("x", (0.0, 0.5, 1.0), ordered=True)),
        (
            {"low": 1e-3, "high": 1e-1, "log": True, "points": 3},
            Choice("x", (1e-3, 1e-2, 1e-1), ordered=True),
        ),
    ],
)
def test_each_parameter_form_parses_to_its_dimension(spec, expected):
    assert parse_parameter("x", spec) == expected


def test_factors_multiply_the_configured_value_and_values_are_rounded():
    lr = parse_parameter("lr", {"factors": [0.1, 0.316, 1.0, 3.16]}, default=0.003)
    assert lr == Choice("lr", (0.0003, 0.000948, 0.003, 0.00948), ordered=True)
    assert parse_parameter("x", {"values": [0.123456789, 7]}).values == (0.1235, 7)
    assert round_value(np.float32(0.1)) == 0.1 and round_value(np.int64(3)) == 3
    assert isinstance(round_value(np.int64(3)), int)


@pytest.mark.parametrize(
    ("spec", "cause"),
    [
        ({"mni": 1, "max": 2}, "unknown key mni; valid: distribution, factors, high, log, low"),
        (
            {"min": 1, "max": 2, "distribution": "normal"},
            "unknown distribution 'normal'; valid: categorical",
        ),
        (
            {"min": -9, "max": -2, "distribution": "log_uniform"},
            "exponents: write log_uniform_values",
        ),
        (
            {"min": 0.0, "max": 1.0, "distribution": "log_uniform_values"},
            "a log scale needs min > 0",
        ),
        (
            {"min": 0.5, "max": 1.5, "distribution": "int_uniform"},
            "int_uniform needs integer min and max",
        ),
        ({"min": 2, "max": 1}, "min 2 must be below max 1"),
        ({"values": []}, "values must be a non-empty list"),
        ({"values": [0.1, 0.10001]}, "values repeat (after rounding to 4 digits)"),
        ({"values": [1, 2], "distribution": "uniform"}, "values takes no other key"),
        ({"low": 0.1, "max": 1}, "mixes W&B keys"),
        ({"min": 0.1}, "give values, value, or min and max"),
        ({"value": float("nan")}, "is not a finite number"),
        ({"factors": [1, 2]}, "factors need the optimizer's configured x"),
        ({"min": 0.0, "max": 1.0, "q": 0.1}, "q needs a q_ distribution"),
        (0.1, "a parameter is a mapping"),
    ],
)
def test_bad_parameters_raise_one_line_naming_the_cause(spec, cause):
    with pytest.raises(ValueError) as err:
        parse_parameter("x", spec)
    assert cause in str(err.value) and "\n" not in str(err.value)
    assert str(err.value).startswith("x: ")


def test_every_constructor_hyper_parameter_of_nnlib_is_searchable():
    for name, cls in OPTIMIZERS.items():
        names = set(searchable(name))
        assert {"lr", "dropout", "l2", "clip_norm"} <= names
        for p in list(inspect.signature(cls.__init__).parameters.values())[2:]:
            if p.name == "lr":
                continue
            if isinstance(p.default, tuple):  # betas -> beta1, beta2 and their 1 - x
                stem = p.name[:-1]
                for i in range(1, len(p.default) + 1):
                    assert {f"{stem}{i}", f"one_minus_{stem}{i}"} <= names
            else:
                assert p.name in names
    assert "one_minus_momentum" in searchable("momentum")
    assert hyper_defaults("momentum")["momentum"] == 0.9  # the alias's own default
    with pytest.raises(ValueError, match="unknown optimizer 'adamm'; valid: adagrad, adam, adamw"):
        searchable("adamm")


def test_a_new_optimizer_is_searchable_without_editing_the_spaces(monkeypatch):
    class Lion(OPTIMIZERS["sgd"]):
        def __init__(self, params, lr=1e-4, betas=(0.9, 0.99), gamma=0.5):
            super().__init__(params, lr)
            self.betas, self.gamma = betas, gamma

    monkeypatch.setitem(OPTIMIZERS, "lion", Lion)
    assert {"gamma", "beta1", "one_minus_beta2"} <= set(searchable("lion"))
    space = parse_space(
        {"gamma": {"values": [0.1, 0.5]}, "one_minus_beta2": {"value": 0.01}}, "lion"
    )
    assert to_settings({"gamma": 0.1, "one_minus_beta2": 0.01}, "lion") == (
        {},
        {"gamma": 0.1, "betas": [0.9, 0.99]},
    )
    assert space.names == ("gamma", "one_minus_beta2")


def test_one_minus_converts_back_and_fills_the_other_betas_from_the_configuration():
    point = {"lr": 0.01, "one_minus_beta1": 0.1234, "beta2": 0.99, "dropout": 0.2, "eps": 1e-6}
    settings, hyper = to_settings(point, "adam", {"betas": [0.8, 0.999]})
    assert settings == {"lr": 0.01, "dropout": 0.2}
    assert hyper == {"betas": [0.8766, 0.99], "eps": 1e-6}
    settings, hyper = to_settings({"one_minus_beta2": 0.001}, "adamw", {"betas": [0.8, 0.999]})
    assert hyper == {"betas": [0.8, 0.999]}
    opt = get_optimizer("adam", [Parameter(np.zeros(3))], **to_settings(point, "adam")[1])
    assert opt.betas == (0.8766, 0.99) and opt.eps == 1e-6


def test_a_space_refuses_unknown_names_and_the_same_hyper_parameter_twice():
    with pytest.raises(ValueError, match="'momentum' is not searchable for adam; valid: beta1"):
        parse_space({"momentum": {"value": 0.9}}, "adam")
    with pytest.raises(ValueError, match="one_minus_beta1 and beta1 search the same"):
        parse_space({"beta1": {"value": 0.9}, "one_minus_beta1": {"value": 0.1}}, "adam")


def test_per_optimizer_spaces_merge_preset_shared_and_own_parts_by_hyper_parameter():
    tune = {
        "preset": "choi2019",
        "space": {"dropout": {"values": [0.0, 0.2]}},
        "spaces": {"adam": {"beta1": {"values": [0.8, 0.9]}}, "sgd": {"lr": {"factors": [1, 10]}}},
    }
    spaces = optimizer_spaces(tune, ["sgd", "adam"], {"sgd": {"lr": 0.1}})
    assert spaces["sgd"].names == ("dropout", "lr")
    assert spaces["sgd"]["lr"].values == (0.1, 1.0)  # own part over the preset, x configured lr
    assert spaces["adam"].names == ("beta1", "dropout", "eps", "lr", "one_minus_beta2")
    with pytest.raises(ValueError, match="spaces for rmsprop, which the comparison does not have"):
        optimizer_spaces({**tune, "spaces": {"rmsprop": {}}}, ["sgd", "adam"])
    with pytest.raises(ValueError, match="unknown preset 'choi'; valid: choi2019"):
        optimizer_spaces({"preset": "choi"}, ["sgd"])
    with pytest.raises(ValueError, match="'momentum' is not searchable for adam"):
        optimizer_spaces({"space": {"momentum": {"value": 0.9}}}, ["sgd", "adam"])


def test_the_choi_preset_covers_the_study_and_every_point_builds_its_nnlib_optimizer():
    configured = study_optimizers()
    spaces = optimizer_spaces({"preset": "choi2019"}, list(configured), configured)
    for opt, space in spaces.items():
        assert all(isinstance(d, Range) and d.log for d in space.dims), opt  # Choi's log scales
        lr = space["lr"]
        assert lr.low < configured[opt]["lr"] < lr.high, opt  # the default lr is inside
        corners = itertools.product(
            *[(d.low, math.sqrt(d.low * d.high), d.high) for d in space.dims]
        )
        for corner in corners:
            point = dict(zip(space.names, corner, strict=True))
            settings, hyper = to_settings(point, opt, configured[opt])
            base = {k: v for k, v in configured[opt].items() if k != "lr"}
            get_optimizer(opt, [Parameter(np.zeros(2))], **{**base, **hyper}, lr=settings["lr"])
    assert set(PRESETS["choi2019"]) >= set(configured)
    assert "one_minus_beta1" in spaces["adam"].names and "eps" in spaces["adam"].names


@pytest.mark.parametrize("path", SWEEPS, ids=lambda p: p.stem)
def test_a_pasted_wandb_sweep_round_trips(path):
    doc = yaml.safe_load(path.read_text())
    tune = sweep_to_tune(doc, METRICS)
    assert tune["method"] == {"grid": "grid", "random": "random", "bayes": "tpe"}[doc["method"]]
    assert tune["metric"] == doc["metric"]["name"]
    assert tune.get("n_trials") == doc.get("run_cap")
    optimizer = "adam" if "one_minus_beta1" in doc["parameters"] else "momentum"
    space = parse_space(tune["space"], optimizer)
    exported = to_wandb(space)
    assert parse_space(exported, optimizer) == space
    for name, spec in doc["parameters"].items():  # every key the file gave is kept as given
        assert {k: exported[name][k] for k in spec} == spec, name


def test_a_sweep_that_would_minimize_accuracy_or_stop_early_is_refused():
    doc = yaml.safe_load((SWEEPS[0].parent / "mlp_random.yaml").read_text())
    with pytest.raises(ValueError, match="val_accuracy is to maximize, the sweep says no goal"):
        sweep_to_tune({**doc, "metric": {"name": "val_accuracy"}}, METRICS)
    with pytest.raises(ValueError, match="unknown key early_terminate .use tune.halving"):
        sweep_to_tune({**doc, "early_terminate": {"type": "hyperband"}}, METRICS)
    with pytest.raises(ValueError, match="a random sweep needs run_cap"):
        sweep_to_tune({k: v for k, v in doc.items() if k != "run_cap"}, METRICS)
    with pytest.raises(ValueError, match="method 'hyperband'; valid: grid, random, bayes"):
        sweep_to_tune({**doc, "method": "hyperband"}, METRICS)


def test_grids_are_on_a_log_scale_when_evenly_spaced_in_log():
    assert looks_log([1e-4, 3e-4, 1e-3, 3e-3]) and looks_log([0.001, 0.1])
    assert not looks_log([1, 25.75, 50.5, 75.25, 100]) and not looks_log([0.0, 0.1, 0.2])
    assert not looks_log([0.8, 0.9])


def test_edges_are_a_grids_ends_and_a_tenth_of_a_ranges_log_width():
    space = Space.of(
        [
            Choice("lr", (0.1, 0.01, 0.001), ordered=True),
            Range("one_minus_beta1", 1e-3, 1.0, log=True),
            Range("dropout", 0.0, 0.5),
            Choice("nesterov", (False, True), ordered=False),
            Fixed("eps", 1e-8),
        ]
    )
    at = {
        "lr": 0.1,
        "one_minus_beta1": 1e-3 * 10**0.3,
        "dropout": 0.25,
        "nesterov": True,
        "eps": 1e-8,
    }
    assert edge_flags(space, at) == {"lr": "high", "one_minus_beta1": "low"}
    inner = {**at, "lr": 0.01, "one_minus_beta1": 1e-3 * 10**0.31, "dropout": 0.46}
    assert edge_flags(space, inner) == {"dropout": "high"}  # 0.46 is in the top tenth
    assert edge_flags(space, {**inner, "dropout": 0.44}) == {}


def test_extend_widens_by_one_width_on_the_flagged_side_and_says_so():
    space = Space.of(
        [Range("lr", 1e-4, 1e-2, log=True), Range("one_minus_beta1", 0.01, 1.0, log=True)]
    )
    wide, notes = extend(space, {"lr": "high", "one_minus_beta1": "high"}, limit=1)
    assert wide["lr"] == Range("lr", 1e-4, 1.0, log=True, extended=1)
    assert wide["one_minus_beta1"] == space["one_minus_beta1"]  # 1 - beta cannot pass 1
    assert notes == [
        "lr: at the high edge of [0.0001, 0.01] (log); widened to [0.0001, 1] (log) (1 of 1)",
        "one_minus_beta1: at the high edge of [0.01, 1] (log), the bound of its domain; not widened",
    ]
    again, notes = extend(wide, {"lr": "high"}, limit=1)
    assert again == wide and "not widened (extend 1 reached)" in notes[0]
    assert extend(space, {"lr": "low"}, 2)[0]["lr"].low == pytest.approx(1e-6)
    linear = Space.of([Range("dropout", 0.2, 0.6)])
    assert extend(linear, {"dropout": "high"}, 1)[0]["dropout"].high == 0.999
    assert extend(linear, {"dropout": "low"}, 1)[0]["dropout"].low == 0.0
    grid = Space.of([Choice("lr", (1e-3, 1e-2, 1e-1), ordered=True)])
    assert extend(grid, {"lr": "high"}, 1)[0]["lr"].values == (1e-3, 0.1, 10.0)  # 3 values kept
    assert space["lr"] == Range("lr", 1e-4, 1e-2, log=True)  # the input is left as it was
