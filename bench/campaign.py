"""Preparing a large campaign send: the audience drawn at send time, the holdout, consent per
channel, one outbox row per recipient and the members, in one transaction.

Target (the campaigns issue): a 1,000,000-recipient send prepared in ≤ 60 s on SQLite and
on PostgreSQL. Figures are printed, never asserted. The frequency caps and quiet hours are
asked when each message goes (the dispatcher, bench/dispatch.py), not here.

How it runs, per size:

1. A fresh SQLite file, migrated; N members signed up through ``register_customers`` (a phone
   and an e-mail each, tagged ``campaign``), 90 % of them granted e-mail marketing and the
   rest SMS marketing through ``record_consents_in_bulk``; the analytics store refreshed for
   audiences (set-up, timed apart). With ``--sign-up N``, only N members are signed up
   through the services and the rest are copies of their profiles and tag made in SQL
   (without identities, which the send does not read): the set-up of a 1,000,000 run in
   minutes rather than most of an hour.
2. An audience (tag ``campaign``), an e-mail and an SMS template, a campaign holding 10 %
   out, submitted and approved.
3. Timed: ``send_campaign`` in one ``db.write``, and apart from it the audience's evaluation
   alone (``audiences.member_ids``) as the send does it. The CPU time of this process in the
   send is printed too (it does not depend on how busy the machine is), and on a local
   PostgreSQL the CPU time of the backend that ran it; ``--profile`` prints the send's
   cProfile in CPU time (its own cost per Python call included).

Run:  .venv/bin/python bench/campaign.py                 (100,000 recipients)
      .venv/bin/python bench/campaign.py --sizes 1000000 --sign-up 20000
      .venv/bin/python bench/campaign.py --quick         (smoke run, 5,000)
      .venv/bin/python bench/campaign.py --sizes 20000 --url postgresql+psycopg://…/empty_db
"""

from __future__ import annotations

import argparse
import cProfile
import os
import platform
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import share_keyring

BATCH = 5_000


def _sign_up(db: Any, n: int) -> list[int]:
    from patron.customers import service as customers
    from patron.customers.schemas import CustomerCreate, IdentitiesIn

    ids: list[int] = []
    for start in range(0, n, BATCH):
        batch = [
            CustomerCreate(
                name="会员",
                identities=IdentitiesIn(phone=f"139{i:08d}", email=f"m{i}@example.cn"),
                tags=["campaign"],
            )
            for i in range(start, min(n, start + BATCH))
        ]
        done = db.write(
            lambda s, batch=batch: customers.register_customers(
                session=s, customers_in=batch, source="bench"
            )
        )
        ids.extend(o.customer_id for o in done)
    return ids


def _copy_profiles(db: Any, n: int) -> list[int]:
    """Grow the members to ``n`` by copying the profiles signed up (their encrypted name, city,
    store …, without identities) and their tag, in SQL: a set-up shortcut for sizes whose
    sign-ups through the services would take most of an hour on a shared machine. The send
    reads none of what is left out (addresses are read when each message goes)."""
    from sqlalchemy import Table, func, insert, literal, select

    from patron.customers.models import Customer, CustomerTag, Tag

    customer = Customer.__table__
    assert isinstance(customer, Table)
    copied = [c for c in customer.columns if c.name != "id"]

    def grow(s: Any) -> list[int]:
        have = int(s.scalar(select(func.count()).select_from(customer)))
        last = int(s.scalar(select(func.max(customer.c.id))))
        while have < n:
            take = min(have, n - have)
            source = select(*copied).order_by(customer.c.id).limit(take).subquery()
            s.execute(
                insert(customer).from_select(
                    [c.name for c in copied], select(*(source.c[c.name] for c in copied))
                )
            )
            have += take
        tag_id = s.scalar(select(Tag.id).where(Tag.name == "campaign"))
        s.execute(
            insert(CustomerTag.__table__).from_select(
                ["customer_id", "tag_id", "created_at"],
                select(customer.c.id, literal(tag_id), customer.c.created_at).where(
                    customer.c.id > last
                ),
            )
        )
        return list(s.scalars(select(customer.c.id).order_by(customer.c.id)))

    ids: list[int] = db.write(grow)
    return ids


def _consent(db: Any, ids: list[int]) -> None:
    from patron.consent import record_consents_in_bulk

    cut = len(ids) * 9 // 10
    for channel, chosen in (("email", ids[:cut]), ("sms", ids[cut:])):
        db.write(
            lambda s, channel=channel, chosen=chosen: record_consents_in_bulk(
                session=s,
                customer_ids=chosen,
                channel=channel,
                purpose="marketing",
                granted=True,
                source="import",
                notice_version="bench",
            )
        )


