"""From purchase days to the per-customer (frequency, recency, T, monetary) the models take.

The database does the same with GROUP BY (rapport.analytics.clv_features); this NumPy
version serves files (the CDNOW test, the benchmark) and states the definitions once:
- purchases count per distinct purchase day: a customer's orders on one day are one
  transaction, their totals summed;
- frequency = repeat purchase days (days after the first);
- recency = weeks from the first to the last purchase day;
- T = weeks from the first purchase day to the end of the calibration period;
- monetary = mean spend per repeat purchase day (the first day left out, as in Fader,
  Hardie & Lee's CDNOW summary), 0 for customers without a repeat purchase.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rapport.analytics.clv.fitting import Summary, as_summary


def summarise_days(
    first_day: ArrayLike,
    last_day: ArrayLike,
    days: ArrayLike,
    total_spend: ArrayLike,
    first_day_spend: ArrayLike,
    *,
    calibration_end_day: int,
) -> Summary:
    """Per-customer day aggregates (day numbers, e.g. days since 1970) to a Summary.

    `days` is the number of distinct purchase days, `total_spend` the spend over all of
    them and `first_day_spend` the first day's: what one GROUP BY returns.
    """
    first = np.asarray(first_day, dtype=np.float64)
    last = np.asarray(last_day, dtype=np.float64)
    n_days = np.asarray(days, dtype=np.float64)
    frequency = n_days - 1
    repeat_spend = np.asarray(total_spend, dtype=np.float64) - np.asarray(
        first_day_spend, dtype=np.float64
    )
    monetary = np.divide(repeat_spend, frequency, out=np.zeros_like(frequency), where=frequency > 0)
    return as_summary(
        frequency,
        (last - first) / 7.0,
        (calibration_end_day - first) / 7.0,
        np.maximum(monetary, 0.0),
    )


def summarise_transactions(
    customer: ArrayLike, day: ArrayLike, amount: ArrayLike, *, calibration_end_day: int
) -> tuple[NDArray[np.int64], Summary]:
    """Transactions (customer id, day number, amount) up to and including the calibration
    end day to (customer ids in ascending order, their Summary)."""
    cust = np.asarray(customer, dtype=np.int64)
    d = np.asarray(day, dtype=np.int64)
    amt = np.asarray(amount, dtype=np.float64)
    keep = d <= calibration_end_day
    cust, d, amt = cust[keep], d[keep], amt[keep]
    # One row per (customer, day) with that day's spend summed.
    pairs, inverse = np.unique(np.column_stack([cust, d]), axis=0, return_inverse=True)
    day_spend = np.bincount(inverse.ravel(), weights=amt, minlength=len(pairs))
    ids, start, n_days = np.unique(pairs[:, 0], return_index=True, return_counts=True)
    end = start + n_days - 1
    total = np.add.reduceat(day_spend, start) if len(start) else np.zeros(0)
    return ids, summarise_days(
        pairs[start, 1],
        pairs[end, 1],
        n_days,
        total,
        day_spend[start],
        calibration_end_day=calibration_end_day,
    )
