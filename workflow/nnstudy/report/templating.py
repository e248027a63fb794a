"""Jinja2 environments for the report (HTML autoescaped, LaTeX escaped) and value formatting.

Every value printed by the LaTeX templates goes through ``latex_escape`` (the environment's
``finalize``), the way HTML autoescaping works: a template cannot forget to escape. Only values
wrapped in ``LatexSafe`` (built here from validated input) pass through unchanged.

Text stays as it is written (UTF-8): an experiment named in Chinese is Chinese in report.tex.
The preamble serves both engines :mod:`nnstudy.report.pdf` chooses from: pdflatex for text it
can typeset (Latin-1, typographic punctuation, :data:`PDFTEX_SYMBOLS`), LuaLaTeX with
:data:`FALLBACK_FONTS` for any other (:func:`pdftex_unsupported` tells them apart).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

TEMPLATE_DIR = Path(__file__).resolve().parents[3] / "report"
NA = "n/a"

_LATEX_CHARS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    '"': r"\textquotedbl{}",
    # Brackets after \\ or \item would be read as optional arguments.
    "[": "{[}",
    "]": "{]}",
}
# Symbols the report's own text uses that pdflatex's utf8 input does not map in text mode:
# the preamble declares them for pdflatex (LuaLaTeX's fonts have them).
PDFTEX_SYMBOLS = {
    "≈": r"\ensuremath{\approx}",
    "±": r"\ensuremath{\pm}",
    "×": r"\ensuremath{\times}",
    "α": r"\ensuremath{\alpha}",
    "−": "-",
}
# Non-ASCII characters pdflatex (utf8 + T1 + PDFTEX_SYMBOLS) can typeset.
PDFTEX_CHARS = {chr(c) for c in range(0xA1, 0x100)} | set("–—‘’“”…") | set(PDFTEX_SYMBOLS)
# LuaLaTeX takes a character Latin Modern lacks from the first of these that has it: Greek,
# Cyrillic and symbols (DejaVu Serif), CJK (Noto Serif CJK SC), Arabic, Hebrew (DejaVu Sans).
FALLBACK_FONTS = ("DejaVu Serif", "Noto Serif CJK SC", "DejaVu Sans")
# Where they come from, for the message when a build needs them.
FALLBACK_PACKAGES = "Debian: texlive-luatex fonts-dejavu-core fonts-noto-cjk"


class LatexSafe(str):
    """A string that is already valid LaTeX; ``finalize`` leaves it alone."""


def latex_escape(value) -> str:
    """Escape any value for LaTeX text: its special characters as commands, any other printable
    character (of any script) as it is, control characters as a space."""
    if isinstance(value, LatexSafe):
        return value
    return "".join(_LATEX_CHARS.get(ch, ch) if ch.isprintable() else " " for ch in str(value))


def pdftex_unsupported(text: str) -> list[str]:
    """The distinct characters of ``text`` pdflatex cannot typeset, in order of appearance
    (empty: pdflatex builds it)."""
    return list(dict.fromkeys(ch for ch in text if not ch.isascii() and ch not in PDFTEX_CHARS))


def _preamble_globals() -> dict[str, LatexSafe]:
    """What report.tex.j2's preamble fills in: the \\DeclareUnicodeCharacter lines for pdflatex
    and the fallback fonts (a Lua list) for LuaLaTeX."""
    declarations = "\n".join(
        rf"\DeclareUnicodeCharacter{{{ord(ch):04X}}}{{{tex}}}" for ch, tex in PDFTEX_SYMBOLS.items()
    )
    fonts = ", ".join(f'"{name}:mode=node;"' for name in FALLBACK_FONTS)
    return {"pdftex_symbols": LatexSafe(declarations), "fallback_fonts": LatexSafe(fonts)}


_SAFE_PATH = re.compile(r"^[A-Za-z0-9_./-]+$")


def latex_path(path) -> LatexSafe:
    """A file path for \\includegraphics; only plain characters are accepted."""
    text = str(path)
    if not _SAFE_PATH.match(text):
        raise ValueError(f"figure path {text!r} has characters LaTeX cannot take verbatim")
    return LatexSafe(text)


def latex_key(text) -> LatexSafe:
    """A label/reference key: anything but letters, digits, ':' and '-' becomes '-'."""
    return LatexSafe(re.sub(r"[^A-Za-z0-9:-]", "-", str(text)))


def latex_colspec(align: str) -> LatexSafe:
    """Table.align -> a tabular spec: l and r as they are, X a wrapping paragraph column."""
    if not re.fullmatch(r"[lrX]*", align):
        raise ValueError(f"column alignment {align!r}: use l, r or X")
    return LatexSafe(align.replace("X", r">{\raggedright\arraybackslash}p{0.2\linewidth}"))


def html_env(template_dir: Path = TEMPLATE_DIR) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def latex_env(template_dir: Path = TEMPLATE_DIR) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir)),
        block_start_string=r"\BLOCK{",
        block_end_string="}",
        variable_start_string=r"\VAR{",
        variable_end_string="}",
        comment_start_string=r"\#{",
        comment_end_string="}",
        line_comment_prefix="%#",
        autoescape=False,
        finalize=latex_escape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["path"] = latex_path
    env.filters["key"] = latex_key
    env.filters["colspec"] = latex_colspec
    env.globals.update(_preamble_globals())
    return env


def _missing(x) -> bool:
    try:
        return x is None or x is jinja2.Undefined or math.isnan(float(x))
    except (TypeError, ValueError):
        return False


def pct(x, digits: int = 1) -> str:
    """A fraction as percent (no sign), or n/a."""
    return NA if _missing(x) else f"{100 * float(x):.{digits}f}"


def pct_ci(low, high, digits: int = 1) -> str:
    """An interval of a fraction as 'low–high' in percent, or n/a."""
    return interval(low, high, digits=digits)


def interval(low, high, scale: float = 100.0, sign: bool = False, digits: int = 1) -> str:
    """An interval in percent (``scale`` 100) or percentage points: '95.2–98.6', or with
    ``sign`` (a difference) '-4.2 to +0.3'; n/a when either end is missing."""
    if _missing(low) or _missing(high):
        return NA
    fmt = f"{{:{'+' if sign else ''}.{digits}f}}"
    a, b = fmt.format(scale * float(low)), fmt.format(scale * float(high))
    return f"{a} to {b}" if sign else f"{a}–{b}"


def points(diff, sign: bool = True, digits: int = 1) -> str:
    """A difference of fractions in percentage points ('+3.1'), or n/a."""
    if _missing(diff):
        return NA
    return f"{100 * float(diff):{'+' if sign else ''}.{digits}f}"


def plural(n: int, word: str) -> str:
    """'1 run', '2 runs', '1 variant', '0 variants'."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def pvalue(p) -> str:
    if _missing(p):
        return NA
    return "<0.001" if float(p) < 0.001 else f"{float(p):.3f}"


