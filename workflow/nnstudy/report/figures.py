"""The report's figures, per comparison (an experiment on a dataset) and per experiment (its
datasets together), as PNG (HTML) and PDF (LaTeX). Which figures exist, their titles and
builders: :data:`nnstudy.report.contents.FIGURES`.

One style everywhere: Okabe-Ito colours (colour-blind safe), each level also has its own marker,
viridis for heatmaps. Diverged runs are drawn with a cross and failed runs are counted in a note
on the figure: nothing is dropped silently. A figure that does not apply to a comparison (a
factor it does not vary, tuning it did not do) is drawn as one sentence saying so.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from nnstudy.report.architecture import distinct_architectures  # noqa: E402
from nnstudy.report.contents import (  # noqa: E402
    Figure,
    comparison_figures,
    experiment_figures,
    figure_paths,
)
from nnstudy.report.view import ComparisonView  # noqa: E402
from nnstudy.training.runfolder import file, read_json, read_snapshots  # noqa: E402
from nnstudy.tuning import stats as tuning_stats  # noqa: E402

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
    "image.cmap": "viridis",
}


def _style(levels) -> dict:
    """Colour and marker per level, in the order given (the experiment's order)."""
    return {
        lev: {"color": OKABE_ITO[i % len(OKABE_ITO)], "marker": MARKERS[i % len(MARKERS)]}
        for i, lev in enumerate(dict.fromkeys(levels))
    }


def _note(fig, runs: pd.DataFrame, noun: str = "runs") -> None:
    """Footnote with the diverged and failed counts of the runs behind a figure."""
    n_div = int(runs["status"].eq("diverged").sum())
    n_fail = int(runs["status"].eq("failed").sum())
    parts = [f"{len(runs)} {noun}"]
    if n_div:
        parts.append(f"{n_div} diverged (x)")
    if n_fail:
        parts.append(f"{n_fail} failed (no metrics, not plotted)")
    # Above the axes: below them it would collide with rotated tick labels.
    fig.text(0.01, 1.0, "; ".join(parts), fontsize=7, ha="left", va="bottom")


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, wrap=True)
    ax.set_axis_off()


def statement(text: str):
    """A figure that is one sentence: why there is nothing to draw."""
    fig, ax = plt.subplots(figsize=(5, 1.4))
    _empty(ax, text)
    return fig


def _log_scale(ax, which: str) -> None:
    """Axis ``which`` ("x" or "y") of ``ax`` on a log scale whose ticks read 0.01, 0.1, 1:
    matplotlib's default labels (10 to a power) go through its TeX-like text parser, about a
    second of the figures job."""
    getattr(ax, f"set_{which}scale")("log")
    axis = getattr(ax, f"{which}axis")
    axis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(
        matplotlib.ticker.LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.4))
    )


def quantile_band(histories: pd.DataFrame, column: str) -> pd.DataFrame:
    """Median and interquartile range of ``column`` per epoch over the runs in ``histories``.

    Non-finite values (a diverged run's last epoch) are left out; an epoch where no run has a
    finite value is dropped. Columns: epoch, n, q25, median, q75."""
    values = pd.to_numeric(histories[column], errors="coerce")
    finite = histories.assign(_v=values)[np.isfinite(values)]
    by_epoch = finite.groupby("epoch")["_v"]
    out = pd.DataFrame(
        {
            "n": by_epoch.size(),
            "q25": by_epoch.quantile(0.25),
            "median": by_epoch.median(),
            "q75": by_epoch.quantile(0.75),
        }
    )
    return out.rename_axis("epoch").reset_index()[["epoch", "n", "q25", "median", "q75"]]


CURVE_PANELS = (
    ("accuracy (%)", (("val_accuracy", "validation"), ("train_accuracy", "training")), 100.0),
    ("loss", (("val_loss", "validation"), ("train_loss", "training")), 1.0),
)


def _curve_picks(view: ComparisonView) -> list[tuple[str, pd.Series]]:
    """(factor, level -> variant) per row of the curves figure: per varying factor, the
    validation-best variant of each level; without one, the comparison's single variant."""
    if view.factors:
        return [(f, view.best_per_level(f)) for f in view.factors]
    variants = list(view.variants["variant"])
    return [("variant", pd.Series(variants, index=variants))]


