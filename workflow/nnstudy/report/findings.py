"""The report's findings, generated from the statistics tables, one comparison (an experiment
on a dataset) at a time.

Every claim names the test behind it: a variant is called worse (or better) than the
reference only when its Holm-corrected test rejects at the study's alpha; otherwise it is "not
distinguishable at this sample size", with the smallest difference the study could have
detected, never "equal". The reference is the validation choice; nothing is chosen on test.
"""

from __future__ import annotations

import pandas as pd

from nnstudy.report.templating import interval, p_is, pct, plural, points, pvalue
from nnstudy.report.view import ComparisonView
from nnstudy.tuning import stats as tuning_stats


def _name(view: ComparisonView) -> str:
    return f"{view.experiment} / {view.dataset}"


def _detectable(mde, mde_holm=None) -> str:
    """ "detectable: >= X points" (and at Holm's first step), or why no bound is known."""
    if pd.isna(mde):
        return "no detectable difference can be computed (too few runs)"
    text = f"detectable: >= {points(mde, sign=False)} points with 80 % power"
    if mde_holm is not None and pd.notna(mde_holm) and mde_holm != mde:
        text += f", >= {points(mde_holm, sign=False)} at Holm's first step"
    return text


def reference_finding(view: ComparisonView) -> str:
    row = view.row
    if view.reference is None:
        return f"{_name(view)}: no run produced a test accuracy, so nothing is ranked."
    n = len(view.variants)
    text = (
        f"{_name(view)}: chosen on the validation split, {view.reference} (validation "
        f"{pct(row['reference_val'])} %) reaches {pct(row['reference_mean'])} % test accuracy "
        f"(95 % interval {interval(row['reference_low'], row['reference_high'])} over seeds "
        f"and test examples)"
    )
    ref = view.variants[view.variants["variant"] == view.reference].iloc[0]
    if n > 1:
        text += (
            f"; its probability of ranking first on test is {_prob(ref['p_first'])} and its "
            f"95 % rank interval is {_rank(ref)} of {n}"
        )
    text += "."
    if len(view.tied) > 1:
        text += (
            f" {' and '.join(view.tied)} tie on validation accuracy; the tests use "
            f"{view.reference}, the first of them in the experiment's order."
        )
    return text


def _prob(p) -> str:
    return "n/a" if pd.isna(p) else f"{float(p):.2f}"


def _rank(v) -> str:
    if pd.isna(v["rank_low"]):
        return "n/a"
    low, high = int(v["rank_low"]), int(v["rank_high"])
    return str(low) if low == high else f"{low}-{high}"


def _named(rows: pd.DataFrame) -> str:
    return "; ".join(
        f"{r['variant']} ({points(r['diff'])} points, 95 % interval "
        f"{interval(r['diff_low'], r['diff_high'], scale=100, sign=True)}, "
        f"p (Holm) {pvalue(r['p_holm'])})"
        for _, r in rows.iterrows()
    )


def distinguishability_finding(view: ComparisonView) -> str | None:
    others = view.variants[~view.variants["verdict"].eq("reference")]
    if view.reference is None or others.empty:
        return None
    row = view.row
    alpha = float(row["alpha"])
    verdict = others["verdict"]
    parts = []
    for word, label in (("worse", "worse than it"), ("better", "better than it on test")):
        rows = others[verdict == word]
        if len(rows):
            parts.append(
                f"{plural(len(rows), 'variant')} {'is' if len(rows) == 1 else 'are'} "
                f"{label}: {_named(rows)}"
            )
    same = int((verdict == "not distinguishable").sum())
    if same:
        parts.append(
            f"{plural(same, 'variant')} {'is' if same == 1 else 'are'} not distinguishable "
            f"from it at this sample size ({_detectable(row['mde'], row['mde_holm'])})"
        )
    observed = int((verdict == "no difference observed").sum())
    if observed:
        parts.append(
            f"{plural(observed, 'variant')} made the same test predictions as it for every "
            "seed (no difference observed)"
        )
    untested = int((verdict == "not testable").sum())
    if untested:
        parts.append(f"{plural(untested, 'variant')} could not be tested (no usable run)")
    return (
        f"{_name(view)}, against {view.reference} ({view.method}, Holm-corrected "
        f"over the {plural(int(row['family']), 'test')} of this comparison, alpha = {alpha:g}): "
        + "; ".join(parts)
        + "."
    )


def power_finding(view: ComparisonView) -> str | None:
    row = view.row
    if pd.isna(row["effect"]) or len(view.variants) < 2:
        return None
    effect = points(row["effect"], sign=False)
    if pd.isna(row["seeds_needed"]):
        return (
            f"{_name(view)}: no number of seeds detects a {effect}-point difference here: the "
            f"test set's own noise ({int(row['n_test'])} examples) is larger; it needs a "
            "larger test set."
        )
    return (
        f"{_name(view)}: detecting a {effect}-point difference with 80 % power at alpha = "
        f"{float(row['alpha']):g} would take about {int(row['seeds_needed'])} seeds per "
        f"variant (this study has {len(str(row['seeds']).split(';'))})."
    )


