"""An experiment named in any script keeps its name in report.html, report.tex and the PDF."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from nnstudy.invoke import run_snakemake, tiny_study
from nnstudy.report.contents import tex_engine
from nnstudy.report.pdf import tex_commands
from nnstudy.report.templating import PDFTEX_SYMBOLS, latex_escape, pdftex_unsupported

NAME = "实验 α–β"


def test_latex_escape_keeps_every_script_and_escapes_only_latex():
    assert latex_escape(NAME) == NAME
    assert latex_escape("Привет ελληνικά 日本語 한국어 é ≈") == "Привет ελληνικά 日本語 한국어 é ≈"
    assert latex_escape("实验 {x} 100%") == r"实验 \{x\} 100\%"
    assert latex_escape("a\u2028b\x00c") == "a b c"  # line separators and controls


def test_pdflatex_is_told_apart_from_what_needs_lualatex():
    assert pdftex_unsupported("Café – “quoted” ± 5 × 3 ≈ α") == []
    assert pdftex_unsupported(f"{NAME} and 实 again, ł") == ["实", "验", "β", "ł"]
    assert set(PDFTEX_SYMBOLS) <= {ch for ch in "≈±×α−"}
    build = Path("build")
    assert tex_commands("latexmk", "r.tex", build, unicode=True)[0][:2] == ["latexmk", "-lualatex"]
    assert tex_commands("latexmk", "r.tex", build, unicode=False)[0][:2] == ["latexmk", "-pdf"]
    assert {cmd[0] for cmd in tex_commands("pdflatex", "r.tex", build, unicode=True)} == {
        "lualatex"
    }


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    """The test study's untuned experiment under a Chinese and Greek name, run by the real
    workflow up to its report (and PDF, with TeX)."""
    folder = tmp_path_factory.mktemp("unicode")
    config = tiny_study("tiny")
    config["experiments"] = {NAME: config["experiments"]["tiny"]}
    config["select"] = [NAME]
    (folder / "config.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), "utf-8")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    done = run_snakemake(cwd=folder, cores=2, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return folder / "results" / "report"


@pytest.mark.slow
def test_the_name_is_kept_in_the_html_and_latex_reports(study):
    html = (study / "report.html").read_text(encoding="utf-8")
    tex = (study / "report.tex").read_text(encoding="utf-8")
    assert f"Experiments: <strong>{NAME}</strong>" in html
    assert rf"Experiments: \textbf{{{NAME}}}" in tex
    assert "??" not in tex


@pytest.mark.slow
@pytest.mark.system
@pytest.mark.skipif(
    tex_engine() is None or shutil.which("pdftotext") is None,
    reason="needs a TeX engine and pdftotext (.ci/run installs TeX Live, its fonts, poppler)",
)
def test_the_name_is_kept_in_the_pdf(study):
    text = subprocess.run(
        ["pdftotext", str(study / "report.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert f"Experiments: {NAME}." in text
    log = (study / "build" / "report.log").read_text(errors="replace")
    assert "Missing character" not in log  # every glyph came from a font
