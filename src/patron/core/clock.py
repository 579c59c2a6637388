"""Time: aware UTC everywhere; local zones only to show or to bucket by day."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime, zone: ZoneInfo) -> datetime:
    """An aware UTC instant; a naive ``value`` is read as wall-clock time in ``zone``."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # a time at the very edge of the calendar
        raise ValueError("is outside the supported range of dates") from None


def local_date(value: datetime, zone: ZoneInfo) -> date:
    return value.astimezone(zone).date()


_EXCEL_EPOCH = datetime(1899, 12, 30)  # noqa: DTZ001 - Excel serials are zone-less wall time
_CN_TIME = str.maketrans(
    {
        "年": "-",
        "月": "-",
        "日": " ",
        "号": " ",
        "时": ":",
        "点": ":",
        "分": ":",
        "秒": "",
        "：": ":",
    }
)
_SLASH_DATE = re.compile(
    r"^\s*(\d{1,4})[/.\-](\d{1,2})[/.\-](\d{1,4})"
    r"(?:[ T]+(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,6}))?)?\s*([AaPp][Mm])?)?\s*$"
)
_COMPACT = re.compile(r"^\s*(\d{4})(\d{2})(\d{2})(?:\s*(\d{2}):?(\d{2}):?(\d{2})?)?\s*$")


def parse_datetime(text: str, *, day_first: bool = False) -> datetime:
    """Read a date or date-time in the formats retail exports use.

    ISO 8601 (with or without a zone), ``2024/1/5 13:45``, ``2024年1月5日 13时45分``,
    ``20240105``, ``1/5/2024 8:26`` (month first unless ``day_first``), ``5.1.2024`` and Excel
    serial numbers. Returns a naive value when the text names no zone.
    Raises ValueError with a readable reason.
    """
    s = text.strip()
    if not s:
        raise ValueError("empty date")
    try:
        return datetime.fromisoformat(s)
    except ValueError:
        pass
    if "年" in s:
        s = s.translate(_CN_TIME).strip().rstrip(":").strip()
    m = _SLASH_DATE.match(s)
    if m:
        a, b, c, hh, mi, ss, frac, ampm = m.groups()
        if len(a) == 4:
            y, mo, d = int(a), int(b), int(c)
        elif len(c) in (2, 4):
            y = int(c) + (2000 if len(c) == 2 else 0)
            mo, d = (int(b), int(a)) if day_first else (int(a), int(b))
        else:
            raise ValueError(f"unrecognised date {text!r}")
        return _build(y, mo, d, hh, mi, ss, frac, ampm, day_first=day_first, year_last=len(a) != 4)
    m = _COMPACT.match(s)
    if m:
        ys, mos, ds, hh, mi, ss = m.groups()
        return _build(int(ys), int(mos), int(ds), hh, mi, ss, None, None)
    try:
        serial = float(s)
    except ValueError:
        raise ValueError(f"unrecognised date {text!r}") from None
    if 1 <= serial < 2958466:
        return _EXCEL_EPOCH + timedelta(days=serial)
    raise ValueError(f"unrecognised date {text!r}")


def _build(
    y: int,
    mo: int,
    d: int,
    hh: str | None,
    mi: str | None,
    ss: str | None,
    frac: str | None,
    ampm: str | None,
    *,
    day_first: bool = False,
    year_last: bool = False,
) -> datetime:
    hour = int(hh) if hh else 0
    if ampm:
        if not 1 <= hour <= 12:
            raise ValueError(f"hour {hour} with {ampm}")
        hour = hour % 12 + (12 if ampm.lower() == "pm" else 0)
    micro = int((frac or "0").ljust(6, "0")) if frac else 0
    try:
        return datetime(y, mo, d, hour, int(mi or 0), int(ss or 0), micro)  # noqa: DTZ001
    except ValueError as exc:
        hint = ""
        if year_last:
            hint = (
                " (read as day/month; drop --day-first?)"
                if day_first
                else " (read as month/day; use --day-first?)"
            )
        raise ValueError(f"invalid date: {exc}{hint}") from None


def parse_date(text: str, *, day_first: bool = False) -> date:
    return parse_datetime(text, day_first=day_first).date()


def start_of_day(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)
