from __future__ import annotations

import pytest

from tests.analytics.engine._builder import Store


@pytest.fixture
def store() -> Store:
    return Store()
