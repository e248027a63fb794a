"""notebooks/nnlib_tour.ipynb runs top to bottom (nbclient) against a finished tiny study, so it
cannot rot: gradients checked, a model trained and drawn, a study's tables read and one of the
report's figures redrawn."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
import yaml
from nbclient import NotebookClient
from nnstudy.invoke import run_snakemake

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "nnlib_tour.ipynb"
CONFIG = {
    "data": {"synthetic": {"n_samples": 400}},
    "defaults": {"hidden": [8], "epochs": 3, "batch_size": 32},
    "experiments": {
        "pair": {
            "datasets": ["spirals"],
            "grid": {"optimizer": ["sgd", "adam"]},
            "seeds": [0, 1],
        }
    },
    "select": ["pair"],
    "wandb": {"mode": "disabled"},
}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("study")
    (folder / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    done = run_snakemake(until=("aggregate",), cwd=folder)
    assert done.returncode == 0, done.stderr[-3000:]
    return folder


def text_of(cell) -> str:
    return "".join(
        out.get("text", "") + str(out.get("data", {}).get("text/plain", ""))
        for out in cell.get("outputs", [])
    )


def test_the_notebook_runs_top_to_bottom(study, monkeypatch):
    monkeypatch.setenv("NNSTUDY_STUDY", str(study))
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline figures
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert not any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": NOTEBOOK.parent}},
    ).execute()  # raises on the first cell that fails
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    outputs = "\n".join(text_of(cell) for cell in code)
    error = float(re.search(r"largest relative error of the backward pass: (\S+)", outputs)[1])
    assert error < 1e-6
    accuracy = float(re.search(r"validation accuracy (\S+)", outputs)[1])
    assert accuracy > 0.9
    assert "4 runs in" in outputs
    images = [
        out
        for cell in code
        for out in cell.get("outputs", [])
        if "image/png" in out.get("data", {})
    ]
    assert len(images) == 3  # learning curves, weight histograms, the report's figure
