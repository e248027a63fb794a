"""The report's figures, per dataset, as PNG (HTML) and PDF (LaTeX).

One style everywhere: Okabe-Ito colours (colour-blind safe), each level also has its own marker,
viridis for heatmaps. Diverged runs are drawn with a cross and failed runs are counted in a note
on the figure: nothing is dropped silently.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from nnstudy.aggregate import METRIC  # noqa: E402
from nnstudy.names import MAIN_FACTORS, figure_paths  # noqa: E402
from nnstudy.stats import usable  # noqa: E402
from nnstudy.tracking import read_snapshots  # noqa: E402

OKABE_ITO = ["#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#F0E442", "#000000"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
DIVERGED = dict(marker="x", color="#D55E00", linestyle="none", markersize=8, mew=2)
STYLE = {
    "axes.prop_cycle": matplotlib.cycler(color=OKABE_ITO),
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "font.size": 9,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "figure.dpi": 100,
    "savefig.bbox": "tight",
    "image.cmap": "viridis",
}


def _style(levels) -> dict:
    """Colour and marker per level, stable for a given sorted list of levels."""
    return {
        lev: {"color": OKABE_ITO[i % len(OKABE_ITO)], "marker": MARKERS[i % len(MARKERS)]}
        for i, lev in enumerate(sorted(levels, key=str))
    }


def _note(fig, runs: pd.DataFrame) -> None:
    """Footnote with the diverged and failed counts of the runs behind a figure."""
    n_div = int(runs["status"].eq("diverged").sum())
    n_fail = int(runs["status"].eq("failed").sum())
    parts = [f"{len(runs)} runs"]
    if n_div:
        parts.append(f"{n_div} diverged (x)")
    if n_fail:
        parts.append(f"{n_fail} failed (no metrics, not plotted)")
    # Above the axes: below them it would collide with rotated tick labels.
    fig.text(0.01, 1.0, "; ".join(parts), fontsize=7, ha="left", va="bottom")


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()


def learning_curves(runs, histories, factor: str, **_):
    """Validation accuracy and training loss per epoch: mean over runs of each level ± 1 sd."""
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    levels = _style(runs[factor].unique())
    for ax, col, label in zip(
        axes, ["val_accuracy", "train_loss"], ["validation accuracy", "training loss"], strict=True
    ):
        for level, sty in levels.items():
            h = histories[histories[factor] == level]
            if h.empty:
                continue
            by_epoch = h.replace([np.inf, -np.inf], np.nan).groupby("epoch")[col]
            mean, sd = by_epoch.mean(), by_epoch.std().fillna(0.0)
            ax.plot(
                mean.index,
                mean,
                color=sty["color"],
                marker=sty["marker"],
                markevery=max(1, len(mean) // 8),
                ms=4,
                label=str(level),
            )
            ax.fill_between(mean.index, mean - sd, mean + sd, color=sty["color"], alpha=0.2, lw=0)
            for _, last in h[h["status"] == "diverged"].groupby("run_id").tail(1).iterrows():
                y = last[col] if np.isfinite(last[col]) else np.nanmax(mean)
                ax.plot(last["epoch"], y, **DIVERGED)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        if col == "train_loss" and (histories[col] > 0).all():
            ax.set_yscale("log")
    axes[0].legend(title=factor)
    _note(fig, runs)
    return fig


def heatmap(runs, tables, dataset, **_):
    """Mean test accuracy per optimizer x activation cell, one panel per initializer."""
    inits = sorted(runs["initializer"].unique(), key=str)
    opts = sorted(runs["optimizer"].unique(), key=str)
    acts = sorted(runs["activation"].unique(), key=str)
    fig, axes = plt.subplots(
        1,
        len(inits),
        figsize=(1.5 + max(2.4, 0.9 * len(acts)) * len(inits), 1.2 + 0.5 * len(opts)),
        squeeze=False,
    )
    good = runs[runs["status"] != "failed"]
    cells = good.groupby(["initializer", "optimizer", "activation"])[METRIC].mean()
    diverged = (
        runs[runs["status"] == "diverged"]
        .groupby(["initializer", "optimizer", "activation"])
        .size()
    )
    image = None
    for ax, init in zip(axes[0], inits, strict=True):
        grid = np.full((len(opts), len(acts)), np.nan)
        for i, o in enumerate(opts):
            for j, a in enumerate(acts):
                grid[i, j] = cells.get((init, o, a), np.nan)
                text = "n/a" if np.isnan(grid[i, j]) else f"{100 * grid[i, j]:.1f}"
                if diverged.get((init, o, a), 0):
                    text += f"\n{diverged[(init, o, a)]}x div."
                # viridis is light at its top end only: dark text there, white elsewhere.
                span = max(np.nanmax(cells) - np.nanmin(cells), 1e-12)
                dark = np.isnan(grid[i, j]) or (grid[i, j] - np.nanmin(cells)) / span < 0.6
                ax.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if dark else "black",
                )
        image = ax.imshow(
            100 * grid, vmin=100 * np.nanmin(cells), vmax=100 * np.nanmax(cells), aspect="auto"
        )
        ax.set_xticks(range(len(acts)), acts, rotation=30, ha="right")
        # Optimizer names only on the first panel: they would run into the panel to the left.
        ax.set_yticks(range(len(opts)), opts if ax is axes[0][0] else [])
        ax.set_title(f"initializer: {init}", fontsize=9)
        ax.grid(False)
    fig.colorbar(image, ax=axes[0].tolist(), label="test accuracy (%)")
    _note(fig, runs)
    return fig


def main_effects(runs, tables, dataset, **_):
    """Marginal mean test accuracy per level of each factor, with 95 % CIs over seeds."""
    effects = tables["main_effects"]
    effects = effects[effects["dataset"] == dataset]
    factors = list(dict.fromkeys(effects["factor"]))
    fig, axes = plt.subplots(
        1, len(factors), figsize=(2.6 * len(factors), 2.8), sharey=True, squeeze=False
    )
    for ax, factor in zip(axes[0], factors, strict=True):
        eff = effects[effects["factor"] == factor]
        x = np.arange(len(eff))
        mean = 100 * eff["mean"].to_numpy(float)
        low, high = 100 * eff["ci_low"].to_numpy(float), 100 * eff["ci_high"].to_numpy(float)
        has_ci = np.isfinite(low)
        ax.errorbar(
            x[has_ci],
            mean[has_ci],
            yerr=[mean[has_ci] - low[has_ci], high[has_ci] - mean[has_ci]],
            fmt="o-",
            capsize=3,
            color=OKABE_ITO[3],
        )
        ax.plot(x[~has_ci], mean[~has_ci], "o", color=OKABE_ITO[3], mfc="white")
        ax.set_xticks(x, [str(v) for v in eff["level"]], rotation=30, ha="right")
        ax.set_title(factor)
    # CIs from few seeds can reach past the possible range; the (shared) axis shows [0, 100].
    values = 100 * effects[["mean", "ci_low", "ci_high"]].to_numpy(float)
    axes[0][0].set_ylim(max(0.0, np.nanmin(values) - 2), min(100.0, np.nanmax(values) + 2))
    axes[0][0].set_ylabel("test accuracy (%)")
    fig.text(
        0.99,
        1.0,
        "error bars: 95 % CI over seeds, clipped to [0, 100] (open marker: n/a, one seed)",
        fontsize=7,
        ha="right",
        va="bottom",
    )
    _note(fig, runs)
    return fig


def accuracy_vs_time(runs, **_):
    """Each run's test accuracy against its training time; colour = optimizer."""
    fig, ax = plt.subplots(figsize=(5, 3.2))
    styles = _style(runs["optimizer"].unique())
    for opt, sty in styles.items():
        r = runs[(runs["optimizer"] == opt) & (runs["status"] != "diverged")]
        ax.scatter(
            r["train_seconds"],
            100 * r[METRIC],
            color=sty["color"],
            marker=sty["marker"],
            s=18,
            label=str(opt),
        )
    div = runs[runs["status"] == "diverged"]
    if len(div):
        ax.plot(div["train_seconds"], 100 * div[METRIC].fillna(0.0), label="diverged", **DIVERGED)
    ax.set_xlabel("training time (s)")
    ax.set_ylabel("test accuracy (%)")
    ax.legend()
    _note(fig, runs)
    return fig


