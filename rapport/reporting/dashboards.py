"""The home dashboards: which one a user lands on, and the standard reports each starts
with (seeded as saved reports by `services.dashboards_seed`, so an administrator can
change them like any other report)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

REVENUE_STATUSES = ["pending", "paid", "fulfilled", "shipped", "delivered"]


@dataclass(frozen=True)
class Tile:
    dashboard: str
    position: int
    name: str
    description: str
    definition: dict[str, Any]


def _revenue_by_month(dashboard: str, position: int) -> Tile:
    return Tile(
        dashboard,
        position,
        "Revenue by month",
        "Order totals of the last twelve months, cancelled and returned orders left out.",
        {
            "source": "orders",
            "filters": [
                {"field": "status", "op": "in", "value": REVENUE_STATUSES},
                {"field": "ordered_at", "op": "last_days", "value": "365"},
            ],
            "groups": [{"field": "ordered_at", "bucket": "month"}],
            "measures": [{"fn": "sum", "field": "total"}, {"fn": "count"}],
            "chart": "bar",
        },
    )


def standard_tiles() -> list[Tile]:
    return [
        _revenue_by_month("management", 10),
        Tile(
            "management",
            20,
            "Customers by lifecycle stage",
            "Where customers stand today: subscribers, leads, customers, churned.",
            {"source": "customers", "groups": [{"field": "lifecycle_stage"}], "chart": "bar"},
        ),
        Tile(
            "management",
            30,
            "Orders by status",
            "Every order by its current status.",
            {"source": "orders", "groups": [{"field": "status"}], "chart": "pie"},
        ),
        _revenue_by_month("sales", 10),
        Tile(
            "sales",
            20,
            "Revenue by channel",
            "Where the last ninety days' orders came from.",
            {
                "source": "orders",
                "filters": [
                    {"field": "status", "op": "in", "value": REVENUE_STATUSES},
                    {"field": "ordered_at", "op": "last_days", "value": "90"},
                ],
                "groups": [{"field": "channel"}],
                "measures": [{"fn": "sum", "field": "total"}, {"fn": "count"}],
                "chart": "bar",
            },
        ),
        Tile(
            "sales",
            1,
            "Open pipeline by stage",
            "The amount of every open deal, stage by stage (filter by currency to compare).",
            {
                "source": "deals",
                "filters": [{"field": "status", "op": "eq", "value": "open"}],
                "groups": [{"field": "stage"}],
                "measures": [{"fn": "sum", "field": "amount"}, {"fn": "count"}],
                "chart": "bar",
            },
        ),
        Tile(
            "sales",
            2,
            "Won deals by month",
            "Deals won in each of the last twelve months and their amounts.",
            {
                "source": "deals",
                "filters": [
                    {"field": "status", "op": "eq", "value": "won"},
                    {"field": "closed_at", "op": "last_days", "value": "365"},
                ],
                "groups": [{"field": "closed_at", "bucket": "month"}],
                "measures": [{"fn": "sum", "field": "amount"}, {"fn": "count"}],
                "chart": "bar",
            },
        ),
        Tile(
            "service",
            1,
            "Open tickets by queue and priority",
            "The backlog: every ticket not solved or closed.",
            {
                "source": "tickets",
                "filters": [
                    {
                        "field": "status_category",
                        "op": "in",
                        "value": ["open", "waiting_on_customer", "on_hold"],
                    }
                ],
                "groups": [{"field": "queue"}, {"field": "priority"}],
                "chart": "bar",
            },
        ),
        Tile(
            "service",
            2,
            "Tickets created by week",
            "New tickets over the last ninety days, and how many breached their resolution target.",
            {
                "source": "tickets",
                "filters": [{"field": "created_at", "op": "last_days", "value": "90"}],
                "groups": [
                    {"field": "created_at", "bucket": "week"},
                    {"field": "resolution_breached"},
                ],
                "chart": "bar",
            },
        ),
        Tile(
            "service",
            10,
            "Conversations by channel",
            "E-mails, calls and chats on the timeline over the last ninety days.",
            {
                "source": "interactions",
                "filters": [
                    {"field": "kind", "op": "in", "value": ["email", "call", "chat", "ticket"]},
                    {"field": "occurred_at", "op": "last_days", "value": "90"},
                ],
                "groups": [{"field": "occurred_at", "bucket": "week"}, {"field": "kind"}],
                "chart": "bar",
            },
        ),
        Tile(
            "marketing",
            10,
            "Customers by source",
            "Where customers came from.",
            {"source": "customers", "groups": [{"field": "source"}], "chart": "bar"},
        ),
        Tile(
            "marketing",
            20,
            "New customers by month",
            "Customers created in each of the last twelve months, by lifecycle stage.",
            {
                "source": "customers",
                "filters": [{"field": "created_at", "op": "last_days", "value": "365"}],
                "groups": [
                    {"field": "created_at", "bucket": "month"},
                    {"field": "lifecycle_stage"},
                ],
                "chart": "bar",
            },
        ),
    ]


# What each dashboard says about what it cannot show yet.
NOTES: dict[str, str] = {
    "sales": "Forecasts and quotas are not built yet: the sales dashboard shows the open "
    "pipeline, won deals and revenue.",
    "service": "SLA attainment over time is not charted yet: the backlog tile shows open "
    "tickets; the breach report lists the breaches.",
}


def dashboard_for(user: Any) -> str:
    """The dashboard a user lands on, from their role's name; administrators and roles
    no function claims land on management's."""
    role = getattr(user, "role", None)
    name = (role.name if role is not None else "").lower()
    if getattr(user, "is_admin", False):
        return "management"
    for key, words in (
        ("sales", ("sales", "account")),
        ("service", ("service", "support", "agent")),
        ("marketing", ("marketing", "campaign")),
    ):
        if any(word in name for word in words):
            return key
    return "management"
