"""What lifetime value adds to the customer 360° page: a panel with the expected purchases,
P(active) and CLV of the latest fit, and what drives them in plain words; and a value card.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rapport.analytics import clv_selectors
from rapport.analytics.models.clv import ClvFit, CustomerClv
from rapport.core import registry


def _weeks(value: float) -> str:
    weeks = round(value)
    if weeks < 1:
        return "less than a week"
    if weeks >= 104:
        return f"{value / 52.18:.1f} years"
    return f"{weeks} week{'s' if weeks != 1 else ''}"


def drivers(value: CustomerClv, fit: ClvFit) -> list[str]:
    """Why the model values this customer as it does, one sentence per driver."""
    days = value.frequency + 1
    silent = max(0.0, value.age - value.recency)
    lines = [
        f"Bought on {days} different day{'s' if days != 1 else ''} "
        f"({value.frequency} repeat purchase{'s' if value.frequency != 1 else ''}) "
        f"since their first purchase {_weeks(value.age)} before {fit.calibration_end:%d %b %Y}.",
    ]
    if value.frequency == 0:
        lines.append(
            "No repeat purchase yet: the model cannot tell whether they have left, so it "
            "counts them as active but expects only what a typical one-off buyer does."
        )
    else:
        every = value.recency / value.frequency if value.frequency else 0
        lines.append(
            f"Last purchase {_weeks(silent)} before the calibration end; they bought about "
            f"every {_weeks(every)} while active."
        )
        if value.p_alive < 0.5:
            lines.append("That silence is long for how often they used to buy: probably gone.")
        elif silent > 2 * every:
            lines.append("The silence is getting long for how often they used to buy.")
        lines.append(
            f"Spent {value.monetary:,.2f} {fit.currency} on average per repeat purchase day; "
            f"the model expects {value.expected_spend:,.2f} {fit.currency} per future "
            "purchase (own average pulled towards the average customer's, less so the "
            "more often they bought)."
        )
    return lines


_CACHE = "_rapport_clv_value"


def _lookup(customer: Any) -> tuple[CustomerClv | None, ClvFit | None]:
    """The customer's latest value and fit, read once per page for the panel and the card
    (one query for a valued customer, two otherwise)."""
    cached = getattr(customer, _CACHE, None)
    if cached is None:
        value = clv_selectors.latest_customer_value(customer_id=customer.pk)
        cached = (value, value.fit if value else clv_selectors.latest_fit())
        setattr(customer, _CACHE, cached)
    return cached


def customer_panel_context(*, actor: Any, customer: Any) -> dict[str, Any] | None:
    value, fit = _lookup(customer)
    if fit is None:  # nothing fitted yet: no panel (issue 17: no empty placeholders)
        return None
    return {
        "fit": fit,
        "value": value,
        "p_alive_pct": round(value.p_alive * 100) if value else None,
        "drivers": drivers(value, fit) if value and fit else [],
    }


def metric_value(*, actor: Any, customer: Any) -> registry.MetricValue | None:
    value, fit = _lookup(customer)
    if value is None or fit is None:
        return None
    amount = Decimal(value.clv)
    return registry.MetricValue(
        value=f"{amount:,.2f} {fit.currency}",
        hint=f"next {fit.horizon_weeks} weeks, {round(value.p_alive * 100)} % likely active",
    )