def _best_runs(runs, tables, dataset):
    ranking = tables["ranking"]
    ranking = ranking[ranking["dataset"] == dataset]
    if ranking.empty:
        return None, runs.iloc[0:0]
    best = ranking.sort_values("rank")["variant"].iloc[0]
    return best, runs[(runs["variant"] == best) & (runs["status"] != "failed")].sort_values("seed")


def confusion(runs, tables, dataset, runs_root, **_):
    """Row-normalised confusion matrix of the best variant, summed over its seeds."""
    best, best_runs = _best_runs(runs, tables, dataset)
    fig, ax = plt.subplots(figsize=(4.2, 3.6))
    total, names = None, None
    for run_id in best_runs["run_id"]:
        metrics = json.loads((Path(runs_root) / dataset / run_id / "metrics.json").read_text())
        cm = np.asarray(metrics.get("confusion_matrix") or [], dtype=float)
        if cm.ndim == 2 and cm.size:
            total = cm if total is None else total + cm
            names = metrics.get("class_names") or [str(i) for i in range(len(cm))]
    if total is None:
        _empty(ax, "no confusion matrix available")
        return fig
    norm = total / np.maximum(total.sum(axis=1, keepdims=True), 1)
    image = ax.imshow(norm, vmin=0, vmax=1)
    ticks = range(len(names))
    # Slanted when the names would not fit side by side.
    slant = len(names) * max(len(str(n)) for n in names) > 24
    ax.set_xticks(
        ticks,
        [str(n) for n in names],
        rotation=45 if slant else 0,
        ha="right" if slant else "center",
    )
    ax.set_yticks(ticks, [str(n) for n in names])
    if len(names) <= 12:
        for i in ticks:
            for j in ticks:
                ax.text(
                    j,
                    i,
                    f"{norm[i, j]:.2f}",
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="white" if norm[i, j] < 0.5 else "black",
                )
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.grid(False)
    ax.set_title(f"{best} ({len(best_runs)} seeds)", fontsize=8)
    fig.colorbar(image, ax=ax, label="fraction of true class")
    return fig


