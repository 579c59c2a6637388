"""The churn step's parameters and its result: the thresholds a run may override, and the
per-customer rows with each one's reasons, as the write-back stores them (churn/scoring.py
computes them; docs/architecture.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from patron.analytics.churn.model import Calibration
from patron.analytics.churn.reasons import Reason
from patron.core.errors import InvalidInput

FloatArray = npt.NDArray[np.float64]
TOP_REASONS = 3


@dataclass(frozen=True)
class ChurnParams:
    """Thresholds and settings of the churn step (the pipeline's params may override)."""

    high_risk: float = 0.5
    medium_risk: float = 0.3
    high_share: float = 0.1
    medium_share: float = 0.2
    min_high_customers: int = 20
    min_lapsed_days: int = 180
    horizon_factor: float = 2.0
    min_horizon_days: int = 14
    max_horizon_days: int = 180
    lapsed_factor: float = 3.0
    min_customers: int = 200
    min_class: int = 20
    calibration: Calibration = "sigmoid"
    clv_horizon_months: int = 12
    monthly_discount_rate: float = 0.01
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.medium_risk < self.high_risk < 1:
            raise InvalidInput("medium_risk", "needs 0 < medium_risk < high_risk < 1")
        if not (0 < self.high_share < 1 and 0 <= self.medium_share < 1):
            raise InvalidInput("high_share", "high_share must be in (0, 1), medium_share in [0, 1)")
        if self.high_share + self.medium_share > 1:
            raise InvalidInput("medium_share", "high_share + medium_share must not exceed 1")
        if not self.horizon_factor > 0:
            raise InvalidInput("horizon_factor", "must be > 0")
        if not 1 <= self.min_horizon_days <= self.max_horizon_days:
            raise InvalidInput("min_horizon_days", "needs 1 ≤ min_horizon_days ≤ max_horizon_days")
        if not self.lapsed_factor >= 1:
            raise InvalidInput("lapsed_factor", "must be at least 1")
        if self.min_customers < 10:
            raise InvalidInput("min_customers", "must be at least 10")
        if self.min_class < 5:
            raise InvalidInput("min_class", "must be at least 5")
        if self.calibration not in ("sigmoid", "isotonic"):
            raise InvalidInput("calibration", "must be sigmoid or isotonic")
        if self.clv_horizon_months < 1:
            raise InvalidInput("clv_horizon_months", "must be at least 1")
        if not 0 <= self.monthly_discount_rate < 1:
            raise InvalidInput("monthly_discount_rate", "must be in [0, 1)")

    def to_json(self) -> dict[str, Any]:
        return {
            "high_risk": self.high_risk,
            "medium_risk": self.medium_risk,
            "high_share": self.high_share,
            "medium_share": self.medium_share,
            "min_high_customers": self.min_high_customers,
            "min_lapsed_days": self.min_lapsed_days,
            "horizon_factor": self.horizon_factor,
            "min_horizon_days": self.min_horizon_days,
            "max_horizon_days": self.max_horizon_days,
            "lapsed_factor": self.lapsed_factor,
            "min_customers": self.min_customers,
            "min_class": self.min_class,
            "calibration": self.calibration,
            "clv_horizon_months": self.clv_horizon_months,
            "monthly_discount_rate": self.monthly_discount_rate,
            "seed": self.seed,
        }


@dataclass(frozen=True, eq=False)
class ChurnResult:
    """The model report and one row per customer.

    ``customers`` columns: customer_id, churn_risk, p_alive, expected_purchases_90d, clv_fen,
    value_at_stake_fen, risk_band, reason_1..3 (codes or None) and action_1..3. The numbers
    behind each reason are in ``numbers`` (reason code → name → one value per row); use
    ``reasons_at(row)`` / ``reasons_for(customer_id)`` for a customer's reasons as objects,
    ``reasons_json_text()`` for everyone's as stored. ``report`` is JSON-ready (no NaN).
    """

    as_of: date
    report: dict[str, Any]
    customers: pd.DataFrame
    numbers: dict[str, dict[str, FloatArray]] = field(repr=False)

    def reasons_at(self, row: int) -> list[Reason]:
        out = []
        frame = self.customers
        for k in range(1, TOP_REASONS + 1):
            code = frame[f"reason_{k}"].iat[row]
            if not isinstance(code, str):
                break
            values = {
                name: _plain(float(column[row])) for name, column in self.numbers[code].items()
            }
            out.append(Reason(code=code, numbers=values, action=frame[f"action_{k}"].iat[row]))
        return out

    def reasons_json_text(self) -> Any:
        """Every row's reasons as stored (customer_risk.reasons): the JSON text of
        ``[r.to_json() for r in reasons_at(i)]`` (a pyarrow string array): pieced together by Arrow a column at a time,
        with no Python object per row, for the write-back (docs/architecture.md). Numbers
        are written as ``_plain`` gives them, an integral value as an integer; another in
        Arrow's shortest round-trip form, which may differ from Python's in the exponent's
        spelling only."""
        import pyarrow as pa
        import pyarrow.compute as pc

        frame = self.customers
        n = len(frame)
        slots = []
        for k in range(1, TOP_REASONS + 1):
            codes = frame[f"reason_{k}"].to_numpy(dtype=object)
            actions = frame[f"action_{k}"].to_numpy(dtype=object)
            # Each row's place in ``pieces`` (every code's texts one after the other, then
            # one empty text for the rows with no reason in this slot: a row's reasons fill
            # the slots from the first, so the later ones bring their own separator).
            where = np.full(n, -1, dtype=np.int64)
            pieces: list[Any] = []
            taken = 0
            for code, named in self.numbers.items():
                rows = np.flatnonzero(codes == code)
                if not len(rows):
                    continue
                for action in dict.fromkeys(actions[rows].tolist()):
                    chosen = rows[actions[rows] == action]
                    parts: list[Any] = [
                        f'{", " if k > 1 else ""}{{"code": {json.dumps(code)}, "numbers": {{'
                    ]
                    for j, (name, column) in enumerate(named.items()):
                        parts.append(f"{', ' if j else ''}{json.dumps(name)}: ")
                        parts.append(_number_texts(column[chosen]))
                    parts.append(f'}}, "action": {json.dumps(action)}}}')
                    if all(isinstance(part, str) for part in parts):
                        text = pa.array(["".join(parts)] * len(chosen), type=pa.string())
                    else:
                        text = pc.binary_join_element_wise(*parts, "")
                    pieces.append(text)
                    where[chosen] = np.arange(taken, taken + len(chosen))
                    taken += len(chosen)
            pieces.append(pa.array([""], type=pa.string()))
            where[where < 0] = taken
            slots.append(pa.concat_arrays(pieces).take(pa.array(where)))
        return pc.binary_join_element_wise("[", *slots, "]", "")

    def reasons_for(self, customer_id: int) -> list[Reason]:
        ids = self.customers["customer_id"].to_numpy()
        rows = np.flatnonzero(ids == customer_id)
        if not len(rows):
            raise InvalidInput("customer_id", f"customer {customer_id} was not scored")
        return self.reasons_at(int(rows[0]))


def _plain(value: float) -> float | int:
    if not np.isfinite(value):
        return 0
    return int(value) if value == int(value) else value


def _number_texts(values: FloatArray) -> Any:
    """``_plain`` of each value as JSON text, column-wise (a pyarrow string array)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = np.where(np.isfinite(values), values, 0.0)
    # Integral (and within int64, as every count, day and percent is): an integer's text.
    integral = (values == np.trunc(values)) & (np.abs(values) < 2.0**62)
    as_int = pc.cast(pa.array(np.where(integral, values, 0.0).astype(np.int64)), pa.string())
    as_float = pc.cast(pa.array(values), pa.string())
    return pc.if_else(pa.array(integral), as_int, as_float)
