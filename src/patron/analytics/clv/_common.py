"""What the lifetime-value models share: array types, time units, input checks, grouping."""

from __future__ import annotations

import dataclasses
from functools import cached_property
from typing import Any, ClassVar, Literal, Protocol, Self

import numpy as np
import numpy.typing as npt

from patron.analytics.clv.warnings import ModelWarning
from patron.core.errors import InvalidInput

FloatArray = npt.NDArray[np.float64]


class LogParameters:
    """For a frozen dataclass of positive model parameters named in ``parameter_names``:
    the parameters as a dict, on the log scale the fits optimise, and back."""

    parameter_names: ClassVar[tuple[str, ...]]

    def parameters(self) -> dict[str, float]:
        return {name: float(getattr(self, name)) for name in self.parameter_names}

    def log_params(self) -> FloatArray:
        return np.log(np.array([getattr(self, n) for n in self.parameter_names], dtype=float))

    def with_log_params(self, theta: FloatArray) -> Self:
        values = {n: float(v) for n, v in zip(self.parameter_names, np.exp(theta), strict=True)}
        return dataclasses.replace(self, **values)  # type: ignore[type-var]


IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]

TimeUnit = Literal["days", "weeks"]
UNIT_DAYS: dict[str, float] = {"days": 1.0, "weeks": 7.0}
# An average Gregorian month, so that 12 months are exactly one year of 365.25 days.
DAYS_PER_MONTH = 365.25 / 12

# Below this many repeat customers the parameters are poorly determined (docs/architecture.md, Analytics).
FEW_REPEAT_CUSTOMERS = 50
# A population observed for less than this many days is "very young": a slow buyer and a
# customer who has left cannot be told apart yet.
YOUNG_POPULATION_DAYS = 90.0


def wsum(weights: npt.NDArray[Any], values: npt.NDArray[Any]) -> float:
    """Σ weights·values without BLAS: OpenBLAS's own threads fight RowPool's (2× slower)."""
    return float(np.add.reduce(weights * values))


def unit_days(unit: str) -> float:
    """Days in one model time unit; an unknown unit is an input error naming ``unit``."""
    try:
        return UNIT_DAYS[unit]
    except KeyError:
        raise InvalidInput("unit", f"must be one of {sorted(UNIT_DAYS)}, not {unit!r}") from None


def as_float_array(field: str, values: Any) -> FloatArray:
    """A finite, one-dimensional float64 array, or an error naming ``field`` and the row."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(field, f"must be numbers ({exc})") from None
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim != 1:
        raise InvalidInput(field, f"must be one-dimensional, got shape {array.shape}")
    bad = ~np.isfinite(array)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InvalidInput(field, f"must be finite; row {row} is {array[row]}", row=row)
    return array


def _first_bad(field: str, bad: BoolArray, message: str, values: FloatArray) -> None:
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InvalidInput(field, f"{message}; row {row} is {values[row]}", row=row)


def check_histories(
    frequency: Any, recency: Any, age: Any
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Validate (x, t_x, T) per customer: same length, finite, 0 ≤ t_x ≤ T, whole x ≥ 0.

    ``frequency`` x is the number of repeat purchases in calibration, ``recency`` t_x the
    time of the last one and ``age`` T the time observed, both from the first purchase.
    A customer without repeat purchases must have recency 0.
    """
    x = as_float_array("frequency", frequency)
    t_x = as_float_array("recency", recency)
    t_age = as_float_array("age", age)
    if not len(x) == len(t_x) == len(t_age):
        raise InvalidInput(
            "recency" if len(t_x) != len(x) else "age",
            f"needs one value per customer: frequency has {len(x)}, "
            f"recency {len(t_x)}, age {len(t_age)}",
        )
    _first_bad("frequency", x < 0, "must be ≥ 0", x)
    _first_bad("frequency", x != np.floor(x), "must be a whole number of purchases", x)
    _first_bad("recency", t_x < 0, "must be ≥ 0", t_x)
    _first_bad("age", t_age < 0, "must be ≥ 0", t_age)
    # A tolerance of one part in 10^9 absorbs rounding in callers' unit conversions.
    _first_bad("recency", t_x > t_age * (1 + 1e-9) + 1e-12, "must not exceed age (t_x ≤ T)", t_x)
    _first_bad("recency", (x == 0) & (t_x != 0), "must be 0 when frequency is 0", t_x)
    return x, np.minimum(t_x, t_age), t_age


