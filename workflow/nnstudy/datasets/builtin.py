"""Datasets that need no network: scikit-learn's packaged digits and seeded generated sets."""

from __future__ import annotations

import gzip
import importlib.util
import io
from pathlib import Path

import numpy as np

from .hashing import file_digests


def digits_path() -> Path:
    """Where scikit-learn keeps its digits CSV; found without importing scikit-learn."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError("dataset 'digits' needs scikit-learn installed (it ships the data file)")
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz"
    if not path.is_file():
        raise ValueError(f"dataset 'digits': {path} is missing from the scikit-learn install")
    return path


def load_digits() -> tuple[np.ndarray, np.ndarray, dict]:
    """The 1,797 8x8 digit images as (N, 8, 8, 1) uint8 in 0..16, labels, and provenance."""
    path = digits_path()
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(io.StringIO(f.read()), delimiter=",", dtype=np.int64)
    if table.ndim != 2 or table.shape[1] != 65 or table[:, :64].min() < 0 or table.max() > 16:
        raise ValueError(f"{path}: not the 65-column digits table (shape {table.shape})")
    x = table[:, :64].astype(np.uint8).reshape(-1, 8, 8, 1)
    return x, table[:, 64], {"path": str(path), "source": f"local:{path}", **file_digests(path)}


def _class_sizes(n: int, k: int) -> list[int]:
    if n < 2 * k:
        raise ValueError(f"n_samples must be at least {2 * k} for {k} classes, got {n}")
    return [n // k + (c < n % k) for c in range(k)]


def shuffle_labels(y: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """Label noise that keeps the class sizes: the labels of ``round(share * n)`` random
    points are permuted among them (so about ``(k - 1) / k`` of those points change class).
    ``share == 0`` draws nothing, so a generator's data without noise does not change."""
    if not 0 <= share <= 1:
        raise ValueError(f"label_noise must be between 0 and 1, got {share!r}")
    if share == 0:
        return y
    picked = rng.choice(y.size, round(share * y.size), replace=False)
    y = y.copy()
    y[picked] = y[rng.permutation(picked)]
    return y


def spirals(
    n: int,
    rng: np.random.Generator,
    k: int = 3,
    *,
    turns: float = 1.5,
    angle_noise: float = 0.15,
    radius_noise: float = 0.02,
    label_noise: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms, one class per arm, with angular and radial noise.

    Each arm winds ``turns`` times from the centre out to radius 1; ``label_noise`` is the
    share of points whose labels are shuffled among themselves (:func:`shuffle_labels`).
    """
    xs, ys = [], []
    for c, size in enumerate(_class_sizes(n, k)):
        t = rng.uniform(0.05, 1.0, size)
        theta = 2 * np.pi * c / k + 2 * np.pi * turns * t + rng.normal(0.0, angle_noise, size)
        r = t + rng.normal(0.0, radius_noise, size)
        xs.append(np.column_stack([r * np.cos(theta), r * np.sin(theta)]))
        ys.append(np.full(size, c))
    y = shuffle_labels(np.concatenate(ys).astype(np.int64), label_noise, rng)
    return np.concatenate(xs), y


def gmm(n: int, rng: np.random.Generator, k: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """A Gaussian mixture, one class per component; means on a circle, random covariances."""
    xs, ys = [], []
    for c, size in enumerate(_class_sizes(n, k)):
        angle = 2 * np.pi * c / k
        mean = 2.0 * np.array([np.cos(angle), np.sin(angle)])
        a = rng.normal(0.0, 0.6, (2, 2))
        cov = a @ a.T + 0.1 * np.eye(2)
        xs.append(rng.multivariate_normal(mean, cov, size))
        ys.append(np.full(size, c))
    return np.concatenate(xs), np.concatenate(ys).astype(np.int64)


def peaks_function(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """MATLAB's ``peaks`` surface."""
    return (
        3 * (1 - x) ** 2 * np.exp(-(x**2) - (y + 1) ** 2)
        - 10 * (x / 5 - x**3 - y**5) * np.exp(-(x**2) - y**2)
        - np.exp(-((x + 1) ** 2) - y**2) / 3
    )


def peaks(n: int, rng: np.random.Generator, k: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Points uniform in [-3, 3]^2 labelled by which level band of ``peaks`` they fall in.

    The band edges are quantiles of the surface over a fixed grid, so they do not depend on
    the seed and the classes are roughly balanced.
    """
    _class_sizes(n, k)
    grid = np.linspace(-3, 3, 201)
    edges = np.quantile(peaks_function(*np.meshgrid(grid, grid)), np.arange(1, k) / k)
    x = rng.uniform(-3.0, 3.0, (n, 2))
    return x, np.searchsorted(edges, peaks_function(x[:, 0], x[:, 1])).astype(np.int64)


def checkerboard(
    n: int, rng: np.random.Generator, k: int = 2, *, cells: int = 4, label_noise: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Points in [-1, 1]^2 cut into ``cells`` x ``cells`` squares; square (i, j) is class
    ``(i + j) % k``. Each class's points are spread uniformly over its squares, so the class
    sizes are exact; ``label_noise`` as in :func:`spirals`."""
    if cells < 2:
        raise ValueError(f"cells must be at least 2, got {cells!r}")
    i, j = np.divmod(np.arange(cells * cells), cells)
    xs, ys = [], []
    for c, size in enumerate(_class_sizes(n, k)):
        own = np.flatnonzero((i + j) % k == c)
        if own.size == 0:
            raise ValueError(f"{cells} x {cells} cells leave class {c} of {k} without a square")
        square = rng.choice(own, size)
        corner = np.column_stack([i[square], j[square]])
        xs.append(2.0 * (corner + rng.uniform(0.0, 1.0, (size, 2))) / cells - 1.0)
        ys.append(np.full(size, c))
    y = shuffle_labels(np.concatenate(ys).astype(np.int64), label_noise, rng)
    return np.concatenate(xs), y


def teacher(
    n: int,
    rng: np.random.Generator,
    k: int = 4,
    *,
    n_features: int = 20,
    width: int = 32,
    label_noise: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """A teacher-student task: standard normal inputs in ``n_features`` dimensions labelled
    by which of ``k`` quantile bands the output of a random one-hidden-layer tanh network
    (``width`` units, weights from ``rng``) falls in; ``label_noise`` as in :func:`spirals`.

    The band edges are quantiles of the teacher's output over its own sample, so the classes
    are balanced to within one point.
    """
    _class_sizes(n, k)
    w1 = rng.normal(0.0, 1.0 / np.sqrt(n_features), (n_features, width))
    b1 = rng.normal(0.0, 0.5, width)
    w2 = rng.normal(0.0, 1.0 / np.sqrt(width), width)
    x = rng.normal(0.0, 1.0, (n, n_features))
    score = np.tanh(x @ w1 + b1) @ w2
    y = np.searchsorted(np.quantile(score, np.arange(1, k) / k), score).astype(np.int64)
    return x, shuffle_labels(y, label_noise, rng)


# Each catalog name's generator; it is called with the catalog's class count as k.
GENERATORS = {
    "spirals": spirals,
    "gmm": gmm,
    "peaks": peaks,
    "peaks8": peaks,
    "checkerboard": checkerboard,
    "teacher": teacher,
}
