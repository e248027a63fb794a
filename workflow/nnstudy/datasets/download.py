"""Download one URL to a file: streamed, resumable, verified before it is renamed into place."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from .hashing import content_sha256, file_digest

_CHUNK = 1 << 16
# Client errors that will not change on a retry (404, 403, ...); 408/429 are worth retrying.
_RETRYABLE_4XX = {408, 429}


class DownloadError(Exception):
    """A one-line reason why a URL could not be turned into a verified file."""


def download(
    url: str,
    dest: Path,
    *,
    md5: str | None = None,
    sha256: str | None = None,
    timeout: float = 30.0,
    retries: int = 3,
    backoff: float = 1.0,
    progress: bool = True,
) -> Path:
    """Fetch ``url`` into ``dest`` and return ``dest``.

    Bytes go to ``dest.part`` first; an interrupted transfer is resumed with an HTTP Range
    request (also across calls). ``md5`` is checked on the file as downloaded and ``sha256``
    on its content (gunzipped if compressed); only a verified file is renamed to ``dest``.
    A failed checksum deletes the partial file. Raises DownloadError.
    """
    # The HTTP stack is imported here, not with the module: loading prepared data (a training
    # job) imports nnstudy.datasets without ever downloading.
    import http.client
    import urllib.error

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    reason = "no attempt made"
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        try:
            complete = _transfer(url, part, timeout, progress)
        except urllib.error.HTTPError as exc:
            reason = f"HTTP {exc.code} {exc.reason}"
            if 400 <= exc.code < 500 and exc.code not in _RETRYABLE_4XX:
                raise DownloadError(reason) from None
            continue
        except (OSError, http.client.HTTPException) as exc:  # URLError, timeouts, resets
            reason = _describe(exc)
            continue
        if not complete:
            reason = f"transfer cut short after {part.stat().st_size} bytes"
            continue
        _verify(part, md5, sha256)
        os.replace(part, dest)
        return dest
    raise DownloadError(f"{reason} (after {retries + 1} attempts)")


def _transfer(url: str, part: Path, timeout: float, progress: bool) -> bool:
    """Append what is missing to ``part``; True when the server's full length arrived."""
    import urllib.error
    import urllib.request

    from tqdm import tqdm

    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "nnlib-datasets/1"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        response = urllib.request.urlopen(
            urllib.request.Request(url, headers=headers), timeout=timeout
        )
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            return True  # nothing left to fetch: the checksum decides whether the part is good
        raise
    with response:
        if offset and response.status != 206:
            offset = 0  # the server ignored the Range header: start over
        elif offset and not response.headers.get("Content-Range", "").startswith(
            f"bytes {offset}-"
        ):
            raise DownloadError(f"server answered Range {offset}- with the wrong part")
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length is not None else None
        with (
            open(part, "ab" if offset else "wb") as out,
            tqdm(
                total=total,
                initial=offset,
                unit="B",
                unit_scale=True,
                desc=url.rsplit("/", 1)[-1],
                file=sys.stderr,
                disable=not progress,
                leave=False,
            ) as bar,
        ):
            # http.client returns b"" (no exception) when the peer closes early, so the
            # received size is compared with Content-Length below.
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                bar.update(len(chunk))
    return total is None or part.stat().st_size == total


def _verify(part: Path, md5: str | None, sha256: str | None) -> None:
    problems = []
    if md5 is not None and (got := file_digest(part, "md5")) != md5:
        problems.append(f"md5 {got} != published {md5}")
    if sha256 is not None:
        try:
            got = content_sha256(part)
        except ValueError as exc:
            problems.append(str(exc))
        else:
            if got != sha256:
                problems.append(f"content sha256 {got} != expected {sha256}")
    if problems:
        part.unlink()
        raise DownloadError("checksum mismatch: " + "; ".join(problems))


def _describe(exc: BaseException) -> str:
    import urllib.error

    if isinstance(exc, urllib.error.URLError):
        return f"cannot connect ({exc.reason})"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
