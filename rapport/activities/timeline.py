"""How activities read on the customer's timeline.

The timeline is append-only history, so an activity's life is told as entries rather than
by rewriting one: "Task planned" when it is created, then "Task done", "Meeting
cancelled" or "Task reopened" as they happen, each at the moment it happened. The
entries carry the activity's id, so the timeline folds them into one item headed by the
newest (`group_key`). A call logged after the fact is one "Call logged" entry at the
call's time. Edits (a new due date, a new subject) add nothing: they are in the audit log.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.utils import timezone
from django.utils.translation import ngettext

from rapport.activities.models import Activity, ActivityKind, CallDirection
from rapport.customers.models import Channel, Direction
from rapport.customers.services import TimelineEntry, timeline_append_many

SOURCE_TYPE = "activities.activity"

CHANNEL: dict[str, str] = {
    ActivityKind.TASK: Channel.SYSTEM,
    ActivityKind.CALL: Channel.PHONE,
    ActivityKind.MEETING: Channel.IN_PERSON,
}
DIRECTION: dict[str, str] = {
    CallDirection.INBOUND: Direction.INBOUND,
    CallDirection.OUTBOUND: Direction.OUTBOUND,
}

# (kind, what happened) -> the summary's opening words.
WORDING: dict[tuple[str, str], str] = {
    (ActivityKind.TASK, "planned"): "Task planned",
    (ActivityKind.CALL, "planned"): "Call planned",
    (ActivityKind.MEETING, "planned"): "Meeting planned",
    (ActivityKind.TASK, "done"): "Task done",
    (ActivityKind.CALL, "done"): "Call made",
    (ActivityKind.MEETING, "done"): "Meeting held",
    (ActivityKind.CALL, "logged"): "Call logged",
    (ActivityKind.TASK, "cancelled"): "Task cancelled",
    (ActivityKind.CALL, "cancelled"): "Call cancelled",
    (ActivityKind.MEETING, "cancelled"): "Meeting cancelled",
    (ActivityKind.TASK, "reopened"): "Task reopened",
    (ActivityKind.CALL, "reopened"): "Call reopened",
    (ActivityKind.MEETING, "reopened"): "Meeting reopened",
}


def duration_label(seconds: int | None) -> str:
    if seconds is None:
        return ""
    minutes, secs = divmod(seconds, 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def _call_facts(activity: Activity) -> str:
    facts = [
        activity.get_call_outcome_display() if activity.call_outcome else "",
        duration_label(activity.call_duration_seconds),
    ]
    return ", ".join(f for f in facts if f)


def entry_for(activity: Activity, event: str, *, at: dt.datetime | None = None) -> TimelineEntry:
    """The timeline entry saying that `event` happened to the activity."""
    summary = f"{WORDING[(activity.kind, event)]}: {activity.subject}"
    if activity.kind == ActivityKind.CALL and event in ("logged", "done"):
        facts = _call_facts(activity)
        summary = f"{summary} ({facts})" if facts else summary
    body = activity.notes if event in ("logged", "done") else ""
    if activity.recording_url and event in ("logged", "done"):
        body = f"{body}\n\nRecording: {activity.recording_url}".strip()
    return TimelineEntry(
        customer_id=activity.customer_id or 0,
        kind=activity.kind,
        summary=summary,
        channel=CHANNEL[activity.kind],
        direction=DIRECTION.get(activity.call_direction, Direction.NONE),
        occurred_at=at or timezone.now(),
        body=body,
        source_type=SOURCE_TYPE,
        source_id=str(activity.pk),
        data={
            "activity_id": activity.pk,
            "event": event,
            "due_at": activity.due_at.isoformat(),
            "call_outcome": activity.call_outcome,
            "call_duration_seconds": activity.call_duration_seconds,
        },
    )


def _when(activity: Activity, event: str) -> dt.datetime | None:
    """A logged call happened at its time, a completion when it was marked; the rest now."""
    if event == "logged":
        return activity.due_at
    if event == "done":
        return activity.completed_at
    return None


def record(*, actor: Any, activities: Sequence[Activity], event: str) -> None:
    """Append the event's entry for each activity that has a customer (a personal task
    has no timeline)."""
    entries = [entry_for(a, event, at=_when(a, event)) for a in activities if a.customer_id]
    if entries:
        timeline_append_many(actor=actor, entries=entries)


def group_key(entry: Any) -> str | None:
    """Entries about one activity fold together (see the module docstring)."""
    if entry.source_type != SOURCE_TYPE:
        return None
    activity_id = (entry.data or {}).get("activity_id")
    return f"{SOURCE_TYPE}:{activity_id}" if activity_id else None


def folded_label(n: int) -> str:
    return ngettext("%(n)d earlier entry", "%(n)d earlier entries", n) % {"n": n}
