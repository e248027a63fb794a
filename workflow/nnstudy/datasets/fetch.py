"""Find each raw file of a dataset in the first source that has a verified copy.

Order: $NNSTUDY_DATA_DIR, the configured local directories, earlier downloads in
``raw_dir``, then the official URLs and their mirrors. The outcome is a manifest
(``<raw_dir>/<dataset>/source.json``) naming, for each file, where it came from and its
checksums; ``prepare`` reads it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from nnlib.atomic import atomic_write_text

from .catalog import DatasetSpec, RawFile, get_spec
from .download import DownloadError, download
from .hashing import content_sha256, file_digest, file_digests

ENV_VAR = "NNSTUDY_DATA_DIR"
MANIFEST = "source.json"


class FetchError(Exception):
    """No source produced a verified copy; the message lists every source tried and why."""


def fetch(
    name: str,
    raw_dir: str | Path,
    local_dirs: Sequence[str | Path] = (),
    *,
    spec: DatasetSpec | None = None,
    use_env: bool = True,
    timeout: float = 30.0,
    retries: int = 3,
    backoff: float = 1.0,
    progress: bool = True,
) -> dict:
    """Locate or download every raw file of dataset ``name``; return and write the manifest.

    ``spec`` overrides the catalog entry (tests point it at a local server with the
    checksums of small generated files).
    """
    spec = spec or get_spec(name)
    if not spec.downloaded:
        raise ValueError(f"dataset {spec.name!r} is built in; it has nothing to fetch")
    dataset_dir = Path(raw_dir) / spec.name
    dirs = [Path(d) for d in local_dirs]
    if use_env and os.environ.get(ENV_VAR):
        dirs.insert(0, Path(os.environ[ENV_VAR]))
    files = {
        f.name: _fetch_file(f, spec, dirs, dataset_dir, timeout, retries, backoff, progress)
        for f in spec.files
    }
    manifest = {"dataset": spec.name, "files": files}
    atomic_write_text(dataset_dir / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return manifest


def read_manifest(path: str | Path) -> dict:
    return json.loads(Path(path).read_text())


def verify_local(path: Path, f: RawFile) -> str | None:
    """None when ``path`` holds ``f``'s content, else why not (one line)."""
    try:
        if f.sha256 is not None:
            got = content_sha256(path)
            return None if got == f.sha256 else f"content sha256 {got} != expected {f.sha256}"
        got = file_digest(path, "md5")
        return None if got == f.md5 else f"md5 {got} != published {f.md5}"
    except (OSError, ValueError) as exc:
        return str(exc)


def _local_candidates(f: RawFile, spec: DatasetSpec, dirs: Iterable[Path]) -> dict[Path, list]:
    """Per directory, the paths where a mirror could keep ``f`` (sub-folder, gz or not)."""
    names = [f.name] if f.name == f.stem else [f.name, f.stem]
    return {
        d: [d / sub / n for sub in (*spec.local_names, "") for n in names]
        for d in dict.fromkeys(dirs)  # keeps order, drops repeats
    }


def _fetch_file(
    f: RawFile,
    spec: DatasetSpec,
    dirs: list[Path],
    dataset_dir: Path,
    timeout: float,
    retries: int,
    backoff: float,
    progress: bool,
) -> dict:
    tried: list[str] = []
    cached = dataset_dir / f.name
    local = _local_candidates(f, spec, dirs)
    local.setdefault(dataset_dir, []).insert(0, cached)
    for directory, paths in local.items():
        present = [p for p in paths if p.is_file()]
        if not present:
            tried.append(f"{directory}: no {f.stem}[.gz] there")
        for path in present:
            problem = verify_local(path, f)
            if problem is None:
                return _record(path, f"local:{path}", f)
            tried.append(f"{path}: {problem}")
    for base in spec.mirrors:
        url = base + f.name
        try:
            path = download(
                url,
                cached,
                md5=f.md5,
                sha256=f.sha256,
                timeout=timeout,
                retries=retries,
                backoff=backoff,
                progress=progress,
            )
        except DownloadError as exc:
            tried.append(f"{url}: {exc}")
            continue
        return _record(path, url, f)
    raise FetchError(
        f"could not get {spec.name} file {f.name} from any source: "
        + "; ".join(tried)
        + f". {how_to_get(spec)}"
    )


def how_to_get(spec: DatasetSpec) -> str:
    """One sentence: the ways to make a downloaded dataset's files reachable offline."""
    files = ", ".join(f.name for f in spec.files)
    package = f", or install Debian's {spec.debian_package}" if spec.debian_package else ""
    return (
        f"To get {spec.name}: connect to the network and rerun, or put {files} (from "
        f"{spec.homepage}) in ${ENV_VAR} or a folder of data.local_dirs{package} "
        "(docs/datasets.md)"
    )


def _record(path: Path, source: str, f: RawFile) -> dict:
    # md5/sha256 of the stored bytes; content_sha256 is the (already verified) catalog value.
    return {
        "path": str(path.resolve()),
        "source": source,
        **file_digests(path),
        "content_sha256": f.sha256,
    }
