"""The default channel: every message is appended, as one JSON line, to ``<channel>.jsonl``
in the outbox folder (``PATRON_OUTBOX_DIR``, default ``<data_dir>/outbox``), and nothing is
sent. For trying campaigns out, and for a shop that has not set a provider up yet."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

from patron.core.clock import utcnow
from patron.engagement.channels.base import Handover, Outcome, Outgoing, SendResult, take_over


class FileAdapter:
    provider = "file"
    idempotent = False

    def __init__(self, channel: str, folder: Path) -> None:
        self.channel = channel
        self.folder = folder

    def send(self, message: Outgoing, handover: Handover) -> SendResult:
        line = json.dumps(
            {
                "message_id": message.message_id,
                "key": message.key,
                "channel": message.channel,
                "marketing": message.marketing,
                "to": message.to,
                "at": utcnow().isoformat(),
                "body": asdict(message.body),
            },
            ensure_ascii=False,
        )
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{self.channel}.jsonl"
        # One write of one line with O_APPEND: lines from several threads or processes never
        # interleave. The file holds addresses: only its owner may read it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            take_over(handover)
            os.write(fd, (line + "\n").encode("utf-8"))
        finally:
            os.close(fd)
        return SendResult(Outcome.SENT, None, None, f"{path.name}#{message.key}")

    def close(self) -> None:
        pass