def p_is(p) -> str:
    """A p-value in a sentence: "p = 0.012", "p < 0.001"."""
    text = pvalue(p)
    return f"p {text[0]} {text[1:]}" if text.startswith("<") else f"p = {text}"


def number(x, digits: int = 3) -> str:
    return NA if _missing(x) else f"{float(x):.{digits}g}"


def seconds(x) -> str:
    if _missing(x):
        return NA
    x = float(x)
    if x < 120:
        return f"{x:.1f} s"
    if x < 7200:
        return f"{x / 60:.1f} min"
    return f"{x / 3600:.2f} h"


@dataclass
class Table:
    """A table of already formatted cells, rendered by report/table.{html,tex}.j2."""

    name: str
    caption: str
    columns: list[str]
    rows: list[list[str]]
    # "l" for text, "r" for numbers, "X" for long text that wraps; one per column.
    align: str = ""
    # Row indices to highlight (best variant, diverged runs...).
    marked: set[int] = field(default_factory=set)

    def __post_init__(self):
        if not self.align:
            self.align = "l" * len(self.columns)
        if len(self.align) != len(self.columns):
            raise ValueError(
                f"table {self.name}: {len(self.columns)} columns, align {self.align!r}"
            )


def render_table(table: Table, fmt: str) -> str:
    """One table as a standalone HTML or LaTeX (booktabs) fragment."""
    env = html_env() if fmt == "html" else latex_env()
    return env.get_template(f"table.{fmt}.j2").render(table=table)
