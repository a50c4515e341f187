"""Create, change, complete, reopen, cancel and delete activities, and log calls."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from rapport.activities import ical, inputs, timeline
from rapport.activities.inputs import ACTIVITY_TYPE, ActivityInput
from rapport.activities.models import Activity, ActivityKind, ActivityStatus, Priority
from rapport.activities.schemas import activity_payload
from rapport.core import audit, outbox, registry
from rapport.core.models import AuditAction
from rapport.core.permissions import acting_user, require
from rapport.core.versioning import bump_version, lock_for_change

# What attendees are told about: a change to one of these re-sends the invitation with
# the next SEQUENCE.
INVITATION_FIELDS = ("subject", "notes", "starts_at", "ends_at", "location", "attendee_emails")


def _invite_on_commit(activity: Activity, method: str, recipients: list[str]) -> None:
    """Queue the meeting's iCalendar e-mail once the change is committed (a rolled-back
    change invites nobody)."""
    if not recipients:
        return
    transaction.on_commit(
        lambda: registry.enqueue(
            "activities.send_meeting_invitation", activity.pk, method, sorted(set(recipients))
        )
    )


def attendee_addresses(activity: Activity) -> list[str]:
    """Every attendee's e-mail: the users' and the customers' typed in."""
    users = [u.email for u in activity.attendees.all() if u.email]
    return sorted({*users, *activity.attendee_emails})


def _apply(
    *, actor: Any, activity: Activity, data: ActivityInput, creating: bool
) -> list[int] | None:
    """Set `data` on the unsaved activity; returns the attendee ids to store (None: keep)."""
    values = inputs.scalar_values(data)
    errors: dict[str, Any] = {}
    for name, value in values.items():
        setattr(activity, name, value)
    for name in data.clear:
        if name == "customer_id":
            activity.customer_id = None
        elif name == "related":
            activity.related_type, activity.related_id = "", ""
        else:
            setattr(activity, name, None)
    if "reminder_at" in values or "reminder_at" in data.clear:
        activity.reminder_sent_at = None  # a new reminder time goes out again
    if data.customer_id is not None:
        activity.customer_id = inputs.visible_customer(actor, data.customer_id).pk
    if data.related_type is not None or data.related_id is not None:
        related_type = (data.related_type or "").strip()
        related_id = str(data.related_id or "").strip()
        if related_type and related_id:
            record = inputs.related_record(actor, related_type, related_id)
            activity.related_type, activity.related_id = related_type, str(record.pk)
            if activity.customer_id is None:
                activity.customer_id = inputs.customer_of(record, related_type)
        elif related_type or related_id:
            errors["related_id"] = ["Give both the related record's type and its id."]
    if creating:
        if not activity.kind:
            errors["kind"] = ["Say whether this is a task, a call or a meeting."]
        if not activity.subject:
            errors["subject"] = ["Give the activity a subject."]
    if errors:
        raise ValidationError(errors)
    if activity.due_at is None:
        activity.due_at = activity.starts_at or inputs.end_of_today()
    inputs.check_times(activity)
    if activity.kind != ActivityKind.MEETING and (data.attendee_ids or data.attendee_emails):
        raise ValidationError({"attendee_ids": "Only meetings have attendees."})
    return inputs.check_attendees(data.attendee_ids) if data.attendee_ids is not None else None


def _owner_and_team(
    *, actor: Any, activity: Activity | None, data: ActivityInput
) -> dict[str, Any]:
    owner_id = data.owner_id
    team_id = data.team_id
    inputs.check_assignment(actor=actor, owner_id=owner_id, team_id=team_id, current=activity)
    values: dict[str, Any] = {}
    if activity is None:
        user = acting_user(actor)
        values["owner_id"] = owner_id if owner_id is not None else (user.pk if user else None)
        values["team_id"] = team_id if team_id is not None else inputs.default_team(actor)
    else:
        if owner_id is not None:
            values["owner_id"] = owner_id
        if team_id is not None:
            values["team_id"] = team_id
    return values


@transaction.atomic
def activity_create(*, actor: Any, data: ActivityInput) -> Activity:
    """Plan a task, call or meeting (or log one: see `call_log`). With a customer it goes
    on their timeline as "… planned"; a meeting with attendees e-mails them an iCalendar
    invitation after commit."""
    require(actor, "create", Activity)
    activity = Activity(
        priority=Priority.NORMAL, **_owner_and_team(actor=actor, activity=None, data=data)
    )
    attendee_ids = _apply(actor=actor, activity=activity, data=data, creating=True)
    activity.save()
    if attendee_ids:
        activity.attendees.set(attendee_ids)
    audit.record_created(actor=actor, obj=activity)
    outbox.emit("activity.created", activity_payload(activity), aggregate=activity)
    timeline.record(actor=actor, activities=[activity], event="planned")
    if activity.kind == ActivityKind.MEETING:
        _invite_on_commit(activity, "REQUEST", attendee_addresses(activity))
    return activity


