"""The generated built-in problems: shapes, class balance, seeding, and what their labels mean."""

from __future__ import annotations

import numpy as np
import pytest
from nnstudy.datasets import DATASETS, builtin, load_split, prepare
from sklearn.neighbors import KNeighborsClassifier


def old_spirals(n, rng, k=3):
    """spirals as it was before it had parameters (commit 94b9e6d): its data must not change."""
    xs, ys = [], []
    for c in range(k):
        size = n // k + (c < n % k)
        t = rng.uniform(0.05, 1.0, size)
        theta = 2 * np.pi * c / k + 3 * np.pi * t + rng.normal(0.0, 0.15, size)
        r = t + rng.normal(0.0, 0.02, size)
        xs.append(np.column_stack([r * np.cos(theta), r * np.sin(theta)]))
        ys.append(np.full(size, c))
    return np.concatenate(xs), np.concatenate(ys).astype(np.int64)


GENERATED = [
    ("spirals", {"turns": 2.5, "label_noise": 0.1}, 3),
    ("checkerboard", {"cells": 4}, 2),
    ("checkerboard", {"cells": 5, "label_noise": 0.2}, 3),
    ("teacher", {"n_features": 12, "width": 16}, 4),
    ("peaks", {}, 8),
]


@pytest.mark.parametrize(("n", "seed", "k"), [(3000, 0, 3), (401, 7, 5)])
def test_spirals_defaults_reproduce_the_data_before_parameters(n, seed, k):
    x, y = builtin.spirals(n, np.random.default_rng(seed), k)
    x_old, y_old = old_spirals(n, np.random.default_rng(seed), k)
    np.testing.assert_array_equal(x, x_old)
    np.testing.assert_array_equal(y, y_old)


@pytest.mark.parametrize(("name", "params", "k"), GENERATED)
def test_shapes_balance_and_seeding(name, params, k):
    generate = getattr(builtin, name)
    x, y = generate(901, np.random.default_rng(3), k, **params)
    assert x.ndim == 2 and x.shape[0] == 901 and y.shape == (901,)
    assert y.dtype == np.int64 and set(np.unique(y)) == set(range(k))
    counts = np.bincount(y, minlength=k)
    # Exact sizes (spirals, checkerboard, teacher's quantile bands); peaks' bands are quantiles
    # of a fixed grid, so its sample is only roughly balanced.
    assert counts.max() - counts.min() <= (1 if name != "peaks" else 0.25 * 901 / k)
    again = generate(901, np.random.default_rng(3), k, **params)
    np.testing.assert_array_equal(x, again[0])
    np.testing.assert_array_equal(y, again[1])
    other = generate(901, np.random.default_rng(4), k, **params)
    assert not np.array_equal(x, other[0])


def test_checkerboard_labels_are_the_squares_colours():
    x, y = builtin.checkerboard(2000, np.random.default_rng(0), 3, cells=5)
    assert x.shape == (2000, 2) and np.all(np.abs(x) <= 1)
    square = np.floor((x + 1) / 2 * 5).astype(int)
    np.testing.assert_array_equal(y, square.sum(axis=1) % 3)
    # Each class is spread uniformly over its squares: about the same count in each.
    for c in range(3):
        own = square[y == c]
        per_square = np.unique(own[:, 0] * 5 + own[:, 1], return_counts=True)[1]
        assert per_square.min() > 0.5 * per_square.mean()


def test_spirals_arms_wind_as_many_turns_as_asked():
    """Without noise a point of arm c at radius r sits at angle 2 pi (c / k + turns * r)."""
    turns, k = 2.5, 4
    x, y = builtin.spirals(
        800, np.random.default_rng(1), k, turns=turns, angle_noise=0.0, radius_noise=0.0
    )
    r = np.hypot(x[:, 0], x[:, 1])
    expected = 2 * np.pi * (y / k + turns * r)
    gap = np.angle(np.exp(1j * (np.arctan2(x[:, 1], x[:, 0]) - expected)))
    np.testing.assert_allclose(gap, 0.0, atol=1e-9)
    assert r.min() >= 0.05 and r.max() <= 1.0


def test_label_noise_keeps_inputs_and_class_sizes():
    rng = np.random.default_rng
    x0, y0 = builtin.checkerboard(3000, rng(2), 2, cells=4)
    x1, y1 = builtin.checkerboard(3000, rng(2), 2, cells=4, label_noise=0.2)
    np.testing.assert_array_equal(x0, x1)  # the noise is drawn after the inputs
    np.testing.assert_array_equal(np.bincount(y0), np.bincount(y1))
    # 600 labels shuffled among 2 classes: about half of them (300) change.
    assert 230 <= np.sum(y0 != y1) <= 370


def test_shuffle_labels_without_noise_draws_nothing():
    rng = np.random.default_rng(5)
    state = rng.bit_generator.state
    y = np.arange(10) % 3
    assert builtin.shuffle_labels(y, 0.0, rng) is y
    assert rng.bit_generator.state == state
    shuffled = builtin.shuffle_labels(y, 1.0, rng)
    np.testing.assert_array_equal(np.sort(shuffled), np.sort(y))


def test_teacher_labels_are_a_function_of_the_inputs():
    """A nearest-neighbour student beats chance by far on the teacher's labels, and falls to
    chance when every label is shuffled."""

    def knn_accuracy(label_noise):
        x, y = builtin.teacher(
            4000, np.random.default_rng(0), 4, n_features=8, label_noise=label_noise
        )
        knn = KNeighborsClassifier(15).fit(x[:3000], y[:3000])
        return knn.score(x[3000:], y[3000:])

    assert knn_accuracy(0.0) > 0.6
    assert knn_accuracy(1.0) < 0.33


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: builtin.checkerboard(100, np.random.default_rng(0), 2, cells=1), "cells must"),
        (
            lambda: builtin.checkerboard(100, np.random.default_rng(0), 5, cells=2),
            "2 x 2 cells leave class 3 of 5 without a square",
        ),
        (
            lambda: builtin.spirals(100, np.random.default_rng(0), 3, label_noise=1.5),
            "label_noise must be between 0 and 1",
        ),
        (lambda: builtin.teacher(5, np.random.default_rng(0), 4), "n_samples must be at least 8"),
    ],
)
def test_bad_settings_are_one_line_errors(call, message):
    with pytest.raises(ValueError, match=message) as err:
        call()
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("name", "n_features"), [("peaks8", 2), ("checkerboard", 2), ("teacher", 20)]
)
def test_catalog_entries_prepare_through_their_generators(name, n_features, tmp_path):
    card = prepare(name, tmp_path / "a", n_samples=600, data_seed=1, val_fraction=0.2)
    again = prepare(name, tmp_path / "b", n_samples=600, data_seed=1, val_fraction=0.2)
    assert card["files"] == again["files"]  # byte-identical from the same seeds
    assert card["n_features"] == n_features and card["n_classes"] == DATASETS[name].n_classes
    x, y = load_split(tmp_path / "a", "test")
    generated = builtin.GENERATORS[name](600, np.random.default_rng(1), card["n_classes"])[1]
    counts = np.add(*card["class_counts_before_split"].values())
    np.testing.assert_array_equal(counts, np.bincount(generated, minlength=card["n_classes"]))
    # The test split takes round(0.2 * size) of each class (peaks8's classes are uneven).
    n_test = sum(round(0.2 * c) for c in counts)
    assert x.shape == (n_test, n_features) and set(np.unique(y)) == set(range(card["n_classes"]))
