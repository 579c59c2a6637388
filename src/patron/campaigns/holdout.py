"""The holdout draw: each customer's group from a hash of the campaign's stored seed and the
customer's id, so the same seed draws the same groups again (reproducible), whatever order
the audience comes in, and before any check of consent or reachability (customers are
analysed by the group they were assigned to)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
BUCKETS = 10_000  # basis points


def buckets(customer_ids: Sequence[int] | np.ndarray, seed: int) -> np.ndarray:
    """Each customer's bucket in 0..9999 (splitmix64 of seed and id)."""
    x = np.asarray(customer_ids, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = x * _GOLDEN + np.uint64(seed & 0xFFFFFFFFFFFFFFFF)
        x = (x ^ (x >> np.uint64(30))) * _M1
        x = (x ^ (x >> np.uint64(27))) * _M2
        x = x ^ (x >> np.uint64(31))
    return (x % np.uint64(BUCKETS)).astype(np.int64)


def held_out(customer_ids: Sequence[int] | np.ndarray, *, seed: int, holdout_bp: int) -> np.ndarray:
    """True for each customer drawn into the holdout (``holdout_bp`` of 10,000 buckets)."""
    return buckets(customer_ids, seed) < holdout_bp
