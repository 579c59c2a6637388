"""Running ``patron serve`` and ``patron worker`` as real processes against a test database
and the stand-ins, killing them, and waiting for the outbox to settle."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from patron.core.crypto import get_keyring
from patron.core.db import Database
from patron.engagement import service as outbox
from patron.engagement.models import FINAL_STATUSES

PATRON = str(Path(sys.executable).with_name("patron"))


def process_env(base: dict[str, str], tmp: Path, **extra: str) -> dict[str, str]:
    """The environment of a child process: this one's, the test's settings, the keyring this
    test process writes personal data with (so the child reads the same customers)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PATRON_")}
    env.update(base)
    env.update(
        {
            "PATRON_ENV": "test",
            "PATRON_DATA_DIR": str(tmp / "data"),
            "PATRON_ENCRYPTION_KEYS": get_keyring().to_json(),
            "PATRON_ANALYTICS_NIGHTLY": "false",
            "PATRON_DISPATCH_LEASE_S": "3",
            "PATRON_DISPATCH_POLL_S": "0.2",
            "PATRON_DISPATCH_RETRY_BASE_S": "0.5",
            "PATRON_DISPATCH_RETRY_MAX_S": "2",
        }
    )
    env.update(extra)
    return env


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("ab")
    return subprocess.Popen([PATRON, *args], env=env, stdout=handle, stderr=subprocess.STDOUT)


def kill_hard(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            kill_hard(process)


def counts(db: Database) -> dict[str, int]:
    return db.read(lambda s: outbox.count_by_status(session=s))


def wait_until(
    test: Callable[[], bool], *, timeout_s: float, what: str, log: Path | None = None
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if test():
            return
        time.sleep(0.05)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    raise AssertionError(f"timed out waiting for {what}\n{tail}")


def all_final(db: Database, total: int) -> Callable[[], bool]:
    def test() -> bool:
        found = counts(db)
        return sum(n for s, n in found.items() if s in FINAL_STATUSES) == total

    return test
