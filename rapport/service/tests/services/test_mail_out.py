"""Replies over SMTP to a real in-process server (aiosmtpd): threading headers, the
agent's and the mailbox's signatures, the recorded Message-ID, failures kept."""

from __future__ import annotations

from typing import Any

import pytest

from rapport.core.permissions import Scope, system_actor
from rapport.service import services
from rapport.service.models import Message
from rapport.service.tests.factories import agent, customer_with_email, mailbox, raw_mail

pytestmark = pytest.mark.django_db


@pytest.fixture
def thread() -> Any:
    customer_with_email("ann@example.com")
    box = mailbox(signature="Shop support · +1 555 0100")
    first = services.email_ingest(
        mailbox=box, raw=raw_mail(message_id="<m1@example.com>", references="<m0@example.com>")
    )
    return first.ticket


def test_reply_is_sent_with_threading_headers_and_signatures(
    thread: Any, smtp: Any, django_capture_on_commit_callbacks: Any
) -> None:
    boss = agent(Scope.ALL)
    services.agent_signature_save(actor=boss, signature="Jo, customer care")
    with django_capture_on_commit_callbacks(execute=True):
        reply = services.ticket_reply(actor=boss, ticket=thread, body="It ships today.")
    [sent] = smtp.to("ann@example.com")
    assert sent["Message-ID"].strip() == reply.message_id  # folded: long but valid
    assert sent["In-Reply-To"] == "<m1@example.com>"
    assert sent["References"].split() == ["<m0@example.com>", "<m1@example.com>"]
    assert sent["X-Loop"] == "support@shop.example"
    assert f"[#{thread.pk}]" in sent["Subject"] and sent["Subject"].startswith("Re: ")
    body = sent.get_payload(decode=True).decode()
    assert "It ships today." in body and "Jo, customer care" in body and "Shop support" in body
    assert Message.objects.get(pk=reply.pk).delivery_status == "sent"


def test_the_customers_answer_to_our_reply_threads_back(
    thread: Any, smtp: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        reply = services.ticket_reply(actor=agent(Scope.ALL), ticket=thread, body="Which size?")
    answer = raw_mail(subject="Re: whatever", in_reply_to=reply.message_id)
    result = services.email_ingest(mailbox=thread.mailbox, raw=answer)
    assert result.outcome == "appended" and result.ticket == thread


def test_a_failed_send_is_recorded_and_not_lost(thread: Any, settings: Any) -> None:
    reply = services.ticket_reply(actor=agent(Scope.ALL), ticket=thread, body="Hello")
    box = thread.mailbox
    box.smtp_host, box.smtp_port, box.smtp_security = "127.0.0.1", 1, "none"
    box.save()
    message = services.message_deliver(actor=system_actor(), message_id=reply.pk)
    assert message.delivery_status == "failed" and "ConnectionRefused" in message.delivery_error
    assert Message.objects.get(pk=reply.pk).delivery_status == "failed"


def test_a_sent_message_is_never_sent_twice(thread: Any, smtp: Any) -> None:
    reply = services.ticket_reply(actor=agent(Scope.ALL), ticket=thread, body="Once")
    services.message_deliver(actor=system_actor(), message_id=reply.pk)
    services.message_deliver(actor=system_actor(), message_id=reply.pk)
    assert len(smtp.to("ann@example.com")) == 1
    assert services.compose(reply).extra_headers["Message-ID"] == reply.message_id
