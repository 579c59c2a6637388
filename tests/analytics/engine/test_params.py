"""Parameters and tables are checked on the way in, with errors that name the field."""

from __future__ import annotations

from datetime import date

import ibis
import pytest

from patron.analytics.engine import (
    SEGMENTS,
    STAGES,
    AnalyticsParams,
    AnalyticsParamsError,
    Tables,
    TablesError,
)
from tests.analytics.engine.helpers import Store


def test_params_round_trip_through_json() -> None:
    params = AnalyticsParams(as_of=date(2025, 6, 30), window_days=None, monetary="average")
    data = params.to_json()
    assert data["as_of"] == "2025-06-30"
    assert data["window_days"] is None
    assert AnalyticsParams.from_json(data) == params


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"window_days": 0}, "window_days"),
        ({"monetary": "median"}, "monetary"),
        ({"split": "median"}, "split"),
        ({"new_days": 0}, "new_days"),
        ({"new_days": 200}, "new_days"),
        ({"loyal_orders": 1.5}, "loyal_orders"),
        ({"at_risk_factor": 0}, "at_risk_factor"),
        ({"at_risk_min_days": 400}, "at_risk_min_days"),
        ({"won_back_days": 200}, "won_back_days"),
        ({"fixed_monetary_fen": -1}, "fixed_monetary_fen"),
        ({"kpi_days": True}, "kpi_days"),
    ],
)
def test_bad_params_name_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(AnalyticsParamsError) as caught:
        AnalyticsParams(as_of=date(2025, 6, 30), **changes)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert field in str(caught.value)


def test_from_json_names_unknown_and_malformed_fields() -> None:
    with pytest.raises(AnalyticsParamsError, match="windw_days"):
        AnalyticsParams.from_json({"as_of": "2025-06-30", "windw_days": 3})
    with pytest.raises(AnalyticsParamsError, match="as_of"):
        AnalyticsParams.from_json({"as_of": "30/06/2025"})
    with pytest.raises(AnalyticsParamsError, match="as_of"):
        AnalyticsParams.from_json({})


def test_tables_name_a_missing_or_mistyped_column() -> None:
    good = Store().tables()
    with pytest.raises(TablesError, match=r"orders\.net_fen"):
        Tables(**{**good.__dict__, "orders": good.orders.drop("net_fen")})
    with pytest.raises(TablesError, match=r"orders\.order_date"):
        Tables(**{**good.__dict__, "orders": good.orders.mutate(order_date=ibis.literal("x"))})


def test_eight_segments_and_seven_stages_with_both_names() -> None:
    assert list(SEGMENTS)[:4] == [
        "important_value",
        "important_develop",
        "important_keep",
        "important_retain",
    ]
    assert [zh for zh, _ in SEGMENTS.values()][:2] == ["重要价值客户", "重要发展客户"]
    assert len(SEGMENTS) == 8 and len(STAGES) == 7
    assert all(zh and en for zh, en in [*SEGMENTS.values(), *STAGES.values()])
