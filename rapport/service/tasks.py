"""Background work of service: sending replies, polling mailboxes, the SLA watch and the
stale-mailbox alert (the last three on the worker's schedule)."""

from __future__ import annotations

from django_tasks import task

from rapport.core.permissions import system_actor
from rapport.service import services
from rapport.service.models import Mailbox


@task()
def deliver_message(message_id: int) -> str:
    """Send one stored reply over SMTP (enqueued after the reply commits)."""
    return str(
        services.message_deliver(actor=system_actor(), message_id=message_id).delivery_status
    )


@task()
def poll_mailboxes() -> int:
    """Queue one poll per enabled mailbox, so a slow server delays only its own mail."""
    ids = list(
        Mailbox.objects.filter(enabled=True).exclude(imap_host="").values_list("pk", flat=True)
    )
    for pk in ids:
        poll_mailbox.enqueue(pk)
    return len(ids)


@task()
def poll_mailbox(mailbox_id: int) -> int:
    mailbox = Mailbox.objects.filter(pk=mailbox_id, enabled=True).first()
    return services.mailbox_poll(mailbox=mailbox).fetched if mailbox else 0


@task()
def check_sla() -> int:
    result = services.sla_check_breaches()
    return result.warned + result.breached


@task()
def check_stale_mailboxes() -> int:
    return len(services.mailboxes_check_stale())