@transaction.atomic
def activity_update(
    *, actor: Any, activity: Activity, data: ActivityInput, expected_version: int | None = None
) -> Activity:
    """Change the fields `data` sets; a stale `expected_version` is refused (Conflict). A
    meeting's attendees get the changed invitation (next SEQUENCE); removed ones a
    cancellation."""
    require(actor, "edit", activity)
    activity = lock_for_change(activity, expected_version=expected_version)
    before = audit.snapshot(activity)
    invited_before = attendee_addresses(activity)
    before_attendees = sorted(u.pk for u in activity.attendees.all())
    owner_team = _owner_and_team(actor=actor, activity=activity, data=data)
    for name, value in owner_team.items():
        setattr(activity, name, value)
    attendee_ids = _apply(actor=actor, activity=activity, data=data, creating=False)
    after = audit.snapshot(activity)
    changes = audit.diff(before, after)
    if attendee_ids is not None and attendee_ids != before_attendees:
        changes["attendee_ids"] = [before_attendees, attendee_ids]
    if not changes:
        return activity
    is_meeting = activity.kind == ActivityKind.MEETING
    tells_attendees = is_meeting and (
        "attendee_ids" in changes or any(f in changes for f in INVITATION_FIELDS)
    )
    if tells_attendees:
        activity.ical_sequence += 1
    bump_version(activity)
    activity.save()
    if attendee_ids is not None:
        activity.attendees.set(attendee_ids)
    activity.refresh_from_db()
    audit.record(actor=actor, action=AuditAction.UPDATE, obj=activity, changes=changes)
    outbox.emit(
        "activity.updated",
        {**activity_payload(activity), "changed_fields": sorted(changes)},
        aggregate=activity,
    )
    if tells_attendees and activity.is_open:
        invited = attendee_addresses(activity)
        _invite_on_commit(activity, "REQUEST", invited)
        _invite_on_commit(activity, "CANCEL", [a for a in invited_before if a not in invited])
    return activity


def _set_status(
    *,
    actor: Any,
    activity: Activity,
    status: str,
    event: str,
    timeline_event: str,
    expected_version: int | None,
    allowed_from: tuple[str, ...],
    completed_at: dt.datetime | None = None,
    outcome: dict[str, Any] | None = None,
) -> Activity:
    require(actor, "edit", activity)
    activity = lock_for_change(activity, expected_version=expected_version)
    if activity.status not in allowed_from:
        kind, current = activity.get_kind_display().lower(), activity.get_status_display().lower()
        if activity.status == status:
            raise ValidationError({"status": f"This {kind} is {current} already."})
        raise ValidationError({"status": f"A {current} {kind} cannot be {event}."})
    before = audit.snapshot(activity)
    activity.status = status
    activity.completed_at = completed_at
    if outcome:
        values = inputs.scalar_values(ActivityInput(**outcome))
        for name, value in values.items():
            setattr(activity, name, value)
    if status != ActivityStatus.OPEN and activity.reminder_sent_at is None:
        # A closed activity needs no reminder; dropping it keeps the sweep's index small.
        activity.reminder_at = None
    if status == ActivityStatus.CANCELLED and activity.kind == ActivityKind.MEETING:
        activity.ical_sequence += 1
    bump_version(activity)
    activity.save()
    activity.refresh_from_db()
    changes = audit.diff(before, audit.snapshot(activity))
    audit.record(actor=actor, action=AuditAction.UPDATE, obj=activity, changes=changes)
    outbox.emit(f"activity.{event}", activity_payload(activity), aggregate=activity)
    timeline.record(actor=actor, activities=[activity], event=timeline_event)
    return activity


@transaction.atomic
def activity_complete(
    *,
    actor: Any,
    activity: Activity,
    expected_version: int | None = None,
    call_outcome: str | None = None,
    call_duration_seconds: int | None = None,
    notes: str | None = None,
) -> Activity:
    """Mark an open activity done (now), optionally with how the call went and notes;
    the customer's timeline gets a "… done" entry that folds the planned one under it."""
    outcome = {
        k: v
        for k, v in {
            "call_outcome": call_outcome,
            "call_duration_seconds": call_duration_seconds,
            "notes": notes,
        }.items()
        if v is not None
    }
    return _set_status(
        actor=actor,
        activity=activity,
        status=ActivityStatus.DONE,
        event="completed",
        timeline_event="done",
        expected_version=expected_version,
        allowed_from=(ActivityStatus.OPEN,),
        completed_at=timezone.now(),
        outcome=outcome,
    )


