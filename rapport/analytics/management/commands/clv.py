"""`rapport clv`: fit the lifetime value models on the orders up to a date and print the
parameters and every customer's predictions (nothing is stored; the nightly task stores)."""

from __future__ import annotations

import datetime as dt
import json
import math
from argparse import ArgumentTypeError
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from rapport.core.cli import BadInput

# The models (NumPy, SciPy) are imported in handle(): this module is loaded before Django
# sets up, to check the arguments at once (see rapport.config.cli).


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ArgumentTypeError(f"invalid date {text!r}: use YYYY-MM-DD") from None


def _weeks(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ArgumentTypeError(f"invalid number of weeks {text!r}: use a whole number") from None
    if not 1 <= value <= 520:
        raise ArgumentTypeError(f"the horizon must be 1 to 520 weeks, got {text}")
    return value


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ArgumentTypeError(f"invalid rate {text!r}: use a number such as 0.1") from None
    if not (math.isfinite(value) and 0 <= value <= 1):
        raise ArgumentTypeError(f"the discount rate is a yearly rate from 0 to 1, got {text}")
    return value


def _round(value: float, places: int = 6) -> float:
    return round(float(value), places)


class Command(BaseCommand):
    help = (
        "Fit BG/NBD (purchases) and Gamma-Gamma (spend) on the orders up to a date and print "
        "the parameters and each customer's frequency, recency, T, monetary value, "
        "probability alive, expected purchases and discounted lifetime value."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--calibration-end",
            type=_date,
            required=True,
            help="Last day of orders the models learn from (YYYY-MM-DD).",
        )
        parser.add_argument(
            "--horizon-weeks",
            type=_weeks,
            default=52,
            help="Weeks after the calibration end that expected purchases and CLV cover (52).",
        )
        parser.add_argument(
            "--discount-rate",
            type=_rate,
            default=0.10,
            help="Yearly discount rate of the lifetime value (0-1, default 0.1).",
        )
        parser.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        from rapport.analytics import clv_services
        from rapport.analytics.clv.fitting import ClvFitError
        from rapport.customers.models import Customer

        try:
            done = clv_services.compute(
                calibration_end=options["calibration_end"],
                horizon_weeks=options["horizon_weeks"],
                discount_rate=options["discount_rate"],
            )
        except ClvFitError as exc:
            raise BadInput(str(exc)) from exc
        f, res = done.features, done.result
        ids = f.customer_ids.tolist()
        external: dict[int, str] = {}
        for start in range(0, len(ids), 10_000):
            chunk = ids[start : start + 10_000]
            for pk, ext in Customer.objects.filter(pk__in=chunk).values_list("id", "external_id"):
                external[pk] = ext or str(pk)
        s = f.summary
        customers: list[dict[str, Any]] = [
            {
                "external_id": external.get(pk, str(pk)),
                "frequency": int(s.frequency[i]),
                "recency": _round(s.recency[i]),
                "T": _round(s.T[i]),
                "monetary": _round(s.monetary[i], 2),
                "p_alive": _round(res.p_alive[i]),
                "expected_purchases": _round(res.expected_purchases[i]),
                "clv": _round(res.clv[i], 2),
            }
            for i, pk in enumerate(ids)
        ]
        bg, gg = res.bgnbd, res.gamma_gamma
        payload = {
            "bgnbd": {
                "r": bg.r,
                "alpha": bg.alpha,
                "a": bg.a,
                "b": bg.b,
                "log_likelihood": bg.log_likelihood,
            },
            "gamma_gamma": {"p": gg.p, "q": gg.q, "gamma": gg.gamma},
            "customers": customers,
        }
        if options["json"]:
            self.stdout.write(json.dumps(payload))
            return
        self.stdout.write(
            f"BG/NBD r={bg.r:.4f} alpha={bg.alpha:.4f} a={bg.a:.4f} b={bg.b:.4f} "
            f"(log-likelihood {bg.log_likelihood:.1f}); Gamma-Gamma p={gg.p:.4f} q={gg.q:.4f} "
            f"gamma={gg.gamma:.4f}"
        )
        total = float(res.clv.sum())
        self.stdout.write(
            f"{len(customers)} customers, customer equity {total:,.2f} {done.currency} over "
            f"{done.horizon_weeks} weeks at {done.discount_rate:.0%} a year."
        )
        for row in sorted(customers, key=lambda r: -r["clv"])[:10]:
            self.stdout.write(
                f"  {row['external_id']:<20} CLV {row['clv']:>12,.2f}  "
                f"P(alive) {row['p_alive']:.2f}  expected {row['expected_purchases']:.2f}"
            )
