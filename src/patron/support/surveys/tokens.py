"""The survey link's token: ``<invitation id>.<expiry>.<nonce>.<signature>``. The signature
is an HMAC with the keyring's index key over the other three, so a token cannot be forged
or altered (another id, a later expiry); the nonce is random and only its hash is stored,
so the database alone cannot make a link; single use and expiry are checked against the
invitation (surveys/service.py)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from patron.core.crypto import blind_index

_TOKEN = re.compile(r"^(\d{1,19})\.(\d{1,12})\.([A-Za-z0-9_-]{22})\.([0-9a-f]{32})$")


@dataclass(frozen=True, slots=True)
class Signed:
    invitation_id: int
    expires_at: datetime
    nonce: str


def nonce() -> str:
    return secrets.token_urlsafe(16)


def nonce_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _signature(invitation_id: int, expires: int, value: str) -> str:
    return blind_index(f"survey-link:{invitation_id}:{expires}:{value}")[:32]


def make_token(invitation_id: int, expires_at: datetime, value: str) -> str:
    expires = int(expires_at.timestamp())
    return f"{invitation_id}.{expires}.{value}.{_signature(invitation_id, expires, value)}"


def read_token(token: str) -> Signed | None:
    """What a well-formed, untampered token says; None otherwise (expiry not judged here)."""
    match = _TOKEN.match(token.strip())
    if match is None:
        return None
    invitation_id, expires, value = int(match[1]), int(match[2]), match[3]
    if not hmac.compare_digest(match[4], _signature(invitation_id, expires, value)):
        return None
    return Signed(invitation_id, datetime.fromtimestamp(expires, UTC), value)
