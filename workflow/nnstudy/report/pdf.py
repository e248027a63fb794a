"""Compile the report's LaTeX into a PDF (rule ``report_pdf``): the first TeX engine found
(:func:`nnstudy.report.contents.tex_engine`), with LuaLaTeX instead of pdflatex when the text
has characters pdflatex cannot typeset (:func:`nnstudy.report.templating.pdftex_unsupported`:
an experiment named in Chinese, say). Apart from :mod:`nnstudy.report`, so the PDF job does not
import pandas and the statistics for a few TeX passes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from nnstudy.report.contents import tex_engine
from nnstudy.report.templating import FALLBACK_FONTS, FALLBACK_PACKAGES, pdftex_unsupported


def tex_commands(engine: str, tex_name: str, build: Path, unicode: bool) -> list[list[str]]:
    """The commands that compile ``tex_name`` into ``build`` with ``engine`` (LuaLaTeX for
    pdflatex when ``unicode``)."""
    if engine == "latexmk":
        mode = "-lualatex" if unicode else "-pdf"
        return [
            [
                "latexmk",
                mode,
                "-interaction=nonstopmode",
                "-halt-on-error",
                f"-outdir={build}",
                tex_name,
            ]
        ]
    if engine == "pdflatex":
        # Twice, so references and the table of contents resolve.
        tex = "lualatex" if unicode else "pdflatex"
        return [
            [
                tex,
                "-interaction=nonstopmode",
                "-halt-on-error",
                f"-output-directory={build}",
                tex_name,
            ]
        ] * 2
    return [["tectonic", "--outdir", str(build), tex_name]]


def build_pdf(tex_path, pdf_path, log_path=None) -> Path:
    """Compile report.tex into pdf_path with the first TeX engine found; raises RuntimeError
    with one line on failure."""
    engine = tex_engine()
    if engine is None:
        raise RuntimeError("no TeX engine found (latexmk, pdflatex or tectonic)")
    tex_path, pdf_path = Path(tex_path).resolve(), Path(pdf_path).resolve()
    beyond = pdftex_unsupported(tex_path.read_text(encoding="utf-8"))
    # What a failure may be missing when the text needs LuaLaTeX and its fonts.
    needs = (
        f" (its text has characters pdflatex cannot typeset, e.g. {''.join(beyond[:5])}: it "
        f"needs lualatex and the fonts {', '.join(FALLBACK_FONTS)}; {FALLBACK_PACKAGES})"
        if beyond
        else ""
    )
    if beyond and engine == "pdflatex" and shutil.which("lualatex") is None:
        raise RuntimeError(f"no lualatex to build {tex_path}{needs}")
    build = tex_path.parent / "build"
    build.mkdir(exist_ok=True)
    log = []
    for cmd in tex_commands(engine, tex_path.name, build, unicode=bool(beyond)):
        res = subprocess.run(cmd, cwd=tex_path.parent, capture_output=True, text=True, timeout=600)
        log.append(res.stdout + res.stderr)
        if res.returncode != 0:
            if log_path:
                Path(log_path).write_text("\n".join(log))
            tail = [ln for ln in (res.stdout + res.stderr).splitlines() if ln.startswith("!")][:1]
            raise RuntimeError(
                f"{cmd[0]} failed on {tex_path}: {tail[0] if tail else 'see the log'}{needs}"
            )
    if log_path:
        Path(log_path).write_text("\n".join(log))
    shutil.copyfile(build / (tex_path.stem + ".pdf"), pdf_path)
    return pdf_path
