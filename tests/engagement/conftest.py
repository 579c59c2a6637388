"""The providers' stand-ins, and settings that point every channel at them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from patron.core.settings import Settings, get_settings
from patron.engagement.channels.wechat import forget_tokens
from tests.engagement.stand_ins import StandIns, stand_ins


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[StandIns]:
    forget_tokens()
    with stand_ins(tmp_path / "stand-ins") as running:
        yield running
    forget_tokens()


@pytest.fixture
def configure(servers: StandIns, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Settings]:
    """Point the channels at the stand-ins (``sms="tencent"`` …); extra PATRON_* values
    (upper-case names, without the prefix) as keywords. Returns the fresh settings."""

    def apply(*, sms: str = "aliyun", wechat_kind: str = "template", **extra: str) -> Settings:
        for name, value in servers.env(sms=sms).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("PATRON_WECHAT_MESSAGE_KIND", wechat_kind)
        for name, value in extra.items():
            monkeypatch.setenv(f"PATRON_{name.upper()}", value)
        get_settings.cache_clear()
        return get_settings()

    return apply
