from pathlib import Path

import pytest
from tracking_run_folder import write_run_folder


@pytest.fixture
def run_folder(tmp_path: Path) -> Path:
    return write_run_folder(tmp_path / "runs" / "spirals" / "0123456789")
