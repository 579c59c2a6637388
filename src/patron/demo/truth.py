"""What the demo drew, written beside its data so model fits can be checked:
``<data_dir>/demo/truth.json`` (the parameters, :func:`truth_document`) and
``customers_truth.csv`` (each customer's λ, p, ν, birth and death, :data:`TRUTH_COLUMNS`).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from patron.demo.btyd import (
    SPRING_FESTIVAL,
    WEEKDAY_FACTOR,
    SimulatedPurchases,
)
from patron.demo.plan import (
    ANONYMOUS_SHARE,
    CHUNK_CUSTOMERS,
    DUPLICATE_SHARE,
    PROSPECT_SHARE,
    REFUND_SHARE,
    SEGMENTS,
    ZONE,
    DemoPlan,
)

if TYPE_CHECKING:
    from patron.demo.draw import _Members


def _truth_rows(
    plan: DemoPlan, m: _Members, buyers: np.ndarray, sim: SimulatedPurchases
) -> list[dict[str, Any]]:
    repeats = np.bincount(sim.repeat_owner, minlength=buyers.size)
    pos = {int(b): k for k, b in enumerate(buyers.tolist())}
    rows = []
    for who in range(m.numbers.size):
        row: dict[str, Any] = {
            "customer_no": int(m.numbers[who]),
            "customer_id": None,
            "duplicate_customer_id": None,
            "segment": SEGMENTS[int(m.segment[who])],
            "prospect": int(not m.buyer[who]),
        }
        k = pos.get(who)
        if k is None:
            row |= dict.fromkeys(_BTYD_COLUMNS, "")
        else:
            row |= {
                "birth_at": _day_to_iso(plan, float(sim.birth_day[k])),
                "lambda_per_week": f"{sim.purchase_rate[k]:.6g}",
                "p_dropout": f"{sim.dropout[k]:.6g}",
                "nu": f"{sim.spend_rate[k]:.6g}",
                "mean_spend_yuan": f"{plan.params.p / sim.spend_rate[k]:.2f}",
                "alive_at_end": int(sim.alive_at_end[k]),
                "death_at": ""
                if np.isnan(sim.death_day[k])
                else _day_to_iso(plan, float(sim.death_day[k])),
                "exposure_weeks": f"{(plan.days - sim.birth_day[k]) / 7:.4f}",
                "operational_exposure_weeks": f"{sim.operational_exposure[k]:.4f}",
                "repeat_purchases": int(repeats[k]),
            }
        rows.append(row)
    return rows


_BTYD_COLUMNS = (
    "birth_at",
    "lambda_per_week",
    "p_dropout",
    "nu",
    "mean_spend_yuan",
    "alive_at_end",
    "death_at",
    "exposure_weeks",
    "operational_exposure_weeks",
    "repeat_purchases",
)
TRUTH_COLUMNS = (
    "customer_no",
    "customer_id",
    "duplicate_customer_id",
    "segment",
    "prospect",
    *_BTYD_COLUMNS,
)


def _day_to_iso(plan: DemoPlan, day: float) -> str:
    """A fractional day of the window as a local-time ISO instant (BG/NBD's clock)."""
    whole = min(int(day), plan.days - 1)
    ts = plan.day_start_utc[whole] + (day - whole) * 86400
    return datetime.fromtimestamp(float(ts), ZONE).isoformat(timespec="seconds")


def built_end(data_dir: Path) -> date | None:
    """The last day of the demo built before in ``data_dir``, from its ground truth (None
    when there is none to read)."""
    truth = data_dir / "demo" / "truth.json"
    try:
        return date.fromisoformat(json.loads(truth.read_text(encoding="utf-8"))["calibration_end"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def truth_document(plan: DemoPlan, *, chunk_customers: int = CHUNK_CUSTOMERS) -> dict[str, Any]:
    festivals = [d.isoformat() for y, d in SPRING_FESTIVAL.items() if plan.start <= d <= plan.end]
    return {
        "seed": plan.seed,
        "customers": plan.customers,
        "lines_target": plan.lines,
        # The stream depends on the chunk size too: each chunk has its own random generator.
        "chunk_customers": chunk_customers,
        "calibration_start": plan.start.isoformat(),
        "calibration_end": plan.end.isoformat(),
        "timezone": str(ZONE),
        "time_unit": "week",
        "money_unit": "yuan",
        "bgnbd": {k: plan.params.as_dict()[k] for k in ("r", "alpha", "a", "b")},
        "gamma_gamma": {k: plan.params.as_dict()[k] for k in ("p", "q", "gamma")},
        "model": (
            "BG/NBD: λ ~ Gamma(r, rate α) per week; after each repeat purchase the customer "
            "drops out with p ~ Beta(a, b). Gamma-Gamma: ν ~ Gamma(q, rate γ); each order aims "
            "at z ~ Gamma(p, rate ν) yuan, filled with a basket to roughly that value."
        ),
        "seasonality": (
            "Purchases are thinned by a daily factor s(d) (weekday × Spring Festival), scaled "
            "to average 1 over the window, so the process is BG/NBD in operational time "
            "τ = ∫ s; operational_exposure_weeks is each buyer's exposure in τ. The first "
            "purchase (birth) is drawn with probability ∝ s(d)."
        ),
        "weekday_factor_mon_to_sun": WEEKDAY_FACTOR.tolist(),
        "spring_festivals_in_window": festivals,
        "prospect_share": PROSPECT_SHARE,
        "anonymous_share_of_store_orders": ANONYMOUS_SHARE,
        "duplicate_share_of_buyers": DUPLICATE_SHARE,
        "refund_share": REFUND_SHARE,
        "mean_lines_per_order": plan.mean_lines,
        "products": len(plan.catalogue),
    }
