"""Per-provider sending rates: a token bucket per provider in the database, so the limit
holds across the server's dispatcher threads and every ``patron worker`` process."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from patron.engagement.models import DispatchBudget


def take_tokens(
    *, session: Session, provider: str, want: int, rate: float, now: datetime
) -> tuple[int, float]:
    """Take up to ``want`` sends from ``provider``'s bucket, which refills at ``rate`` a second
    and holds one second's worth. Returns how many were granted, and, when fewer than
    wanted, how many seconds until the next one."""
    if want <= 0:
        return 0, 0.0
    burst = max(1.0, rate)
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    session.execute(
        module.insert(DispatchBudget)
        .values(provider=provider, tokens=burst, updated_at=now)
        .on_conflict_do_nothing(index_elements=["provider"])
    )
    budget = session.scalars(
        select(DispatchBudget).where(DispatchBudget.provider == provider).with_for_update()
    ).one()
    elapsed = max(0.0, (now - budget.updated_at).total_seconds())
    tokens = min(burst, budget.tokens + elapsed * rate)
    granted = min(want, int(tokens))
    tokens -= granted
    budget.tokens = tokens
    budget.updated_at = max(now, budget.updated_at)
    wait = 0.0 if granted == want else (1.0 - (tokens - int(tokens))) / rate
    return granted, wait
