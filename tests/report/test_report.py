"""Aggregate -> figures -> report on a tiny real study (nnlib runs), plus the browser and PDF
checks and hostile names in both templates."""

import itertools
import json
import math
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from nnstudy.analysis import aggregate, stats
from nnstudy.config import runs
from nnstudy.report import contents as names
from nnstudy.report import document, figures, findings, methods, tables
from nnstudy.report.pdf import build_pdf
from nnstudy.report.templating import latex_escape, render_table
from nnstudy.tuning import stats as tuning_stats

sys.path.insert(0, str(Path(__file__).parent))
from study import HOSTILE, make_study, make_trials  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HAS_CHROMIUM = Path(CHROMIUM).exists()
HOSTILE_HTML = "&lt;script&gt;alert(1)&lt;/script&gt; &amp; 100%_\\x"
HOSTILE_TEX = r"\textless{}script\textgreater{}alert(1)\textless{}/script\textgreater{} \& 100\%\_\textbackslash{}x"


def build(root: Path, seeds=(0, 1), datasets=("gmm", "spirals"), trials=True, **study_args) -> dict:
    """The three rules' work, in order, on a freshly trained tiny study under root; with
    ``trials``, an lr search on gmm (none on spirals) in aggregate's trials table."""
    study = make_study(root, seeds=seeds, datasets=datasets, **study_args)
    tables_dir = root / "results" / "tables"
    paths = {name: tables_dir / f"{name}.csv" for name in names.TABLES}
    aggregate.aggregate(study["membership"], study["runs_root"], paths)
    table = make_trials(study, "gmm") if trials and "gmm" in datasets else None
    if table is not None and len(table):
        paths["trials"] = tables_dir / "trials.csv"
        table.to_csv(paths["trials"], index=False)
    tables = aggregate.read_tables(paths)
    for dataset in sorted(tables["runs"]["dataset"].unique()):
        figures.make_figures(tables, dataset, study["runs_root"], root / "results" / "figures")
    out = root / "results" / "report"
    context = document.write_report(
        paths,
        root / "results" / "figures",
        study["cards"],
        study["config"],
        study["config"]["select"],
        runs.config_hash(study["config"]),
        out / "report.html",
        out / "report.tex",
        root / "results" / "tables" / "fragments",
        repo=root,
    )
    return study | {"tables": tables, "context": context, "out": out, "paths": paths}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build(tmp_path_factory.mktemp("study"))


@pytest.fixture(scope="module")
def html(built):
    return (built["out"] / "report.html").read_text()


@pytest.fixture(scope="module")
def tex(built):
    return (built["out"] / "report.tex").read_text()


def shown_figures(dataset: str) -> tuple[str, ...]:
    """The figures the report shows for a dataset of ``build``: tuning ones only on gmm."""
    return tuple(k for k in names.FIGURE_TYPES if dataset == "gmm" or k not in names.TUNING_FIGURES)


def test_latex_escape_every_special_character():
    assert latex_escape(HOSTILE) == HOSTILE_TEX
    assert latex_escape("a#b$c^d~e{f}g|h[i]") == (
        r"a\#b\$c\textasciicircum{}d\textasciitilde{}e\{f\}g\textbar{}h{[}i{]}"
    )
    assert latex_escape("tab\tnull\x00ok") == "tab null ok"
    assert latex_escape("±≈ é 中") == "±≈ é 中"  # UTF-8 as it is: the preamble and engine cope


def test_tables_cover_every_run(built):
    runs = built["tables"]["runs"]
    run_dirs = {p.name for p in Path(built["runs_root"]).glob("*/*") if p.is_dir()}
    # Trials are ordinary runs in the same folders (a trial may also be a final run).
    assert set(runs["run_id"]) | set(built["tables"]["trials"]["run_id"]) == run_dirs
    assert set(runs["status"]) == {"ok", "diverged", "failed"}
    hostile_runs = runs[runs["experiments"].map(lambda e: HOSTILE in json.loads(e))]
    assert set(hostile_runs["optimizer"]) == {"adam"}


def test_every_run_appears_in_both_reports(built, html, tex):
    for run_id in built["tables"]["runs"]["run_id"]:
        assert run_id in html
        assert run_id in tex


