"""The audit log's listing: a date range must run forwards."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from patron.audit import service as audit
from patron.core.db import Database
from patron.core.errors import InvalidInput

DAY = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)


def test_a_range_that_ends_before_it_starts_is_refused_naming_until(db: Database) -> None:
    with pytest.raises(InvalidInput) as refused:
        db.read(lambda s: audit.list_audit(session=s, since=DAY, until=DAY))
    assert refused.value.field == "until"
    page = db.read(lambda s: audit.list_audit(session=s, since=DAY, until=None))
    assert page.items == []  # an open range is fine
