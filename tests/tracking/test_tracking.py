"""W&B logging of finished run folders: real wandb in offline mode, read back with wandb's reader."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from nnstudy.runs import Row
from nnstudy.tracking import (
    batch,
    batch_inputs,
    history_steps,
    log_runs,
    read_history,
    read_run,
    runs_by_dataset,
    wandb_markers,
)
from tracking_run_folder import write_run_folder


def wandb_records(wandb_file: Path) -> list[dict]:
    """The records of a .wandb transaction log, via wandb's own reader (`wandb leet inspect`)."""
    out = subprocess.run(
        [sys.executable, "-m", "wandb", "leet", "inspect", "--json", str(wandb_file)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def offline_runs(wandb_dir: Path) -> list[Path]:
    return sorted((wandb_dir / "wandb").glob("offline-run-*"))


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """An empty HOME: logging must neither read a login nor write anything there."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    return home


def test_offline_writes_a_run_folder_holding_the_logged_metrics(run_folder, tmp_path, home):
    wandb_dir = tmp_path / "wandb"
    marker = tmp_path / "markers" / "spirals.json"
    record = log_runs(
        [(run_folder, ["core", "extra"])], wandb_dir=wandb_dir, project="p", marker=marker
    )

    [folder] = offline_runs(wandb_dir)
    assert folder.name.endswith("-0123456789")
    assert json.loads(marker.read_text()) == record
    assert record["runs"][0]["wandb_run_dir"] == str(wandb_dir / "wandb" / folder.name)
    assert list(home.iterdir()) == []

    records = wandb_records(folder / "run-0123456789.wandb")
    [run] = [r["run"] for r in records if r["type"] == "run"]
    assert run["run_id"] == run["display_name"] == "0123456789"
    assert run["run_group"] == "core"
    assert run["job_type"] == "train"
    assert run["tags"] == ["spirals", "adam", "relu", "he"]
    config = run["config"]["update"]
    assert config["experiments"] == ["core", "extra"]
    assert config["optimizer_params"] == {"lr": 0.001}

    history = {
        r["history"]["step"].get("num", 0): r["history"]["item"]
        for r in records
        if r["type"] == "history"
    }
    # Every history.csv value, at step = epoch.
    for row in read_history(run_folder / "history.csv"):
        logged = history[row["epoch"]]
        for key, value in row.items():
            assert logged[key] == pytest.approx(value), (row["epoch"], key)
    # Histograms and gradient norms at the snapshot epochs, including epoch 0 (initial weights).
    with np.load(run_folder / "snapshots.npz") as snap:
        for s, epoch in enumerate(snap["epochs"]):
            for i, layer in enumerate(snap["layers"]):
                logged = history[int(epoch)]
                assert logged[f"weights/{layer}.values"] == snap["weight_counts"][s, i].tolist()
                assert logged[f"weights/{layer}.bins"] == pytest.approx(snap["weight_edges"][s, i])
                assert logged[f"grad_norm/{layer}"] == pytest.approx(snap["grad_norms"][s, i])
    assert sorted(history) == [0, 1, 2, 3, 4]
    # The confusion matrix at the last epoch, as a table file beside the run.
    table = history[4]["confusion_matrix_table.path"]
    cells = json.loads((folder / "files" / table).read_text())
    assert cells["columns"] == ["Actual", "Predicted", "nPredictions"]
    assert cells["data"] == [["a", "a", 45], ["a", "b", 5], ["b", "a", 5], ["b", "b", 45]]

    summary = {}
    for r in records:
        if r["type"] == "summary":
            summary.update(r["summary"].get("update", {}))
    metrics = json.loads((run_folder / "metrics.json").read_text())
    for key in ("test_accuracy", "test_loss", "f1_macro", "status", "epochs_run"):
        assert summary[key] == metrics[key]
    assert summary["per_class/recall"] == metrics["per_class"]["recall"]


def test_relogging_keeps_one_offline_folder_per_run(run_folder, tmp_path, home):
    wandb_dir = tmp_path / "wandb"
    other = write_run_folder(tmp_path / "runs" / "spirals" / "abcdef0123", seed=1)
    batch = [(run_folder, ["core"]), (other, ["core"])]
    first = log_runs(batch, wandb_dir=wandb_dir)
    second = log_runs(batch, wandb_dir=wandb_dir)
    assert [r["run_id"] for r in second["runs"]] == ["0123456789", "abcdef0123"]
    folders = offline_runs(wandb_dir)
    assert len(folders) == 2
    assert {f.name for f in folders} == {Path(r["wandb_run_dir"]).name for r in second["runs"]}
    assert first["runs"][0]["group"] == "core"


def test_diverged_run_logs_nan_and_skips_empty_histograms(tmp_path, home):
    run_dir = write_run_folder(tmp_path / "runs" / "spirals" / "0123456789")
    rows = (run_dir / "history.csv").read_text().splitlines()
    last = rows[-1].split(",")
    last[1] = "nan"
    (run_dir / "history.csv").write_text("\n".join([*rows[:-1], ",".join(last)]) + "\n")
    with np.load(run_dir / "snapshots.npz") as npz:
        snap = dict(npz)
    snap["weight_edges"][-1] = np.nan
    np.savez(run_dir / "snapshots.npz", **snap)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    metrics.update(status="diverged", test_loss=None, confusion_matrix=None)
    (run_dir / "metrics.json").write_text(json.dumps(metrics))

    steps = dict(history_steps(read_run(run_dir), lambda c, e: "hist", lambda m, n: "cm"))
    assert math.isnan(steps[4]["train_loss"])
    assert "weights/dense0" not in steps[4] and "grad_norm/dense0" in steps[4]
    assert steps[2]["weights/dense0"] == "hist"
    assert all("confusion_matrix" not in v for v in steps.values())

    record = log_runs([(run_dir, ["core"])], wandb_dir=tmp_path / "wandb")
    assert record["runs"][0]["status"] == "diverged"
    [folder] = offline_runs(tmp_path / "wandb")
    history = [r for r in wandb_records(folder / "run-0123456789.wandb") if r["type"] == "history"]
    assert len(history) == 5


def test_disabled_writes_nothing(run_folder, tmp_path):
    before = sorted(p for p in tmp_path.rglob("*"))
    assert log_runs([(run_folder, ["core"])], wandb_dir=tmp_path / "wandb", mode="disabled") is None
    assert sorted(p for p in tmp_path.rglob("*")) == before
    assert wandb_markers(["digits", "spirals"], "disabled") == []


@pytest.mark.parametrize("mode", ["ofline", "", None, "OFFLINE", 1])
def test_invalid_mode_is_a_one_line_error(run_folder, tmp_path, mode):
    for call in (
        lambda: wandb_markers(["digits"], mode),
        lambda: log_runs([(run_folder, ["core"])], wandb_dir=tmp_path / "wandb", mode=mode),
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
        lambda d: np.savez(d / "snapshots.npz", epochs=np.arange(3)),
        lambda d: np.savez(
            d / "snapshots.npz",
            epochs=np.arange(3),
            layers=np.array(["a"]),
            weight_counts=np.zeros((3, 1, 4)),
            weight_edges=np.zeros((3, 1, 4)),
            grad_norms=np.zeros((3, 1)),
        ),
    ],
    ids=["no-metrics", "bad-json", "no-epoch", "non-numeric", "missing-arrays", "bad-shapes"],
)
def test_a_bad_run_folder_stops_the_batch_before_any_output(tmp_path, damage):
    good = write_run_folder(tmp_path / "runs" / "spirals" / "abcdef0123")
    bad = write_run_folder(tmp_path / "runs" / "spirals" / "0123456789")
    damage(bad)
    marker = tmp_path / "spirals.json"
    with pytest.raises(ValueError) as exc:
        log_runs([(good, ["core"]), (bad, ["core"])], wandb_dir=tmp_path / "wandb", marker=marker)
    assert str(bad) in str(exc.value) and "\n" not in str(exc.value)
    assert not (tmp_path / "wandb").exists() and not marker.exists()


def test_run_table_grouping_and_markers():
    rows = [
        Row(experiment=e, dataset=d, run_id=r, run={}, factors=())
        for e, d, r in [
            ("core", "digits", "a"),
            ("core", "spirals", "b"),
            ("extra", "digits", "c"),
            ("extra", "digits", "a"),
        ]
    ]
    grouped = runs_by_dataset(rows)
    assert grouped == {
        "digits": {"a": ["core", "extra"], "c": ["extra"]},
        "spirals": {"b": ["core"]},
    }
    assert wandb_markers(grouped, "offline") == [
        "results/wandb/digits.json",
        "results/wandb/spirals.json",
    ]
    assert wandb_markers(["digits"], "online", "out/wb") == ["out/wb/digits.json"]
    pairs = batch(grouped["digits"], "digits")
    assert pairs == [
        ("results/runs/digits/a", ["core", "extra"]),
        ("results/runs/digits/c", ["extra"]),
    ]
    inputs = batch_inputs(pairs)
    assert sorted(inputs) == ["config", "history", "metrics", "snapshots"]
    assert inputs["metrics"] == [
        "results/runs/digits/a/metrics.json",
        "results/runs/digits/c/metrics.json",
    ]


def test_no_login_or_network_settings_leak_into_the_caller(run_folder, tmp_path, home):
    keys = [k for k in os.environ if k.startswith("WANDB_")]
    log_runs([(run_folder, ["core"])], wandb_dir=tmp_path / "wandb")
    assert [k for k in os.environ if k.startswith("WANDB_")] == keys
