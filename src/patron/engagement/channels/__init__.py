"""Channel adapters: one interface (``base.Adapter``) in front of SMTP, Aliyun and Tencent
SMS, a signed HTTP webhook, WeChat, and the file sink that is the default."""

from __future__ import annotations

from patron.core.settings import Settings
from patron.engagement.channels.base import Adapter


def adapter_for(channel: str, settings: Settings) -> Adapter:
    """The adapter the settings choose for ``channel``; raises ValueError naming the setting
    when that adapter lacks what it needs."""
    from patron.engagement.channels.file import FileAdapter

    folder = settings.resolved_outbox_dir
    if channel == "email":
        if settings.email_channel == "smtp":
            from patron.engagement.channels.email import SmtpAdapter

            return SmtpAdapter(settings)
        return FileAdapter("email", folder)
    if channel == "sms":
        if settings.sms_channel == "aliyun":
            from patron.engagement.channels.aliyun import AliyunSmsAdapter

            return AliyunSmsAdapter(settings)
        if settings.sms_channel == "tencent":
            from patron.engagement.channels.tencent import TencentSmsAdapter

            return TencentSmsAdapter(settings)
        if settings.sms_channel == "webhook":
            from patron.engagement.channels.webhook import WebhookSmsAdapter

            return WebhookSmsAdapter(settings)
        return FileAdapter("sms", folder)
    if channel == "wechat":
        if settings.wechat_channel == "wechat":
            from patron.engagement.channels.wechat import WechatAdapter

            return WechatAdapter(settings)
        return FileAdapter("wechat", folder)
    raise ValueError(f"no such channel: {channel!r}")