@transaction.atomic
def activity_reopen(
    *, actor: Any, activity: Activity, expected_version: int | None = None
) -> Activity:
    """Open a done or cancelled activity again (its reminder does not go out twice)."""
    reopened = _set_status(
        actor=actor,
        activity=activity,
        status=ActivityStatus.OPEN,
        event="reopened",
        timeline_event="reopened",
        expected_version=expected_version,
        allowed_from=(ActivityStatus.DONE, ActivityStatus.CANCELLED),
    )
    return reopened


@transaction.atomic
def activity_cancel(
    *, actor: Any, activity: Activity, expected_version: int | None = None
) -> Activity:
    """Call off an open activity; a meeting's attendees get an iCalendar cancellation."""
    cancelled = _set_status(
        actor=actor,
        activity=activity,
        status=ActivityStatus.CANCELLED,
        event="cancelled",
        timeline_event="cancelled",
        expected_version=expected_version,
        allowed_from=(ActivityStatus.OPEN,),
    )
    if cancelled.kind == ActivityKind.MEETING:
        _invite_on_commit(cancelled, "CANCEL", attendee_addresses(cancelled))
    return cancelled


@transaction.atomic
def activity_delete(*, actor: Any, activity: Activity, expected_version: int | None = None) -> None:
    """Remove an activity entered by mistake. Its timeline entries stay (the timeline is
    history); an open meeting's attendees get a cancellation."""
    require(actor, "delete", activity)
    activity = lock_for_change(activity, expected_version=expected_version)
    payload = activity_payload(activity)
    if activity.kind == ActivityKind.MEETING and activity.is_open:
        # The task reads the meeting to build the CANCEL; it is gone by then, so the
        # deletion sends from the payload the task is given instead.
        recipients = attendee_addresses(activity)
        if recipients:
            ics = ical.cancellation_for_deleted(activity)
            transaction.on_commit(
                lambda: registry.enqueue(
                    "activities.send_meeting_cancellation", activity.subject, ics, recipients
                )
            )
    audit.record_deleted(actor=actor, obj=activity, before=audit.snapshot(activity))
    outbox.emit("activity.deleted", payload, aggregate=activity)
    activity.delete()


@transaction.atomic
def call_log(
    *,
    actor: Any,
    customer_id: int | None,
    subject: str,
    direction: str,
    occurred_at: dt.datetime | None = None,
    duration_seconds: int | None = None,
    outcome: str = "",
    notes: str = "",
    recording_url: str = "",
    related_type: str = "",
    related_id: str = "",
    owner_id: int | None = None,
) -> Activity:
    """Record a call that happened (the phone log: sales and the service desk): an
    activity of kind call, done, with its direction, duration, outcome and recording, on
    the customer's timeline as one "Call logged" entry at the call's time."""
    require(actor, "create", Activity)
    if direction not in ("in", "out"):
        raise ValidationError({"direction": "Say whether the call was inbound or outbound."})
    when = inputs.aware(occurred_at) if occurred_at else timezone.now()
    if when > timezone.now() + dt.timedelta(minutes=5):
        raise ValidationError(
            {"occurred_at": "A logged call cannot be in the future; plan it instead."}
        )
    data = ActivityInput(
        kind=ActivityKind.CALL,
        subject=subject,
        notes=notes,
        customer_id=customer_id,
        related_type=related_type or None,
        related_id=related_id or None,
        due_at=when,
        starts_at=when,
        call_direction=direction,
        call_duration_seconds=duration_seconds,
        call_outcome=outcome,
        recording_url=recording_url,
        owner_id=owner_id,
    )
    activity = Activity(
        status=ActivityStatus.DONE,
        completed_at=when,
        **_owner_and_team(actor=actor, activity=None, data=data),
    )
    _apply(actor=actor, activity=activity, data=data, creating=True)
    if activity.call_duration_seconds is not None:
        activity.ends_at = when + dt.timedelta(seconds=activity.call_duration_seconds)
    activity.save()
    audit.record_created(actor=actor, obj=activity)
    outbox.emit("activity.created", activity_payload(activity), aggregate=activity)
    outbox.emit("activity.completed", activity_payload(activity), aggregate=activity)
    timeline.record(actor=actor, activities=[activity], event="logged")
    return activity


__all__ = [
    "ACTIVITY_TYPE",
    "activity_cancel",
    "activity_complete",
    "activity_create",
    "activity_delete",
    "activity_reopen",
    "activity_update",
    "attendee_addresses",
    "call_log",
]
