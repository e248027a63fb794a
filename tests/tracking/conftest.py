from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from nnstudy.config.runs import Row
from nnstudy.training.tracking import batch, runs_by_dataset
from tracking_study import make_study


class Study:
    """The tiny study trained once per session; copy() gives a test its own run folders."""

    def __init__(self, root: Path, rows: list[Row]):
        self.root, self.rows = root, rows
        self.runs = runs_by_dataset(rows)["spirals"]
        [self.shared] = [rid for rid, names in self.runs.items() if names == ["core", "extra"]]
        [self.diverged] = [rid for rid, names in self.runs.items() if names == ["boom"]]

    def copy(self, dest: Path) -> list[tuple[str, list[str]]]:
        """Copy results/runs into ``dest``; the (run folder, experiments) pairs there."""
        shutil.copytree(self.root / "results", dest / "results")
        return batch(self.runs, "spirals", f"{dest}/results/runs/{{dataset}}/{{run_id}}")


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """An empty HOME: logging must not write anything there."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for key in ("WANDB_API_KEY", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(key, raising=False)
    return home


@pytest.fixture(scope="session")
def study(tmp_path_factory) -> Study:
    root = tmp_path_factory.mktemp("study")
    return Study(root, make_study(root))