def check_horizon(field: str, horizon: Any) -> FloatArray:
    """Horizons as a finite, non-negative 1-D array."""
    values = as_float_array(field, horizon)
    _first_bad(field, values < 0, "must be ≥ 0", values)
    return values


def _mix64(z: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """SplitMix64's finaliser: a bijective scramble of 64-bit words (wraps on purpose)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


# Up to this many rows ``group_rows`` sorts its hashes by their leading bits with the row's
# index in the others: two different rows share 44 leading bits with a chance below 3 %.
_PREFIX_ROWS = 1 << 20


def _sorted_by_prefix(key: npt.NDArray[np.uint64]) -> tuple[npt.NDArray[np.intp], Any, bool]:
    """(order, the hashes' leading bits in that order, whether they are only the leading
    bits) for ``group_rows``: for up to _PREFIX_ROWS rows each hash's leading bits with its
    row's index in the trailing ones, sorted as plain integers (NumPy's vectorised sort:
    about a third of an argsort's time); otherwise an argsort of the whole hashes."""
    n = len(key)
    if n > _PREFIX_ROWS:
        order = np.argsort(key)
        return order, key[order], False
    bits = max(1, (n - 1).bit_length())
    low = np.uint64((1 << bits) - 1)
    packed = key & ~low
    packed |= np.arange(n, dtype=np.uint64)
    packed.sort()
    order = (packed & low).astype(np.intp)
    packed >>= np.uint64(bits)
    return order, packed, True


def group_rows(*columns: FloatArray) -> tuple[tuple[FloatArray, ...], IntArray, FloatArray]:
    """The distinct rows of ``columns`` with, per input row, its group and, per group, a count.

    The models' likelihoods depend on a customer only through (x, t_x, T), so evaluating
    them once per distinct row, weighted by its count, is exact and much cheaper when
    purchase dates are whole days. Rows are grouped by sorting a 64-bit hash of their bit
    patterns (an unstable sort of one integer key: ~5× faster than a three-key lexsort on
    a million rows), and the grouping is then checked exactly: if two different rows ever
    share a hash, the lexsort is used instead. Groups come out in hash order.
    """
    n = len(columns[0])
    if n == 0:
        empty = tuple(np.empty(0) for _ in columns)
        return empty, np.empty(0, dtype=np.intp), np.empty(0)
    key = np.zeros(n, dtype=np.uint64)
    for column in columns:
        key = _mix64(key ^ np.ascontiguousarray(column, dtype=np.float64).view(np.uint64))
    order, sorted_key, prefix_only = _sorted_by_prefix(key)
    ordered = [column[order] for column in columns]
    starts = np.empty(n, dtype=bool)
    starts[0] = True
    starts[1:] = sorted_key[1:] != sorted_key[:-1]
    same = np.ones(n - 1, dtype=bool)
    for column in ordered:
        same &= column[1:] == column[:-1]
    if prefix_only and (~starts[1:] & ~same).any():
        # Two different rows share the hash's leading bits: the whole hash decides.
        order = np.argsort(key)
        ordered = [column[order] for column in columns]
        sorted_key = key[order]
        starts[1:] = sorted_key[1:] != sorted_key[:-1]
        same = np.ones(n - 1, dtype=bool)
        for column in ordered:
            same &= column[1:] == column[:-1]
    if (~starts[1:] & ~same).any():  # a hash collision: fall back to the exact lexsort
        order = np.lexsort(columns[::-1])
        ordered = [column[order] for column in columns]
        starts[1:] = False
        for column in ordered:
            starts[1:] |= column[1:] != column[:-1]
    group_sorted = np.cumsum(starts) - 1
    inverse = np.empty(n, dtype=np.intp)
    inverse[order] = group_sorted
    first = np.flatnonzero(starts)
    counts = np.diff(np.append(first, n)).astype(np.float64)
    return tuple(column[first] for column in ordered), inverse, counts


class Histories:
    """Validated (x, t_x, T) with groupings computed once and reused across parameters.

    Predictions regroup nothing when given a Histories: value.py evaluates a model at nine
    parameter vectors (the delta method) on the same customers. ``extras`` holds
    model-specific structures derived from the data alone (never from parameters).
    """

    def __init__(self, frequency: Any, recency: Any, age: Any) -> None:
        self.x, self.t_x, self.t_age = check_histories(frequency, recency, age)
        self.extras: dict[str, Any] = {}

    def __len__(self) -> int:
        return len(self.x)

    @cached_property
    def triples(self) -> tuple[tuple[FloatArray, ...], IntArray, FloatArray]:
        """Distinct (x, t_x, T), the group of each customer, and the count of each."""
        return group_rows(self.x, self.t_x, self.t_age)

    @cached_property
    def distinct_ages(self) -> tuple[FloatArray, IntArray]:
        """Distinct T and the index of each customer's T among them."""
        values, inverse = np.unique(self.t_age, return_inverse=True)
        return values, inverse

    @cached_property
    def ages(self) -> tuple[tuple[FloatArray, ...], IntArray, FloatArray]:
        """Distinct (x, T), the group of each customer, and the count of each."""
        return group_rows(self.x, self.t_age)


def observed_days(age: FloatArray, weights: FloatArray, unit: str) -> float:
    """The longest time any customer has been observed, in days (0 for no customers)."""
    if len(age) == 0 or not (weights > 0).any():
        return 0.0
    return float(age[weights > 0].max()) * unit_days(unit)


def population_warnings(
    x: FloatArray, age: FloatArray, weights: FloatArray, unit: str
) -> list[ModelWarning]:
    """Messages about populations the purchase models cannot read well (docs/architecture.md, Analytics)."""
    messages: list[ModelWarning] = []
    repeaters = float(weights[x > 0].sum())
    if repeaters == 0:
        messages.append(
            ModelWarning(
                "no_repeat_customers",
                "No customer made a repeat purchase in the calibration period: the model can "
                "only say that repeat purchases are rare; P(alive) and expected purchases are "
                "close to their floor and are not informative.",
            )
        )
    elif repeaters < FEW_REPEAT_CUSTOMERS:
        messages.append(
            ModelWarning(
                "few_repeat_customers",
                f"Only {repeaters:.0f} customers made a repeat purchase (fewer than "
                f"{FEW_REPEAT_CUSTOMERS}): the parameters are poorly determined; treat "
                "individual predictions as rough and read them with their intervals.",
                customers=round(repeaters),
                minimum=FEW_REPEAT_CUSTOMERS,
            )
        )
    days = observed_days(age, weights, unit)
    if 0 < days < YOUNG_POPULATION_DAYS:
        messages.append(
            ModelWarning(
                "young_population",
                f"The oldest customer has been observed for only {days:.0f} days (less than "
                f"{YOUNG_POPULATION_DAYS:.0f}): a slow buyer and a customer who has left cannot "
                "be told apart yet, so P(alive) and long-horizon forecasts are uncertain.",
                days=round(days),
                minimum=round(YOUNG_POPULATION_DAYS),
            )
        )
    return messages


class PurchaseModel(Protocol):
    """What validation and CLV need from a purchase model (BG/NBD or Pareto/NBD)."""

    @property
    def name(self) -> str: ...

    @property
    def unit(self) -> TimeUnit: ...

    def parameters(self) -> dict[str, float]: ...

    def log_params(self) -> FloatArray: ...

    def with_log_params(self, theta: FloatArray) -> PurchaseModel: ...

    def p_alive(self, frequency: Any, recency: Any, age: Any) -> FloatArray: ...

    def expected_purchases(
        self, horizon: float, frequency: Any, recency: Any, age: Any
    ) -> FloatArray: ...

    def expected_purchases_path(
        self, horizons: Any, frequency: Any, recency: Any, age: Any
    ) -> FloatArray: ...

    def expected_purchases_path_of(
        self, horizons: FloatArray, histories: Histories
    ) -> FloatArray: ...

    def expected_purchases_split(
        self, horizons: FloatArray, histories: Histories
    ) -> tuple[FloatArray, FloatArray, IntArray]: ...
