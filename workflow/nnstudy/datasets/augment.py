"""Training-time augmentation of flattened images: random crop after padding, horizontal flip."""

from __future__ import annotations

import numpy as np


def augment_batch(
    x: np.ndarray,
    image_shape: tuple[int, int, int],
    rng: np.random.Generator,
    *,
    pad: int = 4,
    flip: bool = True,
) -> np.ndarray:
    """A new batch: each image shifted by up to ``pad`` pixels (zero fill) and flipped with p=1/2.

    ``x`` is (N, H*W*C) flattened row-major from (H, W, C), as prepared; the output has the
    same shape and dtype. Zero fill is the training mean, since prepared data is standardized.
    All draws come from ``rng``, so a seeded generator gives a repeatable stream.
    """
    h, w, c = image_shape
    n = x.shape[0]
    if x.ndim != 2 or x.shape[1] != h * w * c:
        raise ValueError(
            f"augment_batch: expected (N, {h * w * c}) for images {image_shape}, got {x.shape}"
        )
    if pad < 0:
        raise ValueError(f"augment_batch: pad must be >= 0, got {pad}")
    images = np.asarray(x).reshape(n, h, w, c)
    padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    top = rng.integers(0, 2 * pad + 1, n)
    left = rng.integers(0, 2 * pad + 1, n)
    rows = top[:, None] + np.arange(h)
    cols = left[:, None] + np.arange(w)
    if flip:
        # A flipped image reads its crop's columns right to left.
        mirrored = rng.random(n) < 0.5
        cols[mirrored] = cols[mirrored, ::-1]
    out = padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]
    return out.reshape(n, h * w * c)
