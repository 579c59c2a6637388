"""The analytics API: runs, summaries, scored customers (masked, in scope), results, export."""

from __future__ import annotations

from io import BytesIO

import openpyxl
from fastapi.testclient import TestClient

from patron.analytics import service
from patron.analytics import store as analytics_store
from patron.audit import service as audit
from patron.core.db import Database
from patron.staff.roles import Role
from tests.analytics.pipeline.helpers import build_chain
from tests.web.helpers.api import api_client


def _run(api: TestClient) -> dict[str, object]:
    response = api.post("/api/v1/analytics/runs", json={"as_of": "2026-03-20"})
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def test_an_administrator_runs_the_pipeline_and_reads_the_runs(
    db: Database, api: TestClient
) -> None:
    assert api.get("/api/v1/analytics/segments").status_code == 404  # nothing has run yet
    build_chain(db)
    run = _run(api)
    assert run["status"] == "succeeded" and run["customers_scored"] == 3 and run["trigger"] == "api"
    listed = api.get("/api/v1/analytics/runs").json()
    assert [r["id"] for r in listed] == [run["id"]]
    assert api.get(f"/api/v1/analytics/runs/{run['id']}").json()["as_of"] == "2026-03-20"
    assert api.get("/api/v1/analytics/runs/999").status_code == 404

    bad = api.post("/api/v1/analytics/runs", json={"engine": "pandas"})
    assert bad.status_code == 422
    with analytics_store.run_lock(service.store_path()):
        busy = api.post("/api/v1/analytics/runs", json={})
    assert busy.status_code == 409


def test_summaries_results_and_customers_by_segment_are_masked(
    db: Database, api: TestClient
) -> None:
    chain = build_chain(db)
    run = _run(api)
    segments = api.get("/api/v1/analytics/segments").json()
    assert segments["run_id"] == run["id"]
    assert sum(g["customers"] for g in segments["groups"]) == 3
    stages = api.get("/api/v1/analytics/stages", params={"run_id": run["id"]}).json()
    assert {g["code"]: g["customers"] for g in stages["groups"]}["new"] == 3

    page = api.get("/api/v1/analytics/customers", params={"stage": "new"}).json()
    by_id = {item["customer"]["id"]: item for item in page["items"]}
    assert set(by_id) == {chain.alice, chain.bob, chain.carol}
    alice = by_id[chain.alice]
    assert alice["score"]["monetary_fen"] == 3800
    assert alice["customer"]["name"] != "张三丰" and alice["customer"]["name"].startswith("张")
    assert api.get("/api/v1/analytics/customers", params={"stage": "gone"}).status_code == 422

    history = api.get(f"/api/v1/customers/{chain.alice}/scores").json()
    assert [h["run_id"] for h in history] == [run["id"]]
    assert api.get("/api/v1/analytics/cohorts").json()["rows"]
    channels = api.get("/api/v1/analytics/kpis", params={"by": "channel"}).json()
    assert channels["name"] == "kpis_channel" and channels["rows"]
    migration = api.get("/api/v1/analytics/migration").json()
    assert sum(r["customers"] for r in migration["rows"]) == 3


def test_a_store_manager_sees_only_their_stores_customers(db: Database) -> None:
    chain = build_chain(db)
    with api_client(db) as admin:
        _run(admin)
    with api_client(db, role=Role.STORE_MANAGER, stores=["SH01"]) as manager:
        segments = manager.get("/api/v1/analytics/segments").json()
        assert sum(g["customers"] for g in segments["groups"]) == 2
        page = manager.get("/api/v1/analytics/customers", params={"stage": "new"}).json()
        assert {i["customer"]["id"] for i in page["items"]} == {chain.alice, chain.carol}
        assert manager.get(f"/api/v1/customers/{chain.bob}/scores").status_code == 403
        assert manager.post("/api/v1/analytics/runs", json={}).status_code == 403
    with api_client(db, role=Role.CASHIER, stores=["SH01"]) as cashier:
        assert cashier.get("/api/v1/analytics/segments").status_code == 403


