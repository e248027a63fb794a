"""prepare(): stratified seeded splits, train-only normalization, files and card, bad config."""

from __future__ import annotations

import json

import numpy as np
import pytest
from nnstudy.datasets import DATASETS, load_split, prepare, stratified_split, verify_prepared
from nnstudy.datasets.builtin import digits_path


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    out = tmp_path_factory.mktemp("digits")
    return out, prepare("digits", out, val_fraction=0.1, test_fraction=0.2, split_seed=3)


def test_digits_from_scikit_learns_data_file(digits):
    out, card = digits
    counts = {s: sum(card["splits"][s]["class_counts"]) for s in ("train", "val", "test")}
    assert sum(counts.values()) == 1797
    assert card["n_features"] == 64 and card["n_classes"] == 10
    assert card["source"]["digits.csv.gz"]["path"] == str(digits_path())
    x, y = load_split(out, "train")
    assert not isinstance(x, np.memmap) and not x.flags.writeable and x.flags.aligned
    assert x.dtype == np.float32 and y.dtype == np.int64 and x.shape == (counts["train"], 64)
    # Standardized per channel with statistics of the training split only.
    assert abs(float(x.mean())) < 1e-5 and abs(float(x.std()) - 1) < 1e-4
    xv, _ = load_split(out, "val")
    assert abs(float(xv.mean())) > 1e-4  # other splits reuse the train statistics


def test_scaling_to_unit_range_then_standardizing(digits):
    """x = (pixel / 16 - mean) / std, so pixel = (x * std + mean) * 16 is a whole number in 0..16."""
    out, card = digits
    norm = card["normalization"]
    assert norm["scale"] == 1 / 16 and norm["computed_on"] == "train"
    x, _ = load_split(out, "test")
    pixels = (x.astype(np.float64) * norm["std"][0] + norm["mean"][0]) / norm["scale"]
    np.testing.assert_allclose(pixels, np.round(pixels), atol=1e-4)
    assert pixels.min() > -1e-4 and pixels.max() < 16 + 1e-4


def test_card_checksums_detect_a_changed_file(digits, tmp_path):
    out, card = digits
    verify_prepared(out)
    for name in ("train.npz", "val.npz", "test.npz", "card.json"):
        (tmp_path / name).write_bytes((out / name).read_bytes())
    with open(tmp_path / "val.npz", "r+b") as f:
        f.seek(-3, 2)
        f.write(b"\xff\xff\xff")
    with pytest.raises(ValueError, match="val.npz changed since prepared"):
        verify_prepared(tmp_path)
    (tmp_path / "test.npz").unlink()
    with pytest.raises(ValueError, match="cannot verify prepared files"):
        verify_prepared(tmp_path)


@pytest.mark.parametrize("name", ["spirals", "gmm", "peaks"])
def test_synthetic_sets_are_seeded_and_stratified(name, tmp_path):
    a = prepare(name, tmp_path / "a", n_samples=400, data_seed=1, split_seed=2)
    b = prepare(name, tmp_path / "b", n_samples=400, data_seed=1, split_seed=2)
    c = prepare(name, tmp_path / "c", n_samples=400, data_seed=5, split_seed=2)
    assert a["files"] == b["files"]  # byte-identical outputs from the same seeds
    assert a["files"] != c["files"]
    assert a["n_features"] == 2 and a["n_classes"] == DATASETS[name].n_classes
    x, y = load_split(tmp_path / "a", "train")
    assert np.allclose(x.mean(axis=0), 0, atol=1e-5) and np.allclose(x.std(axis=0), 1, atol=1e-4)
    total = np.add(a["class_counts_before_split"]["train"], a["class_counts_before_split"]["test"])
    val = np.array(a["splits"]["val"]["class_counts"])
    train_before = np.array(a["class_counts_before_split"]["train"])
    assert total.sum() == 400 and np.all(val > 0)
    # Stratified: every class gives the same share (to rounding) to validation.
    assert np.all(np.abs(val - 0.1 * train_before) <= 0.5)


def test_stratified_split_is_a_seeded_partition():
    y = np.repeat(np.arange(3), [10, 20, 30])
    kept, held = stratified_split(y, 0.2, np.random.default_rng(0))
    assert np.array_equal(np.sort(np.concatenate([kept, held])), np.arange(60))
    assert np.bincount(y[held]).tolist() == [2, 4, 6]
    kept2, held2 = stratified_split(y, 0.2, np.random.default_rng(0))
    assert np.array_equal(held, held2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "imagenet"}, "unknown dataset 'imagenet'; valid names: mnist, fashion_mnist"),
        ({"val_fraction": 0.0}, "val_fraction must be a number strictly between 0 and 1"),
        ({"val_fraction": 1.0}, "val_fraction must be a number strictly between 0 and 1"),
        ({"val_fraction": 1.5}, "val_fraction must be a number strictly between 0 and 1"),
        ({"val_fraction": "0.1"}, "val_fraction must be a number"),
        ({"test_fraction": -0.2}, "test_fraction must be a number strictly between 0 and 1"),
        ({"val_fraction": 0.001}, "val_fraction=0.001 leaves class 0 .* with an empty split"),
        ({"n_samples": 5}, "n_samples must be at least"),
    ],
)
def test_bad_settings_give_one_line_and_write_nothing(kwargs, message, tmp_path):
    kwargs = {"name": "spirals", "n_samples": 300, **kwargs}
    with pytest.raises(ValueError, match=message) as err:
        prepare(kwargs.pop("name"), tmp_path / "out", **kwargs)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "out").exists()


def test_load_split_refuses_object_arrays_and_unknown_splits(tmp_path):
    np.savez(tmp_path / "train.npz", x=np.array([{"a": 1}], dtype=object), y=np.zeros(1))
    with pytest.raises(ValueError, match="Python objects"):
        load_split(tmp_path, "train")
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        load_split(tmp_path, "dev")


def test_load_split_reads_compressed_npz_too(tmp_path):
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.savez_compressed(tmp_path / "val.npz", x=x, y=np.arange(3))
    got_x, got_y = load_split(tmp_path, "val")
    np.testing.assert_array_equal(got_x, x)
    np.testing.assert_array_equal(got_y, np.arange(3))


def test_card_is_json_with_the_promised_fields(digits):
    out, _ = digits
    card = json.loads((out / "card.json").read_text())
    for key in (
        "dataset",
        "class_names",
        "n_classes",
        "n_features",
        "splits",
        "normalization",
        "source",
        "files",
        "split",
    ):
        assert key in card
