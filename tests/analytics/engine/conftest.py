from __future__ import annotations

import pytest

from tests.analytics.engine.helpers import Store


@pytest.fixture
def store() -> Store:
    return Store()
