"""Tickets as a report source: the report builder, the service dashboard's backlog tiles
and their drill-downs count tickets through the record-scoped `ticket_list`."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from rapport.core import registry
from rapport.core.registry import ReportField
from rapport.service import selectors
from rapport.service.models import Priority, StatusCategory, Ticket, TicketType


def _choices(choices: Any) -> tuple[tuple[str, str], ...]:
    return tuple((str(value), str(label)) for value, label in choices.choices)


def tickets(*, actor: Any) -> QuerySet[Ticket]:
    return selectors.ticket_list(actor=actor)


def register() -> None:
    registry.add_report_source(
        registry.ReportSource(
            name="tickets",
            label="Tickets",
            object_type="service.ticket",
            queryset=tickets,
            dimensions=(
                ReportField("status", "Status", "status__name", "category"),
                ReportField(
                    "status_category",
                    "Status group",
                    "status_category",
                    "category",
                    _choices(StatusCategory),
                ),
                ReportField("priority", "Priority", "priority", "category", _choices(Priority)),
                ReportField("type", "Type", "type", "category", _choices(TicketType)),
                ReportField("queue", "Queue", "queue__name", "category"),
                ReportField("channel", "Channel", "channel", "category"),
                ReportField("assignee", "Assignee", "owner__email", "category"),
                ReportField("team", "Team", "team__name", "category"),
                ReportField(
                    "customer_country", "Customer country", "customer__country", "category"
                ),
                ReportField(
                    "resolution_breached", "Resolution breached", "resolution_breached", "boolean"
                ),
                ReportField("created_at", "Created", "created_at", "date"),
                ReportField("resolved_at", "Resolved", "resolved_at", "date"),
            ),
            record_url=lambda ticket: ticket.get_absolute_url(),
            record_title=lambda ticket: f"#{ticket.pk} {ticket.subject}",
            columns=("status", "priority", "queue", "created_at"),
            order=50,
        )
    )