def test_best_variant_and_ci_match_the_tables(built, html):
    variants, ranking = built["tables"]["variants"], built["tables"]["ranking"]
    for dataset, rank in ranking.groupby("dataset"):
        best = rank.loc[rank["rank"] == 1, "variant"].item()
        v = variants[(variants["dataset"] == dataset) & (variants["variant"] == best)].iloc[0]
        assert v["mean"] == rank["mean"].max()
        ci = f"{100 * v['ci_low']:.1f}–{100 * v['ci_high']:.1f}"
        row = re.search(
            rf"<tr><td class=\"l\">{dataset}</td><td class=\"l\">(.*?)</tr>", html
        ).group(1)
        assert best in row and f"{100 * v['mean']:.1f}" in row and ci in row


def test_hostile_names_are_escaped_in_html(built, html):
    assert HOSTILE_HTML in html
    assert "<script" not in html.lower()
    fragment = (Path(built["root"]) / "results/tables/fragments/runs.html").read_text()
    assert HOSTILE_HTML in fragment and "<script" not in fragment


def test_hostile_names_are_escaped_in_latex(built, tex):
    assert HOSTILE_TEX in tex
    assert HOSTILE not in tex
    fragment = (Path(built["root"]) / "results/tables/fragments/runs.tex").read_text()
    assert HOSTILE_TEX in fragment and r"\toprule" in fragment and r"\bottomrule" in fragment


def test_diverged_and_failed_runs_are_listed(built):
    runs = built["tables"]["runs"]
    problems = built["context"]["problems"]
    listed = {row[1] for row in problems.rows}
    assert listed == set(runs.loc[runs["status"].isin(["diverged", "failed"]), "run_id"])
    assert any(row[4] == "failed" and "Error" in row[7] for row in problems.rows)
    assert any(row[4] == "diverged" for row in problems.rows)


def test_a_dataset_whose_runs_all_diverged_gets_its_figures_and_report(tmp_path):
    # The `unstable` experiment alone: SGD at lr 1e4, every run really diverges (the one extra
    # run of make_study fails). Numeric warnings would mean NaN reached a computation unguarded.
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        study = build(tmp_path, seeds=(0, 1), datasets=("gmm",), select=("unstable",))
    assert set(study["tables"]["runs"]["status"]) == {"diverged", "failed"}
    figures_dir = tmp_path / "results" / "figures" / "gmm"
    assert sorted(p.stem for p in figures_dir.glob("*.png")) == sorted(names.FIGURE_TYPES)
    assert "diverged" in (study["out"] / "report.html").read_text()


def test_figures_exist_for_every_dataset(built):
    for dataset in ("gmm", "spirals"):
        for kind, paths in names.figure_paths(built["root"] / "results/figures", dataset).items():
            assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", kind
            assert paths["pdf"].read_bytes()[:5] == b"%PDF-", kind


def test_findings_are_generated_from_the_statistics(built):
    findings = built["context"]["findings"]
    assert any(f.startswith("gmm: the best variant is") for f in findings)
    assert any(f.startswith("optimizer:") for f in findings)
    # Claims of a clear difference only with a CI that excludes 0.
    for f in findings:
        for m in re.finditer(
            r"([+-]\d+\.\d) ± (\d+\.\d) points over \S+ \(95 % CI excludes 0\)", f
        ):
            assert abs(float(m.group(1))) > float(m.group(2))


def test_one_seed_without_trials_shows_not_available_and_no_tuning(tmp_path):
    built = build(tmp_path, seeds=(0,), datasets=("gmm",), trials=False)
    variants = built["tables"]["variants"]
    assert variants["ci_low"].isna().all() and variants["std"].isna().all()
    html = (built["out"] / "report.html").read_text()
    best = built["context"]["best"]
    assert all(row[3] == "n/a" for row in best.rows)
    assert "no CI: fewer than two seeds" in html
    assert "0.0–0.0" not in html
    assert "ranking is not statistically supported" in html
    # One seed: the curves' band collapses onto the line. No trials: no tuning section.
    assert 'id="fig-1-curves_optimizer"' in html and 'id="tab-time-to-target-gmm"' in html
    assert "<h3>Tuning</h3>" not in html and "lr_sensitivity" not in html


def test_bad_membership_table_is_one_line_error(tmp_path):
    path = tmp_path / "experiments.csv"
    path.write_text("experiment,run_id\ncore,abc\n")
    with pytest.raises(ValueError, match="missing column") as err:
        aggregate.read_membership(path)
    assert "\n" not in str(err.value)