def _best_snapshots(runs, tables, dataset, runs_root):
    best, best_runs = _best_runs(runs, tables, dataset)
    for run_id in best_runs["run_id"]:
        path = Path(runs_root) / dataset / run_id / "snapshots.npz"
        snap = read_snapshots(path) if path.exists() else None
        # A run that failed before its first snapshot has S = 0.
        if snap is not None and len(snap["epoch"]):
            return best, run_id, snap
    return best, None, None


def weights(runs, tables, dataset, runs_root, **_):
    """Per-layer weight histograms of the best variant's first seed: first vs last snapshot."""
    best, run_id, snap = _best_snapshots(runs, tables, dataset, runs_root)
    if snap is None:
        fig, ax = plt.subplots(figsize=(4, 2))
        _empty(ax, "no weight snapshots available")
        return fig
    layers = [str(x) for x in snap["layer"]]
    fig, axes = plt.subplots(1, len(layers), figsize=(2.6 * len(layers), 2.6), squeeze=False)
    picks = sorted({0, len(snap["epoch"]) - 1})
    for li, (ax, layer) in enumerate(zip(axes[0], layers, strict=True)):
        for k, s in enumerate(picks):
            edges, counts = snap["weight_edges"][s, li], snap["weight_counts"][s, li]
            ax.stairs(
                counts,
                edges,
                color=OKABE_ITO[3 if k else 0],
                label=f"epoch {int(snap['epoch'][s])}",
                fill=not k,
                alpha=0.5 if not k else 1,
            )
        ax.set_title(layer)
        ax.set_xlabel("weight")
    axes[0][0].set_ylabel("count")
    axes[0][0].legend()
    fig.suptitle(f"{best} (run {run_id})", fontsize=8, y=1.04)
    return fig


