"""Integer codes for the distinct values of a column: ``np.unique(values,
return_inverse=True)`` for the millions of member ids, order ids and days the nightly steps
code (basket rules, recommendations), without numpy 2's hash-based unique, which was most
of their time at chain scale (docs/operations.md).

- Whole numbers in a span not much wider than their count: a presence table, two passes
  over the rows and no sort.
- Numbers, times and texts already in order (an order-by-order read): one pass, no sort.
- Other numbers, times and texts: one stable argsort.
- Anything else (floats with fractions, objects): ``np.unique`` itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
_SORTABLE = "iuMmU"  # integers, datetimes, timedeltas, texts


def dense_codes(values: npt.ArrayLike) -> tuple[npt.NDArray[Any], IntArray]:
    """(the distinct values ascending, each value's index among them), as ``np.unique``
    with ``return_inverse=True`` gives them."""
    values = np.asarray(values)
    if not len(values):
        return values[:0].copy(), np.zeros(0, dtype=np.int64)
    if values.dtype.kind in "iuf":
        low, high = values.min(), values.max()
        whole = values.dtype.kind != "f" or (
            np.isfinite(low) and np.isfinite(high) and bool((values == np.floor(values)).all())
        )
        if whole and float(high) - float(low) <= max(4 * len(values), 1 << 16):
            offset = (values - low).astype(np.int64)
            present = np.zeros(int(float(high) - float(low)) + 1, dtype=np.bool_)
            present[offset] = True
            code_of = np.cumsum(present, dtype=np.int64) - 1
            return (np.flatnonzero(present) + low).astype(values.dtype), code_of[offset]
    if values.dtype.kind in _SORTABLE:
        in_order = bool((values[1:] >= values[:-1]).all())
        order = None if in_order else np.argsort(values, kind="stable")
        ranked = values if order is None else values[order]
        first = np.r_[True, ranked[1:] != ranked[:-1]]
        step = np.cumsum(first, dtype=np.int64) - 1
        if order is None:
            return ranked[first], step
        codes = np.empty(len(values), dtype=np.int64)
        codes[order] = step
        return ranked[first], codes
    uniques, inverse = np.unique(values, return_inverse=True)
    return uniques, inverse.ravel().astype(np.int64)
