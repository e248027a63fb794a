"""The environment the study's job commands run in.

Training and evaluation jobs are shell commands, ``python -m nnstudy.<job> ...`` (see
``workflow/rules/train.smk``). The ``python`` they find must be the one running Snakemake (the
project's venv, where nnlib and nnstudy are installed), also when the venv was not activated
(``.venv/bin/snakemake`` as ``make run`` calls it). With ``--sdm conda`` Snakemake puts the
rule's environment before it on the job's PATH, so that one wins there.
"""

from __future__ import annotations

import os
import sys


def interpreter_first_on_path(environ=os.environ, executable: str = sys.executable) -> str:
    """Put the directory of ``executable`` first on ``environ["PATH"]`` (once); return it."""
    bin_dir = os.path.dirname(executable)
    entries = [p for p in environ.get("PATH", "").split(os.pathsep) if p]
    if not entries or entries[0] != bin_dir:
        environ["PATH"] = os.pathsep.join([bin_dir, *entries])
    return bin_dir
