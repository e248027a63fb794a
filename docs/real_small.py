"""The README's real-data section from a finished `real_small` study: its headline table
(printed as Markdown) and two of its figures, copied here as small PNGs.

    .venv/bin/snakemake --config 'select=[real_small]'
    .venv/bin/python docs/real_small.py
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
TABLES = ROOT / "results" / "tables"
FIGURES = ROOT / "results" / "figures" / "fashion_mnist"
SHOWN = ("main_effects", "curves_optimizer")


def percent(x: float) -> str:
    return "n/a" if pd.isna(x) else f"{100 * x:.2f}"


def headline(variants: pd.DataFrame, top: int = 5) -> str:
    """The best and the worst variants of each dataset: mean test accuracy over the seeds with
    its 95 % t-interval."""
    lines = [
        "| dataset | rank | optimizer | activation | initializer | test accuracy % (mean, 95 % CI) | seeds |",
        "|---|---:|---|---|---|---|---:|",
    ]
    for dataset, group in variants.groupby("dataset", sort=True):
        ranked = group.sort_values("mean", ascending=False).reset_index(drop=True)
        shown = [*range(min(top, len(ranked))), len(ranked) - 1]
        for i in dict.fromkeys(shown):
            row = ranked.iloc[i]
            ci = f"{percent(row['mean'])} [{percent(row['ci_low'])}, {percent(row['ci_high'])}]"
            lines.append(
                f"| {dataset} | {i + 1} of {len(ranked)} | {row['optimizer']} | "
                f"{row['activation']} | {row['initializer']} | {ci} | {int(row['n'])} |"
            )
    return "\n".join(lines)


def main() -> None:
    print(headline(pd.read_csv(TABLES / "variants.csv")))
    for name in SHOWN:
        shutil.copyfile(FIGURES / f"{name}.png", ROOT / "docs" / f"real_small_{name}.png")
        print(f"docs/real_small_{name}.png")


if __name__ == "__main__":
    main()
