"""Per-customer summaries (x, t_x, T, mean spend) from a transactions table.

Conventions, chosen to match the published CDNOW tables (Fader, Hardie & Lee 2005):

- Purchases are counted per distinct day: several transactions by one customer on one day
  are one purchase, with their spend summed (refunds on a day reduce that day's net spend).
- The cohort is everyone whose first purchase is on or before ``calibration_end``; x counts
  the *repeat* purchase days up to and including ``calibration_end``.
- t_x = (last calibration purchase day − first purchase day) / unit,
  T   = (calibration_end − first purchase day) / unit. For CDNOW, a customer first seen on
  1997-01-01 has T = 272/7 = 38.86 weeks with ``calibration_end = 1997-09-30``.
- Holdout purchases are the purchase days after ``calibration_end`` up to and including
  ``holdout_end``; the holdout length is (holdout_end − calibration_end) / unit.
- ``monetary`` is the mean net spend per repeat purchase day in calibration (the first
  purchase is left out, as in the Gamma-Gamma papers); 0 when x = 0. It is in the unit the
  spend came in (fen in Patron), so every value derived from it is too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

from patron.analytics.clv._common import FloatArray, TimeUnit, as_float_array, unit_days
from patron.core.errors import InvalidInput


@dataclass(frozen=True, eq=False)
class CustomerSummary:
    """One row per customer of the calibration cohort, as parallel numpy arrays."""

    customer_ids: npt.NDArray[Any]
    frequency: FloatArray
    recency: FloatArray
    age: FloatArray
    monetary: FloatArray
    first_spend: FloatArray
    holdout_frequency: FloatArray
    unit: TimeUnit
    calibration_end: date
    holdout_end: date | None
    holdout_length: float
    customers_first_seen_after_calibration: int

    def __len__(self) -> int:
        return len(self.customer_ids)


def _as_day(field: str, value: date | np.datetime64 | str) -> int:
    try:
        day = np.asarray(value, dtype="datetime64[D]")
    except (TypeError, ValueError) as exc:
        raise InvalidInput(field, f"must be a date ({exc})") from None
    if day.ndim != 0 or np.isnat(day):
        raise InvalidInput(field, "must be one date, not NaT or a list")
    return int(day.astype(np.int64))


def summarise_transactions(
    *,
    customer_ids: Any,
    purchased_on: Any,
    spend: Any,
    calibration_end: date | np.datetime64 | str,
    holdout_end: date | np.datetime64 | str | None = None,
    unit: TimeUnit = "weeks",
) -> CustomerSummary:
    """Summarise transactions (one row each: customer, date, net spend) per customer.

    ``purchased_on`` is anything numpy reads as dates (``datetime64``, ``date`` objects, ISO
    strings); a timestamp is truncated to its day, so convert instants to the store's zone
    first. Transactions after ``holdout_end`` (or after ``calibration_end`` when there is no
    holdout) are ignored, and so are customers first seen after ``calibration_end`` (counted
    in ``customers_first_seen_after_calibration``).
    """
    step = unit_days(unit)
    ids = np.asarray(customer_ids)
    if ids.ndim != 1:
        raise InvalidInput("customer_ids", f"must be one-dimensional, got shape {ids.shape}")
    try:
        days = np.asarray(purchased_on, dtype="datetime64[D]")
    except (TypeError, ValueError) as exc:
        raise InvalidInput("purchased_on", f"must be dates ({exc})") from None
    amounts = as_float_array("spend", spend)
    if days.ndim != 1 or len(days) != len(ids):
        raise InvalidInput("purchased_on", f"needs one date per row of customer_ids ({len(ids)})")
    if len(amounts) != len(ids):
        raise InvalidInput("spend", f"needs one amount per row of customer_ids ({len(ids)})")
    missing = np.isnat(days)
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise InvalidInput("purchased_on", f"row {row} has no date", row=row)
    cal_end = _as_day("calibration_end", calibration_end)
    hold_end = None if holdout_end is None else _as_day("holdout_end", holdout_end)
    if hold_end is not None and hold_end <= cal_end:
        raise InvalidInput("holdout_end", "must be after calibration_end")
    last_day = cal_end if hold_end is None else hold_end

    day_numbers = days.astype(np.int64)
    keep = day_numbers <= last_day
    known_ids, customer = np.unique(ids, return_inverse=True)
    customer, day_numbers, amounts = customer[keep], day_numbers[keep], amounts[keep]
    n_known = len(known_ids)

    # One row per (customer, day), spend summed: "distinct purchase days".
    order = np.lexsort((day_numbers, customer))
    customer, day_numbers, amounts = customer[order], day_numbers[order], amounts[order]
    starts = np.ones(len(customer), dtype=bool)
    starts[1:] = (customer[1:] != customer[:-1]) | (day_numbers[1:] != day_numbers[:-1])
    first_rows = np.flatnonzero(starts)
    g_customer = customer[first_rows]
    g_day = day_numbers[first_rows]
    g_spend = (
        np.add.reduceat(amounts, first_rows) if len(first_rows) else np.empty(0, dtype=np.float64)
    )
    first_of_customer = np.ones(len(g_customer), dtype=bool)
    first_of_customer[1:] = g_customer[1:] != g_customer[:-1]

    seen = np.zeros(n_known, dtype=bool)
    seen[g_customer] = True
    first_day = np.full(n_known, np.iinfo(np.int64).max, dtype=np.int64)
    first_day[g_customer[first_of_customer]] = g_day[first_of_customer]
    first_spend = np.zeros(n_known)
    first_spend[g_customer[first_of_customer]] = g_spend[first_of_customer]

    in_cal = g_day <= cal_end
    repeat_in_cal = in_cal & ~first_of_customer
    frequency = np.bincount(g_customer, weights=repeat_in_cal, minlength=n_known).astype(np.float64)
    repeat_spend = np.bincount(
        g_customer, weights=np.where(repeat_in_cal, g_spend, 0.0), minlength=n_known
    )
    last_cal_day = first_day.copy()
    np.maximum.at(last_cal_day, g_customer[in_cal], g_day[in_cal])
    holdout = np.bincount(g_customer, weights=~in_cal, minlength=n_known).astype(np.float64)

    cohort = seen & (first_day <= cal_end)
    fd = first_day[cohort]
    x = frequency[cohort]
    monetary = np.divide(repeat_spend[cohort], x, out=np.zeros(int(cohort.sum())), where=x > 0)
    return CustomerSummary(
        customer_ids=known_ids[cohort],
        frequency=x,
        recency=(last_cal_day[cohort] - fd) / step,
        age=(cal_end - fd) / step,
        monetary=monetary,
        first_spend=first_spend[cohort],
        holdout_frequency=holdout[cohort],
        unit=unit,
        calibration_end=np.datetime64(cal_end, "D").astype(date),
        holdout_end=None if hold_end is None else np.datetime64(hold_end, "D").astype(date),
        holdout_length=0.0 if hold_end is None else (hold_end - cal_end) / step,
        customers_first_seen_after_calibration=int((~cohort & seen).sum() + (~seen).sum()),
    )
