"""Demo service data: a support mailbox (disabled: it points at no real server), queues,
a business calendar and SLA policy, and tickets with conversations in every status, all
written through the service's own services (inbound mail through `email_ingest`, so the
demo exercises threading and customer matching like real mail)."""

from __future__ import annotations

import datetime as dt
import random
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from rapport.customers.models import Customer
from rapport.service import services
from rapport.service.models import Mailbox, Message, Ticket

SEED = 14
TICKETS = 40
SUBJECTS = [
    (
        "Where is my order?",
        "Hello, I ordered last week and nothing has arrived yet. Can you check?",
    ),
    ("Wrong item in my parcel", "I received a green tea instead of the Darjeeling I ordered."),
    (
        "Refund for a damaged grinder",
        "The grinder arrived with a cracked hopper. I'd like a refund.",
    ),
    ("Change my delivery address", "Could you send my next order to my office address instead?"),
    ("Subscription pause", "We're away in August, can I pause the monthly coffee box?"),
    ("Invoice with VAT number", "Please add our VAT number to the invoice of my last order."),
    ("Discount code not working", "The code WELCOME10 says it has expired, but I just signed up."),
    ("Brewing advice", "What grind size do you recommend for the Kenya AA in a French press?"),
]
REPLIES = [
    "Thanks for writing in! I've looked into it and will get back to you today.",
    "Sorry about that. I've arranged a replacement; it ships tomorrow.",
    "Done — you'll see the change on your next order confirmation.",
]
FOLLOW_UPS = ["Thank you, that helps!", "Any news on this?", "Great, much appreciated."]


def _demo_actor() -> Any:
    user_model = get_user_model()
    return (
        user_model.objects.filter(is_superuser=True, is_active=True).order_by("pk").first()
        or user_model.objects.filter(role__is_admin=True, is_active=True).order_by("pk").first()
    )


def _mail(sender: str, subject: str, body: str, when: dt.datetime, reply_to: str = "") -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "support@rapport-demo.example"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = make_msgid(domain="customer.example")
    if reply_to:
        msg["In-Reply-To"] = reply_to
        msg["References"] = reply_to
    msg.set_content(body)
    return bytes(msg)


@transaction.atomic
def load(stdout: Any = None) -> str:
    """Idempotent: loaded once (when there is no ticket yet)."""
    if Ticket.objects.exists() or Mailbox.objects.exists():
        return "Service demo data already loaded."
    admin = _demo_actor()
    customers = list(
        Customer.objects.exclude(primary_email="").filter(merged_into=None).order_by("pk")[:TICKETS]
    )
    if admin is None or not customers:
        return "Service demo: no customers with an e-mail address to write tickets for."
    rng = random.Random(SEED)
    support = services.queue_save(actor=admin, name="Support", description="Questions and orders")
    services.queue_save(actor=admin, name="Billing", description="Invoices, refunds, VAT")
    calendar = services.calendar_save(
        actor=admin,
        name="Office hours",
        time_zone="Europe/Amsterdam",
        weekly_hours={str(d): [["09:00", "17:30"]] for d in range(5)},
        holidays=["2026-12-25", "2026-12-26", "2027-01-01"],
    )
    services.sla_policy_save(
        actor=admin,
        data=services.SLAPolicyInput(
            name="Urgent",
            calendar_id=calendar.pk,
            priority="urgent",
            position=0,
            first_response_minutes=60,
            next_response_minutes=120,
            resolution_minutes=480,
        ),
    )
    services.sla_policy_save(
        actor=admin,
        data=services.SLAPolicyInput(
            name="Standard",
            calendar_id=calendar.pk,
            position=10,
            first_response_minutes=240,
            next_response_minutes=480,
            resolution_minutes=2400,
        ),
    )
    box = services.mailbox_save(
        actor=admin,
        data=services.MailboxInput(
            name="Support",
            email_address="support@rapport-demo.example",
            enabled=False,
            queue_id=support.pk,
            signature="The Rapport Coffee support team",
            imap_host="imap.rapport-demo.example",
            imap_user="support",
            folders=["INBOX"],
        ),
    )
    statuses = {s.category: s for s in services.statuses_seed()}
    made = 0
    now = dt.datetime.now(dt.UTC)
    for i, customer in enumerate(customers):
        subject, body = SUBJECTS[i % len(SUBJECTS)]
        when = now - dt.timedelta(hours=rng.randint(1, 24 * 20))
        sender = f"{customer.display_name} <{customer.primary_email}>"
        result = services.email_ingest(mailbox=box, raw=_mail(sender, subject, body, when))
        ticket = result.ticket
        if ticket is None:
            continue
        made += 1
        if i % 5 == 0:
            ticket = services.ticket_update(
                actor=admin, ticket=ticket, data=services.TicketInput(priority="urgent")
            )
        fate = i % 6
        if fate == 0:
            continue  # still new and unanswered
        services.ticket_assign(actor=admin, ticket=ticket, owner_id=admin.pk)
        ticket.refresh_from_db()
        reply = services.ticket_reply(actor=admin, ticket=ticket, body=rng.choice(REPLIES))
        # The demo mailbox has no SMTP server: replies are stored as sent, never mailed.
        Message.objects.filter(pk=reply.pk).update(delivery_status="sent")
        if fate == 1:
            services.ticket_set_status(
                actor=admin, ticket=ticket, status_id=statuses["waiting_on_customer"].pk
            )
        elif fate == 2:
            services.email_ingest(
                mailbox=box,
                raw=_mail(sender, f"Re: {subject}", rng.choice(FOLLOW_UPS), now, reply.message_id),
            )
        elif fate == 3:
            services.ticket_add_note(actor=admin, ticket=ticket, body="Checked with the warehouse.")
            services.ticket_set_status(actor=admin, ticket=ticket, status_id=statuses["on_hold"].pk)
        elif fate == 4:
            services.ticket_set_status(actor=admin, ticket=ticket, status_id=statuses["solved"].pk)
        else:
            services.ticket_set_status(actor=admin, ticket=ticket, status_id=statuses["closed"].pk)
    services.sla_check_breaches()
    return f"Service demo: 1 mailbox (disabled), 2 queues, 2 SLA policies, {made} tickets."
