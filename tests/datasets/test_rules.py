"""The Snakemake rules of data.smk, run on their own in a scratch directory."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from nnstudy.invoke import run_snakemake

RULES = Path(__file__).resolve().parents[2] / "workflow" / "rules" / "data.smk"


def run_rules(workdir: Path, config: str, *targets: str) -> subprocess.CompletedProcess:
    (workdir / "config.yaml").write_text(config)
    (workdir / "Snakefile").write_text(f'configfile: "config.yaml"\n\ninclude: "{RULES}"\n')
    return run_snakemake(
        *targets, snakefile=workdir / "Snakefile", profile=None, directory=workdir, cores=1
    )


@pytest.mark.slow
def test_prepare_rule_builds_a_builtin_set(tmp_path):
    config = "data:\n  val_fraction: 0.2\n  synthetic: {n_samples: 300, seed: 4}\n"
    result = run_rules(tmp_path, config, "data/processed/gmm/train.npz")
    assert result.returncode == 0, result.stderr[-2000:]
    card = json.loads((tmp_path / "data/processed/gmm/card.json").read_text())
    assert card["source"]["generator"] == {"name": "gmm", "n_samples": 300, "seed": 4}
    assert card["split"]["val_fraction"] == 0.2
    assert "download" not in result.stderr.split("Job stats")[1].split("total")[0]


@pytest.mark.slow
@pytest.mark.system
@pytest.mark.skipif(
    not Path("/usr/share/datasets/fashion-mnist").is_dir(),
    reason="Debian package dataset-fashion-mnist is not installed; .ci/run installs it",
)
def test_download_and_prepare_rules_use_the_local_mirror(tmp_path):
    config = "data:\n  local_dirs: [/usr/share/datasets]\n"
    result = run_rules(tmp_path, config, "data/processed/fashion_mnist/train.npz")
    assert result.returncode == 0, result.stderr[-2000:]
    log = (tmp_path / "results/logs/download/fashion_mnist.log").read_text()
    assert "local:/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz" in log
    assert not list((tmp_path / "data/raw").rglob("*.gz"))  # verified in place, not copied
