from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from patron.core.clock import as_utc, local_date, parse_datetime

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-05 13:45:00", datetime(2024, 1, 5, 13, 45)),
        ("2024-01-05T13:45", datetime(2024, 1, 5, 13, 45)),
        ("2024-01-05", datetime(2024, 1, 5)),
        ("2024/1/5 13:45", datetime(2024, 1, 5, 13, 45)),
        ("2024-1-5 9:05:07", datetime(2024, 1, 5, 9, 5, 7)),
        ("2024.01.05", datetime(2024, 1, 5)),
        ("2024年1月5日", datetime(2024, 1, 5)),
        ("2024年01月05日 13:45", datetime(2024, 1, 5, 13, 45)),
        ("2024年1月5日 13时45分", datetime(2024, 1, 5, 13, 45)),
        ("20240105", datetime(2024, 1, 5)),
        ("20240105 134500", datetime(2024, 1, 5, 13, 45)),
        ("12/1/2010 8:26", datetime(2010, 12, 1, 8, 26)),
        ("1/5/2024 1:45 PM", datetime(2024, 1, 5, 13, 45)),
        ("45296.5", datetime(2024, 1, 5, 12, 0)),
    ],
)
def test_dates_in_the_formats_exports_use(text: str, expected: datetime) -> None:
    assert parse_datetime(text) == expected


def test_day_first_reads_european_dates() -> None:
    assert parse_datetime("05/01/2024", day_first=True) == datetime(2024, 1, 5)
    assert parse_datetime("05/01/2024") == datetime(2024, 5, 1)


def test_an_impossible_month_suggests_day_first() -> None:
    with pytest.raises(ValueError, match="--day-first"):
        parse_datetime("25/12/2024")


@pytest.mark.parametrize("text", ["", "yesterday", "2024-13-01", "2024/02/30", "31/31/2024"])
def test_unreadable_dates_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_datetime(text)


def test_zoned_text_keeps_its_zone() -> None:
    value = parse_datetime("2024-01-05T13:45:00+08:00")
    assert as_utc(value, SHANGHAI) == datetime(2024, 1, 5, 5, 45, tzinfo=UTC)


def test_naive_time_is_wall_clock_in_the_shop_zone() -> None:
    # 00:30 on 1 January in Shanghai is still 31 December in UTC.
    instant = as_utc(datetime(2024, 1, 1, 0, 30), SHANGHAI)
    assert instant == datetime(2023, 12, 31, 16, 30, tzinfo=UTC)
    assert local_date(instant, SHANGHAI).isoformat() == "2024-01-01"
