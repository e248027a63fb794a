"""The architectures the report draws, read back from models nnlib saved."""

from types import SimpleNamespace

import pandas as pd
import pytest
from nnstudy.report.architecture import activation_label, distinct_architectures, read_architecture
from nnstudy.report.figures import architecture

from nnlib import MLP, save_model


def saved(path, **kwargs):
    model = MLP(**kwargs)
    save_model(model, path)
    return model


def test_read_architecture_counts_the_model_s_parameters(tmp_path):
    model = saved(
        tmp_path / "m.npz",
        sizes=[5, 4, 4, 3],
        activation=["relu", ["relu", "relu", "tanh", "tanh"]],
        residual=True,
        dropout=0.25,
    )
    arch = read_architecture(tmp_path / "m.npz")
    assert arch.sizes == (5, 4, 4, 3)
    assert arch.activations == ("relu", "relu x2 + tanh x2")
    assert arch.residual == (False, True)  # only the 4 -> 4 block has a skip connection
    assert arch.dropout == 0.25
    assert arch.parameters == (5 * 4 + 4, 4 * 4 + 4, 4 * 3 + 3)
    assert arch.total_parameters == sum(p.data.size for p in model.parameters())
    assert arch.title == "5-4-4-3"


def test_distinct_architectures_groups_runs_and_skips_unreadable_models(tmp_path):
    for i, hidden in enumerate(([8], [8], [16, 8])):
        saved(tmp_path / f"{i}.npz", sizes=[2, *hidden, 3], rng=i)
    (tmp_path / "failed.npz").write_bytes(b"not a model")
    found = distinct_architectures(sorted(tmp_path.glob("*.npz")) + [tmp_path / "missing.npz"])
    assert [(a.sizes, n) for a, n in found] == [((2, 8, 3), 2), ((2, 16, 8, 3), 1)]


def test_activation_label():
    assert activation_label("gelu") == "gelu"
    assert activation_label(["relu", "tanh", "tanh"]) == "relu x1 + tanh x2"


@pytest.mark.parametrize("n_archs", [0, 2])
def test_architecture_figure_has_a_panel_per_architecture(tmp_path, n_archs):
    run_ids = []
    for i in range(n_archs):
        folder = tmp_path / "spirals" / f"run{i}"
        folder.mkdir(parents=True)
        saved(folder / "model.npz", sizes=[2, 8 * (i + 1), 3], activation="tanh")
        run_ids.append(f"run{i}")
    runs = pd.DataFrame({"run_id": run_ids or ["gone"]})
    # The figure reads only a comparison's dataset and runs.
    view = SimpleNamespace(dataset="spirals", runs=runs)
    fig = architecture(view=view, runs_root=tmp_path)
    axes = fig.get_axes()
    assert len(axes) == max(n_archs, 1)
    titles = [ax.get_title(loc="left") for ax in axes]
    if n_archs:
        assert titles == ["2-8-3: 51 parameters (1 run)", "2-16-3: 99 parameters (1 run)"]
        assert "tanh" in {t.get_text() for t in axes[0].texts}
    else:
        assert "no saved model" in " ".join(t.get_text() for t in axes[0].texts)
