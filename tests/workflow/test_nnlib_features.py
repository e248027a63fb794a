"""What config.yaml can ask of nnlib's newer features: normalization layers (per layer),
Adagrad, NAdam and the nesterov alias, per-step cosine, OneCycle, ReduceLROnPlateau and early
stopping on a chosen metric with min_delta. Each is validated by the schema (whose names come
from nnlib), changes the run id only when used (every other run keeps its id), trains, and
reaches the report's methods section; a BatchNorm model round-trips through the run folder."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from library_study import BASE_ID, config, methods_settings
from nnstudy.config.runs import study_rows
from nnstudy.config.validation import ConfigError, validate_config
from nnstudy.datasets import load_split
from nnstudy.report.architecture import read_architecture
from nnstudy.training.job import Progress, _fit, layer_grad_norms, train_run
from nnstudy.training.runfolder import read_history, train_outputs

from nnlib import MLP, BatchNorm1d, LayerNorm, get_schedule, load_model

# name -> (fixed settings, optimizers block)
OPTIONS = {
    "batch norm": ({"norm": "batch"}, {}),
    "per-layer norm": ({"norm": ["layer", "none"]}, {}),
    "adagrad": ({"optimizer": "adagrad"}, {"adagrad": {"lr_decay": 0.01}}),
    "nadam": ({"optimizer": "nadam"}, {"nadam": {"momentum_decay": 0.005}}),
    "nesterov": ({"optimizer": "nesterov"}, {}),
    "per-step cosine": (
        {"schedule": {"name": "cosine", "per_step": True, "warmup_steps": 4}},
        {},
    ),
    "one cycle": ({"optimizer": "momentum", "schedule": {"name": "one_cycle"}}, {}),
    "plateau": ({"schedule": {"name": "plateau", "patience": 0, "factor": 0.5}}, {}),
    "early stopping on val_accuracy": (
        {"epochs": 6, "early_stopping": {"patience": 1, "monitor": "val_accuracy"}},
        {},
    ),
}


def one_run(fixed: dict, optimizers: dict | None = None) -> dict:
    (row,) = study_rows(config(fixed, optimizers))
    return {**row.run, "run_id": row.run_id}


@pytest.mark.parametrize(
    "fixed",
    [
        {"norm": "none"},
        {"norm": ["none", "none"]},
        {"early_stopping": None},
        {"schedule": {"name": "constant"}},
    ],
)
def test_the_features_at_their_defaults_leave_the_run_id(fixed):
    assert one_run(fixed)["run_id"] == BASE_ID


def test_an_early_stopping_rule_at_fits_defaults_is_the_plain_patience():
    plain = one_run({"early_stopping": 2})
    rule = one_run({"early_stopping": {"patience": 2, "monitor": "val_loss", "min_delta": 0}})
    assert rule == plain and "monitor" not in plain and "min_delta" not in plain


@pytest.mark.parametrize("name", list(OPTIONS))
def test_a_feature_trains_and_reaches_the_run_id_and_the_methods(name, spirals, tmp_path):
    fixed, optimizers = OPTIONS[name]
    cfg = config(fixed, optimizers)
    (row,) = rows = study_rows(cfg)
    assert row.run_id != BASE_ID
    run = {**row.run, "run_id": row.run_id}
    folder = tmp_path / "runs" / "spirals" / row.run_id
    info = train_run(run, spirals, train_outputs(folder))
    assert info["status"] in ("ok", "early_stopped"), info["error"]
    settings = methods_settings(cfg, rows, tmp_path, spirals)
    for key, value in fixed.items():
        if key == "early_stopping":
            assert settings["monitor"] == value["monitor"]
        elif key == "schedule":
            assert all(f'"{k}":{json.dumps(v)}' in settings[key] for k, v in value.items())
        elif key != "epochs":
            shown = json.dumps(value, separators=(",", ":")) if isinstance(value, list) else value
            assert str(shown) in settings[key]
    for params in optimizers.values():
        for key, value in params.items():
            assert f'"{key}":{json.dumps(value)}' in settings["optimizer_params"]
    _check_training(name, run, folder, spirals, info)


def _check_training(name: str, run: dict, folder, spirals, info: dict) -> None:
    """What the feature did to the trained run, from its files."""
    history = read_history(folder / "history.csv")
    lrs = [float(r["lr"]) for r in history]
    steps = math.ceil(len(load_split(spirals, "train")[1]) / run["batch_size"])
    schedule = {k: v for k, v in run["schedule"].items() if k != "name"}
    built = get_schedule(run["schedule"]["name"], lr=run["lr"], epochs=run["epochs"], **schedule)
    if name in ("per-step cosine", "one cycle"):
        # The history's lr is the epoch's last step's: the schedule moved every step.
        built.bind(steps)
        assert lrs == pytest.approx([built.lr_at((e + 1) * steps - 1) for e in range(len(lrs))])
    if name == "plateau":
        # ReduceLROnPlateau fed the validation loss of each epoch (torch's semantics, tested
        # against torch in tests/nnlib) gives the lr of the next epoch.
        expected = [built(0)]
        for row in history[:-1]:
            built.step(float(row["val_loss"]))
            expected.append(built(0))
        assert lrs == pytest.approx(expected)
    if name == "early stopping on val_accuracy":
        accuracy = [float(r["val_accuracy"]) for r in history]
        assert info["best_epoch"] == int(np.argmax(accuracy)) + 1  # the first best, from 1
    model = load_model(folder / "model.npz")
    norms = [type(m) for m in model.modules() if isinstance(m, BatchNorm1d | LayerNorm)]
    assert norms == {"batch norm": [BatchNorm1d] * 2, "per-layer norm": [LayerNorm]}.get(name, [])


def test_a_batchnorm_model_round_trips_through_the_run_folder(spirals, tmp_path):
    run = one_run({"norm": "batch", "dropout": 0.1})
    folder = tmp_path / run["run_id"]
    assert train_run(run, spirals, train_outputs(folder))["status"] == "ok"
    # The same run trained again in memory (a run is deterministic given its config).
    trained, _, _ = _fit(run, spirals, Progress("t", run["epochs"], []), None, None)
    loaded = load_model(folder / "model.npz")
    x_val, y_val = load_split(spirals, "val")
    np.testing.assert_array_equal(loaded.predict_proba(x_val), trained.predict_proba(x_val))
    assert loaded.score(x_val, y_val) == trained.score(x_val, y_val)
    # The running statistics are trained and saved, and evaluation uses them.
    bn = next(m for m in loaded.modules() if isinstance(m, BatchNorm1d))
    assert np.any(bn.running_mean != 0) and int(bn.num_batches_tracked) > 0
    x = loaded.check_input(x_val)
    assert not np.allclose(loaded.forward(x), loaded.forward(x, training=True))
    # The report's architecture figure reads the norms (and their parameters) back.
    arch = read_architecture(folder / "model.npz")
    assert arch.norms == ("batch", "batch")
    assert arch.total_parameters == sum(p.data.size for p in loaded.parameters())


@pytest.mark.parametrize(
    ("fixed", "optimizers", "message"),
    [
        ({"norm": ["batch"]}, {}, "norm: 1 entries for 2 hidden layers"),
        ({"norm": "group"}, {}, "'group' is not a valid choice; valid choices: none, batch, layer"),
        ({"optimizer": "nadam"}, {"nadam": {"momentum_decay": -1}}, "optimizer nadam: momentum"),
        ({"optimizer": "adagrad"}, {"adagrad": {"betas": [0.9, 0.9]}}, "unknown key 'betas'"),
        ({"schedule": {"name": "plateau", "factor": 2.0}}, {}, "plateau: factor must be < 1"),
        ({"schedule": {"name": "cosine", "warmup_steps": 3}}, {}, "warmup_steps needs per_step"),
        ({"schedule": {"name": "one_cycle"}, "optimizer": "adagrad"}, {}, "cycle_momentum=False"),
        ({"early_stopping": {"monitor": "val_loss"}}, {}, "'patience' is a required property"),
        ({"early_stopping": {"patience": 2, "monitor": "loss"}}, {}, "did you mean 'val_loss'"),
    ],
)
def test_bad_feature_settings_are_one_line_config_errors(fixed, optimizers, message):
    with pytest.raises(ConfigError) as err:
        one_run(fixed, optimizers)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_every_optimizer_takes_every_keyword_of_its_signature_in_both_places():
    # defaults.optimizers and experiment.optimizers share one $def per optimizer: the key the
    # schema once refused under defaults (rmsprop's centered) is accepted in both.
    cfg = {
        "defaults": {"optimizers": {"rmsprop": {"centered": True}}},
        "experiments": {
            "t": {
                "datasets": ["spirals"],
                "grid": {"optimizer": ["rmsprop", "sgd"]},
                "optimizers": {"sgd": {"momentum": 0.5, "dampening": 0.1}},
            }
        },
        "select": ["t"],
    }
    runs = {r.run["optimizer"]: r.run for r in study_rows(validate_config(cfg))}
    # The study's defaults (lr, alpha, eps) are still filled in beside the given key.
    assert runs["rmsprop"]["optimizer_params"] == {"alpha": 0.99, "eps": 1e-8, "centered": True}
    assert runs["rmsprop"]["lr"] == 0.001
    assert runs["sgd"]["optimizer_params"] == {"momentum": 0.5, "dampening": 0.1}


def test_the_gradient_probe_leaves_batchnorm_statistics_alone():
    # Snapshots probe gradients with a training forward, which updates running statistics:
    # the probe must not, or every snapshot would move the model it measures.
    model = MLP([2, 8, 3], norm="batch", rng=0)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 2)).astype(np.float32), rng.integers(0, 3, 16)
    before = [b.copy() for b in model.buffers()]
    norms = layer_grad_norms(model, x, y)
    assert norms.shape == (2,) and np.all(norms > 0)
    for b, saved in zip(model.buffers(), before, strict=True):
        np.testing.assert_array_equal(b, saved)
