"""What config.yaml can ask of nnlib: per-layer and mixed activations, identity, residual
blocks, the loss, per-layer initializers, SGD's weight decay and Nesterov momentum, RMSprop's
centered form, and random search over categorical settings. Each option is validated by the
schema, changes the run id (runs without it keep theirs), trains, and is listed in the
report's methods section."""

from __future__ import annotations

import json

import pytest
from library_study import BASE_ID, config, methods_settings
from nnstudy.config.runs import study_rows
from nnstudy.config.validation import ConfigError, validate_config
from nnstudy.training.job import train_run
from nnstudy.training.runfolder import train_outputs

from nnlib import load_model

OPTIONS = {
    "per-layer activations": ({"activation": ["tanh", "identity"]}, {}),
    "mixed layer": ({"activation": ["relu", ["relu", "tanh"]]}, {}),
    "residual": ({"residual": True}, {}),
    "mse loss": ({"loss": "mse"}, {}),
    "per-layer initializers": ({"initializer": ["he", "he", "xavier"]}, {}),
    "sgd nesterov + weight decay": (
        {"optimizer": "momentum"},
        {"momentum": {"nesterov": True, "weight_decay": 0.001}},
    ),
    "rmsprop centered": ({"optimizer": "rmsprop"}, {"rmsprop": {"centered": True}}),
    # The prepared data is float32: the run converts it for its float64 model.
    "float64": ({"dtype": "float64"}, {}),
}


def test_runs_without_the_options_keep_their_ids():
    (row,) = study_rows(config({}))
    assert row.run_id == BASE_ID


@pytest.mark.parametrize("name", list(OPTIONS))
def test_an_option_trains_and_reaches_the_run_id_and_the_methods(name, spirals, tmp_path):
    fixed, optimizers = OPTIONS[name]
    cfg = config(fixed, optimizers)
    rows = study_rows(cfg)
    (row,) = rows
    assert row.run_id != BASE_ID
    run = {**row.run, "run_id": row.run_id}
    folder = tmp_path / "runs" / "spirals" / row.run_id
    info = train_run(run, spirals, train_outputs(folder))
    assert info["status"] == "ok", info["error"]
    model = load_model(folder / "model.npz").get_config()
    if "residual" in fixed:
        assert model["residual"] is True
    if name == "mixed layer":
        assert model["activation"][1] == ["relu"] * 4 + ["tanh"] * 4
    if "initializer" in fixed:
        assert model["init"] == ["he_normal", "he_normal", "xavier_normal"]
    # The report's methods section lists the setting with its value.
    settings = methods_settings(cfg, rows, tmp_path, spirals)
    for key, value in fixed.items():
        shown = settings[key]
        assert (
            json.dumps(value, separators=(",", ":")) if isinstance(value, list) else str(value)
        ) in shown
    for params in optimizers.values():
        for key, value in params.items():
            assert f'"{key}":{json.dumps(value)}' in settings["optimizer_params"]


@pytest.mark.parametrize(
    ("fixed", "message"),
    [
        ({"activation": ["relu"]}, "1 entries for 2 hidden layers"),
        ({"activation": ["relu", ["relu"] * 9]}, "a mixed layer of 8 neurons cannot take 9"),
        ({"initializer": ["he", "he"]}, "give one per hidden layer and one for the output"),
        ({"loss": "hinge"}, "'hinge' is not a valid choice"),
        ({"activation": ["relu", "softplus"]}, "activation[1]: 'softplus' is not a valid"),
    ],
)
def test_bad_layer_options_are_one_line_config_errors(fixed, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")) as err:
        study_rows(config(fixed))
    assert "\n" not in str(err.value)


def test_random_search_draws_categorical_settings_too(spirals, tmp_path):
    search = {
        "n": 12,
        "seed": 3,
        "space": {
            "optimizer": {"choices": ["sgd", "adam"]},
            "activation": {"choices": ["relu", ["tanh", "relu"]]},
            "hidden": {"choices": [[8, 8], [16, 16]]},
            "lr": {"low": 0.001, "high": 0.1, "log": True},
        },
    }
    rows = study_rows(
        validate_config(
            {
                "experiments": {
                    "t": {"datasets": ["spirals"], "search": search, "fixed": {"epochs": 2}}
                },
                "select": ["t"],
            }
        )
    )
    drawn = {
        (r.run["optimizer"], json.dumps(r.run["activation"]), r.run["hidden"][0]) for r in rows
    }
    assert {o for o, _, _ in drawn} == {"sgd", "adam"} and len(drawn) > 3
    assert all(0.001 <= r.run["lr"] <= 0.1 for r in rows)
    mixed = next(r for r in rows if isinstance(r.run["activation"], list))
    info = train_run({**mixed.run, "run_id": mixed.run_id}, spirals, train_outputs(tmp_path))
    assert info["status"] == "ok", info["error"]
    assert rows == study_rows(
        validate_config(
            {
                "experiments": {
                    "t": {"datasets": ["spirals"], "search": search, "fixed": {"epochs": 2}}
                },
                "select": ["t"],
            }
        )
    )
    with pytest.raises(ConfigError, match="'adamm' is not a valid choice"):
        validate_config(
            {
                "experiments": {
                    "t": {
                        "datasets": ["spirals"],
                        "search": {"n": 1, "space": {"optimizer": {"choices": ["adamm"]}}},
                    }
                },
                "select": ["t"],
            }
        )
