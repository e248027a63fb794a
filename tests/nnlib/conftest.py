import numpy as np
import pytest

from nnlib.kernels import numba_installed


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def pytest_collection_modifyitems(items):
    """Where nnlib is installed alone (NumPy only), the cases of the numba path are skipped."""
    if numba_installed():
        return
    skip = pytest.mark.skip(reason="numba is not installed (nnlib alone: NumPy only)")
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "numba" in callspec.params.values():
            item.add_marker(skip)
