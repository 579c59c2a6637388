"""Signed tokens naming one outbox message: in unsubscribe links, in the bounce address and
in the id header of an e-mail, so that what comes back is matched to the message it answers
and cannot be forged for another one. Signed with the keyring's index key (an HMAC)."""

from __future__ import annotations

import hmac
import re

from patron.core.crypto import blind_index

_TOKEN = re.compile(r"^(\d{1,19})\.([0-9a-f]{16})$")


def _signature(message_id: int) -> str:
    return blind_index(f"outbox-message:{message_id}")[:16]


def message_token(message_id: int) -> str:
    return f"{message_id}.{_signature(message_id)}"


def read_message_token(token: str) -> int | None:
    """The message a token names, or None when it is malformed or its signature is wrong."""
    match = _TOKEN.match(token.strip().lower())
    if match is None:
        return None
    message_id = int(match.group(1))
    if not hmac.compare_digest(match.group(2), _signature(message_id)):
        return None
    return message_id


def bounce_address(bounce_to: str, message_id: int) -> str:
    """``bounces@shop.cn`` → ``bounces+<token>@shop.cn`` (VERP): a bounce names its message
    in the address it comes back to, whatever the remote server puts in the report."""
    local, _, domain = bounce_to.rpartition("@")
    return f"{local}+{message_token(message_id)}@{domain}"


def message_of_bounce_address(address: str) -> int | None:
    local = address.strip().strip("<>").rpartition("@")[0]
    _, plus, token = local.partition("+")
    return read_message_token(token) if plus else None