@pytest.mark.system
@pytest.mark.skipif(not HAS_CHROMIUM, reason="chromium is not installed (.ci/run installs it)")
def test_report_loads_in_headless_chromium(built, html, tmp_path):
    """Every image decodes and no script runs or errors (checked from an injected script)."""
    check = """<script>
window.__errors = [];
window.onerror = (msg) => { window.__errors.push(String(msg)); };
window.alert = (msg) => { window.__errors.push('alert: ' + msg); };
window.addEventListener('load', () => {
  const imgs = Array.from(document.images);
  const out = document.createElement('pre');
  out.id = '__check';
  out.textContent = JSON.stringify({
    images: imgs.length,
    broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt),
    scripts: document.scripts.length,
    errors: window.__errors,
  });
  document.body.appendChild(out);
});
</script>"""
    # The report's CSP forbids every script, ours included; the copy drops it and adds ours.
    page = re.sub(r"<meta http-equiv=\"Content-Security-Policy\"[^>]*>", "", html)
    page = page.replace("<head>", "<head>" + check, 1)
    tmp = tmp_path
    (tmp / "check.html").write_text(page)
    args = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp / 'profile'}",
        "--virtual-time-budget=5000",
    ]
    dom = subprocess.run(
        [*args, "--dump-dom", (tmp / "check.html").as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    result = json.loads(
        re.search(r'<pre id="__check">(.*?)</pre>', dom, re.S).group(1).replace("&quot;", '"')
    )
    n_figures = len(shown_figures("gmm")) + len(shown_figures("spirals"))
    assert result == {"images": n_figures, "broken": [], "scripts": 1, "errors": []}
    shot = built["out"] / "report-screenshot.png"
    subprocess.run(
        [
            *args,
            "--window-size=1280,2000",
            f"--screenshot={shot}",
            (built["out"] / "report.html").as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.system
@pytest.mark.skipif(
    names.tex_engine() is None,
    reason="no TeX engine (latexmk/pdflatex/tectonic); .ci/run installs TeX Live",
)
def test_pdf_builds_with_figures_tables_and_hostile_names(built):
    pdf = build_pdf(
        built["out"] / "report.tex", built["out"] / "report.pdf", built["out"] / "pdf.log"
    )
    assert pdf.read_bytes()[:5] == b"%PDF-"
    build_dir = built["out"] / "build"
    log = (build_dir / "report.log").read_text(errors="replace")
    assert re.search(r"Output written on .*report\.pdf \(\d+ pages", log)
    for dataset in ("gmm", "spirals"):
        for kind in shown_figures(dataset):
            assert f"figures/{dataset}/{kind}.pdf" in log, (dataset, kind)
    for kind in names.TUNING_FIGURES:  # spirals has no trials: no tuning figures
        assert f"figures/spirals/{kind}.pdf" not in log, kind
    aux = (build_dir / "report.aux").read_text()
    for name in (
        "best",
        "problems",
        "runs",
        "variants-gmm",
        "effects-spirals",
        "interaction-gmm",
        "time-to-target-spirals",
        "tuned-vs-default-gmm",
        "tuning-budget-gmm",
    ):
        assert f"{{tab:{name}}}" in aux, name
    assert not math.isnan(pd.read_csv(built["paths"]["variants"])["mean"].iloc[0])


def _factor_runs(gap: float) -> pd.DataFrame:
    """Known inputs: adam is `gap` ahead of sgd on every seed, with seed-to-seed noise."""
    rows = []
    for dataset in ("d1", "d2"):
        for seed, noise in enumerate([0.0, 0.01, -0.01]):
            for opt, acc in (("adam", 0.8 + gap), ("sgd", 0.8)):
                rows.append(
                    {
                        "dataset": dataset,
                        "optimizer": opt,
                        "seed": seed,
                        "status": "ok",
                        "test_accuracy": acc + noise + (0.004 * seed if opt == "adam" else 0.0),
                    }
                )
    return pd.DataFrame(rows)


@pytest.mark.parametrize(("gap", "claim"), [(0.05, "excludes 0"), (0.0, "is not clear")])
def test_factor_findings_claim_only_what_the_ci_supports(gap, claim):
    runs = _factor_runs(gap)
    (text,) = findings.factor_findings(runs, stats.main_effects(runs, ["optimizer"]))
    assert text.startswith("optimizer: adam has the highest mean test accuracy on all 2 datasets")
    assert claim in text


def test_dataset_where_every_run_failed_still_reports(built, tmp_path):
    runs = built["tables"]["runs"].copy()
    spirals = runs["dataset"] == "spirals"
    runs.loc[spirals, "status"] = "failed"
    runs.loc[spirals, "test_accuracy"] = math.nan
    tables = aggregate.build_tables(runs, built["tables"]["histories"])
    paths = figures.make_figures(tables, "spirals", built["runs_root"], tmp_path)
    assert all(p["png"].stat().st_size > 0 for p in paths.values())
    figs = {ds: names.figure_paths(tmp_path, ds) for ds in ("gmm", "spirals")}
    figures.make_figures(tables, "gmm", built["runs_root"], tmp_path)
    context = document.build_context(
        tables, built["config"], figs, {}, ["core"], tmp_path, "hash", repo=tmp_path
    )
    assert [row[0] for row in context["best"].rows] == ["gmm"]
    assert len([r for r in context["problems"].rows if r[0] == "spirals"]) == spirals.sum()


@pytest.mark.system
@pytest.mark.skipif(
    names.tex_engine() is None or shutil.which("pdftotext") is None,
    reason="needs a TeX engine and pdftotext (poppler-utils) to read the PDF's text",
)
def test_pdf_text_shows_hostile_name_literally_and_every_run(built, tmp_path):
    pdf = build_pdf(built["out"] / "report.tex", tmp_path / "report.pdf")
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert HOSTILE in text
    assert text.count("Figure") >= len(shown_figures("gmm")) + len(shown_figures("spirals"))
    for run_id in built["tables"]["runs"]["run_id"]:
        assert run_id in text


def _lines(fig, ax_index=0):
    return fig.axes[ax_index].get_lines()


def test_learning_curves_show_median_and_iqr_of_one_variant_per_level(built):
    tables = built["tables"]
    runs = tables["runs"][tables["runs"]["dataset"] == "gmm"]
    histories = tables["histories"][tables["histories"]["dataset"] == "gmm"]
    fig = figures.learning_curves(runs, histories, tables, "gmm", factor="optimizer")
    variants = tables["variants"][tables["variants"]["dataset"] == "gmm"]
    for opt in ("adam", "sgd"):
        mine = variants[variants["optimizer"] == opt]
        best = mine.sort_values("mean", ascending=False)["variant"].iloc[0]
        seeds = histories[histories["variant"] == best].pivot(
            index="epoch", columns="run_id", values="val_accuracy"
        )
        (line,) = [ln for ln in _lines(fig) if ln.get_label().startswith(f"{best} (")]
        assert line.get_label() == f"{best} ({len(seeds.columns)} seeds)"
        assert line.get_ydata() == pytest.approx(100 * seeds.median(axis=1).to_numpy())
    # Quantiles of accuracies stay accuracies: no band above 100 %.
    for band in fig.axes[0].collections:
        assert band.get_paths()[0].vertices[:, 1].max() <= 100.0
    plt.close(fig)


def test_quantile_band_skips_non_finite_values():
    h = pd.DataFrame(
        {
            "epoch": [1, 1, 1, 2, 2, 2, 3],
            "val_loss": [1.0, 2.0, 4.0, 0.5, math.inf, math.nan, math.nan],
        }
    )
    band = figures.quantile_band(h, "val_loss").set_index("epoch")
    assert list(band.index) == [1, 2]
    assert band.loc[1, ["q25", "median", "q75"]].tolist() == pytest.approx([1.5, 2.0, 3.0])
    assert band.loc[2, "n"] == 1 and band.loc[2, "median"] == 0.5
    nothing = figures.quantile_band(h.assign(val_loss=math.nan), "val_loss")
    assert nothing.empty and list(nothing.columns) == ["epoch", "n", "q25", "median", "q75"]


def _raw_trials(built):
    return pd.read_csv(built["paths"]["trials"], dtype={"variant": str})


def test_tuned_against_default_matches_the_trials(built):
    raw = _raw_trials(built)
    ok = raw[raw["status"] != "failed"]
    table = tuning_stats.default_vs_tuned(built["tables"]["trials"]).set_index("variant")
    assert set(table.index) == set(raw["variant"])
    for variant, t in ok.groupby("variant"):
        last = t[t["rung"] == t["rung"].max()]
        assert table.loc[variant, "tuned_value"] == last["val_accuracy"].fillna(0).max()
        default = t[(t["is_default"]) & (t["rung"] == 0)]
        assert table.loc[variant, "default_value"] == default["val_accuracy"].item()
    for side in ("default", "tuned"):
        values = table[f"{side}_value"]
        better = [int((values > v).sum()) + 1 for v in values]  # ties share the better rank
        assert table[f"{side}_rank"].tolist() == better
    rows = {r[1]: r for r in _table(built, "gmm", "tuned-vs-default").rows}
    for _, r in table.iterrows():
        step = int(r["default_rank"]) - int(r["tuned_rank"])
        moved = "same" if step == 0 else f"{'up' if step > 0 else 'down'} {abs(step)}"
        assert rows[r["label"]][7] == moved


def _table(built, dataset, prefix):
    (ds,) = [d for d in built["context"]["datasets"] if d["name"] == dataset]
    found = [t for t in ds["tables"] if t.name == f"{prefix}-{dataset}"]
    return found[0] if found else None


def test_report_shows_tuning_only_where_there_are_trials(built, html, tex):
    assert _table(built, "gmm", "tuned-vs-default") is not None
    assert _table(built, "gmm", "tuning-budget") is not None
    assert _table(built, "spirals", "tuned-vs-default") is None
    for dataset in ("gmm", "spirals"):
        assert _table(built, dataset, "time-to-target") is not None
        assert f'id="tab-time-to-target-{dataset}"' in html
    assert 'id="tab-tuned-vs-default-gmm"' in html and "tuned-vs-default-spirals" not in html
    assert 'id="fig-1-lr_sensitivity"' in html and 'id="fig-1-expected_max"' in html
    assert "fig-2-lr_sensitivity" not in html
    assert "<h3>Tuning</h3>" in html and r"\subsection{Tuning}" in tex
    assert r"tab:tuned-vs-default-gmm" in tex and "tuning-budget-gmm" in tex
    change = tuning_stats.ranking_change(tuning_stats.default_vs_tuned(built["tables"]["trials"]))
    (finding,) = [f for f in built["context"]["findings"] if "ranked by validation" in f]
    assert finding.startswith("gmm: ranked by validation accuracy, tuning")
    assert ("tuning reversed the order" in finding) == change["changed"]
    budget = {r[0]: r for r in _table(built, "gmm", "tuning-budget").rows}
    raw = _raw_trials(built)
    for opt, t in raw.groupby("optimizer"):
        assert budget[opt][3] == str(len(t)) and budget[opt][4] == f"{t['epochs_run'].sum():g}"
        assert budget[opt][6] == str((t["status"] == "failed").sum())


def test_time_to_target_by_brute_force(built):
    tables = built["tables"]
    histories = tables["histories"][tables["histories"]["dataset"] == "spirals"]
    rows = _table(built, "spirals", "time-to-target").rows
    variants = tables["variants"][tables["variants"]["dataset"] == "spirals"]
    picks = {}
    for opt in ("adam", "sgd"):
        mine = variants[variants["optimizer"] == opt]
        picks[opt] = mine.sort_values("mean", ascending=False)["variant"].iloc[0]
    best = max(
        np.nanmedian(
            histories[histories["variant"] == v].pivot(
                index="epoch", columns="run_id", values="val_accuracy"
            ),
            axis=1,
        ).max()
        for v in picks.values()
    )
    for opt, variant in picks.items():
        for fraction in tuning_stats.TARGET_FRACTIONS:
            epochs = []
            for _, run in histories[histories["variant"] == variant].groupby("run_id"):
                hits = [
                    e
                    for e, a in zip(run["epoch"], run["val_accuracy"], strict=True)
                    if a >= fraction * best
                ]
                epochs.append(min(hits) if hits else math.inf)
            (row,) = [r for r in rows if r[0] == opt and r[2].startswith(f"{100 * fraction:g} %")]
            assert row[1] == variant
            assert row[3] == f"{sum(map(math.isfinite, epochs))}/{len(epochs)}"
            median = float(np.median(epochs))
            assert row[4] == ("not reached" if math.isinf(median) else f"{median:g}")


def test_lr_sensitivity_marks_the_selected_lr_of_each_optimizers_best_variant(built):
    raw = _raw_trials(built)
    fig = figures.lr_sensitivity(tables=built["tables"], dataset="gmm")
    stars = [ln for ln in _lines(fig) if ln.get_marker() == "*" and len(ln.get_xdata())]
    selected = raw[raw["selected"]]
    assert len(stars) == selected["optimizer"].nunique()
    for star in stars:
        (lr,) = star.get_xdata()
        assert lr in set(selected["lr"])
    # The diverged trials (sgd at lr 1e4) are drawn as crosses at 0 %.
    crosses = [ln for ln in _lines(fig) if ln.get_marker() == "x" and len(ln.get_xdata())]
    assert any(1.0e4 in ln.get_xdata() and 0.0 in ln.get_ydata() for ln in crosses)
    plt.close(fig)


def test_expected_max_curve_equals_enumeration_of_the_trials(built):
    raw = _raw_trials(built)
    fig = figures.expected_max(tables=built["tables"], dataset="gmm")
    lead = tuning_stats.lead_variants(built["tables"]["trials"])
    for _, row in lead.iterrows():
        t = raw[(raw["variant"] == row["variant"]) & (raw["rung"] == 0)]
        t = t[t["status"] != "failed"]
        scores = t["val_accuracy"].where(t["status"] != "diverged", 0.0).fillna(0.0).tolist()
        (line,) = [ln for ln in _lines(fig) if ln.get_label().startswith(f"{row['optimizer']} (")]
        assert list(line.get_xdata()) == list(range(1, len(scores) + 1))
        for n, y in zip(line.get_xdata(), line.get_ydata(), strict=True):
            exact = np.mean([max(d) for d in itertools.product(scores, repeat=int(n))])
            assert y == pytest.approx(100 * exact)
    plt.close(fig)


def test_tuning_tables_escape_hostile_names(built):
    trials = built["tables"]["trials"].copy()
    trials["activation"] = HOSTILE
    table = tables.default_vs_tuned_table("gmm", tuning_stats.default_vs_tuned(trials))
    html_fragment, tex_fragment = (render_table(table, fmt) for fmt in ("html", "tex"))
    assert HOSTILE_HTML in html_fragment and "<script" not in html_fragment
    assert HOSTILE_TEX in tex_fragment and HOSTILE not in tex_fragment


def test_without_a_tuned_lr_there_is_no_sensitivity_figure(built, tmp_path):
    trials = built["tables"]["trials"].rename(columns={"lr": "momentum"})
    trials["tuned"] = "momentum"
    tables = {**built["tables"], "trials": trials}
    fig = figures.lr_sensitivity(tables=tables, dataset="gmm")
    assert "no learning-rate trials" in fig.axes[0].texts[0].get_text()
    plt.close(fig)
    figs = {ds: names.figure_paths(built["root"] / "results/figures", ds) for ds in ("gmm",)}
    figs["spirals"] = names.figure_paths(built["root"] / "results/figures", "spirals")
    context = document.build_context(
        tables, built["config"], figs, {}, ["core"], tmp_path, "hash", repo=tmp_path
    )
    kinds = [f["kind"] for f in context["datasets"][0]["figures"]]
    assert "expected_max" in kinds and "lr_sensitivity" not in kinds
    assert "Tuned settings: momentum: adam {" in context["tuning"][0]


def test_tuning_methods_name_each_optimizers_values_when_they_differ(built):
    trials = built["tables"]["trials"].copy()
    adam = trials["optimizer"] == "adam"
    trials.loc[adam, "lr"] = trials.loc[adam, "lr"] * 10
    (text, _) = methods.tuning_methods(trials)
    # The failed sgd trial at lr 0.5 was tried too.
    assert "lr: adam {0.01, 0.1, 1, 1e+05}, sgd {0.001, 0.01, 0.1, 0.5, 1e+04}" in text
    assert "rung 0: 2 epochs, rung 1: 4 epochs" in text
    ran = built["tables"]["trials"].query("status != 'failed'")
    (same, _) = methods.tuning_methods(ran)
    assert "lr in {0.001, 0.01, 0.1, 1e+04}" in same
