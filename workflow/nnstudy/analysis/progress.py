"""How fast the variants of a comparison learn: time to a target validation accuracy, in epochs
and in optimizer steps (AlgoPerf's question), both deterministic for a given run.

Wall seconds are not used: the study runs several jobs at once on shared cores, so two runs
with the same compute differ in seconds; epochs and steps do not.

The target is a fraction (:data:`TARGET_FRACTIONS`) of the best validation accuracy, taken as
the highest point of any variant's median curve over its seeds (one seed's lucky epoch does not
set the bar, and the leading variant's median reaches it). Per variant and fraction: how many of
its runs reached the target, and the median over its runs of the first epoch (and the optimizer
steps until the end of that epoch) at which each did; a run that never did counts as infinitely
late, so the median is "not reached" (inf) when half of the runs or more never did.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from nnstudy.analysis.comparisons import Comparison

TARGET_FRACTIONS = (0.95, 0.99)
COLUMNS = (
    "experiment",
    "dataset",
    "variant",
    "fraction",
    "best",
    "target",
    "runs",
    "reached",
    "epochs",
    "steps",
)


def time_to_target(
    comparison: Comparison,
    runs: pd.DataFrame,
    histories: pd.DataFrame,
    fractions=TARGET_FRACTIONS,
) -> pd.DataFrame:
    """The time-to-target rows of one comparison. ``runs``: its runs (indexed by run id, with
    ``status`` and ``steps_per_epoch``); ``histories``: history rows with ``run_id``."""
    run_variant = {comparison.runs[k]: k[0] for k in comparison.runs}
    ok = [r for r in runs.index if runs.at[r, "status"] != "failed"]
    h = histories[histories["run_id"].isin(ok)].assign(
        _variant=lambda d: d["run_id"].map(run_variant),
        _acc=lambda d: pd.to_numeric(d["val_accuracy"], errors="coerce"),
    )
    finite = h[np.isfinite(h["_acc"])]
    medians = finite.groupby(["_variant", "epoch"])["_acc"].median()
    best = float(medians.max()) if len(medians) else math.nan
    rows = []
    for variant in comparison.variants:
        mine = h[h["_variant"] == variant].sort_values(["run_id", "epoch"])
        for fraction in fractions:
            target = fraction * best
            epochs, steps = [], []
            for rid, run in mine.groupby("run_id", sort=True):
                hit = np.flatnonzero(run["_acc"].to_numpy() >= target)
                epoch = float(run["epoch"].iloc[hit[0]]) if hit.size else math.inf
                epochs.append(epoch)
                steps.append(epoch * float(runs.at[rid, "steps_per_epoch"]))
            rows.append(
                {
                    "experiment": comparison.experiment,
                    "dataset": comparison.dataset,
                    "variant": variant,
                    "fraction": fraction,
                    "best": best,
                    "target": target,
                    "runs": len(epochs),
                    "reached": int(np.isfinite(epochs).sum()),
                    "epochs": float(np.median(epochs)) if epochs else math.nan,
                    "steps": float(np.median(steps)) if steps else math.nan,
                }
            )
    return pd.DataFrame(rows, columns=list(COLUMNS))
