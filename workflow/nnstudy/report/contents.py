"""Names and paths that the report rules and the report scripts share.

Kept free of heavy imports (pandas, scipy, matplotlib): the Snakefile imports this at every
start, including a no-op rerun.
"""

from __future__ import annotations

import shutil
from pathlib import Path

MAIN_FACTORS = ("optimizer", "activation", "initializer")
TABLES = (
    "runs",
    "histories",
    "variants",
    "main_effects",
    "interaction",
    "ranking",
    "trials",
    "trial_histories",
)
# Figure types, in report order; learning curves are one figure per factor.
FIGURE_TYPES = (
    "architecture",
    *(f"curves_{f}" for f in MAIN_FACTORS),
    "heatmap",
    "main_effects",
    "time",
    "confusion",
    "weights",
    "gradients",
    "lr_sensitivity",
    "expected_max",
)
# Figures drawn from the tuning trials: in the report only for datasets that have trials.
TUNING_FIGURES = ("lr_sensitivity", "expected_max")
TITLES = {
    "architecture": "Network architectures",
    **{f"curves_{f}": f"Learning curves by {f}" for f in MAIN_FACTORS},
    "heatmap": "Test accuracy, optimizer x activation",
    "main_effects": "Main effects",
    "time": "Test accuracy against training time",
    "confusion": "Confusion matrix of the best variant",
    "weights": "Weight histograms of the best variant",
    "gradients": "Gradient norms",
    "lr_sensitivity": "Learning-rate sensitivity",
    "expected_max": "Expected best validation accuracy against the number of trials",
}
TEX_ENGINES = ("latexmk", "pdflatex", "tectonic")


def figure_paths(outdir, dataset: str) -> dict[str, dict[str, Path]]:
    """{figure type: {"png": path, "pdf": path}} for one dataset."""
    base = Path(outdir) / dataset
    return {t: {ext: base / f"{t}.{ext}" for ext in ("png", "pdf")} for t in FIGURE_TYPES}


def tex_engine() -> str | None:
    """The first TeX engine found on PATH (latexmk preferred), or None."""
    return next((e for e in TEX_ENGINES if shutil.which(e)), None)
