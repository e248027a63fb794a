"""The report of a small real study, run through the workflow as a user runs it: every number
it prints recomputed here from the runs' own files with independent code (scipy, statsmodels,
brute force), the selection made on validation, per-experiment comparisons that adding an
experiment leaves byte-identical, hostile names escaped, no "nan", and the browser and PDF
checks."""

import copy
import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from nnstudy.invoke import run_snakemake
from nnstudy.report.contents import tex_engine
from nnstudy.report.pdf import build_pdf
from nnstudy.report.templating import latex_escape
from scipy import stats

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HAS_CHROMIUM = Path(CHROMIUM).exists()
HOSTILE = "<script>alert(1)</script> & 100%_\\x"
HOSTILE_HTML = "&lt;script&gt;alert(1)&lt;/script&gt; &amp; 100%_\\x"
HOSTILE_TEX = r"\textless{}script\textgreater{}alert(1)\textless{}/script\textgreater{} \& 100\%\_\textbackslash{}x"
FIXED = {"hidden": [8], "epochs": 4, "batch_size": 32, "snapshot_every": 2}
TABLES = ("comparisons", "variants", "main_effects", "interaction", "across", "time_to_target")
STUDY = {
    "data": {"synthetic": {"n_samples": 300, "seed": 0}},
    "experiments": {
        # Two factors that vary and one that does not (the initializer: stated, not drawn).
        "core": {
            "datasets": ["gmm", "spirals"],
            "grid": {
                "optimizer": ["sgd", "adam"],
                "activation": ["relu", "tanh"],
                "initializer": ["he"],
            },
            "fixed": dict(FIXED),
            "per_dataset": {"spirals": {"batch_size": 64}},
            "seeds": [0, 1, 2],
        },
        # Every run diverges.
        "unstable": {
            "datasets": ["gmm"],
            "grid": {"optimizer": ["sgd", "adam"]},
            "fixed": {**FIXED, "lr": 1.0e4},
            "seeds": [0, 1],
        },
        # A valid config whose model cannot be built: its runs fail.
        "crash": {"datasets": ["spirals"], "fixed": {"hidden": [2**62], "epochs": 2}, "seeds": [0]},
        # One seed: only the test set's noise can be accounted for.
        HOSTILE: {
            "datasets": ["gmm"],
            "grid": {"optimizer": ["adam"], "activation": ["relu", "tanh"]},
            "fixed": dict(FIXED),
            "seeds": [0],
        },
        "tuned": {
            "datasets": ["gmm"],
            "grid": {"optimizer": ["sgd", "adam"]},
            "fixed": {**FIXED, "epochs": 6},
            # Each optimizer's own hyper-parameter on a 2-point grid: its choice is on an edge.
            "tune": {
                "space": {"lr": {"factors": [0.1, 1.0, 10.0]}},
                "spaces": {
                    "sgd": {"momentum": {"values": [0.0, 0.9]}},
                    "adam": {"beta1": {"values": [0.8, 0.9]}},
                },
                "halving": {"eta": 3, "min_epochs": 2},
            },
            "seeds": [0, 1],
        },
    },
    "wandb": {"mode": "disabled"},
}


