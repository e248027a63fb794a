"""What each dataset is and where it officially lives.

Sources of the facts below (checked, not guessed):
- MNIST file names, md5s of the .gz files and the two mirrors: torchvision's
  ``torchvision/datasets/mnist.py`` (``MNIST.mirrors``/``MNIST.resources``).
- Fashion-MNIST URLs, md5s and class names: the "Get the Data" and "Labels" tables of
  https://github.com/zalandoresearch/fashion-mnist (README); the same files live in that
  repository under ``data/fashion/``.
- CIFAR-10 binary archive URL and md5: https://www.cs.toronto.edu/~kriz/cifar.html.
- SHA-256 of the *uncompressed* IDX files: issue 4 (a recompressed mirror, such as
  Debian's ``dataset-fashion-mnist``, still verifies).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RawFile:
    """One published file: canonical name, content checksum, published archive md5."""

    name: str
    # SHA-256 of the file's content after gunzip (IDX) or None when none is published.
    sha256: str | None = None
    # md5 of the file exactly as the authors publish it (checked on downloads).
    md5: str | None = None

    @property
    def stem(self) -> str:
        """The name without a trailing ``.gz`` (how an uncompressed copy is called)."""
        return self.name[:-3] if self.name.endswith(".gz") else self.name


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    kind: str  # "idx", "cifar" (downloaded) or "builtin"
    class_names: tuple[str, ...]
    # Layout (H, W, C) of one image, or None for tabular / 2-D sets.
    image_shape: tuple[int, int, int] | None = None
    # Raw values are in [0, pixel_max]; dividing scales them to [0, 1].
    pixel_max: float | None = None
    files: tuple[RawFile, ...] = ()
    # Base URLs tried in order; a file's URL is base + file name.
    mirrors: tuple[str, ...] = ()
    # Sub-folder names under which local mirrors keep the files (Debian: "fashion-mnist").
    local_names: tuple[str, ...] = ()
    homepage: str = ""
    # A Debian package that installs the files under /usr/share/datasets (a default local dir).
    debian_package: str = ""
    # Records per CIFAR binary batch file (the official archive has 10,000).
    records_per_batch: int = 10_000

    @property
    def downloaded(self) -> bool:
        return self.kind != "builtin"

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


_DIGITS = tuple(str(i) for i in range(10))

DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            name="mnist",
            kind="idx",
            class_names=_DIGITS,
            image_shape=(28, 28, 1),
            pixel_max=255.0,
            files=(
                RawFile(
                    "train-images-idx3-ubyte.gz",
                    "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                    "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                ),
                RawFile(
                    "train-labels-idx1-ubyte.gz",
                    "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
                    "d53e105ee54ea40749a09fcbcd1e9432",
                ),
                RawFile(
                    "t10k-images-idx3-ubyte.gz",
                    "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                    "9fb629c4189551a2d022fa330f9573f3",
                ),
                RawFile(
                    "t10k-labels-idx1-ubyte.gz",
                    "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
                    "ec29112dd5afa0611ce80d1b7f02629c",
                ),
            ),
            mirrors=(
                "http://yann.lecun.com/exdb/mnist/",
                "https://ossci-datasets.s3.amazonaws.com/mnist/",
            ),
            local_names=("mnist", "MNIST"),
            homepage="http://yann.lecun.com/exdb/mnist/",
        ),
        DatasetSpec(
            name="fashion_mnist",
            kind="idx",
            class_names=(
                "T-shirt/top",
                "Trouser",
                "Pullover",
                "Dress",
                "Coat",
                "Sandal",
                "Shirt",
                "Sneaker",
                "Bag",
                "Ankle boot",
            ),
            image_shape=(28, 28, 1),
            pixel_max=255.0,
            files=(
                RawFile(
                    "train-images-idx3-ubyte.gz",
                    "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                    "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                ),
                RawFile(
                    "train-labels-idx1-ubyte.gz",
                    "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                    "25c81989df183df01b3e8a0aad5dffbe",
                ),
                RawFile(
                    "t10k-images-idx3-ubyte.gz",
                    "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                    "bef4ecab320f06d8554ea6380940ec79",
                ),
                RawFile(
                    "t10k-labels-idx1-ubyte.gz",
                    "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
                    "bb300cfdad3c16e7a12a480ee83cd310",
                ),
            ),
            mirrors=(
                "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
            ),
            local_names=("fashion-mnist", "fashion_mnist", "FashionMNIST", "fashion"),
            homepage="https://github.com/zalandoresearch/fashion-mnist",
            debian_package="dataset-fashion-mnist",
        ),
        DatasetSpec(
            name="cifar10",
            kind="cifar",
            class_names=(
                "airplane",
                "automobile",
                "bird",
                "cat",
                "deer",
                "dog",
                "frog",
                "horse",
                "ship",
                "truck",
            ),
            image_shape=(32, 32, 3),
            pixel_max=255.0,
            files=(RawFile("cifar-10-binary.tar.gz", md5="c32a1d4ab5d03f1284b67883e8d87530"),),
            mirrors=("https://www.cs.toronto.edu/~kriz/",),
            local_names=("cifar10", "cifar-10", "CIFAR10", "cifar"),
            homepage="https://www.cs.toronto.edu/~kriz/cifar.html",
        ),
        DatasetSpec(
            name="digits",
            kind="builtin",
            class_names=_DIGITS,
            image_shape=(8, 8, 1),
            pixel_max=16.0,
            homepage="https://scikit-learn.org/stable/datasets/toy_dataset.html#digits-dataset",
        ),
        DatasetSpec(name="spirals", kind="builtin", class_names=("arm 0", "arm 1", "arm 2")),
        DatasetSpec(
            name="gmm",
            kind="builtin",
            class_names=tuple(f"component {i}" for i in range(4)),
        ),
        DatasetSpec(
            name="peaks",
            kind="builtin",
            class_names=tuple(f"level {i}" for i in range(4)),
        ),
        # The same surface cut into 8 level bands: thin bands that a small MLP must trace.
        DatasetSpec(
            name="peaks8",
            kind="builtin",
            class_names=tuple(f"level {i}" for i in range(8)),
        ),
        DatasetSpec(name="checkerboard", kind="builtin", class_names=("dark", "light")),
        DatasetSpec(
            name="teacher",
            kind="builtin",
            class_names=tuple(f"band {i}" for i in range(4)),
        ),
    )
}


def get_spec(name: str) -> DatasetSpec:
    """The catalog entry for ``name``; a one-line ValueError naming the valid names if unknown."""
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(DATASETS)}") from None
