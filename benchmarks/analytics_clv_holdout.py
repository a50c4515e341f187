"""Past the textbook: BG/NBD against a gradient-boosted purchase model on a time split of
the CDNOW sample, both predicting each customer's purchase days in the 13 weeks after the
calibration end (1997-10-01 to 1997-12-30), scored on what the customers then did.

- BG/NBD: fitted on the purchases to 1997-09-30, its conditional expectation for 13
  weeks.
- Gradient boosting (scikit-learn's HistGradientBoostingRegressor, Poisson loss): it
  needs labelled examples, so it learns on an earlier split inside the calibration
  period: features (frequency, recency, T, weeks since the last purchase, mean spend,
  CDs per purchase day) at 1997-07-01 and the purchase days in the 13 weeks after as the
  target; then it predicts from the same features at 1997-09-30. It sees the number of
  CDs, which BG/NBD does not use.

    .venv/bin/python -m benchmarks.analytics_clv_holdout
    DATABASE_URL=sqlite:////path/to/demo.sqlite3 \
        .venv/bin/python -m benchmarks.analytics_clv_holdout --demo

With `--demo` it does the same on the orders in the database (`rapport demo`'s), with
the holdout the 13 weeks up to today and orders per purchase day in place of CDs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
from pathlib import Path

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor

from rapport.analytics.clv import fitting, summary

DATA = Path(__file__).parents[1] / "rapport/analytics/tests/data/cdnow_sample.txt"
EPOCH = dt.date(1970, 1, 1)
WEEKS = 13


def _day(text: str) -> int:
    return (dt.date(int(text[:4]), int(text[4:6]), int(text[6:])) - EPOCH).days


def load() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    raw = np.loadtxt(DATA, dtype=str)
    cust = raw[:, 1].astype(int)
    day = np.array([_day(s) for s in raw[:, 2]])
    return cust, day, raw[:, 3].astype(float), raw[:, 4].astype(float)


def purchase_days(
    cust: np.ndarray, day: np.ndarray, lo: int, hi: int, ids: np.ndarray
) -> np.ndarray:
    """Distinct purchase days of each customer in ids with lo < day <= hi."""
    keep = (day > lo) & (day <= hi)
    pairs = np.unique(np.column_stack([cust[keep], day[keep]]), axis=0)
    counts = np.zeros(ids.max() + 1)
    np.add.at(counts, pairs[:, 0], 1)
    return counts[ids]


def features(cust, day, cds, amount, end: int) -> tuple[np.ndarray, fitting.Summary, np.ndarray]:
    ids, s = summary.summarise_transactions(cust, day, amount, calibration_end_day=end)
    keep = day <= end
    cds_total = np.bincount(cust[keep], weights=cds[keep], minlength=ids.max() + 1)[ids]
    per_day = cds_total / (s.frequency + 1)
    x = np.column_stack([s.frequency, s.recency, s.T, s.T - s.recency, s.monetary, per_day])
    return ids, s, x


def load_demo() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """The counted orders (not cancelled or returned) of the database, one row each."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rapport.config.settings")
    django.setup()
    from django.utils import timezone

    from rapport.commerce.models import NON_REVENUE_STATUSES, Order

    rows = list(
        Order.objects.exclude(status__in=NON_REVENUE_STATUSES).values_list(
            "customer_id", "ordered_at", "total"
        )
    )
    tz = timezone.get_current_timezone()
    cust = np.array([r[0] for r in rows])
    day = np.array([(r[1].astimezone(tz).date() - EPOCH).days for r in rows])
    amount = np.array([float(r[2]) for r in rows])
    today = (timezone.localdate() - EPOCH).days
    return cust, day, np.ones(len(rows)), amount, today - 7 * WEEKS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--demo", action="store_true")
    args = parser.parse_args()
    if args.demo:
        cust, day, cds, amount, end = load_demo()
        label = f"Demo orders: holdout {WEEKS} weeks to today"
    else:
        cust, day, cds, amount = load()
        end = (dt.date(1997, 9, 30) - EPOCH).days
        label = f"CDNOW: holdout {WEEKS} weeks after 1997-09-30"
    train_end = end - 7 * WEEKS
    ids, s, x_now = features(cust, day, cds, amount, end)
    actual = purchase_days(cust, day, end, end + 7 * WEEKS, ids)

    bg = fitting.fit_bgnbd(s)
    bg_pred = fitting.expected_purchases(bg, s, WEEKS)

    train_ids, _, x_then = features(cust, day, cds, amount, train_end)
    target = purchase_days(cust, day, train_end, end, train_ids)
    model = HistGradientBoostingRegressor(
        loss="poisson", max_iter=200, learning_rate=0.05, random_state=0
    )
    model.fit(x_then, target)
    gb_pred = model.predict(x_now)

    print(f"{label}; {len(ids):,} customers; {int(actual.sum()):,} purchase days happened")
    print(f"{'model':<22}{'MAE':>8}{'RMSE':>8}{'predicted total':>17}")
    for name, pred in (("BG/NBD", bg_pred), ("gradient boosting", gb_pred)):
        err = pred - actual
        print(
            f"{name:<22}{np.abs(err).mean():>8.4f}{np.sqrt((err**2).mean()):>8.4f}"
            f"{pred.sum():>17.1f}"
        )


if __name__ == "__main__":
    main()
