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

The report's "reproduce" command is the study's own command line: the Snakefile computes it
from what Snakemake was given (:func:`export_study_command`: the config files and the
``--config`` overrides, in ``$NNSTUDY_STUDY_COMMAND``) and the report job reads it.
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
COMMAND_ENV = "NNSTUDY_STUDY_COMMAND"


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


def study_command(
    snakefile: str | os.PathLike,
    configfiles=(),
    config_args=(),
    workdir: str | os.PathLike = ".",
) -> str:
    """The shell command that runs the study again in ``workdir`` (its folder): ``snakemake``
    with the config files (relative to ``workdir`` when inside it) and the ``--config``
    arguments as they were given, and the Snakefile when it is not ``workdir``'s own."""
    workdir = Path(workdir).resolve()
    words = ["snakemake", "--cores", "all"]
    if Path(snakefile).resolve() != workdir / "Snakefile":
        words += ["--snakefile", _as_seen_from(snakefile, workdir)]
    if configfiles:
        words += ["--configfile", *(_as_seen_from(path, workdir) for path in configfiles)]
    if config_args:
        words += ["--config", *map(str, config_args)]
    return shlex.join(words)


def _as_seen_from(path: str | os.PathLike, workdir: Path) -> str:
    absolute = Path(path).resolve()
    return str(absolute.relative_to(workdir)) if absolute.is_relative_to(workdir) else str(absolute)


def export_study_command(snakefile, configfiles, config_args, environ=os.environ) -> None:
    """Put :func:`study_command` (for the current folder) into ``environ[COMMAND_ENV]`` for the
    report job; Snakemake's main process calls it with what it was given."""
    environ[COMMAND_ENV] = study_command(snakefile, configfiles, config_args)


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
    # Outside a Snakemake run (a report built by hand), the command that selects its experiments.
    select = json.dumps(selected, separators=(",", ":"), ensure_ascii=False)
    rerun = os.environ.get(COMMAND_ENV) or study_command("Snakefile", (), [f"select={select}"])
    command = f"git checkout {commit or '<commit>'} && {rerun}"
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
