"""Critical-difference diagram (Demsar 2006, Fig. 1) of average ranks over datasets.

The ranks axis runs from 1 (best) on the left to k; each variant hangs from its average rank by
a leader to its label, the better half on the left and the rest on the right, so leaders never
cross. A bar above the axis has the length of the Nemenyi critical difference; thick bars below
join the groups of variants whose ranks differ by no more than it (not significantly different).
The figure is laid out in inches from the measured label widths, so 2 to 40 variants with long
labels neither overlap nor leave the figure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.font_manager import FontProperties  # noqa: E402
from matplotlib.textpath import TextToPath  # noqa: E402

OKABE_ITO = ["#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#F0E442", "#000000"]
FONT_SIZE = 9
# Layout in inches.
ROW = 0.2
CLIQUE_ROW = 0.1
PAD = 0.25
TICK_GAP = 0.25


def _text_width(text: str) -> float:
    """Width in inches of ``text`` at the figure's font size."""
    width, _, _ = TextToPath().get_text_width_height_descent(
        text, FontProperties(size=FONT_SIZE), ismath=False
    )
    return width / 72


def _clique_rows(spans: list[tuple[float, float]]) -> list[int]:
    """Row per clique: the first row whose last bar ends before this one starts."""
    ends: list[float] = []
    rows = []
    for start, stop in spans:
        row = next((r for r, end in enumerate(ends) if end < start), len(ends))
        if row == len(ends):
            ends.append(stop)
        ends[row] = stop
        rows.append(row)
    return rows


def cd_diagram(
    average_ranks: Mapping[str, float],
    cd: float,
    cliques: Sequence[Sequence[str]],
    title: str | None = None,
) -> plt.Figure:
    """Draw Demsar's critical-difference diagram; returns the matplotlib Figure.

    ``average_ranks`` maps each variant to its average rank (1 = best, from
    ``nnstudy.analysis.ranks.average_ranks``), ``cd`` is Nemenyi's critical difference
    (``ranks.critical_difference``) and ``cliques`` the groups joined by a bar
    (``ranks.cliques``). A CD longer than the axis is drawn to the axis' end and labelled so.
    """
    ranks = {str(k): float(v) for k, v in dict(average_ranks).items()}
    k = len(ranks)
    if k < 2:
        raise ValueError(f"need >= 2 variants, got {k}")
    if not all(1 <= r <= k for r in ranks.values()):
        raise ValueError(f"average ranks must lie in [1, {k}]")
    if not (math.isfinite(cd) and cd > 0):
        raise ValueError(f"cd must be a positive number, got {cd}")
    unknown = sorted({str(v) for c in cliques for v in c} - set(ranks))
    if unknown:
        raise ValueError(f"cliques name unknown variants {unknown}; valid: {', '.join(ranks)}")

    order = sorted(ranks, key=lambda name: (ranks[name], name))
    left, right = order[: (k + 1) // 2], order[(k + 1) // 2 :][::-1]
    labels = {n: f"{n} ({ranks[n]:.2f})" for n in left} | {
        n: f"({ranks[n]:.2f}) {n}" for n in right
    }
    left_w = max(_text_width(labels[n]) for n in left) + PAD
    right_w = max((_text_width(labels[n]) for n in right), default=0.0) + PAD
    axis_w = min(8.0, max(2.5, 0.25 * (k - 1)))
    spans = [(min(ranks[str(v)] for v in c), max(ranks[str(v)] for v in c)) for c in cliques]
    rows = _clique_rows(spans)
    n_clique_rows = max(rows, default=-1) + 1

    top = 0.15 + (0.2 if title else 0.0)
    y_cd, y_axis = top + 0.2, top + 0.6
    y_first = y_axis + 0.2 + n_clique_rows * CLIQUE_ROW
    width = left_w + axis_w + right_w + 2 * PAD
    height = y_first + len(left) * ROW + 0.1
    x0 = PAD + left_w

    def x(rank: float) -> float:
        return x0 + (rank - 1) / (k - 1) * axis_w

    fig = plt.figure(figsize=(width, height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.set_axis_off()
    text = dict(fontsize=FONT_SIZE, color="#000000")

    ax.plot([x(1), x(k)], [y_axis, y_axis], color="#000000", lw=1)
    step = next(s for s in (1, 2, 5, 10) if s * axis_w / (k - 1) >= TICK_GAP)
    for tick in range(1, k + 1):
        labelled = tick in (1, k) or (tick % step == 0 and k - tick >= step / 2)
        ax.plot(
            [x(tick), x(tick)],
            [y_axis, y_axis - (0.08 if labelled else 0.04)],
            color="#000000",
            lw=1,
        )
        if labelled:
            ax.text(x(tick), y_axis - 0.1, str(tick), ha="center", va="bottom", **text)

    shown = min(cd, k - 1)
    ax.plot([x(1), x(1 + shown)], [y_cd, y_cd], color=OKABE_ITO[3], lw=2, gid="cd-bar")
    for end in (1, 1 + shown):
        ax.plot([x(end), x(end)], [y_cd - 0.05, y_cd + 0.05], color=OKABE_ITO[3], lw=1)
    note = f"CD = {cd:.2f}" + (f" (longer than the axis, k - 1 = {k - 1})" if cd > k - 1 else "")
    ax.text(x(1), y_cd - 0.07, note, ha="left", va="bottom", **text)

    for (start, stop), row in zip(spans, rows, strict=True):
        y = y_axis + 0.12 + row * CLIQUE_ROW
        ax.plot([x(start) - 0.04, x(stop) + 0.04], [y, y], color="#000000", lw=3, gid="clique",
                solid_capstyle="butt")  # fmt: skip

    for side, names in (("left", left), ("right", right)):
        for row, name in enumerate(names):
            colour = OKABE_ITO[order.index(name) % len(OKABE_ITO)]
            y = y_first + row * ROW + ROW / 2
            edge = x0 - PAD / 2 if side == "left" else x(k) + PAD / 2
            ax.plot([x(ranks[name])] * 2 + [edge], [y_axis, y, y], color=colour, lw=1)
            ax.plot(x(ranks[name]), y_axis, "o", color=colour, ms=4, gid=f"rank:{name}")
            ha, shift = ("right", -0.05) if side == "left" else ("left", 0.05)
            ax.text(edge + shift, y, labels[name], ha=ha, va="center", gid="label", **text)
    if title:
        ax.text(width / 2, 0.1, title, ha="center", va="top", **text)
    return fig
