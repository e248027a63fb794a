"""Downloads from a local HTTP server: success, checksums, resume, mirrors, total failure."""

from __future__ import annotations

import hashlib
import socket

import pytest
from dataset_fixtures import FAST, IDX_NAMES, gz, idx_spec, small_idx_set
from nnstudy.datasets import DownloadError, FetchError, download, fetch, prepare


@pytest.fixture
def contents():
    return small_idx_set()


def serve(server, contents, prefix="/a/"):
    for name, data in contents.items():
        server.files[prefix + name] = gz(data)
    return server.url(prefix)


def test_fetch_downloads_every_file_verified(http_server, contents, tmp_path):
    spec = idx_spec(contents, [serve(http_server, contents)])
    manifest = fetch("mnist", tmp_path / "raw", spec=spec, **FAST)
    for name in IDX_NAMES:
        entry = manifest["files"][name]
        assert entry["source"] == http_server.url("/a/" + name)
        assert entry["content_sha256"] == hashlib.sha256(contents[name]).hexdigest()
        assert (tmp_path / "raw" / "mnist" / name).read_bytes() == gz(contents[name])
    assert (tmp_path / "raw" / "mnist" / "source.json").is_file()
    assert not list((tmp_path / "raw").rglob("*.part"))


def test_checksum_mismatch_keeps_nothing(http_server, contents, tmp_path):
    url = serve(http_server, contents)
    dest = tmp_path / "f.gz"
    with pytest.raises(DownloadError, match="checksum mismatch"):
        download(url + IDX_NAMES[0], dest, sha256="0" * 64, **FAST)
    assert list(tmp_path.iterdir()) == []


def test_published_md5_is_checked(http_server, contents, tmp_path):
    url = serve(http_server, contents)
    with pytest.raises(DownloadError, match="md5 .* != published"):
        download(url + IDX_NAMES[0], tmp_path / "f.gz", md5="0" * 32, **FAST)
    assert list(tmp_path.iterdir()) == []


def test_cut_transfer_is_resumed_with_range(http_server, contents, tmp_path):
    url = serve(http_server, contents)
    name = IDX_NAMES[0]
    http_server.cut_once.add("/a/" + name)
    body = gz(contents[name])
    dest = download(
        url + name, tmp_path / name, sha256=hashlib.sha256(contents[name]).hexdigest(), **FAST
    )
    assert dest.read_bytes() == body
    ranges = [r for path, r in http_server.requests if path == "/a/" + name]
    assert ranges == [None, f"bytes={len(body) // 2}-"]
    assert not (tmp_path / (name + ".part")).exists()


def test_leftover_part_file_is_resumed(http_server, contents, tmp_path):
    """A .part left by an earlier, killed run is continued, not restarted."""
    url = serve(http_server, contents)
    name = IDX_NAMES[0]
    body = gz(contents[name])
    (tmp_path / (name + ".part")).write_bytes(body[:100])
    download(url + name, tmp_path / name, md5=hashlib.md5(body).hexdigest(), **FAST)
    assert (tmp_path / name).read_bytes() == body
    assert http_server.requests == [("/a/" + name, "bytes=100-")]


def test_server_without_range_support_restarts_cleanly(http_server, contents, tmp_path):
    url = serve(http_server, contents)
    name = IDX_NAMES[0]
    body = gz(contents[name])
    http_server.ignore_range.add("/a/" + name)
    (tmp_path / (name + ".part")).write_bytes(b"stale bytes from elsewhere")
    download(url + name, tmp_path / name, md5=hashlib.md5(body).hexdigest(), **FAST)
    assert (tmp_path / name).read_bytes() == body


def test_part_file_already_complete_is_verified_not_refetched(http_server, contents, tmp_path):
    url = serve(http_server, contents)
    name = IDX_NAMES[0]
    body = gz(contents[name])
    (tmp_path / (name + ".part")).write_bytes(body)
    download(url + name, tmp_path / name, md5=hashlib.md5(body).hexdigest(), **FAST)
    assert (tmp_path / name).read_bytes() == body
    assert http_server.requests == [("/a/" + name, f"bytes={len(body)}-")]  # answered 416


@pytest.mark.parametrize("fault", ["unavailable_once", "stall_once"])
def test_server_error_and_timeout_are_retried(fault, http_server, contents, tmp_path):
    url = serve(http_server, contents)
    name = IDX_NAMES[1]
    getattr(http_server, fault).add("/a/" + name)
    options = {**FAST, "timeout": 0.3}
    dest = download(
        url + name, tmp_path / name, sha256=hashlib.sha256(contents[name]).hexdigest(), **options
    )
    assert dest.read_bytes() == gz(contents[name])
    assert [p for p, _ in http_server.requests] == ["/a/" + name] * 2


def test_retries_give_up_with_the_last_reason(http_server, contents, tmp_path):
    url = serve(http_server, contents)
    name = IDX_NAMES[1]
    http_server.stall_once.add("/a/" + name)
    with pytest.raises(DownloadError, match=r"timed out \(after 1 attempts\)"):
        download(url + name, tmp_path / name, **{**FAST, "timeout": 0.3, "retries": 0})
    assert not (tmp_path / name).exists()


def test_404_on_first_mirror_then_second(http_server, contents, tmp_path):
    good = serve(http_server, contents, prefix="/good/")
    spec = idx_spec(contents, [http_server.url("/missing/"), good])
    manifest = fetch("mnist", tmp_path, spec=spec, **FAST)
    assert {e["source"] for e in manifest["files"].values()} == {good + n for n in IDX_NAMES}
    tried = [path for path, _ in http_server.requests]
    assert tried[:2] == ["/missing/" + IDX_NAMES[0], "/good/" + IDX_NAMES[0]]


def test_every_source_failing_gives_one_message_naming_each(http_server, contents, tmp_path):
    bad = {n: b"not the data" for n in contents}  # served, but fails the checksum
    served = serve(http_server, bad, prefix="/bad/")
    local = tmp_path / "mirror"
    local.mkdir()
    refused = f"http://127.0.0.1:{_free_port()}/"  # nothing listens there
    spec = idx_spec(contents, [http_server.url("/missing/"), served, refused])
    with pytest.raises(FetchError) as err:
        fetch("mnist", tmp_path / "raw", [local], spec=spec, **FAST)
    message = str(err.value)
    assert "\n" not in message
    name = IDX_NAMES[0]
    assert f"{local}: no {name[:-3]}[.gz] there" in message
    assert f"{http_server.url('/missing/' + name)}: HTTP 404" in message
    assert f"{served}{name}: checksum mismatch" in message
    assert f"{refused}{name}: cannot connect" in message
    # ... and how to make the files reachable without the network.
    assert message.endswith(
        "To get mnist: connect to the network and rerun, or put "
        + ", ".join(IDX_NAMES)
        + f" (from {spec.homepage}) in $NNSTUDY_DATA_DIR or a folder of data.local_dirs"
        " (docs/datasets.md)"
    )
    # Nothing that looks complete is left behind.
    assert not [p for p in (tmp_path / "raw").rglob("*") if p.is_file()]


def test_prepare_from_downloaded_files(http_server, contents, tmp_path):
    spec = idx_spec(contents, [serve(http_server, contents)])
    card = prepare(
        "mnist", tmp_path / "out", raw_dir=tmp_path / "raw", val_fraction=0.2, spec=spec, **FAST
    )
    assert card["splits"]["train"]["shape"] == [80, 784]
    assert card["splits"]["val"]["class_counts"] == [2] * 10
    assert card["source"][IDX_NAMES[0]]["source"].startswith("http://127.0.0.1:")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
