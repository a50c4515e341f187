"""E-mailing meetings' iCalendar invitations and cancellations (run by the worker)."""

from __future__ import annotations

from django.core.mail import EmailMultiAlternatives
from django.utils import timezone

from rapport.activities.ical import calendar_for
from rapport.activities.models import Activity


def _message(
    activity: Activity | None, *, method: str, recipients: list[str], ics: bytes, subject: str
) -> EmailMultiAlternatives:
    """The e-mail carrying the .ics: inline as text/calendar (so mail clients show
    Accept/Decline) and as an attachment (for those that only read attachments)."""
    when = ""
    if activity is not None and activity.starts_at is not None:
        local = timezone.localtime(activity.starts_at)
        when = local.strftime("%A %d %B %Y, %H:%M %Z")
    if method == "CANCEL":
        title = f"Cancelled: {subject}"
        text = f"The meeting “{subject}”{f' on {when}' if when else ''} is cancelled."
    else:
        title = f"Invitation: {subject}" + (f" ({when})" if when else "")
        location = f"\nWhere: {activity.location}" if activity and activity.location else ""
        text = f"You are invited to “{subject}”.\nWhen: {when}{location}\n"
        if activity is not None and activity.notes:
            text += f"\n{activity.notes}\n"
    message = EmailMultiAlternatives(subject=title, body=text, to=recipients)
    message.attach_alternative(ics.decode(), f"text/calendar; method={method}; charset=utf-8")
    message.attach("invite.ics", ics, "application/ics")
    return message


def send_invitation(*, activity_id: int, method: str, recipients: list[str]) -> int:
    """Send the meeting's invitation (REQUEST) or cancellation (CANCEL) as it stands now
    (a later change has a higher SEQUENCE, which calendars prefer). 0 if it is gone."""
    activity = Activity.objects.select_related("owner").filter(pk=activity_id).first()
    if activity is None or not recipients:
        return 0
    ics = calendar_for(activity, method=method, recipients=recipients)
    message = _message(
        activity, method=method, recipients=recipients, ics=ics, subject=activity.subject
    )
    return message.send()


def send_cancellation(*, subject: str, ics: str, recipients: list[str]) -> int:
    """A deleted meeting's cancellation, built before the row went."""
    message = _message(
        None, method="CANCEL", recipients=recipients, ics=ics.encode(), subject=subject
    )
    return message.send()