def learning_curves(view: ComparisonView, **_):
    """Accuracy and loss per epoch, validation (solid) and training (dashed): one row per
    varying factor, one line per level (its best variant by validation accuracy), median over
    the variant's seeds with the interquartile band. The gap between the two lines is the
    over-fitting."""
    picks = _curve_picks(view)
    fig, axes = plt.subplots(
        len(picks), 2, figsize=(8.5, 3.0 * len(picks)), squeeze=False, gridspec_kw={"wspace": 0.3}
    )
    histories = view.histories
    for row, (factor, pick) in zip(axes, picks, strict=True):
        levels = _style(pick.index)
        for ax, (label, columns, scale) in zip(row, CURVE_PANELS, strict=True):
            for level, sty in levels.items():
                variant = pick[level]
                h = histories[histories["variant"] == variant]
                n_seeds = h["run_id"].nunique()
                for column, kind in columns:
                    band = quantile_band(h, column)
                    if band.empty:
                        continue
                    solid = kind == "validation"
                    ax.plot(
                        band["epoch"],
                        scale * band["median"],
                        color=sty["color"],
                        linestyle="-" if solid else "--",
                        marker=sty["marker"] if solid else None,
                        markevery=max(1, len(band) // 8),
                        ms=4,
                        label=f"{level}: {variant} ({n_seeds} seeds)" if solid else None,
                    )
                    ax.fill_between(
                        band["epoch"],
                        scale * band["q25"],
                        scale * band["q75"],
                        color=sty["color"],
                        alpha=0.2 if solid else 0.1,
                        lw=0,
                    )
                _mark_diverged(ax, h, columns[0][0], scale)
            ax.set_xlabel("epoch")
            ax.set_ylabel(label)
            ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
            drawn = histories[histories["variant"].isin(pick.to_numpy())]
            values = pd.to_numeric(drawn[[c for c, _ in columns]].stack(), errors="coerce")
            values = values[np.isfinite(values)]
            # Log scale only where losses span more than a decade (else its ticks say little).
            positive = len(values) and (values > 0).all()
            if label == "loss" and positive and values.max() > 10 * values.min():
                _log_scale(ax, "y")
        row[0].plot([], [], color="black", linestyle="-", label="validation (band: IQR)")
        row[0].plot([], [], color="black", linestyle="--", label="training")
        row[1].legend(
            *row[0].get_legend_handles_labels(),
            title=factor,
            loc="center left",
            bbox_to_anchor=(1.02, 0.5),
        )
    _note(fig, view.runs)
    return fig


def _mark_diverged(ax, h: pd.DataFrame, column: str, scale: float) -> None:
    """A cross where each diverged run stopped: its last value, else the variant's highest."""
    val = pd.to_numeric(h[column], errors="coerce")
    top = val[np.isfinite(val)].max() if np.isfinite(val).any() else np.nan
    for _, last in h[h["status"] == "diverged"].groupby("run_id").tail(1).iterrows():
        y = val[last.name] if np.isfinite(val[last.name]) else top
        if np.isfinite(y):
            ax.plot(last["epoch"], scale * y, **DIVERGED)


def ranking(view: ComparisonView, **_):
    """Each variant's test accuracy with its 95 % interval (over seeds and test examples),
    in validation order (how the study selects: top = highest validation accuracy); the
    reference is filled, and each row says its probability of ranking first on test."""
    v = view.variants
    fig, ax = plt.subplots(figsize=(6.4, 0.9 + 0.32 * len(v)))
    y = np.arange(len(v))[::-1]
    mean, low, high = (100 * v[c].to_numpy(float) for c in ("test_mean", "low", "high"))
    has = np.isfinite(low) & np.isfinite(high)
    ref = v["verdict"].eq("reference").to_numpy()
    ax.errorbar(
        mean[has],
        y[has],
        xerr=[mean[has] - low[has], high[has] - mean[has]],
        fmt="none",
        ecolor=OKABE_ITO[3],
        capsize=2,
    )
    for filled in (True, False):
        sel = ref == filled
        ax.plot(
            mean[sel],
            y[sel],
            "o",
            color=OKABE_ITO[3],
            mfc=OKABE_ITO[3] if filled else "white",
            label="reference (best on validation)" if filled else "other variants",
        )
    for yi, p in zip(y, v["p_first"], strict=True):
        text = "P(first) n/a" if pd.isna(p) else f"P(first) {p:.2f}"
        ax.annotate(
            text,
            (1.0, yi),
            xycoords=("axes fraction", "data"),
            fontsize=7,
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
        )
    ax.set_yticks(y, [str(x) for x in v["variant"]])
    ax.set_xlabel("test accuracy (%), 95 % interval over seeds and test examples")
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=2)
    _note(fig, view.runs)
    return fig


