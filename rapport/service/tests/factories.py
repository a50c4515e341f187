"""Test data for service: agents with roles, customers, a calendar and an SLA policy,
raw e-mails."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from rapport.commerce.tests.factories import CustomerFactory
from rapport.core.permissions import ACTIONS, Scope
from rapport.customers.models import EmailAddress
from rapport.identity.tests.factories import user_with
from rapport.service.models import BusinessCalendar, Mailbox, SLAPolicy

SERVICE_TYPES = ("customers.customer", "service.ticket", "commerce.order")
NINE_TO_FIVE = {str(d): [["09:00", "17:00"]] for d in range(5)}


def agent(scope: Scope | str = Scope.ALL, actions: tuple[str, ...] = ACTIONS, **kwargs: Any) -> Any:
    """A support agent whose role grants `scope` on customers, tickets and orders."""
    return user_with(scope, actions, object_types=SERVICE_TYPES, **kwargs)


def customer_with_email(email: str, **kwargs: Any) -> Any:
    customer = CustomerFactory(primary_email=email, **kwargs)
    EmailAddress.objects.create(customer=customer, email=email, is_primary=True)
    return customer


def calendar(**kwargs: Any) -> BusinessCalendar:
    values = {"name": "Office", "time_zone": "UTC", "weekly_hours": NINE_TO_FIVE, **kwargs}
    return BusinessCalendar.objects.create(**values)


def policy(**kwargs: Any) -> SLAPolicy:
    values: dict[str, Any] = {
        "name": "Standard",
        "first_response_minutes": 60,
        "next_response_minutes": 120,
        "resolution_minutes": 8 * 60,
        "warn_before_minutes": 30,
        **kwargs,
    }
    if "calendar" not in values:
        values["calendar"] = calendar()
    return SLAPolicy.objects.create(**values)


def mailbox(**kwargs: Any) -> Mailbox:
    values = {"name": "Support", "email_address": "support@shop.example", "folders": ["INBOX"]}
    return Mailbox.objects.create(**{**values, **kwargs})


def raw_mail(
    *,
    sender: str = "Ann Lee <ann@example.com>",
    to: str = "support@shop.example",
    subject: str = "My order has not arrived",
    body: str = "Hello, where is my parcel?",
    html: str | None = None,
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: str | None = None,
    headers: dict[str, str] | None = None,
    attachments: list[tuple[str, str, bytes]] | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(dt.datetime(2026, 12, 7, 10, tzinfo=dt.UTC))
    msg["Message-ID"] = message_id or make_msgid(domain="example.com")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = references
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for filename, ctype, content in attachments or []:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    return bytes(msg)
