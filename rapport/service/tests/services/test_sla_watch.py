"""The SLA watch: warnings before due, breaches after, escalation by the policy's rule."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from freezegun import freeze_time

from rapport.core.models import OutboxEvent
from rapport.core.permissions import Scope
from rapport.service import services
from rapport.service.models import Queue, Ticket
from rapport.service.services import MessageInput, TicketInput
from rapport.service.tests.factories import agent, customer_with_email, policy

pytestmark = pytest.mark.django_db


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 12, day, hour, minute, tzinfo=dt.UTC)


def test_warn_then_breach_then_escalate() -> None:
    lead = agent(Scope.ALL)
    escalations = Queue.objects.create(name="Escalations")
    policy(escalate_to=lead, escalate_queue=escalations)  # first response 60 min, warn 30
    boss = agent(Scope.ALL)
    with freeze_time(at(7, 10)):
        ticket = services.ticket_create(
            actor=boss,
            data=TicketInput(customer_id=customer_with_email("a@example.com").pk, subject="Help"),
            message=MessageInput(body_text="Please"),
        )
    version = ticket.version
    assert services.sla_check_breaches(now=at(7, 10, 20)).warned == 0
    result = services.sla_check_breaches(now=at(7, 10, 35))
    assert result.warned == 1
    assert services.sla_check_breaches(now=at(7, 10, 40)).warned == 0  # warned once
    ticket.refresh_from_db()
    assert ticket.version == version  # a warning is no collision for an agent
    result = services.sla_check_breaches(now=at(7, 11, 1))
    assert (result.breached, result.escalated) == (1, 1)
    ticket = Ticket.objects.get(pk=ticket.pk)
    assert ticket.first_response_breached and ticket.owner_id == lead.pk
    assert ticket.queue_id == escalations.pk
    # The next target (resolution, Tuesday 10:00) is what the watch looks at now.
    assert ticket.sla_next_due == at(8, 10) and ticket.sla_warned_at is None
    assert OutboxEvent.objects.filter(type="ticket.sla_breached").count() == 1
    assert OutboxEvent.objects.filter(type="ticket.sla_warning").count() == 1
    assert services.sla_check_breaches(now=at(7, 12)).breached == 0


def test_paused_tickets_are_not_breached(django_assert_max_num_queries: Any) -> None:
    policy()
    boss = agent(Scope.ALL)
    with freeze_time(at(7, 10)):
        ticket = services.ticket_create(
            actor=boss,
            data=TicketInput(customer_id=customer_with_email("a@example.com").pk, subject="Help"),
        )
        hold = next(s for s in services.statuses_seed() if s.category == "on_hold")
        services.ticket_set_status(actor=boss, ticket=ticket, status_id=hold.pk)
    with django_assert_max_num_queries(4):  # savepoint pair, max warn, the due tickets
        assert services.sla_check_breaches(now=at(9, 10)).breached == 0