def factor_findings(view: ComparisonView) -> list[str]:
    """Per varying factor: which level leads on validation, and what test says of its lead
    over the runner-up."""
    out = []
    for factor in view.factors:
        eff = view.effects[view.effects["factor"] == factor]
        lead = eff[eff["lead"].astype(str).str.lower() == "true"]
        runner = eff[eff["verdict"].notna()]
        if lead.empty or runner.empty:
            continue
        lead, runner = lead.iloc[0], runner.iloc[0]
        text = (
            f"{_name(view)}, {factor}: {lead['level']} has the highest marginal validation "
            f"accuracy (mean over its {plural(int(lead['variants']), 'variant')}); on test it "
            f"is {points(runner['diff'])} points against the runner-up {runner['level']} (95 % "
            f"interval {interval(runner['diff_low'], runner['diff_high'], scale=100, sign=True)}"
            f"): "
        )
        verdict = runner["verdict"]
        if verdict in ("worse", "better"):
            side = "ahead of" if verdict == "better" else "behind"
            text += f"{side} it (p (Holm) {pvalue(runner['p_holm'])})."
        elif verdict == "not distinguishable":
            text += (
                f"not distinguishable at this sample size ({p_is(runner['p_holm'])} after Holm; "
                f"{_detectable(runner['mde'])})."
            )
        elif verdict == "no difference observed":
            text += "no difference observed (the same test outcomes, not a proof of equality)."
        else:
            text += "no test was possible."
        out.append(text)
    return out


def fixed_finding(view: ComparisonView) -> str | None:
    if not view.fixed:
        return None
    held = ", ".join(f"{f} = {level}" for f, level in view.fixed)
    return f"{_name(view)}: fixed in this comparison, so not compared: {held}."


def across_finding(experiment: str, across: pd.DataFrame) -> str | None:
    rows = across[across["experiment"] == experiment]
    if rows.empty:
        return None
    first = rows.iloc[0]
    top = rows.sort_values("mean_rank").iloc[0]
    text = (
        f"{experiment}, across its {int(first['datasets'])} datasets: {top['variant']} has the "
        f"best average rank ({float(top['mean_rank']):.2f} of {int(first['variants'])}); "
        f"Friedman test {p_is(first['friedman_p'])}, Nemenyi critical difference "
        f"{float(first['cd']):.2f} ranks"
    )
    behind = rows[rows["mean_rank"] - float(top["mean_rank"]) > float(first["cd"])]
    if float(first["friedman_p"]) <= float(first["alpha"]) and len(behind):
        text += f"; ranked significantly below it: {', '.join(map(str, behind['variant']))}."
    else:
        text += "; no variant ranks significantly below it at this number of datasets."
    if str(first["never"]).lower() == "true":
        text += f" {first['note']}"
    return text


def status_findings(runs: pd.DataFrame) -> list[str]:
    n_div = int(runs["status"].eq("diverged").sum())
    n_fail = int(runs["status"].eq("failed").sum())
    if not n_div and not n_fail:
        return [f"All {plural(len(runs), 'run')} finished without diverging or failing."]
    return [
        f"{n_div} of {plural(len(runs), 'run')} diverged and {n_fail} failed; they are listed "
        "under 'Diverged and failed runs'. Diverged runs that produced a test accuracy count in "
        "the statistics (an optimizer that diverges is worse); failed runs do not."
    ]


SIDES = {"high": "top", "low": "bottom"}


def edge_finding(view: ComparisonView) -> str | None:
    """Which selected values lie on their search space's boundary (or that none does)."""
    if not view.tuned:
        return None
    chosen = tuning_stats.selections(view.trials)
    picks = [
        f"{name} of {r['label']} at the {SIDES[side]} edge"
        + (f" after {plural(r['widened'], 'widening')}" if r["widened"] else "")
        for _, r in chosen.iterrows()
        for name, side in (p.split(":") for p in r["edge"].split(";") if p)
    ]
    widened = chosen[chosen["widened"] > 0]
    extended = (
        " The space of "
        + "; ".join(
            f"{r['label']} was widened {plural(r['widened'], 'time')}"
            for _, r in widened.iterrows()
        )
        + " (tune.extend: its selection was on an edge, and the wider space was searched again "
        "with the same trials and epochs)."
        if len(widened)
        else ""
    )
    if not picks:
        return (
            f"{_name(view)}: every selected value lies inside its search space (none of the "
            f"{plural(len(chosen), 'variant')} chose a value on an edge)." + extended
        )
    return (
        f"{_name(view)}: chosen on the edge of its search space, so the optimum may lie "
        f"outside it (widen the space): {'; '.join(picks)}." + extended
    )


def _lead_text(row) -> str:
    """ "X leads (m %, d points ahead of Y)"; tied levels (";"-joined) lead together."""
    leaders, behind = (str(row[k]).replace(";", " and ") for k in ("leader", "runner_up"))
    text = f"{leaders} {'lead' if ';' in row['leader'] else 'leads'} ({pct(row['mean'])} %"
    if row["runner_up"]:
        text += f", {points(row['margin'], sign=False)} points ahead of {behind}"
    return text + ")"


def budget_finding(view: ComparisonView) -> str | None:
    """ "With k trials, X leads": the expected best validation accuracy of each optimizer's
    best variant at one trial, wherever the leader changes, and at the full number."""
    if not view.tuned:
        return None
    leaders = tuning_stats.budget_leaders(view.trials)
    if leaders.empty:
        return None
    last = leaders["n"].max()
    shown = leaders[(leaders["n"] == 1) | leaders["changed"] | (leaders["n"] == last)]
    parts = [f"with {plural(int(r['n']), 'trial')}, {_lead_text(r)}" for _, r in shown.iterrows()]
    return (
        f"{_name(view)}, performance against tuning budget (expected best validation accuracy "
        f"of n first-rung trials, each optimizer's best variant): " + "; ".join(parts) + "."
    )


def comparison_findings(view: ComparisonView) -> list[str]:
    found = [
        reference_finding(view),
        distinguishability_finding(view),
        power_finding(view),
        *factor_findings(view),
        fixed_finding(view),
        edge_finding(view),
        budget_finding(view),
    ]
    return [f for f in found if f]
