"""iCalendar (RFC 5545/5546) for meetings: the object attendees' calendars accept.

One UID per meeting for its whole life (`Activity.ical_uid`), so calendars update the
event instead of adding a second one; SEQUENCE grows with every change attendees are told
about; a cancellation is METHOD:CANCEL with STATUS:CANCELLED and the next SEQUENCE.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit

import icalendar
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from rapport.activities.models import Activity, ActivityStatus

PRODID = "-//Rapport CRM//Activities//EN"


def _domain() -> str:
    return urlsplit(settings.SITE_URL).hostname or "rapport.invalid"


def uid_for(activity: Activity) -> str:
    return f"{activity.ical_uid}@{_domain()}"


def _organizer(activity: Activity) -> tuple[str, str]:
    owner = activity.owner
    if owner is not None and owner.email:
        return owner.email, str(owner)
    from_email = settings.DEFAULT_FROM_EMAIL
    address = from_email.rsplit("<", 1)[-1].rstrip(">").strip()
    return address, "Rapport"


def calendar_for(activity: Activity, *, method: str, recipients: list[str] | None = None) -> bytes:
    """The meeting as an iCalendar object with `method` (REQUEST or CANCEL)."""
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", method)
    event = icalendar.Event()
    event.add("uid", uid_for(activity))
    event.add("sequence", activity.ical_sequence)
    event.add("dtstamp", timezone.now().astimezone(dt.UTC))
    starts = activity.starts_at or activity.due_at
    event.add("dtstart", starts.astimezone(dt.UTC))
    event.add("dtend", (activity.ends_at or starts).astimezone(dt.UTC))
    event.add("summary", activity.subject)
    if activity.notes:
        event.add("description", activity.notes)
    if activity.location:
        event.add("location", activity.location)
    url = settings.SITE_URL + reverse("activities:detail", args=[activity.pk])
    event.add("url", url)
    cancelled = method == "CANCEL" or activity.status == ActivityStatus.CANCELLED
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    organizer_email, organizer_name = _organizer(activity)
    organizer = icalendar.vCalAddress(f"mailto:{organizer_email}")
    organizer.params["cn"] = icalendar.vText(organizer_name)
    event.add("organizer", organizer)
    for address in recipients if recipients is not None else _all_attendees(activity):
        attendee = icalendar.vCalAddress(f"mailto:{address}")
        attendee.params["role"] = icalendar.vText("REQ-PARTICIPANT")
        attendee.params["partstat"] = icalendar.vText("NEEDS-ACTION")
        attendee.params["rsvp"] = icalendar.vText("TRUE")
        event.add("attendee", attendee, encode=False)
    cal.add_component(event)
    return bytes(cal.to_ical())


def _all_attendees(activity: Activity) -> list[str]:
    users = [u.email for u in activity.attendees.all() if u.email]
    return sorted({*users, *activity.attendee_emails})


def cancellation_for_deleted(activity: Activity) -> str:
    """The CANCEL for a meeting about to be deleted, built while it still exists."""
    activity.ical_sequence += 1
    return calendar_for(activity, method="CANCEL").decode()


def parse(ics: bytes | str) -> Any:
    """The calendar read back (what tests and the download check use)."""
    return icalendar.Calendar.from_ical(ics)