def main_effects(view: ComparisonView, **_):
    """Marginal mean test accuracy per level of each varying factor, with its 95 % interval
    (over seeds and test examples)."""
    effects, factors = view.effects, view.factors
    fig, axes = plt.subplots(
        1, len(factors), figsize=(2.8 * len(factors), 2.9), sharey=True, squeeze=False
    )
    for ax, factor in zip(axes[0], factors, strict=True):
        eff = effects[effects["factor"] == factor]
        x = np.arange(len(eff))
        mean = 100 * eff["test_mean"].to_numpy(float)
        low, high = 100 * eff["low"].to_numpy(float), 100 * eff["high"].to_numpy(float)
        has = np.isfinite(low)
        ax.errorbar(
            x[has],
            mean[has],
            yerr=[mean[has] - low[has], high[has] - mean[has]],
            fmt="o",
            capsize=3,
            color=OKABE_ITO[3],
        )
        ax.plot(x[~has], mean[~has], "o", color=OKABE_ITO[3], mfc="white")
        lead = eff["lead"].astype(str).str.lower().eq("true").to_numpy()
        ax.plot(x[lead], mean[lead], "*", ms=11, color=OKABE_ITO[0], label="best on validation")
        ax.set_xticks(x, [str(v) for v in eff["level"]], rotation=30, ha="right")
        ax.set_title(factor)
    axes[0][0].set_ylabel("test accuracy (%)")
    axes[0][0].legend(loc="lower left", bbox_to_anchor=(0, 1.08))
    fig.text(
        0.99,
        1.0,
        "error bars: 95 % interval over seeds and test examples",
        fontsize=7,
        ha="right",
        va="bottom",
    )
    _note(fig, view.runs)
    return fig


