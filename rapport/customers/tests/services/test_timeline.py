"""timeline_append_many: interaction_record's rules and events, for many entries at once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from rapport.core import outbox
from rapport.core.models import OutboxEvent
from rapport.customers.models import Channel, Interaction, InteractionKind
from rapport.customers.schemas import interaction_payload
from rapport.customers.services.timeline import TimelineEntry, timeline_append_many
from rapport.customers.tests.factories import person

pytestmark = pytest.mark.django_db


def test_appends_in_order_with_one_event_each(admin):
    ada, bob = person(admin), person(admin, "Bob", "Smith")
    OutboxEvent.objects.all().delete()
    when = dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC)
    saved = timeline_append_many(
        actor=admin,
        entries=[
            TimelineEntry(
                customer_id=ada.pk,
                kind=InteractionKind.ORDER,
                summary="  Order  #1 placed ",
                channel=Channel.WEB,
                occurred_at=when,
                source_type="commerce.order",
                source_id="1",
                data={"order_id": 1},
            ),
            TimelineEntry(customer_id=bob.pk, kind=InteractionKind.NOTE, summary="Called back"),
        ],
    )
    assert [i.pk for i in saved] == list(
        Interaction.objects.filter(pk__in=[i.pk for i in saved])
        .order_by("id")
        .values_list("pk", flat=True)
    )
    first = Interaction.objects.get(pk=saved[0].pk)
    assert (first.summary, first.occurred_at, first.actor_id) == ("Order #1 placed", when, admin.pk)
    assert (first.source_type, first.source_id, first.data) == (
        "commerce.order",
        "1",
        {"order_id": 1},
    )
    events = list(OutboxEvent.objects.filter(type="interaction.created").order_by("id"))
    assert [e.aggregate_id for e in events] == [str(ada.pk), str(bob.pk)]
    assert events[0].aggregate_type == "customers.customer"
    assert events[0].data == interaction_payload(first)


def test_one_bad_entry_writes_nothing(admin):
    ada = person(admin)
    before = (Interaction.objects.count(), OutboxEvent.objects.count())
    with pytest.raises(ValidationError) as caught:
        timeline_append_many(
            actor=admin,
            entries=[
                TimelineEntry(customer_id=ada.pk, kind=InteractionKind.NOTE, summary="fine"),
                TimelineEntry(customer_id=ada.pk, kind="telepathy", summary=" "),
            ],
        )
    assert set(caught.value.message_dict) == {"entries.1.kind", "entries.1.summary"}
    assert (Interaction.objects.count(), OutboxEvent.objects.count()) == before


@pytest.mark.django_db(transaction=True)
def test_a_failure_after_the_insert_rolls_the_entries_back(admin, monkeypatch):
    ada = person(admin)
    before = Interaction.objects.count()

    def broken(built):
        list(built)
        raise RuntimeError("outbox down")

    monkeypatch.setattr(outbox, "emit_many", broken)
    with pytest.raises(RuntimeError):
        timeline_append_many(
            actor=admin,
            entries=[TimelineEntry(customer_id=ada.pk, kind=InteractionKind.NOTE, summary="x")],
        )
    assert Interaction.objects.count() == before


def test_nothing_to_append(admin):
    assert timeline_append_many(actor=admin, entries=[]) == []
