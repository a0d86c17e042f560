"""Per-customer purchase summaries, the BTYD models' input (re-exported by `ml.clv`)."""

from dataclasses import dataclass

import numpy as np

SUMMARY_COLUMNS = ("frequency", "recency", "age", "monetary_value")


@dataclass(frozen=True, kw_only=True)
class PurchaseSummary:
    """One row per customer, in `customer_id` order; times in days (or the unit the source used)."""

    customer_id: np.ndarray
    frequency: np.ndarray
    recency: np.ndarray
    age: np.ndarray
    monetary_value: np.ndarray

    def __len__(self) -> int:
        return len(self.customer_id)

    def matrix(self) -> np.ndarray:
        """The models' input: columns in `SUMMARY_COLUMNS` order."""
        return np.column_stack([self.frequency, self.recency, self.age, self.monetary_value])


def summarize_purchases(
    customer_ids: np.ndarray, days: np.ndarray, values: np.ndarray, *, cutoff: np.datetime64 | str
) -> PurchaseSummary:
    """Per-customer frequency, recency, age and mean repeat value from purchases up to `cutoff` (inclusive).

    Purchases on the same day are one purchase worth their sum, and the first purchase
    is not a repeat: both as in the literature, where a customer's first day starts
    their clock. `days` is anything numpy reads as datetime64[D]: turn time-zone-aware
    timestamps into the business's local dates first, since a day's edge is its choice.
    Customers whose first purchase is after `cutoff` are not in the summary.
    """
    ids = np.asarray(customer_ids)
    day = np.asarray(days, dtype="datetime64[D]")
    value = np.asarray(values, dtype=float)
    if not len(ids) == len(day) == len(value):
        raise ValueError("customer_ids, days and values must have the same length")
    if not np.isfinite(value).all() or np.isnat(day).any():
        raise ValueError("every purchase needs a date and a finite value")
    end = np.datetime64(cutoff, "D")
    known = day <= end
    customers, code = np.unique(ids[known], return_inverse=True)
    offset = (day[known] - end).astype(np.int64)  # days before the cut-off, <= 0
    value = value[known]
    if len(customers) == 0:
        empty = np.zeros(0)
        return PurchaseSummary(
            customer_id=customers, frequency=empty, recency=empty, age=empty, monetary_value=empty
        )
    order = np.lexsort((offset, code))
    code, offset, value = code[order], offset[order], value[order]
    # one purchase day per (customer, day): its value is the day's total
    starts = np.flatnonzero(np.r_[True, (code[1:] != code[:-1]) | (offset[1:] != offset[:-1])])
    day_code, day_offset, day_value = code[starts], offset[starts], np.add.reduceat(value, starts)
    first = np.r_[True, day_code[1:] != day_code[:-1]]
    first_at = np.flatnonzero(first)
    purchase_days = np.diff(np.r_[first_at, len(day_code)])
    frequency = (purchase_days - 1).astype(float)
    repeat_total = np.add.reduceat(np.where(first, 0.0, day_value), first_at)
    return PurchaseSummary(
        customer_id=customers,
        frequency=frequency,
        recency=(day_offset[first_at + purchase_days - 1] - day_offset[first_at]).astype(float),
        age=-day_offset[first_at].astype(float),
        monetary_value=np.divide(
            repeat_total, frequency, out=np.zeros_like(repeat_total), where=frequency > 0
        ),
    )


def count_purchase_days(
    customer_ids: np.ndarray,
    days: np.ndarray,
    *,
    customers: np.ndarray,
    after: np.datetime64 | str,
    until: np.datetime64 | str,
) -> np.ndarray:
    """For each of `customers`, the number of distinct purchase days in (after, until]: a holdout's truth."""
    ids = np.asarray(customer_ids)
    day = np.asarray(days, dtype="datetime64[D]")
    inside = (day > np.datetime64(after, "D")) & (day <= np.datetime64(until, "D"))
    wanted = np.asarray(customers)
    if not inside.any():
        return np.zeros(len(wanted), dtype=np.int64)
    pairs = np.unique(np.rec.fromarrays([ids[inside], day[inside]]))
    buyers, counts = np.unique(pairs.f0, return_counts=True)
    at = np.minimum(np.searchsorted(buyers, wanted), len(buyers) - 1)
    return np.where(buyers[at] == wanted, counts[at], 0)
