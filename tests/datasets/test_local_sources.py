"""Local mirrors: sub-folder naming, uncompressed copies, the environment variable, order."""

from __future__ import annotations

import gzip

import pytest
from dataset_fixtures import FAST, IDX_NAMES, gz, idx_spec, small_idx_set
from nnstudy.datasets import FetchError, fetch, prepare


@pytest.fixture
def contents():
    return small_idx_set()


def test_local_dir_with_uncompressed_files(contents, tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name, data in contents.items():
        (mirror / name.removesuffix(".gz")).write_bytes(data)
    spec = idx_spec(contents)  # no URLs: only the local copy can succeed
    card = prepare(
        "mnist", tmp_path / "out", raw_dir=tmp_path / "raw", local_dirs=[mirror], spec=spec
    )
    source = card["source"]["train-images-idx3-ubyte.gz"]
    assert source["source"] == f"local:{mirror / 'train-images-idx3-ubyte'}"
    assert card["splits"]["test"]["shape"] == [20, 784]


def test_debian_style_subfolder_and_recompressed_files(contents, tmp_path):
    """Debian ships /usr/share/datasets/fashion-mnist/*.gz, recompressed: content still verifies."""
    sub = tmp_path / "datasets" / "fashion-mnist"
    sub.mkdir(parents=True)
    for name, data in contents.items():
        (sub / name).write_bytes(gzip.compress(data, compresslevel=1, mtime=12345))
    spec = idx_spec(contents, name="fashion_mnist")
    manifest = fetch("fashion_mnist", tmp_path / "raw", [tmp_path / "datasets"], spec=spec)
    assert {e["path"] for e in manifest["files"].values()} == {str(sub / n) for n in IDX_NAMES}


def test_env_dir_comes_first_and_bad_copies_are_skipped(contents, tmp_path, monkeypatch):
    env_dir, config_dir = tmp_path / "env", tmp_path / "config"
    for d in (env_dir, config_dir):
        d.mkdir()
        for name, data in contents.items():
            (d / name).write_bytes(gz(data))
    (env_dir / IDX_NAMES[1]).write_bytes(gz(b"corrupted"))
    monkeypatch.setenv("NNSTUDY_DATA_DIR", str(env_dir))
    spec = idx_spec(contents)
    files = fetch("mnist", tmp_path / "raw", [config_dir], spec=spec, **FAST)["files"]
    assert files[IDX_NAMES[0]]["path"] == str(env_dir / IDX_NAMES[0])
    assert files[IDX_NAMES[1]]["path"] == str(config_dir / IDX_NAMES[1])


def test_other_datasets_files_under_the_same_names_are_not_taken(contents, tmp_path):
    """MNIST and Fashion-MNIST share file names; the content checksum tells them apart."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name, data in contents.items():
        (mirror / name).write_bytes(gz(data))
    fashion = idx_spec(small_idx_set(seed=1), name="fashion_mnist")
    with pytest.raises(FetchError, match="content sha256 .* != expected"):
        fetch("fashion_mnist", tmp_path / "raw", [mirror], spec=fashion, **FAST)


def test_the_error_says_how_to_get_fashion_mnist_offline(tmp_path):
    """Debian's package is named where it applies; the catalog's files and homepage always."""
    spec = idx_spec(small_idx_set(seed=1), name="fashion_mnist")
    with pytest.raises(FetchError) as err:
        fetch("fashion_mnist", tmp_path / "raw", [tmp_path], spec=spec, **FAST)
    message = str(err.value)
    assert "\n" not in message
    assert message.endswith(
        "in $NNSTUDY_DATA_DIR or a folder of data.local_dirs, or install Debian's "
        "dataset-fashion-mnist (docs/datasets.md)"
    )
    assert f"(from {spec.homepage})" in message