def _server_cpu(session: Any) -> float | None:
    """CPU seconds used so far by the PostgreSQL backend serving ``session``, when the server
    runs on this machine (None on SQLite, whose work is this process's own)."""
    from sqlalchemy import text

    if session.get_bind().dialect.name != "postgresql":
        return None
    pid = session.scalar(text("SELECT pg_backend_pid()"))
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(
    size: int,
    folder: Path,
    url: str | None = None,
    profile: bool = False,
    signed_up: int | None = None,
) -> dict[str, float]:
    os.environ["PATRON_DATA_DIR"] = str(folder / "data")
    os.environ["PATRON_ANALYTICS_NIGHTLY"] = "false"
    from patron.core.settings import get_settings

    get_settings.cache_clear()
    from patron import audiences
    from patron.audiences import service as audience_service
    from patron.audiences.schemas import AudienceCreate
    from patron.campaigns import service as campaigns
    from patron.campaigns import templates
    from patron.campaigns.schemas import CampaignIn, TemplateIn
    from patron.core.actor import system_actor
    from patron.core.db import Database
    from patron.core.migrate import upgrade

    actor = system_actor("bench")
    db = Database(url or f"sqlite:///{folder / 'bench.db'}")
    upgrade(db)
    figures: dict[str, float] = {}
    started = time.perf_counter()
    ids = _sign_up(db, min(size, signed_up or size))
    if len(ids) < size:
        ids = _copy_profiles(db, size)
    figures["sign_up_s"] = time.perf_counter() - started
    started = time.perf_counter()
    _consent(db, ids)
    figures["consent_s"] = time.perf_counter() - started
    started = time.perf_counter()
    audiences.refresh_audience_store(db=db)
    figures["audience_store_s"] = time.perf_counter() - started

    def prepare(s: Any) -> int:
        audience = audience_service.create_audience(
            session=s,
            actor=actor,
            audience_in=AudienceCreate.model_validate(
                {
                    "name": "bench",
                    "definition": {"conditions": [{"kind": "tag", "tags": ["campaign"]}]},
                }
            ),
        )
        made = {}
        for fields in (
            {
                "name": "mail",
                "channel": "email",
                "subject_zh": "{{ name }}，会员日",
                "text_zh": "{{ name }}您好！https://shop.example.cn",
            },
            {"name": "sms", "channel": "sms", "text_zh": "{{ name }}您好，会员日8折，回复TD退订"},
        ):
            t = templates.create_template(
                session=s, template_in=TemplateIn.model_validate(fields), actor=actor
            )
            made[t.channel] = t.id
        campaign = campaigns.create_campaign(
            session=s,
            campaign_in=CampaignIn.model_validate(
                {
                    "name": "bench",
                    "audience_id": audience.id,
                    "templates": made,
                    "holdout_percent": 10,
                }
            ),
            actor=actor,
        )
        campaigns.submit_campaign(session=s, campaign_id=campaign.id, actor=actor)
        campaigns.approve_campaign(session=s, campaign_id=campaign.id, actor=actor)
        return campaign.id

    campaign_id = db.write(prepare)
    audience_id = db.read(
        lambda s: campaigns.get_campaign_or_raise(session=s, campaign_id=campaign_id).audience_id
    )
    started = time.perf_counter()
    members = db.read(lambda s: audiences.member_ids(session=s, audience_id=audience_id))
    figures["audience_s"] = time.perf_counter() - started
    # CPU time, not wall time: what the send costs, however busy the machine is
    profiler = cProfile.Profile(time.process_time) if profile else None
    started, cpu = time.perf_counter(), time.process_time()
    if profiler is not None:
        profiler.enable()
    server_cpu: list[float] = []

    def send(s: Any) -> Any:
        before = _server_cpu(s)
        done = campaigns.send_campaign(session=s, campaign_id=campaign_id, actor=actor)
        after = _server_cpu(s)
        if before is not None and after is not None:
            server_cpu.append(after - before)
        return done

    outcome = db.write(send)
    if profiler is not None:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)
    figures["send_s"] = time.perf_counter() - started
    figures["send_cpu_s"] = time.process_time() - cpu
    figures["server_cpu_s"] = server_cpu[0] if server_cpu else -1.0
    figures["members"] = len(members)
    figures["held_out"] = outcome.held_out
    figures["messages"] = sum(outcome.messages.values())
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--url",
        help="an empty PostgreSQL database to run on instead of SQLite "
        "(postgresql+psycopg://…; one size per run)",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the send")
    parser.add_argument(
        "--sign-up",
        type=int,
        metavar="N",
        help="sign up only N members through the services and copy their profiles in SQL "
        "up to the size (a quicker set-up; the send is the same)",
    )
    args = parser.parse_args()
    sizes = [5_000] if args.quick else args.sizes
    share_keyring()
    print(
        f"campaign bench ({'PostgreSQL' if args.url else 'SQLite'}): Python {platform.python_version()}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    for size in sizes:
        with tempfile.TemporaryDirectory() as folder:
            f = run(size, Path(folder), args.url, args.profile, args.sign_up)
        print(
            f"  {size:>9,} members: send prepared in {f['send_s']:6.1f} s "
            f"({f['messages']:,.0f} outbox rows, {f['held_out']:,.0f} held out; "
            f"{f['messages'] / f['send_s']:,.0f} recipients/s; target 1,000,000 in ≤ 60 s)"
        )
        print(
            f"  {'':>9}  CPU time of this process in the send {f['send_cpu_s']:.1f} s "
            f"({f['send_cpu_s'] * 1e6 / max(1, f['members']):.1f} ms per 1k members)"
            + (
                f"; the PostgreSQL backend's {f['server_cpu_s']:.1f} s "
                f"({f['server_cpu_s'] * 1e6 / max(1, f['members']):.1f} ms per 1k)"
                if f["server_cpu_s"] >= 0
                else ""
            )
        )
        print(
            f"  {'':>9}  of which the audience alone {f['audience_s']:.2f} s; set-up: sign-ups "
            f"{f['sign_up_s']:.0f} s, consent {f['consent_s']:.1f} s, audience store "
            f"{f['audience_store_s']:.1f} s"
        )
    print(f"  load average after: {os.getloadavg()[0]:.1f} (the machine is shared)")


if __name__ == "__main__":
    main()
