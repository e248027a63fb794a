"""One comparison (an experiment on a dataset) as the figures and the report read it: its rows
of every aggregate table, with each run labelled by its variant."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd


def _split(text) -> list[str]:
    return [t for t in str(text).split(";") if t] if isinstance(text, str) else []


@dataclass
class ComparisonView:
    experiment: str
    dataset: str
    row: pd.Series  # comparisons.csv
    variants: pd.DataFrame  # variants.csv, in validation order
    runs: pd.DataFrame  # runs.csv rows of its runs, with ``variant`` and ``seed``
    histories: pd.DataFrame  # histories.csv rows of its runs, with ``variant``
    effects: pd.DataFrame
    interaction: pd.DataFrame
    time_to_target: pd.DataFrame
    trials: pd.DataFrame  # the tuning trials of this experiment on this dataset (may be empty)

    @property
    def slug(self) -> str:
        return str(self.row["slug"])

    @property
    def factors(self) -> list[str]:
        return _split(self.row["factors"])

    @property
    def fixed(self) -> list[tuple[str, str]]:
        return [tuple(p) for p in json.loads(self.row["fixed"])]

    @property
    def reference(self) -> str | None:
        ref = self.row["reference"]
        return None if pd.isna(ref) else str(ref)

    @property
    def method(self) -> str:
        """The tests' methods ("no test" when none ran)."""
        method = self.row["method"]
        return "no test" if pd.isna(method) or not str(method) else str(method)

    @property
    def tied(self) -> list[str]:
        return _split(self.row["tied"])

    @property
    def tuned(self) -> bool:
        return len(self.trials) > 0

    def levels(self, variant: str) -> dict[str, str]:
        rows = self.variants[self.variants["variant"] == variant]
        return json.loads(rows["levels"].iloc[0]) if len(rows) else {}

    def best_per_level(self, factor: str) -> pd.Series:
        """level -> the variant with the highest mean validation accuracy among those with
        that level (the variants table is in validation order; levels in the experiment's
        order)."""
        levels = self.variants.assign(
            _level=[self.levels(v)[factor] for v in self.variants["variant"]]
        )
        first = levels.groupby("_level", sort=False)["variant"].first()
        order = levels.sort_values("order").drop_duplicates("_level")["_level"]
        return first.reindex(order.to_numpy())


def comparison_views(tables: dict[str, pd.DataFrame]) -> list[ComparisonView]:
    """Every comparison of a study, in the order of comparisons.csv."""
    members = tables["members"]
    trials = tables.get("trials")
    out = []
    for _, row in tables["comparisons"].iterrows():
        e, d = row["experiment"], row["dataset"]

        def mine(frame, e=e, d=d):
            return frame[(frame["experiment"] == e) & (frame["dataset"] == d)]

        m = mine(members)[["run_id", "variant", "seed"]]
        runs = tables["runs"].drop(columns=["seed"]).merge(m, on="run_id")
        histories = (
            tables["histories"].drop(columns=["seed"], errors="ignore").merge(m, on="run_id")
        )
        out.append(
            ComparisonView(
                experiment=e,
                dataset=d,
                row=row,
                variants=mine(tables["variants"]).reset_index(drop=True),
                runs=runs,
                histories=histories,
                effects=mine(tables["main_effects"]),
                interaction=mine(tables["interaction"]),
                time_to_target=mine(tables["time_to_target"]),
                trials=mine(trials) if trials is not None and len(trials) else pd.DataFrame(),
            )
        )
    return out
