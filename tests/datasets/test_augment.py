"""Seeded random crop with padding and horizontal flip on flattened (H, W, C) rows."""

from __future__ import annotations

import numpy as np
import pytest
from nnstudy.datasets import augment_batch

SHAPE = (5, 6, 2)


def batch(n=8):
    return np.arange(n * 60, dtype=np.float32).reshape(n, 60)


def test_no_pad_no_flip_is_identity():
    x = batch()
    np.testing.assert_array_equal(
        augment_batch(x, SHAPE, np.random.default_rng(0), pad=0, flip=False), x
    )


def test_flip_only_mirrors_columns_of_about_half():
    x = batch(200)
    out = augment_batch(x, SHAPE, np.random.default_rng(0), pad=0)
    images, flipped = x.reshape(-1, *SHAPE), out.reshape(-1, *SHAPE)
    same = np.all(flipped == images, axis=(1, 2, 3))
    mirrored = np.all(flipped == images[:, :, ::-1, :], axis=(1, 2, 3))
    assert np.all(same ^ mirrored)
    assert 60 < mirrored.sum() < 140


def test_crop_is_a_shift_with_zero_fill():
    x = batch(50) + 1  # no zeros in the data, so zeros mark the padding
    out = augment_batch(x, SHAPE, np.random.default_rng(1), pad=2, flip=False).reshape(-1, *SHAPE)
    images = x.reshape(-1, *SHAPE)
    for img, got in zip(images, out, strict=True):
        padded = np.pad(img, ((2, 2), (2, 2), (0, 0)))
        windows = [padded[t : t + 5, s : s + 6] for t in range(5) for s in range(5)]
        assert any(np.array_equal(got, w) for w in windows)
    assert (out == 0).any()  # some shift happened


def test_seeded_and_shape_preserving():
    x = batch()
    a = augment_batch(x, SHAPE, np.random.default_rng(7))
    b = augment_batch(x, SHAPE, np.random.default_rng(7))
    assert a.shape == x.shape and a.dtype == x.dtype
    np.testing.assert_array_equal(a, b)


def test_wrong_width_is_refused():
    with pytest.raises(ValueError, match="expected"):
        augment_batch(np.zeros((2, 10), np.float32), SHAPE, np.random.default_rng(0))
