"""The critical-difference diagram: geometry read back from the drawn artists."""

import itertools

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from nnstudy.analysis import ranks
from nnstudy.report.cd_diagram import OKABE_ITO, cd_diagram


def _study(k, n, seed=0, long_labels=True):
    rng = np.random.default_rng(seed)
    names = [
        f"sgd(momentum=0.9, nesterov) / leaky_relu / he_normal / variant {j}"
        if long_labels and j % 2
        else f"adam / relu {j}"
        for j in range(k)
    ]
    scores = pd.DataFrame(rng.normal(size=(n, k)) + np.linspace(0, 2, k), columns=names)
    return ranks.nemenyi(scores)


def _boxes(fig):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    return [t.get_window_extent(renderer) for t in fig.axes[0].texts if t.get_text()]


@pytest.mark.parametrize(("k", "n"), [(2, 3), (3, 5), (8, 10), (20, 12), (40, 30)])
def test_labels_never_overlap_and_stay_inside_the_figure(k, n):
    result = _study(k, n)
    fig = cd_diagram(result["average_ranks"], result["cd"], result["cliques"], title="a study")
    boxes = _boxes(fig)
    bounds = fig.bbox
    for box in boxes:
        assert bounds.x0 <= box.x0 and box.x1 <= bounds.x1
        assert bounds.y0 <= box.y0 and box.y1 <= bounds.y1
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b), (a, b)
    labels = [t.get_text() for t in fig.axes[0].texts if t.get_gid() == "label"]
    assert len(labels) == k
    assert all(t.get_fontsize() == 9 for t in fig.axes[0].texts)
    plt.close(fig)


def test_cd_bar_and_cliques_sit_at_the_ranks():
    result = _study(6, 40, seed=3, long_labels=False)
    avg = result["average_ranks"]
    fig = cd_diagram(avg, result["cd"], result["cliques"])
    lines = {}
    for line in fig.axes[0].lines:
        lines.setdefault(line.get_gid(), []).append(line)
    marker_x = {
        gid.removeprefix("rank:"): found[0].get_xdata()[0]
        for gid, found in lines.items()
        if gid and gid.startswith("rank:")
    }
    # Marker positions are a linear map of the ranks.
    ranks_ = np.array([avg[name] for name in marker_x])
    xs = np.array(list(marker_x.values()))
    slope, intercept = np.polyfit(ranks_, xs, 1)
    np.testing.assert_allclose(xs, slope * ranks_ + intercept, atol=1e-9)
    (bar,) = lines["cd-bar"]
    assert np.ptp(bar.get_xdata()) == pytest.approx(slope * result["cd"])
    assert bar.get_color() == OKABE_ITO[3]
    assert len(lines.get("clique", [])) == len(result["cliques"]) > 0
    for line, clique in zip(lines["clique"], result["cliques"], strict=True):
        lo, hi = min(marker_x[c] for c in clique), max(marker_x[c] for c in clique)
        assert line.get_xdata()[0] < lo and line.get_xdata()[1] > hi
    plt.close(fig)


def test_cd_longer_than_the_axis_is_said():
    result = _study(8, 2)
    fig = cd_diagram(result["average_ranks"], result["cd"], result["cliques"])
    assert any("longer than the axis" in t.get_text() for t in fig.axes[0].texts)
    plt.close(fig)


def test_bad_input_is_a_clear_value_error():
    with pytest.raises(ValueError, match="need >= 2 variants"):
        cd_diagram({"a": 1.0}, 1.0, [])
    with pytest.raises(ValueError, match="cliques name unknown variants"):
        cd_diagram({"a": 1.0, "b": 2.0}, 1.0, [["a", "c"]])
    with pytest.raises(ValueError, match="cd must be a positive number"):
        cd_diagram({"a": 1.0, "b": 2.0}, float("nan"), [])
