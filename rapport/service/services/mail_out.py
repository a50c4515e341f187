"""Outgoing e-mail: an agent's stored reply sent over SMTP (the mailbox's server, or the
site's), signed by the agent and the mailbox, with the threading headers that make the
customer's mail client (and our inbound side) keep the conversation together."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction

from rapport.core import audit
from rapport.core.models import AuditAction
from rapport.core.permissions import require
from rapport.service.models import AgentProfile, DeliveryStatus, Mailbox, Message


def _signature(message: Message) -> str:
    parts = []
    if message.author_user_id:
        profile = AgentProfile.objects.filter(user_id=message.author_user_id).first()
        if profile and profile.signature.strip():
            parts.append(profile.signature.strip())
    mailbox = message.mailbox
    if mailbox is not None and mailbox.signature.strip():
        parts.append(mailbox.signature.strip())
    return "\n\n".join(parts)


def _connection(mailbox: Mailbox | None) -> Any:
    if mailbox is None or not mailbox.smtp_host:
        return get_connection()
    return get_connection(
        "django.core.mail.backends.smtp.EmailBackend",
        host=mailbox.smtp_host,
        port=mailbox.smtp_port,
        username=mailbox.smtp_user or None,
        password=mailbox.smtp_password or None,
        use_tls=mailbox.smtp_security == "starttls",
        use_ssl=mailbox.smtp_security == "ssl",
        timeout=30,
    )


def compose(message: Message) -> EmailMessage:
    """The e-mail for a stored reply: body + signatures, Message-ID, In-Reply-To,
    References, and X-Loop naming the mailbox (so its echo is never a new ticket)."""
    mailbox = message.mailbox
    sender = mailbox.email_address if mailbox else settings.DEFAULT_FROM_EMAIL
    if mailbox is not None:
        sender = f"{mailbox.name} <{mailbox.email_address}>"
    body = message.body_text
    if signature := _signature(message):
        body = f"{body}\n\n-- \n{signature}"
    headers = {"Message-ID": message.message_id}
    if message.in_reply_to:
        headers["In-Reply-To"] = message.in_reply_to
    if message.references:
        headers["References"] = message.references
    if mailbox is not None:
        headers["X-Loop"] = mailbox.email_address
    return EmailMessage(
        subject=message.subject,
        body=body,
        from_email=sender,
        to=[a.strip() for a in message.to_addresses.split(",") if a.strip()],
        cc=[a.strip() for a in message.cc_addresses.split(",") if a.strip()],
        headers=headers,
    )


def message_deliver(*, actor: Any, message_id: int) -> Message:
    """Send a queued reply (the worker's task calls this). A failure is recorded on the
    message (the ticket page shows it, and the agent can retry); nothing is lost."""
    message = Message.objects.select_related("mailbox", "ticket").get(pk=message_id)
    require(actor, "edit", message.ticket)
    if message.delivery_status == DeliveryStatus.SENT:
        return message  # a re-run task must not send twice
    try:
        _connection(message.mailbox).send_messages([compose(message)])
    except Exception as exc:  # SMTP, DNS, TLS: all recorded the same way
        status, error = DeliveryStatus.FAILED, f"{type(exc).__name__}: {exc}"[:1000]
    else:
        status, error = DeliveryStatus.SENT, ""
    with transaction.atomic():
        Message.objects.filter(pk=message.pk).update(delivery_status=status, delivery_error=error)
        audit.record(
            actor=actor,
            action=AuditAction.UPDATE,
            obj=message.ticket,
            changes={"delivery": [message.pk, status]},
        )
    message.delivery_status, message.delivery_error = status, error
    return message
