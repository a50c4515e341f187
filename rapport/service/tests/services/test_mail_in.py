"""Inbound e-mail: threading, customer matching, auto-replies, bounces, loops, hostile
HTML and attachments."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from rapport.core.permissions import Scope
from rapport.customers.models import Customer
from rapport.service import attachments, services
from rapport.service.models import Message, Ticket
from rapport.service.services import MessageInput
from rapport.service.tests.factories import agent, customer_with_email, mailbox, raw_mail

pytestmark = pytest.mark.django_db


@pytest.fixture
def box() -> Any:
    return mailbox()


def test_new_mail_opens_a_ticket_for_the_known_customer(box: Any) -> None:
    ann = customer_with_email("ann@example.com")
    result = services.email_ingest(mailbox=box, raw=raw_mail(sender="Ann <ANN@Example.com>"))
    assert result.outcome == "created"
    assert result.ticket.customer == ann
    assert result.ticket.subject == "My order has not arrived"
    assert result.message.from_address == "ann@example.com"
    assert result.message.author_customer == ann


def test_unknown_sender_becomes_a_customer(box: Any) -> None:
    result = services.email_ingest(mailbox=box, raw=raw_mail(sender="Zoe Quinn <zoe@new.example>"))
    customer = Customer.objects.get(pk=result.ticket.customer_id)
    assert (customer.first_name, customer.last_name) == ("Zoe", "Quinn")
    assert customer.primary_email == "zoe@new.example"


def test_same_message_twice_is_a_duplicate(box: Any) -> None:
    raw = raw_mail(message_id="<one@example.com>")
    assert services.email_ingest(mailbox=box, raw=raw).outcome == "created"
    assert services.email_ingest(mailbox=box, raw=raw).outcome == "duplicate"
    assert Message.objects.count() == 1


def test_replies_thread_by_in_reply_to_and_references_even_when_closed(box: Any) -> None:
    first = services.email_ingest(mailbox=box, raw=raw_mail(message_id="<a@example.com>"))
    ticket = first.ticket
    closed = services.statuses_seed()[-1]
    services.ticket_set_status(actor=agent(Scope.ALL), ticket=ticket, status_id=closed.pk)
    reply = raw_mail(
        subject="Re: something else", message_id="<b@example.com>", in_reply_to="<a@example.com>"
    )
    assert services.email_ingest(mailbox=box, raw=reply).ticket == ticket
    third = raw_mail(
        subject="New subject entirely",
        message_id="<c@example.com>",
        references="<zzz@elsewhere> <b@example.com>",
    )
    result = services.email_ingest(mailbox=box, raw=third)
    assert result.outcome == "appended" and result.ticket == ticket
    assert Ticket.objects.count() == 1
    ticket.refresh_from_db()
    assert ticket.status_category == "open"  # the customer's reply reopened it


def test_subject_token_threads_only_for_the_tickets_customer(box: Any) -> None:
    ticket = services.email_ingest(mailbox=box, raw=raw_mail()).ticket
    token = f"Re: anything {ticket.reference}"
    assert services.email_ingest(mailbox=box, raw=raw_mail(subject=token)).ticket == ticket
    stranger = services.email_ingest(
        mailbox=box, raw=raw_mail(sender="eve@evil.example", subject=token)
    )
    assert stranger.outcome == "created" and stranger.ticket != ticket


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto-Submitted": "auto-replied"},
        {"X-Autoreply": "yes"},
        {"Precedence": "bulk"},
        {"Precedence": "auto_reply"},
    ],
)
def test_auto_replies_never_become_tickets(box: Any, headers: dict[str, str]) -> None:
    result = services.email_ingest(
        mailbox=box, raw=raw_mail(subject="Out of office", headers=headers)
    )
    assert result.outcome == "auto_reply"
    assert not Ticket.objects.exists()


def test_auto_reply_to_a_thread_does_not_touch_it(box: Any) -> None:
    ticket = services.email_ingest(mailbox=box, raw=raw_mail(message_id="<a@example.com>")).ticket
    ooo = raw_mail(in_reply_to="<a@example.com>", headers={"Auto-Submitted": "auto-replied"})
    assert services.email_ingest(mailbox=box, raw=ooo).outcome == "auto_reply"
    assert ticket.messages.count() == 1


def test_bounces_are_recognised_and_mark_our_reply_failed(box: Any) -> None:
    ticket = services.email_ingest(mailbox=box, raw=raw_mail()).ticket
    ours = Message.objects.create(
        ticket=ticket,
        channel="email",
        direction="out",
        message_id="<ours@shop.example>",
        delivery_status="sent",
    )
    dsn = (
        b"From: MAILER-DAEMON@mx.example\r\nTo: support@shop.example\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn1@mx.example>\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status;"
        b' boundary="B"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nCould not deliver.\r\n'
        b"--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; mx.example\r\n\r\n"
        b"Final-Recipient: rfc822; ann@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
        b"--B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <ours@shop.example>\r\n"
        b"Subject: Re: My order\r\n\r\n--B--\r\n"
    )
    assert services.email_ingest(mailbox=box, raw=dsn).outcome == "bounce"
    ours.refresh_from_db()
    assert ours.delivery_status == "failed"
    assert Ticket.objects.count() == 1


def test_loops_are_dropped(box: Any) -> None:
    assert (
        services.email_ingest(mailbox=box, raw=raw_mail(sender="support@shop.example")).outcome
        == "loop"
    )
    looped = raw_mail(headers={"X-Loop": "support@shop.example"})
    assert services.email_ingest(mailbox=box, raw=looped).outcome == "loop"
    assert not Ticket.objects.exists()


def test_our_own_reply_coming_back_is_a_loop(box: Any) -> None:
    ticket = services.email_ingest(mailbox=box, raw=raw_mail()).ticket
    services.message_receive  # noqa: B018 (the name this test module proves)
    Message.objects.create(
        ticket=ticket,
        channel="email",
        direction="out",
        mailbox=None,
        message_id="<reply-1@shop.example>",
    )
    echo = raw_mail(sender="ann@example.com", message_id="<reply-1@shop.example>")
    assert services.email_ingest(mailbox=box, raw=echo).outcome == "loop"


def test_hostile_html_is_made_inert(box: Any) -> None:
    html = (
        '<p onclick="steal()">Hi<script>alert(1)</script></p>'
        '<a href="javascript:alert(2)">click</a> <a href="https://ok.example/x">ok</a>'
        '<img src="https://tracker.example/pixel.gif" onerror="x()">'
        '<iframe src="https://evil.example"></iframe><style>body{display:none}</style>'
        '<form action="https://evil.example"><input name="p"></form>'
    )
    message = services.email_ingest(mailbox=box, raw=raw_mail(html=html)).message
    clean = message.body_html
    for bad in (
        "<script",
        "onclick",
        "onerror",
        "javascript:",
        "<iframe",
        "<style",
        "<form",
        ' src="https://tracker',
    ):
        assert bad not in clean, bad
    assert 'href="https://ok.example/x"' in clean and "noopener" in clean
    assert 'data-blocked-src="https://tracker.example/pixel.gif"' in clean


def test_html_only_mail_gets_a_text_body(box: Any) -> None:
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "ann@example.com", "support@shop.example", "Hi"
    msg["Message-ID"] = "<html-only@example.com>"
    msg.set_content("<p>Hello <b>there</b></p><p>Line two</p>", subtype="html")
    message = services.email_ingest(mailbox=box, raw=bytes(msg)).message
    assert "Hello there" in message.body_text and "<b>" not in message.body_text


def test_attachments_are_stored(box: Any) -> None:
    raw = raw_mail(attachments=[("../../etc/passwd.pdf", "application/pdf", b"%PDF-1.4 data")])
    message = services.email_ingest(mailbox=box, raw=raw).message
    attachment = message.attachments.get()
    assert attachment.filename == "passwd.pdf" and attachment.size == 13
    assert attachments.path_of(attachment).read_bytes() == b"%PDF-1.4 data"


def test_message_receive_needs_a_body() -> None:
    ann = customer_with_email("ann@example.com")
    boss = agent(Scope.ALL)
    ticket = services.ticket_create(
        actor=boss, data=services.TicketInput(customer_id=ann.pk, subject="x")
    )
    with pytest.raises(ValidationError):
        services.message_receive(actor=boss, ticket=ticket, data=MessageInput())
