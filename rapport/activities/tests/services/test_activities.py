"""The activity actions: each checks access, validates, writes, audits, emits and tells
the customer's timeline."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from rapport.activities.models import Activity
from rapport.activities.services import (
    ActivityInput,
    activity_cancel,
    activity_complete,
    activity_create,
    activity_delete,
    activity_reopen,
    activity_update,
    attendee_addresses,
    call_log,
)
from rapport.activities.tests.conftest import task
from rapport.commerce import services as commerce_services
from rapport.commerce.services import LineInput, OrderInput
from rapport.core.errors import Conflict
from rapport.core.models import AuditLogEntry, OutboxEvent
from rapport.customers.models import Interaction
from rapport.customers.timeline import group
from rapport.identity.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def events(activity: Activity) -> list[str]:
    return list(
        OutboxEvent.objects.filter(
            aggregate_type="activities.activity", aggregate_id=str(activity.pk)
        )
        .order_by("id")
        .values_list("type", flat=True)
    )


def entries(activity: Activity) -> list[Interaction]:
    return list(
        Interaction.objects.filter(
            source_type="activities.activity", source_id=str(activity.pk)
        ).order_by("id")
    )


def test_create_files_a_task_on_the_customer_timeline_with_audit_and_event(world) -> None:
    customer = world.customers["north"]
    due = timezone.now() + dt.timedelta(days=1)
    activity = activity_create(
        actor=world.rep,
        data=ActivityInput(
            kind="task",
            subject="  Send the  proposal ",
            customer_id=customer.pk,
            due_at=due,
            priority=3,
        ),
    )
    assert activity.subject == "Send the proposal"
    assert activity.owner_id == world.rep.pk
    assert activity.team_id == world.rep.teams.get().pk
    assert activity.status == "open" and activity.priority == 3
    [entry] = entries(activity)
    assert entry.customer_id == customer.pk and entry.kind == "task"
    assert entry.summary == "Task planned: Send the proposal"
    assert entry.data["activity_id"] == activity.pk
    assert events(activity) == ["activity.created"]
    assert AuditLogEntry.objects.filter(
        object_type="activities.activity", object_id=str(activity.pk), action="create"
    ).exists()


def test_create_without_customer_is_a_personal_task_off_the_timeline(world) -> None:
    activity = task(world.rep, "Expense report")
    assert activity.customer_id is None and entries(activity) == []
    # No due date given: the end of today in the site's time zone.
    local = timezone.localtime(activity.due_at)
    assert (local.date(), local.hour, local.minute) == (timezone.localdate(), 23, 59)


def test_naive_times_are_read_in_the_site_time_zone(world, settings) -> None:
    settings.TIME_ZONE = "Europe/Amsterdam"
    activity = task(world.rep, "Call at nine", due_at=dt.datetime(2027, 1, 15, 9, 0))
    assert activity.due_at == dt.datetime(2027, 1, 15, 8, 0, tzinfo=dt.UTC)
    aware = dt.datetime(2027, 1, 15, 9, 0, tzinfo=zoneinfo.ZoneInfo("America/New_York"))
    other = task(world.rep, "Aware", due_at=aware)
    assert other.due_at == dt.datetime(2027, 1, 15, 14, 0, tzinfo=dt.UTC)


def test_create_refuses_bad_input_field_by_field(world) -> None:
    with pytest.raises(ValidationError) as exc:
        activity_create(
            actor=world.rep,
            data=ActivityInput(kind="lunch", subject=" ", priority=9, recording_url="ftp://x"),
        )
    assert {"kind", "subject", "priority", "recording_url"} <= set(exc.value.message_dict)
    assert Activity.objects.filter(owner=world.rep).count() == 1  # the world's one


def test_create_refuses_a_customer_the_actor_cannot_see(world) -> None:
    with pytest.raises(ValidationError) as exc:
        task(world.rep, customer_id=world.customers["south"].pk)
    assert "customer_id" in exc.value.message_dict


def test_create_needs_the_grant(world) -> None:
    nobody = UserFactory()
    with pytest.raises(PermissionDenied):
        task(nobody)


def test_meeting_needs_a_start_and_ends_after_it(world) -> None:
    with pytest.raises(ValidationError) as exc:
        task(world.rep, kind="meeting")
    assert "starts_at" in exc.value.message_dict
    start = timezone.now() + dt.timedelta(days=2)
    with pytest.raises(ValidationError) as exc:
        task(world.rep, kind="meeting", starts_at=start, ends_at=start - dt.timedelta(hours=1))
    assert "ends_at" in exc.value.message_dict
    meeting = task(world.rep, "Kick-off", kind="meeting", starts_at=start)
    assert meeting.due_at == start and meeting.ends_at == start + dt.timedelta(minutes=30)


def test_only_meetings_have_attendees(world) -> None:
    with pytest.raises(ValidationError) as exc:
        task(world.rep, attendee_emails=["a@example.com"])
    assert "attendee_ids" in exc.value.message_dict


def test_related_record_by_object_type_links_and_infers_the_customer(world, admin) -> None:
    customer = world.customers["north"]
    order = commerce_services.order_create(
        actor=admin,
        customer=customer,
        data=OrderInput(
            currency="EUR",
            number="ORD-1",
            lines=[LineInput(sku="A", name="A", quantity=1, unit_price="5.00")],
        ),
    )
    activity = task(
        world.boss, "Chase payment", related_type="commerce.order", related_id=str(order.pk)
    )
    assert (activity.related_type, activity.related_id) == ("commerce.order", str(order.pk))
    assert activity.customer_id == customer.pk  # through the type's registered customer field
    with pytest.raises(ValidationError) as exc:
        task(world.boss, related_type="sales.nothing", related_id="1")
    assert "related_type" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        task(world.boss, related_type="commerce.order", related_id="999999")
    assert "related_id" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:  # exists, but not in the stranger's scope
        task(world.stranger, related_type="commerce.order", related_id=str(order.pk))
    assert "related_id" in exc.value.message_dict


def test_update_changes_audits_and_resets_the_reminder(world) -> None:
    activity = world.activities["rep"]
    activity.reminder_sent_at = timezone.now()
    activity.save()
    later = timezone.now() + dt.timedelta(days=3)
    updated = activity_update(
        actor=world.rep,
        activity=activity,
        data=ActivityInput(subject="Renamed", reminder_at=later),
        expected_version=activity.version,
    )
    assert updated.subject == "Renamed" and updated.version == activity.version + 1
    assert updated.reminder_at == later and updated.reminder_sent_at is None
    row = AuditLogEntry.objects.filter(object_id=str(activity.pk), action="update").get()
    assert row.changes["subject"] == ["Rep's task", "Renamed"]
    assert events(activity)[-1] == "activity.updated"
    assert len(entries(activity)) == 1  # edits add nothing to the timeline


def test_update_refuses_a_stale_version_and_clears_named_fields(world) -> None:
    activity = world.activities["rep"]
    with pytest.raises(Conflict):
        activity_update(
            actor=world.rep, activity=activity, data=ActivityInput(subject="x"), expected_version=99
        )
    cleared = activity_update(
        actor=world.rep, activity=activity, data=ActivityInput(clear=["customer_id"])
    )
    assert cleared.customer_id is None
    with pytest.raises(ValidationError):
        activity_update(actor=world.rep, activity=activity, data=ActivityInput(clear=["subject"]))


def test_update_of_someone_elses_activity_is_refused(world) -> None:
    with pytest.raises(PermissionDenied):
        activity_update(
            actor=world.rep, activity=world.activities["mate"], data=ActivityInput(subject="x")
        )
    # The team manager may, and may hand it to the rep.
    moved = activity_update(
        actor=world.manager,
        activity=world.activities["mate"],
        data=ActivityInput(owner_id=world.rep.pk),
    )
    assert moved.owner_id == world.rep.pk
    with pytest.raises(PermissionDenied):
        activity_update(
            actor=world.manager, activity=moved, data=ActivityInput(owner_id=world.stranger.pk)
        )


def test_complete_appends_a_done_entry_that_folds_the_planned_one(world) -> None:
    activity = world.activities["rep"]
    done = activity_complete(
        actor=world.rep, activity=activity, expected_version=activity.version, notes="Sent."
    )
    assert done.status == "done" and done.completed_at is not None and done.notes == "Sent."
    planned, completed = entries(activity)
    assert (
        completed.summary == "Task done: Rep's task" and completed.occurred_at == done.completed_at
    )
    assert events(activity)[-1] == "activity.completed"
    [item] = group(list(reversed([planned, completed])))
    assert item.entry == completed and item.folded == [planned]
    with pytest.raises(ValidationError) as exc:
        activity_complete(actor=world.rep, activity=done)
    assert "already" in exc.value.messages[0]


def test_complete_records_a_call_outcome(world) -> None:
    call = task(world.rep, "Call Anna", kind="call", customer_id=world.customers["north"].pk)
    done = activity_complete(
        actor=world.rep, activity=call, call_outcome="voicemail", call_duration_seconds=40
    )
    assert (done.call_outcome, done.call_duration_seconds) == ("voicemail", 40)
    assert entries(call)[-1].summary == "Call made: Call Anna (Left voicemail, 40 s)"
    with pytest.raises(ValidationError):
        activity_complete(
            actor=world.rep, activity=task(world.rep, kind="call"), call_outcome="great"
        )


def test_reopen_and_cancel(world) -> None:
    activity = world.activities["rep"]
    with pytest.raises(ValidationError):
        activity_reopen(actor=world.rep, activity=activity)
    cancelled = activity_cancel(actor=world.rep, activity=activity)
    assert cancelled.status == "cancelled"
    with pytest.raises(ValidationError):
        activity_cancel(actor=world.rep, activity=cancelled)
    reopened = activity_reopen(actor=world.rep, activity=cancelled)
    assert reopened.status == "open" and reopened.completed_at is None
    assert [e.data["event"] for e in entries(activity)] == ["planned", "cancelled", "reopened"]
    assert events(activity)[-2:] == ["activity.cancelled", "activity.reopened"]


def test_delete_audits_emits_and_keeps_the_timeline(world) -> None:
    activity = world.activities["rep"]
    with pytest.raises(PermissionDenied):
        activity_delete(actor=world.mate, activity=activity)
    activity_delete(actor=world.rep, activity=activity, expected_version=activity.version)
    assert not Activity.objects.filter(pk=activity.pk).exists()
    assert AuditLogEntry.objects.filter(object_id=str(activity.pk), action="delete").exists()
    assert "activity.deleted" in events(activity)
    assert len(entries(activity)) == 1


def test_call_log_is_a_done_call_on_the_timeline_at_its_time(world) -> None:
    customer = world.customers["north"]
    when = timezone.now() - dt.timedelta(hours=1)
    call = call_log(
        actor=world.rep,
        customer_id=customer.pk,
        subject="Support question",
        direction="in",
        occurred_at=when,
        duration_seconds=185,
        outcome="connected",
        notes="Asked about delivery.",
        recording_url="https://pbx.example.com/rec/1.mp3",
    )
    assert (call.kind, call.status, call.completed_at) == ("call", "done", when)
    assert call.ends_at == when + dt.timedelta(seconds=185)
    [entry] = entries(call)
    assert entry.kind == "call" and entry.channel == "phone" and entry.direction == "in"
    assert entry.occurred_at == when
    assert entry.summary == "Call logged: Support question (Connected, 3 min 05 s)"
    assert "https://pbx.example.com/rec/1.mp3" in entry.body
    assert events(call) == ["activity.created", "activity.completed"]
    with pytest.raises(ValidationError) as exc:
        call_log(actor=world.rep, customer_id=customer.pk, subject="x", direction="sideways")
    assert "direction" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        call_log(
            actor=world.rep,
            customer_id=customer.pk,
            subject="x",
            direction="out",
            occurred_at=timezone.now() + dt.timedelta(days=1),
        )
    assert "occurred_at" in exc.value.message_dict


def test_attendee_addresses_merge_users_and_typed_emails(world) -> None:
    start = timezone.now() + dt.timedelta(days=1)
    meeting = task(
        world.boss,
        "Review",
        kind="meeting",
        starts_at=start,
        attendee_ids=[world.rep.pk, world.mate.pk],
        attendee_emails=["Client@Example.com", "rep@example.com"],
    )
    assert attendee_addresses(meeting) == [
        "client@example.com",
        "mate@example.com",
        "rep@example.com",
    ]
