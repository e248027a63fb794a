"""W&B logging of real run folders: real wandb in offline mode, read back with wandb's reader."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from nnstudy.training.runfolder import read_history, read_run
from nnstudy.training.tracking import (
    batch,
    batch_inputs,
    history_steps,
    log_runs,
    wandb_markers,
)
from wandb_files import logged_history, offline_runs, wandb_records


def test_offline_writes_a_run_folder_holding_the_logged_metrics(study, tmp_path, home):
    pairs = study.copy(tmp_path)
    [(run_dir, experiments)] = [p for p in pairs if p[0].endswith(study.shared)]
    wandb_dir = tmp_path / "wandb"
    marker = tmp_path / "markers" / "spirals.json"
    record = log_runs([(run_dir, experiments)], wandb_dir=wandb_dir, project="p", marker=marker)

    [folder] = offline_runs(wandb_dir)
    assert folder.name.endswith(f"-{study.shared}")
    assert json.loads(marker.read_text()) == record
    assert record["runs"][0]["wandb_run_dir"] == str(wandb_dir / "wandb" / folder.name)
    assert list(home.iterdir()) == []

    records = wandb_records(folder / f"run-{study.shared}.wandb")
    [run] = [r["run"] for r in records if r["type"] == "run"]
    config = json.loads(Path(run_dir, "config.json").read_text())
    assert run["run_id"] == run["display_name"] == study.shared
    assert (run["run_group"], run["job_type"], run["project"]) == ("core", "train", "p")
    assert run["tags"] == ["spirals", "adam", "relu", "he"]
    logged_config = run["config"]["update"]
    assert logged_config["experiments"] == ["core", "extra"]
    assert {k: logged_config[k] for k in config} == config

    history = logged_history(records)
    # Every history.csv value at step = epoch; snapshots at 0 (initial weights), 2 and 4.
    assert sorted(history) == [0, 1, 2, 3, 4]
    for row in read_history(Path(run_dir, "history.csv")):
        for key, value in row.items():
            assert history[row["epoch"]][key] == pytest.approx(value), (row["epoch"], key)
    with np.load(Path(run_dir, "snapshots.npz")) as snap:
        assert snap["epoch"].tolist() == [0, 2, 4]
        for s, epoch in enumerate(snap["epoch"]):
            for i, layer in enumerate(snap["layer"]):
                logged = history[int(epoch)]
                assert logged[f"weights/{layer}.values"] == snap["weight_counts"][s, i].tolist()
                assert logged[f"weights/{layer}.bins"] == pytest.approx(snap["weight_edges"][s, i])
                assert logged[f"grad_norm/{layer}"] == pytest.approx(snap["grad_norm"][s, i])
    # The test confusion matrix at the last epoch, as a table file beside the run.
    metrics = json.loads(Path(run_dir, "metrics.json").read_text())
    cells = json.loads((folder / "files" / history[4]["confusion_matrix_table.path"]).read_text())
    names = metrics["class_names"]
    assert cells["columns"] == ["Actual", "Predicted", "nPredictions"]
    assert cells["data"] == [
        [names[i], names[j], count]
        for i, row in enumerate(metrics["confusion_matrix"])
        for j, count in enumerate(row)
    ]

    summary = {}
    for r in records:
        if r["type"] == "summary":
            summary.update(r["summary"].get("update", {}))
    for key in ("test_accuracy", "test_loss", "f1_macro", "status", "epochs_run"):
        assert summary[key] == metrics[key]
    assert summary["per_class/recall"] == metrics["per_class"]["recall"]


def test_a_diverged_run_is_logged_with_its_last_losses(study, tmp_path, home):
    [pair] = [p for p in study.copy(tmp_path) if p[0].endswith(study.diverged)]
    run = read_run(pair[0])
    assert run.metrics["status"] == "diverged"
    record = log_runs([pair], wandb_dir=tmp_path / "wandb")
    assert record["runs"][0]["status"] == "diverged"
    [folder] = offline_runs(tmp_path / "wandb")
    history = logged_history(wandb_records(folder / f"run-{study.diverged}.wandb"))
    last = run.history[-1]
    logged = float(history[last["epoch"]]["train_loss"])
    if math.isnan(last["train_loss"]):
        assert math.isnan(logged)
    else:  # stopped by the divergence factor: a finite but exploded loss, logged as it was
        assert logged == pytest.approx(last["train_loss"]) and logged > 100


def test_relogging_keeps_one_offline_folder_per_run(study, tmp_path, home):
    pairs = study.copy(tmp_path)
    wandb_dir = tmp_path / "wandb"
    log_runs(pairs, wandb_dir=wandb_dir)
    second = log_runs(pairs, wandb_dir=wandb_dir)
    assert [r["run_id"] for r in second["runs"]] == list(study.runs)
    assert [r["group"] for r in second["runs"]] == [names[0] for names in study.runs.values()]
    folders = offline_runs(wandb_dir)
    assert len(folders) == len(study.runs)
    assert {f.name for f in folders} == {Path(r["wandb_run_dir"]).name for r in second["runs"]}


def test_history_steps_merge_snapshots_and_skip_empty_histograms(study, tmp_path):
    [pair] = [p for p in study.copy(tmp_path) if p[0].endswith(study.shared)]
    with np.load(Path(pair[0], "snapshots.npz")) as npz:
        snap = dict(npz)
    snap["weight_counts"][-1, 0] = 0  # what the training job writes when no weight is finite
    np.savez(Path(pair[0], "snapshots.npz"), **snap)
    steps = dict(history_steps(read_run(pair[0]), lambda c, e: "hist", lambda m, n: "cm"))
    assert steps[0] == {
        "epoch": 0,
        "weights/dense0": "hist",
        "weights/dense1": "hist",
        "grad_norm/dense0": pytest.approx(snap["grad_norm"][0, 0]),
        "grad_norm/dense1": pytest.approx(snap["grad_norm"][0, 1]),
    }
    assert "weights/dense0" not in steps[4] and steps[4]["weights/dense1"] == "hist"
    assert steps[4]["confusion_matrix"] == "cm"
    assert all("confusion_matrix" not in v for k, v in steps.items() if k != 4)


def test_disabled_writes_nothing(study, tmp_path):
    pairs = study.copy(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    assert log_runs(pairs, wandb_dir=tmp_path / "wandb", mode="disabled") is None
    assert sorted(tmp_path.rglob("*")) == before
    assert wandb_markers(["spirals"], "disabled") == []


@pytest.mark.parametrize("mode", ["ofline", "", None, "OFFLINE", 1])
def test_invalid_mode_is_a_one_line_error(study, tmp_path, mode):
    pairs = study.copy(tmp_path)
    for call in (
        lambda: wandb_markers(["spirals"], mode),
        lambda: log_runs(pairs, wandb_dir=tmp_path / "wandb", mode=mode),
    ):
        with pytest.raises(ValueError, match="offline, online, disabled") as exc:
            call()
        assert "\n" not in str(exc.value)
    assert not (tmp_path / "wandb").exists()


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: (d / "metrics.json").unlink(),
        lambda d: (d / "metrics.json").write_text("{not json"),
        lambda d: (d / "history.csv").write_text("loss\n1.0\n"),
        lambda d: (d / "history.csv").write_text("epoch,train_loss\n1,abc\n"),
        lambda d: np.savez(d / "snapshots.npz", epoch=np.arange(3)),
        lambda d: np.savez(
            d / "snapshots.npz",
            epoch=np.arange(3),
            layer=np.array(["a"]),
            weight_counts=np.zeros((3, 1, 4)),
            weight_edges=np.zeros((3, 1, 4)),
            grad_norm=np.zeros((3, 1)),
        ),
        lambda d: (d / "snapshots.npz").write_bytes(b"PK not a zip"),
    ],
    ids=["no-metrics", "bad-json", "no-epoch", "non-numeric", "missing", "shapes", "corrupt"],
)
def test_a_bad_run_folder_stops_the_batch_before_any_output(study, tmp_path, damage):
    pairs = study.copy(tmp_path)
    bad = Path(pairs[-1][0])
    damage(bad)
    marker = tmp_path / "spirals.json"
    with pytest.raises(ValueError) as exc:
        log_runs(pairs, wandb_dir=tmp_path / "wandb", marker=marker)
    assert str(bad) in str(exc.value) and "\n" not in str(exc.value)
    assert not (tmp_path / "wandb").exists() and not marker.exists()


def test_run_table_grouping_and_rule_helpers(study):
    # A run in two experiments is one W&B run, grouped under the first (select order).
    assert sorted(study.runs.values()) == [["boom"], ["core"], ["core", "extra"]]
    assert wandb_markers({"spirals": study.runs}, "offline") == ["results/wandb/spirals.json"]
    assert wandb_markers(["digits", "digits"], "online", "out/wb") == ["out/wb/digits.json"]
    pairs = batch(study.runs, "spirals")
    assert pairs[0] == (
        f"results/runs/spirals/{next(iter(study.runs))}",
        study.runs[pairs[0][0][-10:]],
    )
    inputs = batch_inputs(pairs)
    assert sorted(inputs) == ["config", "history", "metrics", "snapshots", "train"]
    assert inputs["metrics"] == [f"{folder}/metrics.json" for folder, _ in pairs]


def test_no_wandb_settings_leak_into_the_caller(study, tmp_path, home):
    keys = {k: v for k, v in os.environ.items() if k.startswith("WANDB_")}
    log_runs(study.copy(tmp_path)[:1], wandb_dir=tmp_path / "wandb")
    assert {k: v for k, v in os.environ.items() if k.startswith("WANDB_")} == keys


@pytest.mark.system
@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace (Debian package strace)")
def test_offline_reads_no_login_and_opens_no_network_socket(study, tmp_path):
    """wandb-core reads ~/.netrc and resolves its server at exit unless told otherwise."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".netrc").write_text("machine api.wandb.ai login user password not-a-key\n")
    pairs = study.copy(tmp_path)[:1]
    code = (
        "from nnstudy.training.tracking import log_runs; "
        f"log_runs({pairs!r}, wandb_dir={str(tmp_path / 'wandb')!r})"
    )
    trace = tmp_path / "trace"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")} | {"HOME": str(home)}
    subprocess.run(
        ["strace", "-f", "-qq", "-e", "trace=openat,connect", "-o", str(trace)]
        + [sys.executable, "-c", code],
        check=True,
        env=env,
        timeout=120,
    )
    calls = trace.read_text().splitlines()
    assert offline_runs(tmp_path / "wandb")
    assert not [c for c in calls if ".netrc" in c]
    assert not [c for c in calls if "connect(" in c and "AF_INET" in c]
    assert sorted(p.name for p in home.iterdir()) == [".netrc"]


def test_online_without_a_login_is_a_one_line_error(study, tmp_path, home):
    marker = tmp_path / "spirals.json"
    with pytest.raises(RuntimeError, match="wandb login") as exc:
        log_runs(study.copy(tmp_path), wandb_dir=tmp_path / "wandb", mode="online", marker=marker)
    assert "\n" not in str(exc.value)
    assert not marker.exists()
