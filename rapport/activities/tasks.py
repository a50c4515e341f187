"""Background work of activities: the reminder sweep and meeting invitations by e-mail."""

from __future__ import annotations

from django_tasks import task

from rapport.activities import services


@task()
def send_due_reminders() -> int:
    """Run every minute by the scheduler (see apps.py)."""
    return services.reminders_send_due()


@task()
def send_meeting_invitation(activity_id: int, method: str, recipients: list[str]) -> int:
    return services.send_invitation(activity_id=activity_id, method=method, recipients=recipients)


@task()
def send_meeting_cancellation(subject: str, ics: str, recipients: list[str]) -> int:
    return services.send_cancellation(subject=subject, ics=ics, recipients=recipients)