def interaction(view: ComparisonView, **_):
    """Mean test accuracy (%) of each cell of the comparison's first two varying factors."""
    inter = view.interaction
    rf, cf = inter["row_factor"].iloc[0], inter["col_factor"].iloc[0]
    rows = list(dict.fromkeys(inter["row_level"]))
    cols = list(dict.fromkeys(inter["col_level"]))
    grid = np.full((len(rows), len(cols)), np.nan)
    text = np.full(grid.shape, "n/a", dtype=object)
    for _, c in inter.iterrows():
        i, j = rows.index(c["row_level"]), cols.index(c["col_level"])
        grid[i, j] = 100 * float(c["test_mean"])
        if np.isfinite(grid[i, j]):
            text[i, j] = f"{grid[i, j]:.1f}"
            if pd.notna(c["low"]):
                text[i, j] += f"\n[{100 * c['low']:.1f}, {100 * c['high']:.1f}]"
    fig, ax = plt.subplots(figsize=(1.5 + 1.3 * len(cols), 1.0 + 0.6 * len(rows)))
    image = ax.imshow(grid, aspect="auto")
    lo, hi = np.nanmin(grid), np.nanmax(grid)
    span = max(hi - lo, 1e-12)
    for i in range(len(rows)):
        for j in range(len(cols)):
            # viridis is light at its top end only: dark text there, white elsewhere.
            dark = not np.isfinite(grid[i, j]) or (grid[i, j] - lo) / span < 0.6
            ax.text(
                j,
                i,
                text[i, j],
                ha="center",
                va="center",
                fontsize=7,
                color="white" if dark else "black",
            )
    ax.set_xticks(range(len(cols)), cols, rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel(cf)
    ax.set_ylabel(rf)
    ax.grid(False)
    fig.colorbar(image, ax=ax, label="test accuracy (%)")
    _note(fig, view.runs)
    return fig


def _reference_runs(view: ComparisonView) -> pd.DataFrame:
    ref = view.reference
    runs = view.runs
    return runs[(runs["variant"] == ref) & (runs["status"] != "failed")].sort_values("seed")


def confusion(view: ComparisonView, runs_root, **_):
    """Row-normalised confusion matrix of the reference variant, summed over its seeds."""
    best_runs = _reference_runs(view)
    fig, ax = plt.subplots(figsize=(4.2, 3.6))
    total, names = None, None
    for run_id in best_runs["run_id"]:
        metrics = read_json(file(Path(runs_root) / view.dataset / run_id, "metrics"))
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
    ax.set_title(f"{view.reference} ({len(best_runs)} seeds)", fontsize=8)
    fig.colorbar(image, ax=ax, label="fraction of true class")
    return fig


def _reference_snapshots(view: ComparisonView, runs_root):
    for run_id in _reference_runs(view)["run_id"]:
        path = file(Path(runs_root) / view.dataset / run_id, "snapshots")
        snap = read_snapshots(path) if path.exists() else None
        # A run that failed before its first snapshot has S = 0.
        if snap is not None and len(snap["epoch"]):
            return run_id, snap
    return None, None


def weights(view: ComparisonView, runs_root, **_):
    """Per-layer weight histograms of the reference variant's first seed: first vs last
    snapshot."""
    run_id, snap = _reference_snapshots(view, runs_root)
    if snap is None:
        return statement("no weight snapshots available")
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
    fig.suptitle(f"{view.reference} (run {run_id})", fontsize=8, y=1.04)
    return fig


def gradients(view: ComparisonView, runs_root, **_):
    """Left: per-layer gradient norm over epochs (reference variant). Right: histogram of the
    global gradient norm per epoch over the comparison's runs, by the first varying factor."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3))
    run_id, snap = _reference_snapshots(view, runs_root)
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
        _log_scale(left, "y")
        left.set_xlabel("epoch")
        left.set_ylabel("layer gradient norm")
        left.set_title(f"{view.reference} (run {run_id})", fontsize=8)
        left.legend()
    histories = view.histories
    factor = view.factors[0] if view.factors else None
    group = histories["variant"].map(lambda v: view.levels(v)[factor]) if factor else "all runs"
    histories = histories.assign(_group=group)
    # Diverged runs' exploding norms would squash the scale; the legend counts them.
    finished = histories[histories["status"] != "diverged"]
    n_div = histories.loc[histories["status"] == "diverged", "run_id"].nunique()
    norms = finished[["_group", "grad_norm"]].replace([np.inf, -np.inf], np.nan).dropna()
    norms = norms[norms["grad_norm"] > 0]
    if norms.empty:
        _empty(right, "no gradient norms recorded")
    else:
        bins = np.linspace(*np.log10(norms["grad_norm"].agg(["min", "max"])) + [-0.01, 0.01], 30)
        for level, sty in _style(norms["_group"]).items():
            values = np.log10(norms.loc[norms["_group"] == level, "grad_norm"])
            right.hist(
                values, bins=bins, histtype="step", color=sty["color"], label=str(level), lw=1.5
            )
        right.set_xlabel("log10 gradient norm (per epoch, all runs)")
        right.set_ylabel("epochs")
        if n_div:
            right.plot([], [], **DIVERGED, label=f"{n_div} diverged runs not shown")
        right.legend(title=factor)
    _note(fig, view.runs)
    return fig


def _lead(trials) -> dict:
    """optimizer -> the variant drawn in bold (``tuning_stats.lead_variants``)."""
    lead = tuning_stats.lead_variants(trials)
    return dict(zip(lead["optimizer"], lead["variant"], strict=True))


def _budget_title(trials) -> str:
    """What budget the first-rung trials had, and whether halving went further."""
    first = tuning_stats.first_rung(tuning_stats.candidates(trials))
    budgets = sorted(pd.to_numeric(first["budget_epochs"], errors="coerce").dropna().unique())
    text = f"{'/'.join(f'{b:g}' for b in budgets) or 'n/a'} epochs per trial"
    if trials["rung"].nunique() > 1:
        text = f"first rung of successive halving, {text}"
    return text


def lr_sensitivity(view: ComparisonView, **_):
    """Validation accuracy against the learning rate (log x) at the first rung: per optimizer
    its best variant in bold, its other variants thin, the chosen lr as a star."""
    trials = view.trials
    fig, ax = plt.subplots(figsize=(5.6, 3.4))
    if trials.empty or "lr" not in tuning_stats.tuned_names(trials):
        _empty(ax, "no learning-rate trials in this comparison")
        return fig
    sens = tuning_stats.sensitivity(trials, "lr")
    lead = _lead(trials)
    for opt, sty in _style(sens["optimizer"].unique()).items():
        for variant, s in sens[sens["optimizer"] == opt].groupby("variant", sort=True):
            bold = variant == lead.get(opt)
            y = 100 * s[tuning_stats.TRIAL_METRIC]
            ax.plot(
                s["lr"],
                y,
                color=sty["color"],
                marker=sty["marker"] if bold else None,
                lw=2 if bold else 0.8,
                alpha=1 if bold else 0.35,
                ms=5,
                label=str(opt) if bold else None,
            )
            ax.plot(s.loc[s["diverged"], "lr"], y[s["diverged"]], **DIVERGED)
            if bold:
                ax.plot(
                    s.loc[s["chosen"], "lr"],
                    y[s["chosen"]],
                    marker="*",
                    ms=14,
                    mfc=sty["color"],
                    mec="black",
                    linestyle="none",
                )
    ax.plot([], [], marker="*", ms=10, mfc="white", mec="black", ls="none", label="chosen lr")
    if sens["diverged"].any():
        ax.plot([], [], **DIVERGED, label="diverged (counts as 0)")
    _log_scale(ax, "x")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("validation accuracy (%)")
    ax.set_title(_budget_title(trials), fontsize=8)
    ax.legend(
        title="optimizer (bold: its best variant)", loc="center left", bbox_to_anchor=(1, 0.5)
    )
    _note(fig, trials, "trials")
    return fig


ESTIMATOR_TEXT = {
    "without_replacement": "n of the grid's trials without replacement",
    "with_replacement": "n draws with replacement",
    "best_so_far": "best of the first n trials",
}


def expected_max(view: ComparisonView, **_):
    """Expected best validation accuracy of n trials (Dodge et al. 2019) for each optimizer's
    best variant, with its search method's estimator (``budget.estimator_for``): mean ± 1 sd,
    the band clipped to the observed range."""
    trials = view.trials
    fig, ax = plt.subplots(figsize=(5.6, 3.4))
    curves = tuning_stats.expected_max_curves(trials) if len(trials) else None
    if curves is None or curves.empty:
        _empty(ax, "no tuning trials in this comparison")
        return fig
    lead = _lead(trials)
    for opt, sty in _style(curves["optimizer"].unique()).items():
        c = curves[curves["variant"] == lead.get(opt)]
        if c.empty:
            continue
        ax.plot(
            c["n"],
            100 * c["mean"],
            color=sty["color"],
            marker=sty["marker"],
            ms=4,
            label=f"{opt} ({int(c['n_trials'].iloc[0])} trials)",
        )
        ax.fill_between(
            c["n"], 100 * c["lower"], 100 * c["upper"], color=sty["color"], alpha=0.2, lw=0
        )
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlabel("number of trials n")
    ax.set_ylabel("expected best validation accuracy (%)")
    estimators = "; ".join(ESTIMATOR_TEXT[e] for e in sorted(curves["estimator"].unique()))
    ax.set_title(f"{_budget_title(trials)}; {estimators}", fontsize=8)
    ax.legend(title="optimizer (best variant)", loc="center left", bbox_to_anchor=(1, 0.5))
    _note(fig, trials, "trials")
    return fig


# The architecture figure shows at most this many networks (the most frequent first).
MAX_ARCHITECTURES = 6


def architecture(view: ComparisonView, runs_root, **_):
    """Each distinct network the runs trained, read from their saved models: one panel per
    architecture, a box per layer (its height grows with the log of its width) labelled with
    its size and activation, and each dense connection's parameter count."""
    paths = [file(Path(runs_root) / view.dataset / r, "model") for r in view.runs["run_id"]]
    found = distinct_architectures(paths)
    if not found:
        fig, ax = plt.subplots(figsize=(4, 2))
        _empty(ax, "no saved model to read the architecture from")
        return fig
    shown = found[:MAX_ARCHITECTURES]
    width = max(len(arch.sizes) for arch, _ in shown)
    fig, axes = plt.subplots(
        len(shown), 1, figsize=(1.6 * width + 1.2, 1.9 * len(shown)), squeeze=False
    )
    tallest = np.log2(max(max(arch.sizes) for arch, _ in shown) + 1)
    colours = _style(sorted({a for arch, _ in shown for a in arch.activations}))
    for ax, (arch, n_runs) in zip(axes[:, 0], shown, strict=True):
        _draw_architecture(ax, arch, tallest, colours)
        runs_text = f"{n_runs} run" + "s" * (n_runs != 1)
        ax.set_title(
            f"{arch.title}: {arch.total_parameters:,} parameters ({runs_text})",
            fontsize=8,
            loc="left",
        )
    if len(found) > len(shown):
        fig.text(0.01, 0, f"and {len(found) - len(shown)} more architectures", fontsize=7)
    return fig


def _draw_architecture(ax, arch, tallest: float, colours: dict) -> None:
    last = len(arch.sizes) - 1
    for i, size in enumerate(arch.sizes):
        height = 0.15 + 0.85 * np.log2(size + 1) / tallest
        hidden = 0 < i < last
        name = arch.activations[i - 1] if hidden else ("input" if i == 0 else "output")
        colour = colours[name]["color"] if hidden else "0.75"
        ax.add_patch(plt.Rectangle((i - 0.18, -height / 2), 0.36, height, color=colour, alpha=0.85))
        ax.text(i, height / 2 + 0.05, f"{size:,}", ha="center", va="bottom", fontsize=8)
        label = name + (f"\n{arch.norms[i - 1]} norm" if hidden and arch.norms[i - 1] else "")
        label += f"\ndropout {arch.dropout:g}" if hidden and arch.dropout else ""
        ax.text(i, -height / 2 - 0.05, label, ha="center", va="top", fontsize=7)
        if hidden and arch.residual[i - 1]:
            ax.annotate(
                "",
                (i + 0.2, height / 2 + 0.3),
                (i - 0.8, height / 2 + 0.3),
                arrowprops=dict(arrowstyle="->", connectionstyle="arc3,rad=-0.4", color="0.4"),
            )
            ax.text(i - 0.3, height / 2 + 0.42, "+ x", ha="center", fontsize=7, color="0.4")
    for i, count in enumerate(arch.parameters):
        ax.annotate("", (i + 0.8, 0), (i + 0.2, 0), arrowprops=dict(arrowstyle="->", color="0.3"))
        ax.text(i + 0.5, 0.04, f"{count:,}", ha="center", va="bottom", fontsize=6.5, color="0.3")
    ax.set_xlim(-0.6, last + 0.6)
    ax.set_ylim(-1.05, 1.05)
    ax.axis("off")


def critical_difference(across: pd.DataFrame, **_):
    """Average ranks of an experiment's variants over its datasets with Nemenyi's critical
    difference (Demsar 2006): variants joined by a bar are not distinguishable."""
    from nnstudy.analysis.ranks import cliques
    from nnstudy.report.cd_diagram import cd_diagram

    ranks = pd.Series(across["mean_rank"].astype(float).to_numpy(), index=across["variant"])
    first = across.iloc[0]
    cd = float(first["cd"])
    title = f"{int(first['datasets'])} datasets, Friedman p = {float(first['friedman_p']):.3g}"
    if str(first["never"]).lower() == "true":
        title += ": this design cannot reach significance"
    return cd_diagram(ranks.to_dict(), cd, cliques(ranks, cd), title=title)


def applies(spec: Figure, view: ComparisonView) -> str | None:
    """None when ``spec`` has something to draw for ``view``, else the sentence saying why
    not (the report states it instead of the figure)."""
    if spec.tuning and not view.tuned:
        return f"{spec.title}: this experiment was not tuned."
    if len(view.factors) < spec.min_factors:
        varied = ", ".join(view.factors) or "no factor"
        need = "one factor" if spec.min_factors == 1 else f"{spec.min_factors} factors"
        return f"{spec.title}: the comparison varies {varied}; this figure needs {need} or more."
    if view.reference is None:
        return f"{spec.title}: no run of this comparison produced a test accuracy."
    return None


def _save(fig, paths: dict[str, Path]) -> None:
    paths["png"].parent.mkdir(parents=True, exist_ok=True)
    # The tight box once for both files: bbox_inches="tight" lays the figure out again for
    # each file, and layout is a large part of the figures job's time.
    box = fig.get_tightbbox().padded(plt.rcParams["savefig.pad_inches"])
    fig.savefig(paths["png"], dpi=110, bbox_inches=box)
    # No timestamp in the PDF, so reruns give identical files.
    fig.savefig(paths["pdf"], bbox_inches=box, metadata={"CreationDate": None})
    plt.close(fig)


def make_figures(view: ComparisonView, runs_root, outdir) -> dict:
    """Write every comparison figure of one comparison as PNG and PDF; returns the paths."""
    paths = figure_paths(outdir, view.slug, view.dataset)
    with plt.rc_context(STYLE):
        for spec in comparison_figures():
            why = applies(spec, view)
            builder = globals()[spec.builder]
            fig = statement(why) if why else builder(view=view, runs_root=runs_root)
            _save(fig, paths[spec.kind])
    return paths


def make_experiment_figures(across: pd.DataFrame, slug: str, outdir) -> dict:
    """Write the across-dataset figures of one experiment (``across``: its rows of across.csv)."""
    paths = figure_paths(outdir, slug)
    with plt.rc_context(STYLE):
        for spec in experiment_figures():
            _save(globals()[spec.builder](across=across), paths[spec.kind])
    return paths
