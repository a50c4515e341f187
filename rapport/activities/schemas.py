"""The public shape of an activity: what the API returns and what events carry."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Schema

from rapport.activities.models import Activity


class ActivityOut(Schema):
    id: int
    kind: str
    subject: str
    notes: str
    status: str
    priority: int
    customer_id: int | None
    related_type: str
    related_id: str
    owner_id: int | None
    team_id: int | None
    due_at: dt.datetime
    starts_at: dt.datetime | None
    ends_at: dt.datetime | None
    completed_at: dt.datetime | None
    reminder_at: dt.datetime | None
    reminder_sent_at: dt.datetime | None
    call_direction: str
    call_duration_seconds: int | None
    call_outcome: str
    recording_url: str
    location: str
    attendee_ids: list[int]
    attendee_emails: list[str]
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_attendee_ids(obj: Activity) -> list[int]:
        # Lists prefetch the attendees (one query per page), so this reads the cache.
        return sorted(u.pk for u in obj.attendees.all())


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def activity_payload(activity: Activity) -> dict[str, Any]:
    """The event data: identifiers, kind, state and times (no notes: events travel to
    webhooks, and notes can hold what the customer said)."""
    return {
        "id": activity.pk,
        "kind": activity.kind,
        "subject": activity.subject,
        "status": activity.status,
        "priority": activity.priority,
        "customer_id": activity.customer_id,
        "related_type": activity.related_type,
        "related_id": activity.related_id,
        "owner_id": activity.owner_id,
        "team_id": activity.team_id,
        "due_at": _iso(activity.due_at),
        "starts_at": _iso(activity.starts_at),
        "ends_at": _iso(activity.ends_at),
        "completed_at": _iso(activity.completed_at),
        "call_direction": activity.call_direction,
        "call_duration_seconds": activity.call_duration_seconds,
        "call_outcome": activity.call_outcome,
    }
