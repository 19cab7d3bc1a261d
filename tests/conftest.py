import os
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA
