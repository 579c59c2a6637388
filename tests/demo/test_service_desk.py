"""The demo's after-sales desk: who complains is drawn from the generator's truth (and
recorded in it), and the tickets, breaches and survey answers are made through the support
services."""

from __future__ import annotations

import csv
import json
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from patron.core.db import Database
from patron.demo.generator import build_demo
from patron.demo.service_desk import ServicePlan, draw_visits
from patron.engagement import service as engagement
from patron.support import signals

END = date(2026, 10, 31)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _truth(path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["customer_id", "prospect", "death_at"])
        writer.writeheader()
        for n in range(1, 201):
            death = datetime(2026, 4, 1, 12, tzinfo=SHANGHAI) + timedelta(days=n) if n % 2 else None
            writer.writerow({"customer_id": n, "prospect": int(n > 190),
                             "death_at": death.isoformat() if death else ""})  # fmt: skip
    return path


def test_only_customers_who_stop_buying_complain_when_the_plan_says_so(tmp_path: Path) -> None:
    plan = ServicePlan(desk_days=365, complain_dying=1.0, complain_alive=0.0, other_tickets=0.0)
    complaints, others = draw_visits(_truth(tmp_path / "t.csv"), end=END, seed=3, plan=plan)
    assert others == []
    # every odd buyer (1..189) stopped buying, and each complained in the 90 days after their
    # last purchase (when that was by the demo's last day): then never bought again
    complained = sorted(c for c, _, _ in complaints)
    last_sure = [n for n in range(1, 190, 2) if date(2026, 4, 1) + timedelta(days=n + 89) <= END]
    assert set(last_sure) <= set(complained) <= set(range(1, 190, 2))
    for customer, kind, day in complaints:
        death = date(2026, 4, 1) + timedelta(days=customer)
        assert kind == "dying" and death <= day <= min(death + timedelta(days=89), END)
    again, _ = draw_visits(tmp_path / "t.csv", end=END, seed=3, plan=plan)
    assert again == complaints  # reproducible from the seed
    # the desk opened on 2026-07-01: nothing before it
    later = ServicePlan(desk_days=122, complain_dying=1.0, complain_alive=0.0, other_tickets=0)
    complaints, _ = draw_visits(tmp_path / "t.csv", end=END, seed=3, plan=later)
    assert complaints and all(day > date(2026, 7, 1) for _, _, day in complaints)


def test_the_demo_has_tickets_breaches_and_answers_whose_draw_is_in_its_truth(
    sqlite_db: Database, tmp_path: Path
) -> None:
    summary = build_demo(
        db=sqlite_db, seed=11, customers=300, lines=4000, data_dir=tmp_path, chunk_customers=150
    )
    assert summary.truth_json is not None and summary.truth_csv is not None
    service = json.loads(summary.truth_json.read_text(encoding="utf-8"))["service"]
    assert service["plan"]["complain_dying"] > service["plan"]["complain_alive"]
    made = service["made"]
    assert made["complaint"] > 0 and made["answers"] > 0

    rows = sqlite_db.read(lambda s: signals.ticket_rows(session=s, zone=SHANGHAI))
    answers = sqlite_db.read(lambda s: signals.answer_rows(session=s, zone=SHANGHAI))
    by_type: dict[str, int] = {}
    for _, _, kind, _, _, _ in rows:
        by_type[kind] = by_type.get(kind, 0) + 1
    # a detractor's answer opened a follow-up complaint, which was called back and closed
    assert by_type["complaint"] == made["complaint"] + made["follow_ups"]
    assert made["follow_ups"] == made["detractors"]
    assert sum(by_type.get(k, 0) for k in ("return", "repair", "enquiry")) == sum(
        made[k] for k in ("return", "repair", "enquiry")
    )
    assert sum(1 for r in rows if r[5] is not None) == made["breached"]
    assert len(answers) == made["answers"]
    # each invitation was answered in the demo's past: no SMS waits to go out now, each says why
    outbox = sqlite_db.read(lambda s: engagement.count_by_status(session=s, source_kind="survey"))
    assert set(outbox) == {"skipped"} and 0 < outbox["skipped"] <= made["answers"]
    assert all(r[4] is not None for r in rows if r[3] < END - timedelta(days=10))

    # complaints lean on the customers who stopped buying, as the truth says
    with summary.truth_csv.open(encoding="utf-8") as handle:
        dying = {int(r["customer_id"]) for r in csv.DictReader(handle) if r["death_at"]}
    complainers = {r[1] for r in rows if r[2] == "complaint"}
    assert len(complainers & dying) >= service["drawn"]["complaints_of_customers_who_stop_buying"]

    # a re-run over the same database adds no second desk
    again = build_demo(db=sqlite_db, seed=11, customers=300, lines=4000, data_dir=tmp_path,
                       force=True, chunk_customers=150)  # fmt: skip
    assert again.truth_json is not None
    assert sqlite_db.read(lambda s: len(signals.ticket_rows(session=s, zone=SHANGHAI))) == len(rows)
