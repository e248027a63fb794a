"""nnlib installed alone (``pip install ./nnlib``) into a fresh venv with NumPy and nothing else:
it imports without the study's packages, builds, trains and gradient-checks a model, and its
own tests pass there (the comparisons with scikit-learn, torch and the numba path skip)."""

from __future__ import annotations

import re
import shutil
import subprocess
import textwrap
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# What belongs to the study (or to nnlib's optional speed-ups), never to plain nnlib.
FOREIGN = ("scipy", "numba", "threadpoolctl", "pandas", "snakemake", "nnstudy", "wandb", "yaml")

USE = textwrap.dedent(
    """
    import sys
    import numpy as np
    import nnlib
    from nnlib import MLP, fit, get_loss, get_optimizer
    from nnlib.gradcheck import gradcheck_module

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 2))
    y = (x[:, 0] * x[:, 1] > 0).astype(int)
    model = MLP([2, 16, 2], activation="gelu", rng=0)
    loss = get_loss("cross_entropy")
    result = fit(model, loss, get_optimizer("adam", model.parameters(), lr=0.02), x, y,
                 epochs=30, batch_size=32, verbose=False)
    accuracy = float((model.predict(x) == y).mean())
    error = gradcheck_module(MLP([2, 5, 3], activation="gelu", dtype=np.float64, rng=1),
                             rng.normal(size=(4, 2)))
    foreign = sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[1:]))
    print(nnlib.__file__, result.status, accuracy, error, foreign)
    """
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def alone(tmp_path_factory) -> Path:
    """A venv with NumPy, pytest (to run the tests) and nnlib, installed from a copy of the
    repository's nnlib/ (pip builds in the source folder)."""
    base = tmp_path_factory.mktemp("alone")
    source = shutil.copytree(
        ROOT / "nnlib", base / "nnlib", ignore=shutil.ignore_patterns("__pycache__")
    )
    venv.create(base / "venv", with_pip=True)
    python = base / "venv" / "bin" / "python"
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "numpy", "pytest", str(source)],
        check=True,
        capture_output=True,
        text=True,
    )
    return python


def test_nnlib_alone_imports_trains_and_gradchecks_with_numpy_only(alone, tmp_path):
    installed = subprocess.run(
        [alone, "-m", "pip", "list", "--format", "freeze"], capture_output=True, text=True
    ).stdout
    names = {line.split("==")[0].lower() for line in installed.split()}
    assert not names & {"scipy", "numba", "threadpoolctl", "pandas", "snakemake", "nnlib-study"}
    done = subprocess.run(
        [alone, "-c", USE, *FOREIGN], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    where, status, accuracy, error, foreign = done.stdout.split(maxsplit=4)
    assert "site-packages" in where  # the installed copy, not the repository's folder
    assert status == "ok" and float(accuracy) > 0.9
    assert float(error) < 1e-6  # exact GELU through math.erf when SciPy is absent
    assert foreign.strip() == "[]"


def test_nnlibs_own_tests_pass_where_it_is_installed_alone(alone, tmp_path):
    done = subprocess.run(
        [
            alone,
            *("-m", "pytest", "-q", "-p", "no:cacheprovider"),
            *("-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT)),
            str(ROOT / "tests" / "nnlib"),
        ],
        cwd=tmp_path,  # so `import nnlib` finds the installed package
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    passed = re.search(r"(\d+) passed", done.stdout)
    assert passed and int(passed.group(1)) >= 100 and "failed" not in done.stdout
