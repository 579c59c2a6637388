"""Dispatch rate: outbox messages delivered to the providers' stand-ins, per second.

Target (the campaigns issue): ≥ 500 messages/s with 2 workers. Figures are printed, never
asserted.

How it runs:

1. The stand-ins of tests/engagement/stand_ins.py in this process: Aliyun's SMS API (HTTP,
   V3 signatures checked) and an SMTP server (aiosmtpd, STARTTLS and AUTH), each answering
   at once. Providers' rate limits are lifted (PATRON_PROVIDER_RATES={}).
2. The peer, beside it: the same adapters sending the same number of messages in the same
   number of processes and threads, with no outbox at all (no claim, no hand-over, no
   record): the ceiling of what the stand-ins and the adapters allow on this machine.
3. The queue: a fresh PostgreSQL schema, N members (phone and e-mail) signed up through the
   services, N transactional messages enqueued through ``enqueue_messages``; 2 ``patron
   worker`` processes (Procrastinate, 12 jobs at once each, 20 messages a job) already
   running; timed from the enqueue's commit to the last message recorded as sent. The
   workers' CPU time per message is printed too: it does not depend on how busy the
   machine is.
4. The embedded default: one ``patron serve`` on SQLite with 12 dispatch threads, timed the
   same way.

Run:  .venv/bin/python bench/dispatch.py                 (3,000 SMS)
      .venv/bin/python bench/dispatch.py --channel email --messages 2000
      .venv/bin/python bench/dispatch.py --quick         (smoke run, 300 messages)
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import postgres_reachable, postgres_schema, share_keyring

WORKERS = 2
CONCURRENCY = 12


# ----------------------------------------------------------------------------- the peer


def _bare_process(env: dict[str, str], channel: str, start: int, count: int, threads: int) -> None:
    os.environ.update(env)
    from patron.core.settings import get_settings
    from patron.engagement.channels import adapter_for
    from patron.engagement.channels.base import EmailBody, Outcome, Outgoing, SmsBody

    get_settings.cache_clear()
    settings = get_settings()
    body: Any = (
        SmsBody(text="会员日全场8折", templates={"aliyun": "SMS_465970123"}, params={"code": "X"})
        if channel == "sms"
        else EmailBody(subject="会员日", text="全场 8 折", html="<p>全场 8 折</p>")
    )

    def run(first: int, n: int) -> None:
        adapter = adapter_for(channel, settings)
        for i in range(first, first + n):
            to = f"+86139{i:08d}" if channel == "sms" else f"m{i}@example.cn"
            result = adapter.send(Outgoing(i, channel, False, to, body, f"bare-{i}"), lambda: True)
            assert result.outcome is Outcome.SENT, result
        adapter.close()

    share = count // threads
    pool = [threading.Thread(target=run, args=(start + k * share, share)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()


def bare_rate(env: dict[str, str], channel: str, messages: int) -> float:
    ctx = multiprocessing.get_context("fork")
    share = messages // WORKERS
    procs = [
        ctx.Process(target=_bare_process, args=(env, channel, k * share, share, CONCURRENCY))
        for k in range(WORKERS)
    ]
    started = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    return share * WORKERS / (time.perf_counter() - started)


# ----------------------------------------------------------------------------- Patron


def seed(url: str, messages: int, channel: str) -> Any:
    from patron.core.db import Database
    from patron.core.migrate import upgrade
    from patron.customers import service as customers
    from patron.customers.schemas import CustomerCreate, IdentitiesIn

    db = Database(url)
    upgrade(db)
    ids: list[int] = []
    for start in range(0, messages, 1000):
        batch = [
            CustomerCreate(
                name="会员",
                identities=IdentitiesIn(phone=f"139{i:08d}", email=f"m{i}@example.cn"),
            )
            for i in range(start, min(messages, start + 1000))
        ]
        done = db.write(
            lambda s, batch=batch: customers.register_customers(
                session=s, customers_in=batch, source="bench"
            )
        )
        ids.extend(o.customer_id for o in done)
    return db, ids


def enqueue(db: Any, ids: list[int], channel: str) -> None:
    from patron.core.clock import utcnow
    from tests.engagement.builders import enqueue as enqueue_messages

    enqueue_messages(
        db, ids, channel=channel, purpose="transactional", source=("bench", "run"), send_at=utcnow()
    )


def cpu_seconds(procs: list[Any]) -> float:
    """User and system CPU time the processes have used so far (Linux /proc)."""
    total = 0.0
    for p in procs:
        fields = Path(f"/proc/{p.pid}/stat").read_text().split(")")[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def sent(db: Any) -> int:
    from patron.engagement import service as outbox

    return db.read(lambda s: outbox.count_by_status(session=s)).get("sent", 0)


def time_until_sent(db: Any, total: int, timeout_s: float = 600) -> float:
    started = time.perf_counter()
    while sent(db) < total:
        if time.perf_counter() - started > timeout_s:
            raise SystemExit(f"only {sent(db)} of {total} sent after {timeout_s:.0f} s")
        time.sleep(0.05)
    return time.perf_counter() - started


def start_process(args: list[str], env: dict[str, str], log: Path) -> Any:
    import subprocess

    patron = str(Path(sys.executable).with_name("patron"))
    return subprocess.Popen(
        [patron, *args], env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )


def stop(procs: list[Any]) -> None:
    import signal

    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(20)
        except Exception:
            p.kill()


def process_env(base: dict[str, str], tmp: Path, url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PATRON_")}
    env.update(base)
    env.update(
        {
            "PATRON_DATABASE_URL": url,
            "PATRON_DATA_DIR": str(tmp / "data"),
            "PATRON_ENCRYPTION_KEYS": os.environ["PATRON_ENCRYPTION_KEYS"],
            "PATRON_PROVIDER_RATES": "{}",
            "PATRON_ANALYTICS_NIGHTLY": "false",
        }
    )
    env.update(extra)
    return env


def queue_rate(
    stand_env: dict[str, str], tmp: Path, channel: str, messages: int
) -> tuple[float, float]:
    with postgres_schema("patron_bench_dispatch") as url:
        db, ids = seed(url, messages, channel)
        env = process_env(
            stand_env,
            tmp,
            url,
            PATRON_DISPATCH="queue",
            PATRON_QUEUE_SCHEMA="patron_bench_dispatch_queue",
            PATRON_QUEUE_NAME="bench",
            PATRON_DISPATCH_BATCH="20",
        )
        log = tmp / "workers.log"
        workers = [
            start_process(["worker", "--concurrency", str(CONCURRENCY)], env, log)
            for _ in range(WORKERS)
        ]
        try:
            time.sleep(4)  # start-up: imports, the queue's schema
            cpu = cpu_seconds(workers)
            enqueue(db, ids, channel)
            elapsed = time_until_sent(db, len(ids))
            cpu = cpu_seconds(workers) - cpu
        finally:
            stop(workers)
            import psycopg

            with psycopg.connect(
                "host=127.0.0.1 port=5432 user=postgres dbname=test", autocommit=True
            ) as conn:
                conn.execute('DROP SCHEMA IF EXISTS "patron_bench_dispatch_queue" CASCADE')
            db.dispose()
        return len(ids) / elapsed, cpu / len(ids)


def embedded_rate(
    stand_env: dict[str, str], tmp: Path, channel: str, messages: int
) -> tuple[float, float]:
    from _common import free_port

    url = f"sqlite:///{tmp / 'patron.db'}"
    db, ids = seed(url, messages, channel)
    env = process_env(
        stand_env,
        tmp,
        url,
        PATRON_DISPATCH="embedded",
        PATRON_DISPATCH_THREADS=str(CONCURRENCY),
        PATRON_DISPATCH_POLL_S="0.2",
    )
    server = start_process(["serve", "--port", str(free_port())], env, tmp / "serve.log")
    try:
        time.sleep(4)
        cpu = cpu_seconds([server])
        enqueue(db, ids, channel)
        elapsed = time_until_sent(db, len(ids))
        cpu = cpu_seconds([server]) - cpu
    finally:
        stop([server])
        db.dispose()
    return len(ids) / elapsed, cpu / len(ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--channel", choices=("sms", "email"), default="sms")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    messages = 300 if args.quick else args.messages
    share_keyring()
    from tests.engagement.stand_ins import stand_ins

    print(
        f"dispatch bench: {messages:,} {args.channel} messages, {WORKERS} workers × "
        f"{CONCURRENCY}, Python {platform.python_version()}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    with tempfile.TemporaryDirectory() as folder, stand_ins(Path(folder) / "stand-ins") as servers:
        tmp = Path(folder)
        stand_env = servers.env()
        peer = bare_rate(stand_env, args.channel, messages)
        print(f"  peer: adapters alone, no outbox           {peer:8,.0f} messages/s")
        if postgres_reachable():
            rate, cpu = queue_rate(stand_env, tmp, args.channel, messages)
            print(
                f"  patron worker × {WORKERS} (Procrastinate, PG)  {rate:8,.0f} messages/s"
                f"  ({rate / peer:.0%} of the peer; target ≥ 500);"
                f" workers' CPU {cpu * 1000:.2f} ms a message"
            )
        else:
            print("  patron worker: PostgreSQL at 127.0.0.1:5432 (database test) not reachable")
        (tmp / "embedded").mkdir()
        rate, cpu = embedded_rate(stand_env, tmp / "embedded", args.channel, messages)
        print(
            f"  patron serve, embedded (SQLite, 1 process) {rate:8,.0f} messages/s;"
            f" server's CPU {cpu * 1000:.2f} ms a message"
        )
        print(f"  load average after: {os.getloadavg()[0]:.1f} (the machine is shared)")
        received = servers.aliyun if args.channel == "sms" else servers.smtp
        print(f"  stand-in received {len(received.received):,} messages in all")


if __name__ == "__main__":
    main()