def gradients(runs, histories, tables, dataset, runs_root, **_):
    """Left: per-layer gradient norm over epochs (best variant). Right: histogram of the
    global gradient norm per epoch over all runs, by optimizer."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3))
    best, run_id, snap = _best_snapshots(runs, tables, dataset, runs_root)
    if snap is None:
        _empty(left, "no gradient snapshots available")
    else:
        for li, layer in enumerate(snap["layer"]):
            left.plot(
                snap["epoch"],
                snap["grad_norm"][:, li],
                marker=MARKERS[li % len(MARKERS)],
                ms=3,
                label=str(layer),
            )
        left.set_yscale("log")
        left.set_xlabel("epoch")
        left.set_ylabel("layer gradient norm")
        left.set_title(f"{best} (run {run_id})", fontsize=8)
        left.legend()
    # Diverged runs' exploding norms would squash the scale; the legend counts them.
    finished = histories[histories["status"] != "diverged"]
    n_div = histories.loc[histories["status"] == "diverged", "run_id"].nunique()
    norms = finished[["optimizer", "grad_norm"]].replace([np.inf, -np.inf], np.nan).dropna()
    norms = norms[norms["grad_norm"] > 0]
    if norms.empty:
        _empty(right, "no gradient norms recorded")
    else:
        bins = np.linspace(*np.log10(norms["grad_norm"].agg(["min", "max"])) + [-0.01, 0.01], 30)
        for opt, sty in _style(norms["optimizer"].unique()).items():
            values = np.log10(norms.loc[norms["optimizer"] == opt, "grad_norm"])
            right.hist(
                values, bins=bins, histtype="step", color=sty["color"], label=str(opt), lw=1.5
            )
        right.set_xlabel("log10 gradient norm (per epoch, all runs)")
        right.set_ylabel("epochs")
        if n_div:
            right.plot([], [], **DIVERGED, label=f"{n_div} diverged runs not shown")
        right.legend()
    _note(fig, runs)
    return fig


BUILDERS: dict[str, Callable] = {
    **{f"curves_{f}": functools.partial(learning_curves, factor=f) for f in MAIN_FACTORS},
    "heatmap": heatmap,
    "main_effects": main_effects,
    "time": accuracy_vs_time,
    "confusion": confusion,
    "weights": weights,
    "gradients": gradients,
}


def _placeholder(runs):
    fig, ax = plt.subplots(figsize=(4, 2))
    _empty(ax, "no run of this dataset produced a test accuracy")
    _note(fig, runs)
    return fig


def make_figures(tables: dict[str, pd.DataFrame], dataset: str, runs_root, outdir) -> dict:
    """Write every figure type of one dataset as PNG and PDF; returns ``figure_paths``."""
    runs = tables["runs"][tables["runs"]["dataset"] == dataset]
    if runs.empty:
        raise ValueError(f"no runs for dataset {dataset!r} in the runs table")
    histories = tables["histories"][tables["histories"]["dataset"] == dataset]
    paths = figure_paths(outdir, dataset)
    kwargs = dict(
        runs=runs, histories=histories, tables=tables, dataset=dataset, runs_root=runs_root
    )
    # Without a single test accuracy (every run failed) each figure says so instead.
    no_metrics = usable(runs, METRIC).empty
    with plt.rc_context(STYLE):
        for kind, builder in BUILDERS.items():
            fig = _placeholder(runs) if no_metrics else builder(**kwargs)
            paths[kind]["png"].parent.mkdir(parents=True, exist_ok=True)
            fig.savefig(paths[kind]["png"], dpi=110)
            # No timestamp in the PDF, so reruns give identical files.
            fig.savefig(paths[kind]["pdf"], metadata={"CreationDate": None})
            plt.close(fig)
    return paths
