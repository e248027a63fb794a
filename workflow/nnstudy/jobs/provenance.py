"""Where a result came from: code version, packages, data, machine (stored in train.json), and
the study's provenance in the report (:func:`study_provenance`).

``provenance(data_dir)`` returns ``{git_commit, git_dirty, python, packages: {numpy, nnlib-study,
...}, data: {card_sha256, source}, host, platform, finished_utc}``; a field that cannot be
determined (e.g. not a git checkout) is null.

The code's part (``git_commit``, ``git_dirty``, ``packages``: two ``git`` commands and five
package records) is the same for every job of a study: the Snakefile computes it once
(:func:`export_code_state`, into ``$NNSTUDY_PROVENANCE``) and the jobs, which inherit the
variable, read it instead of paying for it each (``importlib.metadata``, ``subprocess`` and the
two ``git`` processes cost a job about as much as a digits epoch). Without the variable
(a job run by hand) :func:`provenance` computes it.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shlex
import sys
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

# What a run's numbers depend on (in train.json), and what the report also names.
PACKAGES = ("nnlib-study", "numpy", "scipy", "threadpoolctl", "snakemake")
REPORT_PACKAGES = ("numpy", "scipy", "pandas", "matplotlib", "jinja2", "snakemake", "nnlib-study")
ENV = "NNSTUDY_PROVENANCE"


@cache
def git_state(cwd: str = ".") -> tuple[str | None, bool | None]:
    """(commit, has uncommitted changes to tracked files) of the checkout at ``cwd``."""
    import subprocess

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None, None
    return commit, bool(dirty)


def _version(name: str) -> str | None:
    """The installed version of distribution ``name``, from its METADATA's ``Version:`` line
    (``metadata.version`` runs the e-mail parser over the whole file: ~10 ms a package, paid
    by every training job)."""
    from importlib import metadata

    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return None
    # METADATA in a wheel's .dist-info, PKG-INFO in an .egg-info (a source checkout)
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    for line in text.splitlines():
        if line.startswith("Version:"):
            return line.partition(":")[2].strip()
        if not line:  # the headers end at the first blank line
            break
    return None


def data_provenance(data_dir: str | Path) -> dict:
    """Hash of the prepared data's card (it holds the raw files' checksums and the split)."""
    card = Path(data_dir) / "card.json"
    if not card.exists():
        return {"card_sha256": None, "source": None}
    text = card.read_bytes()
    source = json.loads(text).get("source")
    return {"card_sha256": hashlib.sha256(text).hexdigest(), "source": source}


def code_state() -> dict:
    """``{git_commit, git_dirty, packages}`` of this checkout and environment."""
    commit, dirty = git_state(str(Path(__file__).resolve().parent))
    return {
        "git_commit": commit,
        "git_dirty": dirty,
        "packages": {name: _version(name) for name in PACKAGES},
    }


def export_code_state(environ=os.environ) -> None:
    """Put :func:`code_state` into ``environ[ENV]`` for the jobs (once: a job's own
    Snakemake, on a cluster, keeps the one it inherited)."""
    if ENV not in environ:
        environ[ENV] = json.dumps(code_state())


def provenance(data_dir: str | Path) -> dict:
    code = json.loads(os.environ[ENV]) if ENV in os.environ else code_state()
    return {
        "git_commit": code["git_commit"],
        "git_dirty": code["git_dirty"],
        "python": sys.version.split()[0],
        "packages": code["packages"],
        "data": data_provenance(data_dir),
        "host": platform.node(),
        "platform": platform.platform(),
        "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _run_commits(runs) -> str:
    """The commits the runs were trained at (from their train.json), with dirty counts."""
    from nnstudy.report.templating import NA

    if "git_commit" not in runs.columns or runs["git_commit"].isna().all():
        return NA
    parts = []
    for commit, group in runs.groupby(runs["git_commit"].fillna("unknown"), sort=True):
        dirty = int(group["git_dirty"].fillna(False).astype(bool).sum())
        parts.append(
            f"{commit} ({len(group)} runs{f', {dirty} with uncommitted changes' if dirty else ''})"
        )
    return "; ".join(parts)


def study_provenance(cfg_hash: str, runs, selected: list[str], repo=".") -> dict:
    """The report's reproducibility section: the code's commit and state, the commits the runs
    were trained at, the config hash, package versions, platform, the command that reproduces
    the study and its compute (``runs``: the aggregate runs table)."""
    from importlib import metadata

    from nnstudy.report.templating import NA, seconds

    commit, dirty = git_state(str(Path(repo).resolve()))
    versions = [("python", platform.python_version())]
    for pkg in REPORT_PACKAGES:
        try:
            versions.append((pkg, metadata.version(pkg)))
        except metadata.PackageNotFoundError:
            versions.append((pkg, NA))
    select = json.dumps(selected, separators=(",", ":"))
    command = (
        f"git checkout {commit or '<commit>'} && "
        f"snakemake --cores all --config {shlex.quote(f'select={select}')}"
    )
    return {
        "commit": commit or "unknown (not a git checkout)",
        "dirty": NA
        if dirty is None
        else (
            "yes: uncommitted changes, the commit alone does not reproduce this" if dirty else "no"
        ),
        "run_commits": _run_commits(runs),
        "config_hash": cfg_hash,
        "packages": versions,
        "platform": f"{platform.system()} {platform.release()} {platform.machine()}",
        "command": command,
        "compute": seconds(runs["train_seconds"].sum(min_count=1)),
        "n_runs": len(runs),
    }
