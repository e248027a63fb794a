"""What the report contains: the aggregate tables and the one table of figures, which drives the
figure builders (:mod:`nnstudy.report.figures`), the rules' outputs
(:mod:`nnstudy.report.rules`), the templates and ``snakemake --report``'s captions
(``report/fig_<kind>.rst``).

Kept free of heavy imports (pandas, scipy, matplotlib): the Snakefile imports this at every
start, including a no-op rerun.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

# The factors the trials table and W&B tags name (a comparison's own factors are its
# experiment's: nnstudy.analysis.comparisons).
MAIN_FACTORS = ("optimizer", "activation", "initializer")
TABLES = (
    "runs",
    "members",
    "histories",
    "comparisons",
    "variants",
    "main_effects",
    "interaction",
    "across",
    "time_to_target",
    "trials",
    "trial_histories",
)


@dataclass(frozen=True)
class Figure:
    """One figure type. ``builder`` names its function in nnstudy.report.figures; its caption
    is ``report/fig_<kind>.rst``. ``scope``: drawn per comparison (an experiment on a dataset)
    or per experiment (across its datasets). A comparison shows it only when it varies at least
    ``min_factors`` factors and, for a ``tuning`` figure, has trials; otherwise the builder
    draws a sentence saying why, and the report states it instead of showing it."""

    kind: str
    title: str
    builder: str
    scope: str = "comparison"
    min_factors: int = 0
    tuning: bool = False
    min_datasets: int = 1


FIGURES = (
    Figure("architecture", "Network architectures", "architecture"),
    Figure("ranking", "Test accuracy per variant, in validation order", "ranking"),
    Figure("curves", "Learning curves", "learning_curves"),
    Figure("main_effects", "Main effects", "main_effects", min_factors=1),
    Figure("interaction", "Interaction of the first two factors", "interaction", min_factors=2),
    Figure("confusion", "Confusion matrix of the reference variant", "confusion"),
    Figure("weights", "Weight histograms of the reference variant", "weights"),
    Figure("gradients", "Gradient norms", "gradients"),
    Figure("lr_sensitivity", "Learning-rate sensitivity", "lr_sensitivity", tuning=True),
    Figure(
        "expected_max",
        "Expected best validation accuracy against the number of trials",
        "expected_max",
        tuning=True,
    ),
    Figure(
        "critical_difference",
        "Average ranks across datasets",
        "critical_difference",
        scope="experiment",
        min_datasets=2,
    ),
)
FIGURE_KINDS = {f.kind: f for f in FIGURES}
TEX_ENGINES = ("latexmk", "pdflatex", "tectonic")


def comparison_figures() -> tuple[Figure, ...]:
    return tuple(f for f in FIGURES if f.scope == "comparison")


def experiment_figures() -> tuple[Figure, ...]:
    return tuple(f for f in FIGURES if f.scope == "experiment")


def figure_dir(outdir, slug: str, dataset: str | None = None) -> Path:
    """Where one comparison's figures live (``<outdir>/<slug>/<dataset>``), or an
    experiment's own (``<outdir>/<slug>``)."""
    return Path(outdir, slug) if dataset is None else Path(outdir, slug, dataset)


def figure_paths(outdir, slug: str, dataset: str | None = None) -> dict[str, dict[str, Path]]:
    """{kind: {"png": path, "pdf": path}} of one comparison (``dataset`` given) or one
    experiment's across-dataset figures."""
    base = figure_dir(outdir, slug, dataset)
    kinds = comparison_figures() if dataset is not None else experiment_figures()
    return {f.kind: {ext: base / f"{f.kind}.{ext}" for ext in ("png", "pdf")} for f in kinds}


def tex_engine() -> str | None:
    """The first TeX engine found on PATH (latexmk preferred), or None."""
    return next((e for e in TEX_ENGINES if shutil.which(e)), None)
