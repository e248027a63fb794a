"""Compile the report's LaTeX into a PDF (rule ``report_pdf``): the first TeX engine found
(:func:`nnstudy.report.contents.tex_engine`). Apart from :mod:`nnstudy.report`, so the PDF job does not
import pandas and the statistics for a few TeX passes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from nnstudy.report.contents import tex_engine


def build_pdf(tex_path, pdf_path, log_path=None) -> Path:
    """Compile report.tex into pdf_path with the first TeX engine found; raises on failure."""
    engine = tex_engine()
    if engine is None:
        raise RuntimeError("no TeX engine found (latexmk, pdflatex or tectonic)")
    tex_path, pdf_path = Path(tex_path).resolve(), Path(pdf_path).resolve()
    build = tex_path.parent / "build"
    build.mkdir(exist_ok=True)
    if engine == "latexmk":
        cmds = [
            [
                "latexmk",
                "-pdf",
                "-interaction=nonstopmode",
                "-halt-on-error",
                f"-outdir={build}",
                tex_path.name,
            ]
        ]
    elif engine == "pdflatex":
        # Twice, so references and the table of contents resolve.
        cmds = [
            [
                "pdflatex",
                "-interaction=nonstopmode",
                "-halt-on-error",
                f"-output-directory={build}",
                tex_path.name,
            ]
        ] * 2
    else:
        cmds = [["tectonic", "--outdir", str(build), tex_path.name]]
    log = []
    for cmd in cmds:
        res = subprocess.run(cmd, cwd=tex_path.parent, capture_output=True, text=True, timeout=600)
        log.append(res.stdout + res.stderr)
        if res.returncode != 0:
            if log_path:
                Path(log_path).write_text("\n".join(log))
            tail = [ln for ln in (res.stdout + res.stderr).splitlines() if ln.startswith("!")][:1]
            raise RuntimeError(
                f"{engine} failed on {tex_path}: {tail[0] if tail else 'see the log'}"
            )
    if log_path:
        Path(log_path).write_text("\n".join(log))
    shutil.copyfile(build / (tex_path.stem + ".pdf"), pdf_path)
    return pdf_path
