"""The train job (training, then evaluation) called directly (the workflow tests run it through
Snakemake)."""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from nnstudy.config.runs import study_rows
from nnstudy.config.validation import schema, validate_config
from nnstudy.datasets import prepare
from nnstudy.training.evaluation import evaluate_run
from nnstudy.training.job import train_run
from nnstudy.training.runfolder import train_outputs

from nnlib import load_model, save_model


def run_config(**defaults) -> dict:
    config = {
        "defaults": {"hidden": [8], "epochs": 3, "batch_size": 32, **defaults},
        "experiments": {"t": {"datasets": ["spirals"]}},
        "select": ["t"],
    }
    validate_config(config)
    (row,) = study_rows(config)
    return {**row.run, "run_id": row.run_id}


def train(run, data_dir, folder):
    outputs = {k: Path(v) for k, v in train_outputs(folder).items()}
    info = train_run(run, data_dir, outputs)
    return info, outputs


def test_snapshots_do_not_change_training(spirals, tmp_path):
    models = []
    for every in (1, 100):
        run = run_config(snapshot_every=every, dropout=0.2)
        info, out = train(run, spirals, tmp_path / str(every))
        assert info["status"] == "ok"
        with np.load(out["model"], allow_pickle=False) as f:
            models.append({k: f[k] for k in f.files})
        snaps = np.load(out["snapshots"], allow_pickle=False)
        assert list(snaps["epoch"]) == ([0, 1, 2, 3] if every == 1 else [0, 3])
        assert list(snaps["layer"]) == ["dense0", "dense1"]
        assert snaps["weight_counts"].sum(axis=2)[0].tolist() == [2 * 8, 8 * 3]
    assert models[0].keys() == models[1].keys()
    for key in models[0]:
        np.testing.assert_array_equal(models[0][key], models[1][key])


def test_an_exception_is_recorded_as_failed(tmp_path):
    run = run_config()
    info, out = train(run, tmp_path / "no-such-data", tmp_path / "run")
    assert info["status"] == "failed"
    assert info["error"].startswith("FileNotFoundError: ")
    assert "\n" not in info["error"]
    assert all(path.exists() for path in out.values())
    with open(out["history"]) as fh:
        assert list(csv.reader(fh)) == [
            [
                "epoch",
                "train_loss",
                "train_accuracy",
                "val_loss",
                "val_accuracy",
                "lr",
                "seconds",
                "grad_norm",
            ]
        ]
    card = tmp_path / "card"
    card.mkdir()
    (card / "card.json").write_text(json.dumps({"class_names": ["a", "b", "c"], "n_classes": 3}))
    metrics = evaluate_run(out["model"], out["train"], card, tmp_path / "metrics.json")
    assert metrics["status"] == "failed" and metrics["error"] == info["error"]
    assert metrics["test_accuracy"] is None and metrics["confusion_matrix"] is None


def test_evaluation_matches_its_own_confusion_matrix(spirals, tmp_path):
    run = run_config(epochs=5, optimizer="adam")
    info, out = train(run, spirals, tmp_path)
    metrics = evaluate_run(out["model"], out["train"], spirals, tmp_path / "metrics.json")
    cm = np.array(metrics["confusion_matrix"])
    assert metrics["test_accuracy"] == pytest.approx(np.trace(cm) / cm.sum())
    recall = np.diag(cm) / cm.sum(axis=1)
    np.testing.assert_allclose(metrics["per_class"]["recall"], recall)
    assert metrics["recall_macro"] == pytest.approx(recall.mean())
    assert metrics["epochs_run"] == 5 and metrics["status"] == "ok"
    assert json.loads((tmp_path / "metrics.json").read_text()) == metrics


def test_evaluating_a_diverged_run_is_quiet(spirals, tmp_path):
    info, out = train(run_config(optimizer="sgd", lr=1e12), spirals, tmp_path)
    assert info["status"] == "diverged"
    diverged = load_model(out["model"])
    # Weights as a diverged run may leave them: NaN, inf, or finite but overflowing in matmul.
    for fill in (None, np.inf, 1e38):
        if fill is not None:
            for param in diverged.parameters():
                param.data[...] = fill
            save_model(diverged, out["model"])
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a NumPy RuntimeWarning would fail here
            metrics = evaluate_run(out["model"], out["train"], spirals, tmp_path / "metrics.json")
        assert metrics["status"] == "diverged" and metrics["error"] is None, fill
        assert metrics["test_loss"] is None, fill  # NaN/inf, written as null
        assert np.array(metrics["confusion_matrix"]).sum() == 120, fill


def test_the_study_s_initializer_names_are_nnlib_s():
    import nnlib.init

    names = schema()["$defs"]["initializer"]["enum"]
    assert set(nnlib.init.canonical(names)) <= set(nnlib.init.INITIALIZERS)


def test_augment_trains_on_images_and_changes_the_run(tmp_path):
    data = tmp_path / "digits"
    prepare("digits", data)
    models, ids = [], []
    for augment in (False, {"pad": 1, "flip": True}):
        config = {
            "defaults": {"hidden": [8], "epochs": 2, "batch_size": 64, "augment": augment},
            "experiments": {"t": {"datasets": ["digits"]}},
            "select": ["t"],
        }
        validate_config(config)
        (row,) = study_rows(config)
        run = {**row.run, "run_id": row.run_id}
        info, out = train(run, data, tmp_path / str(bool(augment)))
        assert info["status"] == "ok", info["error"]
        assert json.loads(out["config"].read_text()).get("augment") == (augment or None)
        with np.load(out["model"], allow_pickle=False) as f:
            models.append({k: f[k] for k in f.files})
        ids.append(row.run_id)
    assert ids[0] != ids[1]
    assert any(not np.array_equal(models[0][k], models[1][k]) for k in models[0])


def test_jobs_read_the_code_provenance_the_study_exported(spirals, monkeypatch):
    from nnstudy.jobs import provenance as prov

    monkeypatch.delenv(prov.ENV, raising=False)
    computed = prov.provenance(spirals)  # a job run by hand computes it
    assert computed["packages"]["numpy"] == np.__version__
    environ = {}
    prov.export_code_state(environ)
    exported = json.loads(environ[prov.ENV])
    assert exported == {k: computed[k] for k in ("git_commit", "git_dirty", "packages")}
    stale = {**exported, "git_commit": "0" * 40}
    environ[prov.ENV] = json.dumps(stale)
    prov.export_code_state(environ)  # a cluster job's own Snakemake keeps what it inherited
    assert json.loads(environ[prov.ENV]) == stale
    monkeypatch.setenv(prov.ENV, environ[prov.ENV])
    got = prov.provenance(spirals)
    assert got["git_commit"] == "0" * 40 and got["data"] == computed["data"]
