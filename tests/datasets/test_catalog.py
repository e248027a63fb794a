"""The catalog: every downloaded file can be verified, and names resolve with clear errors."""

from __future__ import annotations

import pytest
from nnstudy.datasets import DATASETS, fetch, get_spec


def test_every_downloaded_file_has_a_checksum_and_sources():
    for spec in DATASETS.values():
        assert spec.n_classes == len(set(spec.class_names)) >= 2
        if not spec.downloaded:
            assert not spec.files and not spec.mirrors
            continue
        assert spec.mirrors and all(m.startswith(("http://", "https://")) for m in spec.mirrors)
        assert all(m.endswith("/") for m in spec.mirrors)
        for f in spec.files:
            assert f.sha256 or f.md5, f.name
            assert f.sha256 is None or len(f.sha256) == 64
            assert f.md5 is None or len(f.md5) == 32


def test_issue_checksums_are_the_uncompressed_idx_ones():
    """Same file names, different contents: MNIST and Fashion-MNIST must not share a digest."""
    mnist = {f.name: f.sha256 for f in DATASETS["mnist"].files}
    fashion = {f.name: f.sha256 for f in DATASETS["fashion_mnist"].files}
    assert mnist.keys() == fashion.keys()
    assert not set(mnist.values()) & set(fashion.values())


def test_unknown_name_and_builtin_fetch_are_one_line_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset 'cifar100'; valid names: mnist"):
        get_spec("cifar100")
    with pytest.raises(ValueError, match="built in; it has nothing to fetch"):
        fetch("digits", tmp_path)
