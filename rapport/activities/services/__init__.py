"""Writes to activities, one module per business area. Each function is the one way to do
its business action: it checks access before writing, validates, writes in one
transaction, and records the audit row, the outbox event and the customer's timeline
entry. Callers import from here. The checks they share (`inputs`), the timeline wording
(`timeline`) and the iCalendar builder (`ical`) live beside the package."""

from rapport.activities.ical import calendar_for, parse, uid_for
from rapport.activities.inputs import (
    ACTIVITY_TYPE,
    CLEARABLE,
    ActivityInput,
    end_of_today,
    site_zone,
)
from rapport.activities.services.activities import (
    activity_cancel,
    activity_complete,
    activity_create,
    activity_delete,
    activity_reopen,
    activity_update,
    attendee_addresses,
    call_log,
)
from rapport.activities.services.meetings import send_cancellation, send_invitation
from rapport.activities.services.reminders import (
    notification_mark_read,
    notifications_mark_all_read,
    reminders_send_due,
)

__all__ = [
    "ACTIVITY_TYPE",
    "CLEARABLE",
    "ActivityInput",
    "activity_cancel",
    "activity_complete",
    "activity_create",
    "activity_delete",
    "activity_reopen",
    "activity_update",
    "attendee_addresses",
    "calendar_for",
    "call_log",
    "end_of_today",
    "notification_mark_read",
    "notifications_mark_all_read",
    "parse",
    "reminders_send_due",
    "send_cancellation",
    "send_invitation",
    "site_zone",
    "uid_for",
]
