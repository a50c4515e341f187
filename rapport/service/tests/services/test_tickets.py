"""The ticket services: what each writes (ticket, message, audit, outbox, timeline) and
what it does to the SLA clocks, with due times worked out by hand on a 9-17 calendar."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from freezegun import freeze_time

from rapport.core.errors import Conflict
from rapport.core.models import AuditLogEntry, OutboxEvent
from rapport.core.permissions import Scope
from rapport.customers.models import CustomerTag, Interaction, Tag
from rapport.service import services
from rapport.service.models import Message, StatusCategory, Ticket, TicketStatus
from rapport.service.services import MessageInput, TicketInput
from rapport.service.tests.factories import agent, customer_with_email, policy

pytestmark = pytest.mark.django_db
UTC = dt.UTC


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """December 2026: the 7th is a Monday."""
    return dt.datetime(2026, 12, day, hour, minute, tzinfo=UTC)


def status(category: str) -> TicketStatus:
    services.statuses_seed()
    return TicketStatus.objects.filter(category=category).first()  # type: ignore[return-value]


def events(type_: str) -> list[OutboxEvent]:
    return list(OutboxEvent.objects.filter(type=type_))


@pytest.fixture
def boss() -> Any:
    return agent(Scope.ALL)


@pytest.fixture
def customer() -> Any:
    return customer_with_email("ann@example.com")


def open_ticket(actor: Any, customer: Any, **kwargs: Any) -> Ticket:
    return services.ticket_create(
        actor=actor,
        data=TicketInput(customer_id=customer.pk, subject="Parcel missing", **kwargs),
        message=MessageInput(body_text="Where is it?", from_address="ann@example.com"),
    )


def test_ticket_create_writes_ticket_message_audit_event_and_timeline(
    boss: Any, customer: Any
) -> None:
    ticket = open_ticket(boss, customer, tags=["Delivery", "delivery", " VIP "])
    assert ticket.status.category == StatusCategory.OPEN
    assert ticket.tags == ["delivery", "vip"]
    assert ticket.messages.get().direction == "in"
    assert AuditLogEntry.objects.filter(
        object_type="service.ticket", object_id=str(ticket.pk)
    ).exists()
    assert len(events("ticket.created")) == 1 and len(events("message.received")) == 1
    kinds = set(Interaction.objects.filter(customer=customer).values_list("kind", flat=True))
    assert kinds == {"ticket", "email"}


def test_ticket_create_checks_input_and_access(customer: Any) -> None:
    viewer = agent(Scope.ALL, actions=("view",))
    with pytest.raises(PermissionDenied):
        open_ticket(viewer, customer)
    boss = agent(Scope.ALL)
    with pytest.raises(ValidationError) as err:
        services.ticket_create(
            actor=boss, data=TicketInput(customer_id=customer.pk, subject=" ", priority="asap")
        )
    assert set(err.value.message_dict) == {"subject", "priority"}
    own = agent(Scope.OWN)
    with pytest.raises(PermissionDenied):  # a customer they may not see
        open_ticket(own, customer)


@freeze_time(at(7, 10))
def test_sla_due_times_on_create(boss: Any, customer: Any) -> None:
    policy()
    ticket = open_ticket(boss, customer)
    # Monday 10:00: first response 1h -> 11:00; resolution 8h -> Tuesday 10:00.
    assert ticket.first_response_due == at(7, 11)
    assert ticket.resolution_due == at(8, 10)
    assert ticket.next_response_due is None
    assert ticket.sla_next_due == at(7, 11)


def test_sla_policy_by_priority_and_tier(boss: Any, customer: Any) -> None:
    general = policy(name="General", position=10)
    vip = policy(
        name="VIP urgent",
        position=0,
        priority="urgent",
        customer_tag="vip",
        calendar=general.calendar,
    )
    assert open_ticket(boss, customer, priority="urgent").sla_policy == general
    CustomerTag.objects.create(customer=customer, tag=Tag.objects.create(name="vip"))
    ticket = open_ticket(boss, customer, priority="urgent")
    assert ticket.sla_policy == vip
    updated = services.ticket_update(actor=boss, ticket=ticket, data=TicketInput(priority="low"))
    assert updated.sla_policy == general


def test_ticket_update_refuses_a_stale_version(boss: Any, customer: Any) -> None:
    ticket = open_ticket(boss, customer)
    services.ticket_update(
        actor=boss,
        ticket=ticket,
        data=TicketInput(subject="Parcel lost"),
        expected_version=ticket.version,
    )
    with pytest.raises(Conflict):
        services.ticket_update(
            actor=boss,
            ticket=ticket,
            data=TicketInput(subject="x"),
            expected_version=ticket.version,
        )
    assert Ticket.objects.get(pk=ticket.pk).subject == "Parcel lost"
    assert len(events("ticket.updated")) == 1


def test_ticket_assign_emits_assigned(boss: Any, customer: Any) -> None:
    ticket = open_ticket(boss, customer)
    rep = agent(Scope.OWN)
    ticket = services.ticket_assign(actor=boss, ticket=ticket, owner_id=rep.pk)
    assert ticket.owner_id == rep.pk
    assert len(events("ticket.assigned")) == 1
    with pytest.raises(ValidationError):
        services.ticket_assign(actor=boss, ticket=ticket, owner_id=999_999)


def test_on_hold_pauses_the_clocks_and_resume_moves_them(boss: Any, customer: Any) -> None:
    policy()
    with freeze_time(at(7, 10)):
        ticket = open_ticket(boss, customer)  # first response due Mon 11:00, resolution Tue 10:00
    with freeze_time(at(7, 10, 30)):
        ticket = services.ticket_set_status(
            actor=boss, ticket=ticket, status_id=status("on_hold").pk
        )
    assert ticket.first_response_due is None and ticket.sla_next_due is None
    assert ticket.sla_remaining["first_response"] == 30 * 60
    with freeze_time(at(8, 9)):  # resumed Tuesday 09:00: 30 min left -> 09:30
        ticket = services.ticket_set_status(actor=boss, ticket=ticket, status_id=status("open").pk)
    assert ticket.first_response_due == at(8, 9, 30)
    # Resolution had 7h30 left at the pause -> Tuesday 09:00 + 7h30 = 16:30.
    assert ticket.resolution_due == at(8, 16, 30)
    assert len(events("ticket.status_changed")) == 2


def test_reply_meets_the_first_response_and_queues_the_mail(
    boss: Any, customer: Any, smtp: Any, django_capture_on_commit_callbacks: Any
) -> None:
    policy()
    with freeze_time(at(7, 10)):
        ticket = open_ticket(boss, customer)
    with freeze_time(at(7, 12)), django_capture_on_commit_callbacks(execute=True):  # an hour late
        message = services.ticket_reply(
            actor=boss, ticket=ticket, body="It is on its way.", expected_version=ticket.version
        )
    ticket.refresh_from_db()
    assert ticket.first_responded_at == at(7, 12) and ticket.first_response_breached
    assert ticket.first_response_due is None and ticket.sla_next_due == ticket.resolution_due
    message.refresh_from_db()
    assert message.delivery_status == "sent"
    assert smtp.to("ann@example.com")
    assert len(events("message.sent")) == 1


def test_reply_collision_is_refused(boss: Any, customer: Any, smtp: Any) -> None:
    ticket = open_ticket(boss, customer)
    seen = ticket.version
    other = agent(Scope.ALL)
    services.ticket_reply(actor=other, ticket=ticket, body="First!", expected_version=seen)
    with pytest.raises(Conflict):
        services.ticket_reply(actor=boss, ticket=ticket, body="Me too", expected_version=seen)
    assert Message.objects.filter(ticket=ticket, direction="out").count() == 1
    with pytest.raises(ValidationError):
        services.ticket_reply(actor=boss, ticket=ticket, body="  ")


def test_reply_can_set_pending_which_pauses(boss: Any, customer: Any, smtp: Any) -> None:
    policy()
    ticket = open_ticket(boss, customer)
    services.ticket_reply(
        actor=boss, ticket=ticket, body="Which address?", status_id=status("waiting_on_customer").pk
    )
    ticket.refresh_from_db()
    assert ticket.status_category == "waiting_on_customer"
    assert ticket.sla_paused_at is not None and ticket.resolution_due is None


def test_note_is_internal_and_changes_no_version(boss: Any, customer: Any) -> None:
    ticket = open_ticket(boss, customer)
    note = services.ticket_add_note(actor=boss, ticket=ticket, body="Called the carrier.")
    assert note.direction == "internal" and note.channel == "note"
    assert Ticket.objects.get(pk=ticket.pk).version == ticket.version
    assert len(events("message.note_added")) == 1


def test_customer_message_reopens_and_starts_next_response(
    boss: Any, customer: Any, smtp: Any
) -> None:
    policy()
    with freeze_time(at(7, 10)):
        ticket = open_ticket(boss, customer)
        services.ticket_reply(
            actor=boss, ticket=ticket, body="Solved, I think.", status_id=status("solved").pk
        )
    ticket.refresh_from_db()
    assert ticket.resolved_at is not None
    with freeze_time(at(7, 14)):
        services.message_receive(
            actor=boss, ticket=ticket, data=MessageInput(body_text="No, still missing.")
        )
    ticket.refresh_from_db()
    assert ticket.status_category == "open" and ticket.resolved_at is None
    assert ticket.next_response_due == at(7, 16)  # 14:00 + 2h
    assert Ticket.objects.count() == 1


def test_merge_moves_messages_and_closes_the_source(boss: Any, customer: Any) -> None:
    first, second = open_ticket(boss, customer), open_ticket(boss, customer)
    target = services.ticket_merge(actor=boss, source=second, target=first)
    second.refresh_from_db()
    assert second.merged_into_id == first.pk and second.status_category == "closed"
    assert target.messages.filter(direction="in").count() == 2
    assert len(events("ticket.merged")) == 1
    services.message_receive(actor=boss, ticket=second, data=MessageInput(body_text="Again"))
    assert first.messages.filter(body_text="Again").exists()
    with pytest.raises(ValidationError):
        services.ticket_merge(actor=boss, source=first, target=first)
    other = open_ticket(boss, customer_with_email("bob@example.com"))
    with pytest.raises(ValidationError):
        services.ticket_merge(actor=boss, source=other, target=first)


def test_record_scope_on_writes(customer: Any) -> None:
    boss = agent(Scope.ALL)
    ticket = open_ticket(boss, customer)
    rep = agent(Scope.OWN)
    with pytest.raises(PermissionDenied):
        services.ticket_add_note(actor=rep, ticket=ticket, body="hi")
    services.ticket_assign(actor=boss, ticket=ticket, owner_id=rep.pk)
    ticket.refresh_from_db()
    assert services.ticket_add_note(actor=rep, ticket=ticket, body="mine now").pk


def test_statuses_seed_once() -> None:
    assert [s.category for s in services.statuses_seed()] == [c.value for c in StatusCategory]
    assert len(services.statuses_seed()) == 5
