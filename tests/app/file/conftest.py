"""Fixtures shared by the File tab's tests."""

import pytest

from tests.app.file_helpers import copy_melody


@pytest.fixture
def take(tmp_path):
    """The example melody (A3, E4, a glide, A4, F#4) copied to ``tmp_path / "take.wav"``."""
    return copy_melody(tmp_path)
