"""Meeting invitations: real e-mails through the in-process SMTP server, whose .ics parts
are parsed back: one UID for the meeting's life, SEQUENCE up on each change, CANCEL on
cancel and delete."""

from __future__ import annotations

import datetime as dt
from email.message import Message

import pytest
from django.utils import timezone

from rapport.activities.services import (
    ActivityInput,
    activity_cancel,
    activity_delete,
    activity_update,
    calendar_for,
    parse,
    send_cancellation,
    send_invitation,
    uid_for,
)
from rapport.activities.tests.conftest import task

pytestmark = pytest.mark.django_db


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """Run a service and then its after-commit callbacks (the queued e-mails), as the
    real commit does."""

    def run(fn, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(**kwargs)

    return run


def ics_parts(message: Message) -> list[tuple[str, bytes]]:
    """(content type, payload) of each calendar part: the inline one and the attachment."""
    return [
        (part.get_content_type(), part.get_payload(decode=True))
        for part in message.walk()
        if part.get_content_type() in ("text/calendar", "application/ics")
    ]


def event_of(message: Message):
    [(_, inline), (_, attached)] = ics_parts(message)
    assert inline == attached
    cal = parse(inline)
    [event] = cal.walk("VEVENT")
    return cal, event


def meeting(world, commit, **fields):
    start = fields.pop("starts_at", timezone.now().replace(microsecond=0) + dt.timedelta(days=2))
    return commit(
        task,
        actor=world.rep,
        subject="Quarterly review",
        kind="meeting",
        starts_at=start,
        ends_at=start + dt.timedelta(hours=1),
        location="Room 4",
        customer_id=world.customers["north"].pk,
        attendee_ids=[world.mate.pk],
        attendee_emails=["client@example.com"],
        **fields,
    )


def test_creating_a_meeting_invites_every_attendee_with_a_request(world, smtp, commit) -> None:
    m = meeting(world, commit)
    [message] = smtp.messages
    assert sorted(a.strip() for a in message["To"].split(",")) == [
        "client@example.com",
        "mate@example.com",
    ]
    assert message["Subject"].startswith("Invitation: Quarterly review")
    cal, event = event_of(message)
    assert str(cal["METHOD"]) == "REQUEST"
    assert str(event["UID"]) == uid_for(m)
    assert int(event["SEQUENCE"]) == 0
    assert event.decoded("DTSTART") == m.starts_at
    assert event.decoded("DTEND") == m.ends_at
    assert str(event["LOCATION"]) == "Room 4"
    assert str(event["ORGANIZER"]) == "mailto:rep@example.com"
    attendees = sorted(str(a) for a in event["ATTENDEE"])
    assert attendees == ["mailto:client@example.com", "mailto:mate@example.com"]


def test_a_change_resends_with_the_next_sequence_and_cancels_removed_attendees(
    world, smtp, commit
) -> None:
    m = meeting(world, commit)
    later = m.starts_at + dt.timedelta(hours=3)
    commit(
        activity_update,
        actor=world.rep,
        activity=m,
        data=ActivityInput(starts_at=later, ends_at=later + dt.timedelta(hours=1), attendee_ids=[]),
    )
    _first, request, cancel = smtp.messages
    cal, event = event_of(request)
    assert str(cal["METHOD"]) == "REQUEST" and int(event["SEQUENCE"]) == 1
    assert str(event["UID"]) == uid_for(m)
    assert event.decoded("DTSTART") == later
    assert request["To"] == "client@example.com"
    cal, event = event_of(cancel)
    assert str(cal["METHOD"]) == "CANCEL" and cancel["To"] == "mate@example.com"
    # An edit attendees do not see (the priority) sends nothing.
    commit(activity_update, actor=world.rep, activity=m, data=ActivityInput(priority=3))
    assert len(smtp.messages) == 3


def test_cancelling_sends_a_cancel_with_the_same_uid(world, smtp, commit) -> None:
    m = meeting(world, commit)
    commit(activity_cancel, actor=world.rep, activity=m)
    cal, event = event_of(smtp.messages[-1])
    assert str(cal["METHOD"]) == "CANCEL"
    assert str(event["STATUS"]) == "CANCELLED"
    assert str(event["UID"]) == uid_for(m) and int(event["SEQUENCE"]) == 1
    assert smtp.messages[-1]["Subject"] == "Cancelled: Quarterly review"


def test_deleting_an_open_meeting_cancels_it(world, smtp, commit) -> None:
    m = meeting(world, commit)
    uid = uid_for(m)
    commit(activity_delete, actor=world.rep, activity=m)
    cal, event = event_of(smtp.messages[-1])
    assert str(cal["METHOD"]) == "CANCEL" and str(event["UID"]) == uid


def test_calendar_round_trip_and_the_senders(world, smtp, commit) -> None:
    m = meeting(world, commit)
    cal = parse(calendar_for(m, method="REQUEST"))
    [event] = cal.walk("VEVENT")
    assert str(event["SUMMARY"]) == "Quarterly review"
    assert str(event["URL"]).endswith(f"/activities/{m.pk}/")
    assert send_invitation(activity_id=m.pk, method="REQUEST", recipients=["x@example.com"]) == 1
    assert send_invitation(activity_id=999_999, method="REQUEST", recipients=["x@example.com"]) == 0
    ics = calendar_for(m, method="CANCEL").decode()
    assert send_cancellation(subject="Gone", ics=ics, recipients=["y@example.com"]) == 1
    cal, _ = event_of(smtp.to("y@example.com")[0])
    assert str(cal["METHOD"]) == "CANCEL"
