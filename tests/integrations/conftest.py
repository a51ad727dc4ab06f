"""Fixtures of the integration tests."""
from __future__ import annotations

import pytest

from feed_helpers import feed_dataset


@pytest.fixture
def ds(tmp_path):
    return feed_dataset(str(tmp_path / "ds"))