def test_an_export_is_a_workbook_and_an_audit_entry(db: Database) -> None:
    build_chain(db)
    with api_client(db) as admin:
        run = _run(admin)
    with api_client(db, role=Role.ANALYST) as analyst:
        response = analyst.get("/api/v1/analytics/customers/export", params={"stage": "new"})
    assert response.status_code == 200, response.text
    book = openpyxl.load_workbook(BytesIO(response.content))
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0][:5] == ("客户编号", "姓名", "所属门店", "价值分群", "生命周期阶段")
    assert len(rows) == 4
    assert {r[4] for r in rows[1:]} == {"新客户"} and {r[-1] for r in rows[1:]} == {"new"}
    assert "张三丰" not in {r[1] for r in rows}
    entries = db.read(lambda s: audit.list_audit(session=s, action="customer.export")).items
    assert len(entries) == 1
    assert entries[0].target_id == str(run["id"])
    assert entries[0].details["rows"] == 3 and entries[0].details["stage"] == "new"
    with api_client(db, role=Role.ANALYST) as analyst:
        english = analyst.get(
            "/api/v1/analytics/customers/export", params={"stage": "new", "lang": "en"}
        )
    english_rows = list(openpyxl.load_workbook(BytesIO(english.content)).active.values)
    assert english_rows[0][4] == "Lifecycle stage" and english_rows[1][4] == "New"
    spend = english_rows[0].index("Spend (CNY)")
    listed = db.read(lambda s: service.list_customers_by(session=s, stage="new", limit=10))
    spent = {item.score.customer_id: item.score.monetary_fen for item in listed.items}
    assert {row[0]: round(row[spend] * 100) for row in english_rows[1:]} == spent  # yuan


def test_an_export_writes_a_formula_looking_name_as_text(db: Database) -> None:
    build_chain(db)
    from tests.helpers import post_order, sign_up

    evil = sign_up(db, name='=HYPERLINK("http://evil.example/","点此")', phone="13800138009")
    post_order(db, "E1", customer={"id": evil}, store_code="SH01")
    with api_client(db) as admin:
        _run(admin)
        response = admin.get("/api/v1/analytics/customers/export", params={"stage": "new"})
    assert response.status_code == 200, response.text
    sheet = openpyxl.load_workbook(BytesIO(response.content)).active
    cells = [c for row in sheet.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    names = [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert "'=***" in names


def test_an_export_of_a_segment_that_is_no_sheet_title_is_a_clear_422(db: Database) -> None:
    build_chain(db)
    with api_client(db) as admin:
        _run(admin)
        for segment in ("a/b", "x:y", "c\\d", "what?", "*", "[1]", "a\r\nb"):
            response = admin.get("/api/v1/analytics/customers/export", params={"segment": segment})
            assert response.status_code == 422, (segment, response.text)
            assert response.json()["detail"][0]["field"] == "segment"


def test_a_store_manager_gets_their_stores_figures_or_a_refusal_never_the_chains(
    db: Database,
) -> None:
    chain = build_chain(db)
    with api_client(db) as admin:
        _run(admin)
        every_store = admin.get("/api/v1/analytics/kpis", params={"by": "store"}).json()["rows"]
    assert {r["store_id"] for r in every_store} == {chain.shanghai, chain.london}
    with api_client(db, role=Role.STORE_MANAGER, stores=["SH01"]) as manager:
        own = manager.get("/api/v1/analytics/kpis", params={"by": "store"})
        assert own.status_code == 200
        assert {r["store_id"] for r in own.json()["rows"]} == {chain.shanghai}
        for path, params in (
            ("/api/v1/analytics/kpis", {"by": "day"}),
            ("/api/v1/analytics/kpis", {"by": "channel"}),
            ("/api/v1/analytics/kpis", {"by": "category"}),
            ("/api/v1/analytics/cohorts", {}),
            ("/api/v1/analytics/migration", {}),
            ("/api/v1/analytics/risk/report", {}),
        ):
            refused = manager.get(path, params=params)
            assert refused.status_code == 403, (path, params, refused.text)
            assert refused.json()["error"] == "chain_wide_figures"