def _run_study(folder: Path, config: dict) -> None:
    config = copy.deepcopy(config)
    config["select"] = list(config["experiments"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    done = run_snakemake("--cores", "2", directory=folder, cwd=folder, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    folder = tmp_path_factory.mktemp("study")
    _run_study(folder, STUDY)
    return folder


def _tables(folder: Path) -> dict[str, pd.DataFrame]:
    out = {}
    for name in (*TABLES, "runs", "members"):
        out[name] = pd.read_csv(folder / "results/tables" / f"{name}.csv", dtype={"variant": str})
    return out


@pytest.fixture(scope="module")
def tables(study):
    return _tables(study)


@pytest.fixture(scope="module")
def html(study):
    return (study / "results/report/report.html").read_text()


@pytest.fixture(scope="module")
def tex(study):
    return (study / "results/report/report.tex").read_text()


def _outcomes(study, tables, experiment, dataset):
    """correct[v, s, i] straight from the runs' predictions.npz and the prepared test labels,
    with the variants and seeds of members.csv."""
    members = tables["members"]
    mine = members[(members["experiment"] == experiment) & (members["dataset"] == dataset)]
    runs = tables["runs"].set_index("run_id")
    with np.load(study / "data/processed" / dataset / "test.npz", allow_pickle=False) as npz:
        labels = npz["y"]
    variants = list(dict.fromkeys(mine["variant"]))
    seeds = sorted(set(mine["seed"]))
    correct = np.zeros((len(variants), len(seeds), labels.size), bool)
    present = np.zeros((len(variants), len(seeds)), bool)
    val = {}
    for _, m in mine.iterrows():
        v, s = variants.index(m["variant"]), seeds.index(m["seed"])
        if runs.loc[m["run_id"], "status"] == "failed":
            continue
        path = study / "results/runs" / dataset / m["run_id"] / "predictions.npz"
        with np.load(path, allow_pickle=False) as npz:
            correct[v, s] = npz["pred"] == labels
        present[v, s] = True
        val.setdefault(m["variant"], []).append(runs.loc[m["run_id"], "val_accuracy"])
    return variants, correct, present, val


def _comparisons(tables):
    return [(r["experiment"], r["dataset"]) for _, r in tables["comparisons"].iterrows()]


def test_latex_escape_every_special_character():
    assert latex_escape(HOSTILE) == HOSTILE_TEX
    assert latex_escape("a#b$c^d~e{f}g|h[i]") == (
        r"a\#b\$c\textasciicircum{}d\textasciitilde{}e\{f\}g\textbar{}h{[}i{]}"
    )
    assert latex_escape("tab\tnull\x00ok") == "tab null ok"
    assert latex_escape("±≈ é 中") == "±≈ é 中"  # UTF-8 as it is: the preamble and engine cope


def test_one_comparison_per_experiment_and_dataset(tables):
    expected = {(name, d) for name, e in STUDY["experiments"].items() for d in e["datasets"]}
    assert set(_comparisons(tables)) == expected
    statuses = tables["runs"].set_index("run_id")["status"]
    members = tables["members"]
    assert set(statuses[members[members["experiment"] == "unstable"]["run_id"]]) == {"diverged"}
    assert set(statuses[members[members["experiment"] == "crash"]["run_id"]]) == {"failed"}


def test_every_run_appears_in_both_reports_and_no_nan(tables, html, tex):
    for run_id in tables["runs"]["run_id"]:
        assert run_id in html and run_id in tex
    assert not re.search(r"\bnan\b", html, re.I)
    assert not re.search(r"\bnan\b", tex, re.I)


def test_hostile_names_are_escaped(study, html, tex):
    assert HOSTILE_HTML in html and "<script" not in html.lower()
    assert HOSTILE_TEX in tex and HOSTILE not in tex
    fragment = (study / "results/tables/fragments/runs.html").read_text()
    assert HOSTILE_HTML in fragment and "<script" not in fragment


def test_the_reference_is_chosen_on_validation_with_ties_reported(study, tables):
    for experiment, dataset in _comparisons(tables):
        _, _, _, val = _outcomes(study, tables, experiment, dataset)
        row = tables["comparisons"].set_index(["experiment", "dataset"]).loc[(experiment, dataset)]
        if not val:
            assert pd.isna(row["reference"])
            continue
        means = {v: float(np.mean(np.nan_to_num(s, nan=0.0))) for v, s in val.items()}
        top = max(means.values())
        assert row["tied"].split(";") == [v for v in means if means[v] == top]
        assert row["reference"] == row["tied"].split(";")[0]
        assert row["reference_val"] == pytest.approx(top)


def _anova_p(d: np.ndarray) -> float:
    """The crossed seeds x examples test of mean(d) = 0, from statsmodels' two-way ANOVA."""
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    s, n = d.shape
    frame = pd.DataFrame(
        {"d": d.ravel(), "seed": np.repeat(np.arange(s), n), "ex": np.tile(np.arange(n), s)}
    )
    table = sm.stats.anova_lm(smf.ols("d ~ C(seed) + C(ex)", frame).fit())
    ms = table["sum_sq"] / table["df"]
    ms_seed, ms_ex, ms_err = ms["C(seed)"], ms["C(ex)"], ms["Residual"]
    terms = []
    if ms_seed > ms_err:
        terms.append((ms_seed, s - 1))
    if ms_ex > ms_err:
        terms.append((ms_ex, n - 1))
    err = 1 - len(terms)
    if err:
        terms.append((err * ms_err, (s - 1) * (n - 1)))
    var = sum(t for t, _ in terms) / (s * n)
    df = (s * n * var) ** 2 / sum(t**2 / k for t, k in terms)
    return float(2 * stats.t.sf(abs(d.mean()) / math.sqrt(var), df))


def test_variant_numbers_recomputed_independently(study, tables):
    from statsmodels.stats.multitest import multipletests

    variants_table = tables["variants"]
    checked = 0
    for experiment, dataset in _comparisons(tables):
        names, correct, present, _ = _outcomes(study, tables, experiment, dataset)
        rows = variants_table[
            (variants_table["experiment"] == experiment) & (variants_table["dataset"] == dataset)
        ].set_index("variant")
        comp = tables["comparisons"].set_index(["experiment", "dataset"]).loc[(experiment, dataset)]
        for j, v in enumerate(names):
            acc = correct[j][present[j]].mean(axis=1)
            if not acc.size:
                continue
            assert rows.loc[v, "test_mean"] == pytest.approx(acc.mean())
            assert rows.loc[v, "low"] <= rows.loc[v, "test_mean"] <= rows.loc[v, "high"]
        if present.any():
            assert rows["p_first"].sum() == pytest.approx(1.0)
        if pd.isna(comp["reference"]) or present.sum(axis=1).min() < 2:
            continue
        ref = names.index(comp["reference"])
        p = {}
        for j, v in enumerate(names):
            if j == ref:
                continue
            d = correct[j].astype(float) - correct[ref]
            assert rows.loc[v, "diff"] == pytest.approx(d.mean())
            if d.any():
                p[v] = _anova_p(d)
                assert rows.loc[v, "p"] == pytest.approx(p[v], rel=1e-9)
                checked += 1
        effects = tables["main_effects"]
        tested = effects[
            (effects["experiment"] == experiment)
            & (effects["dataset"] == dataset)
            & effects["p"].notna()
        ]
        # With one factor its lead's test is the runner-up's pair test (not a second member).
        if len(str(comp["factors"]).split(";")) < 2:
            tested = tested.iloc[0:0]
        family = [*p.values(), *tested["p"]]
        if len(p) == len(names) - 1:
            adjusted = multipletests(family, method="holm")[1]
            got = [*rows.loc[list(p), "p_holm"], *tested["p_holm"]]
            assert got == pytest.approx(list(adjusted))
    assert checked >= 6  # core on two datasets, tuned


def test_methods_state_the_per_dataset_settings_and_the_card_fractions(html, tex):
    # The settings a dataset overrides are said where the experiment's fixed ones are.
    assert "Fixed: hidden = [8]; epochs = 4; batch_size = 32; snapshot_every = 2." in html
    assert "On spirals: batch_size = 64." in html and "On spirals: batch\\_size = 64." in tex
    assert "configured validation fraction" not in html  # the cards give the real fractions


def test_a_factor_with_one_level_is_stated_not_drawn(tables, html):
    effects = tables["main_effects"]
    core = effects[effects["experiment"] == "core"]
    assert set(core["factor"]) == {"optimizer", "activation"}
    assert "core / gmm: fixed in this comparison, so not compared: initializer = he." in html
    # One factor: no interaction figure, a sentence instead.
    assert "the comparison varies optimizer; this figure needs 2 factors or more" in html


def test_one_seed_says_the_seed_noise_is_missing(tables):
    row = tables["comparisons"].set_index("experiment").loc[HOSTILE]
    assert row["method"] == "exact McNemar (one seed)"
    assert pd.isna(row["seeds_needed"])


def test_average_ranks_and_friedman_across_datasets(tables, html):
    across = tables["across"]
    core = across[across["experiment"] == "core"].set_index("variant")
    variants = tables["variants"]
    scores = variants[variants["experiment"] == "core"].pivot(
        index="dataset", columns="variant", values="test_mean"
    )
    ranks = pd.DataFrame(
        stats.rankdata(-scores.to_numpy(), axis=1), index=scores.index, columns=scores.columns
    ).mean()
    assert core["mean_rank"].to_dict() == pytest.approx(ranks.to_dict())
    assert core["friedman_p"].iloc[0] == pytest.approx(
        stats.friedmanchisquare(*scores.to_numpy().T).pvalue
    )
    # 4 variants on 2 datasets: Nemenyi's CD exceeds the largest possible rank gap (3).
    assert core["cd"].iloc[0] > 3 and core["never"].all()
    # Both reasons, each a sentence.
    assert "no pair can ever differ (needs at least" in html and "datasets). Friedman: " in html
    assert set(across["experiment"]) == {"core"}  # the only experiment with two datasets


def test_time_to_target_in_epochs_and_steps(study, tables):
    t = tables["time_to_target"]
    assert "seconds" not in t.columns
    runs = tables["runs"].set_index("run_id")
    members = tables["members"]
    core = t[(t["experiment"] == "core") & (t["dataset"] == "gmm")]
    assert set(core["variant"]) == set(members[members["experiment"] == "core"]["variant"])
    reached = core[np.isfinite(core["epochs"])]
    per_epoch = runs["steps_per_epoch"].iloc[0]
    assert (reached["steps"] == reached["epochs"] * per_epoch).all()


def test_tuned_against_default_is_at_equal_epochs(study, html):
    raw = pd.read_csv(study / "results/tables/trials.csv", dtype={"variant": str})
    defaults = raw[(raw["experiment"] == "tuned") & raw["is_default"]]
    budget = defaults.groupby("variant")["budget_epochs"].max().min()  # every default reached
    match = re.search(r"tuned against default, at equal epochs \((\d+) epochs?\)", html)
    assert match and int(match.group(1)) == budget


def test_selection_at_the_full_budget_with_edges_flagged_in_the_report(study, html):
    raw = pd.read_csv(
        study / "results/tables/trials.csv", dtype={"variant": str}, keep_default_na=False
    )
    raw = raw[raw["experiment"] == "tuned"]
    top = raw[raw["rung"] == raw["rung"].max()]
    # Two candidates per optimizer reach the full budget; one of them is selected.
    assert top.groupby("optimizer")["candidate"].nunique().to_dict() == {"adam": 2, "sgd": 2}
    assert set(top["budget_epochs"]) == {6}
    chosen = raw[raw["selected"]]
    assert len(chosen) == 2 and set(chosen["rung"]) == {raw["rung"].max()}
    # A 2-point grid's values are both its edges: each choice is flagged, in the table's
    # column and in the finding's sentence.
    own = {"sgd": "momentum", "adam": "beta1"}
    for _, r in chosen.iterrows():
        flags = dict(p.split(":") for p in r["edge"].split(";"))
        name = own[r["optimizer"]]
        side = {"high": "top", "low": "bottom"}[flags[name]]
        assert re.search(rf"{name} of {r['optimizer']}[^;<]* at the {side} edge", html), name
        grid = sorted(raw.loc[raw["optimizer"] == r["optimizer"], "lr"].unique())
        assert flags.get("lr") == {0: "low", 2: "high"}.get(grid.index(r["lr"]))
    assert "chosen on the edge of its search space" in html
    assert re.search(r"performance against tuning budget[^<]*with 1 trial, \w+ leads", html)


def test_adding_an_experiment_leaves_every_other_byte_identical(study, tables, tmp_path):
    readme = (REPO / "README.md").read_text()
    block = re.search(r"```yaml\n(experiments:\n  wide:.*?)```", readme, re.S).group(1)
    wide = yaml.safe_load(block)["experiments"]["wide"]
    # The README's block, on this study's data and budget.
    fixed = {k: v for k, v in FIXED.items() if k not in wide["grid"]}
    wide = {**wide, "datasets": ["gmm"], "fixed": fixed}
    folder = tmp_path / "wider"
    # With Snakemake's records (its rerun triggers see the new experiment), not its locks.
    shutil.copytree(study, folder, ignore=shutil.ignore_patterns("locks", "incomplete"))
    config = copy.deepcopy(STUDY)
    config["experiments"]["wide"] = wide
    _run_study(folder, config)
    after = _tables(folder)
    for name in TABLES:
        old = tables[name]
        new = after[name]
        if "experiment" in new.columns:
            new = new[new["experiment"] != "wide"].reset_index(drop=True)
        pd.testing.assert_frame_equal(old, new, check_exact=True)
    assert "wide" in set(after["comparisons"]["experiment"])
    before, after_html = _html(study), _html(folder)
    for experiment in STUDY["experiments"]:
        if experiment == HOSTILE:
            continue
        section = re.compile(rf"<h2>Results: {re.escape(experiment)}</h2>(.*?)<h2>", re.S)
        old_section, new_section = section.search(before), section.search(after_html)
        assert old_section and new_section, experiment

        # Up to the next section's opening tag (whose id names the next experiment).
        def body(match):
            return re.sub(r'<section id="[^"]*">\s*$', "", match.group(1)).rstrip()

        assert body(old_section) == body(new_section), experiment
    for png in (study / "results/figures/core").rglob("*.png"):
        assert png.read_bytes() == (folder / png.relative_to(study)).read_bytes(), png


def _html(folder: Path) -> str:
    return (folder / "results/report/report.html").read_text()


@pytest.mark.system
@pytest.mark.skipif(not HAS_CHROMIUM, reason="chromium is not installed (.ci/run installs it)")
def test_report_loads_in_headless_chromium(study, html, tmp_path):
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
    (tmp_path / "check.html").write_text(page)
    args = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=5000",
    ]
    dom = subprocess.run(
        [*args, "--dump-dom", (tmp_path / "check.html").as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    result = json.loads(
        re.search(r'<pre id="__check">(.*?)</pre>', dom, re.S).group(1).replace("&quot;", '"')
    )
    assert result["images"] == html.count("<img ") and result["images"] > 20
    assert result == {**result, "broken": [], "scripts": 1, "errors": []}


@pytest.mark.system
@pytest.mark.skipif(
    tex_engine() is None or shutil.which("pdftotext") is None,
    reason="needs a TeX engine and pdftotext (poppler-utils) to read the PDF's text",
)
def test_pdf_shows_hostile_name_literally_and_every_run(study, tables, tmp_path):
    pdf = build_pdf(study / "results/report/report.tex", tmp_path / "report.pdf")
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert HOSTILE in text
    for run_id in tables["runs"]["run_id"]:
        assert run_id in text


def _views(study):
    from nnstudy.analysis.aggregate import read_tables
    from nnstudy.report.contents import TABLES as REPORT_TABLES
    from nnstudy.report.view import comparison_views

    folder = study / "results/tables"
    paths = {name: folder / f"{name}.csv" for name in REPORT_TABLES}
    return {(v.experiment, v.dataset): v for v in comparison_views(read_tables(paths))}


@pytest.fixture(scope="module")
def views(study):
    return _views(study)


def _lines(fig, ax_index=0):
    return fig.axes[ax_index].get_lines()


def test_learning_curves_are_the_seed_medians_of_each_level_s_validation_best(views):
    import matplotlib.pyplot as plt
    from nnstudy.report import figures

    view = views["core", "gmm"]
    fig = figures.learning_curves(view=view)
    val = view.variants.set_index("variant")["val_mean"]
    for row, factor in enumerate(view.factors):
        for level in ("sgd", "adam") if factor == "optimizer" else ("relu", "tanh"):
            mine = [v for v in val.index if view.levels(v)[factor] == level]
            best = max(mine, key=lambda v: (val[v], -list(view.variants["variant"]).index(v)))
            seeds = view.histories[view.histories["variant"] == best].pivot(
                index="epoch", columns="run_id", values="val_accuracy"
            )
            (line,) = [ln for ln in _lines(fig, 2 * row) if ln.get_label().startswith(f"{level}:")]
            assert line.get_label() == f"{level}: {best} ({len(seeds.columns)} seeds)"
            assert line.get_ydata() == pytest.approx(100 * seeds.median(axis=1).to_numpy())
    for ax in fig.axes[::2]:  # accuracy panels: quantiles of accuracies stay accuracies
        for band in ax.collections:
            assert band.get_paths()[0].vertices[:, 1].max() <= 100.0
    plt.close(fig)


def test_quantile_band_skips_non_finite_values():
    from nnstudy.report import figures

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


def test_tuning_figures_match_the_trials_by_brute_force(study, views):
    import itertools

    import matplotlib.pyplot as plt
    from nnstudy.report import figures

    view = views["tuned", "gmm"]
    raw = pd.read_csv(study / "results/tables/trials.csv", dtype={"variant": str})
    raw = raw[raw["experiment"] == "tuned"]
    fig = figures.lr_sensitivity(view=view)
    stars = [ln for ln in _lines(fig) if ln.get_marker() == "*" and len(ln.get_xdata())]
    selected = raw[raw["selected"]]
    assert len(stars) == selected["optimizer"].nunique()
    for star in stars:
        (lr,) = star.get_xdata()
        assert lr in set(selected["lr"])
    plt.close(fig)
    fig = figures.expected_max(view=view)
    for line in _lines(fig):
        opt = line.get_label().split(" (")[0]
        if opt.startswith("_"):
            continue
        t = raw[(raw["optimizer"] == opt) & (raw["rung"] == 0) & (raw["status"] != "failed")]
        # The leading variant of this optimizer (one variant per optimizer here).
        scores = t["val_accuracy"].where(t["status"] != "diverged", 0.0).fillna(0.0).tolist()
        for n, y in zip(line.get_xdata(), line.get_ydata(), strict=True):
            # A grid's trials are the whole pool: n of them without replacement.
            exact = np.mean([max(d) for d in itertools.combinations(scores, int(n))])
            assert y == pytest.approx(100 * exact)
    plt.close(fig)


def test_tuning_budget_counts_the_trials(study, html):
    raw = pd.read_csv(study / "results/tables/trials.csv", dtype={"variant": str})
    raw = raw[raw["experiment"] == "tuned"].drop_duplicates("run_id")
    for opt, t in raw.groupby("optimizer"):
        epochs = f"{t['epochs_run'].sum():g}"
        row = re.search(
            rf'<tr><td class="l">{opt}</td><td class="r">\d+</td><td class="r">\d+</td>'
            rf'<td class="r">{len(t)}</td><td class="r">{epochs}</td>',
            html,
        )
        assert row, opt
