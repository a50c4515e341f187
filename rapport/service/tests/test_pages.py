"""Service pages: the inbox (query counts pinned at 2 and 20 tickets, views, scope), a
ticket with reply / note / properties / merge (errors shown, collisions caught),
attachments only for those who may see the ticket, settings, mailbox health, breach
report, the customer page's panel, and the inbound webhook."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from rapport.core.permissions import Scope
from rapport.identity.tests.factories import UserFactory
from rapport.service import services
from rapport.service.models import Message, Ticket
from rapport.service.tests.factories import agent, mailbox, raw_mail

pytestmark = pytest.mark.django_db


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def box() -> Any:
    return mailbox()


def tickets(box: Any, n: int) -> list[Ticket]:
    return [
        services.email_ingest(
            mailbox=box,
            raw=raw_mail(
                sender=f"c{i}@example.com",
                subject=f"Question {i}",
                message_id=f"<p{i}-{n}@example.com>",
            ),
        ).ticket
        for i in range(n)
    ]


@pytest.mark.parametrize("n", [2, 20])
def test_inbox_query_count_is_flat(box: Any, n: int, django_assert_num_queries: Any) -> None:
    tickets(box, n)
    client = client_for(agent(Scope.ALL))
    client.get("/service/")
    # session, user, grants, queues, five capped view counts, the page of tickets
    with django_assert_num_queries(11):
        response = client.get("/service/?view=all")
    assert response.status_code == 200
    assert response.content.count(b'href="/service/tickets/') == n


def test_inbox_views_and_scope(box: Any) -> None:
    first, second = tickets(box, 2)
    rep = agent(Scope.OWN)
    services.ticket_assign(actor=UserFactory(is_superuser=True), ticket=first, owner_id=rep.pk)
    page = client_for(rep).get("/service/?view=mine").content.decode()
    assert "Question 0" in page and "Question 1" not in page
    assert client_for(rep).get(f"/service/tickets/{second.pk}/").status_code == 404
    boss = client_for(agent(Scope.ALL))
    unassigned = boss.get("/service/?view=unassigned").content.decode()
    assert "Question 1" in unassigned and "Question 0" not in unassigned
    assert boss.get("/service/?view=bogus").status_code == 200  # said on the page, not a 500
    assert client_for(UserFactory()).get("/service/").status_code == 403


def test_ticket_page_shows_sanitised_html(box: Any) -> None:
    raw = raw_mail(html='<p>Hi<script>alert(1)</script><a href="javascript:x()">x</a></p>')
    ticket = services.email_ingest(mailbox=box, raw=raw).ticket
    page = client_for(agent(Scope.ALL)).get(f"/service/tickets/{ticket.pk}/").content.decode()
    assert "<p>Hi" in page and "alert(1)" not in page and "javascript:" not in page


def test_reply_note_and_collision(box: Any, smtp: Any) -> None:
    ticket = tickets(box, 1)[0]
    alice, bob = client_for(agent(Scope.ALL)), client_for(agent(Scope.ALL))
    seen = ticket.version
    response = alice.post(
        f"/service/tickets/{ticket.pk}/reply/", {"body": "On its way", "version": seen}
    )
    assert response.status_code == 302
    response = bob.post(f"/service/tickets/{ticket.pk}/reply/", {"body": "Me too", "version": seen})
    assert response.status_code == 409
    assert "Someone replied to or changed this ticket" in response.content.decode()
    assert "Me too" in response.content.decode()  # the text is kept
    assert Message.objects.filter(direction="out").count() == 1
    response = alice.post(f"/service/tickets/{ticket.pk}/reply/", {"body": "", "version": 99})
    assert response.status_code == 422 and "This field is required" in response.content.decode()
    assert alice.post(f"/service/tickets/{ticket.pk}/note/", {"body": "Checked"}).status_code == 302
    assert Message.objects.filter(direction="internal").count() == 1


def test_properties_and_merge(box: Any) -> None:
    first, second = tickets(box, 2)
    boss_user = agent(Scope.ALL)
    boss = client_for(boss_user)
    solved = next(s for s in services.statuses_seed() if s.category == "solved")
    response = boss.post(
        f"/service/tickets/{first.pk}/properties/",
        {
            "status": solved.pk,
            "priority": "high",
            "type": "problem",
            "queue": "",
            "owner": boss_user.pk,
            "tags": "vip, late",
            "version": first.version,
        },
    )
    assert response.status_code == 302
    first.refresh_from_db()
    assert (first.status_id, first.priority, first.owner_id, first.tags) == (
        solved.pk,
        "high",
        boss_user.pk,
        ["vip", "late"],
    )
    bad = boss.post(f"/service/tickets/{first.pk}/properties/", {"priority": "asap"})
    assert bad.status_code == 422
    response = boss.post(f"/service/tickets/{second.pk}/merge/", {"target": first.pk})
    assert response.status_code == 422  # another customer's ticket
    assert "same customer" in response.content.decode()


def test_attachment_only_for_who_may_see_the_ticket(box: Any) -> None:
    raw = raw_mail(attachments=[("invoice.pdf", "application/pdf", b"%PDF")])
    message = services.email_ingest(mailbox=box, raw=raw).message
    attachment = message.attachments.get()
    url = attachment.get_absolute_url()
    response = client_for(agent(Scope.ALL)).get(url)
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"%PDF"
    assert "attachment" in response["Content-Disposition"]
    assert client_for(agent(Scope.OWN)).get(url).status_code == 404
    assert Client().get(url).status_code == 302  # to the login page


def test_inbound_webhook(box: Any) -> None:
    admin = UserFactory(is_superuser=True)
    token = services.mailbox_rotate_webhook_token(actor=admin, mailbox=box)
    url = f"/service/inbound/{box.pk}/"
    raw = raw_mail(message_id="<push1@example.com>")
    client = Client()
    assert client.post(url, raw, content_type="message/rfc822").status_code == 401
    wrong = client.post(url, raw, content_type="message/rfc822", HTTP_AUTHORIZATION="Bearer nope")
    assert wrong.status_code == 401
    ok = client.post(url, raw, content_type="message/rfc822", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert ok.status_code == 201 and ok.json()["outcome"] == "created"
    again = client.post(
        url, raw, content_type="message/rfc822", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert again.status_code == 200 and again.json()["outcome"] == "duplicate"
    assert Ticket.objects.count() == 1


def test_settings_pages(box: Any) -> None:
    admin = client_for(UserFactory(is_superuser=True))
    assert client_for(agent(Scope.ALL)).get("/service/settings/").status_code == 403
    assert admin.get("/service/settings/").status_code == 200
    response = admin.post(
        "/service/settings/calendars/new/",
        {"name": "EU", "time_zone": "Mars/Base", "hours": "Mon 09:00-17:00", "holidays": ""},
    )
    assert response.status_code == 422 and "Unknown time zone" in response.content.decode()
    response = admin.post(
        "/service/settings/calendars/new/",
        {
            "name": "EU",
            "time_zone": "Europe/Berlin",
            "hours": "Mon 09:00-12:00, 13:00-17:00\nFri 09:00-15:00",
            "holidays": "2026-12-25",
        },
    )
    assert response.status_code == 302
    from rapport.service.models import BusinessCalendar

    cal = BusinessCalendar.objects.get(name="EU")
    assert cal.weekly_hours == {
        "0": [["09:00", "12:00"], ["13:00", "17:00"]],
        "4": [["09:00", "15:00"]],
    }
    response = admin.post(
        "/service/settings/policies/new/",
        {
            "name": "Std",
            "calendar_id": cal.pk,
            "first_response_minutes": 60,
            "warn_before_minutes": 30,
            "position": 0,
        },
    )
    assert response.status_code == 302
    assert admin.post("/service/settings/queues/", {"name": "Billing"}).status_code == 302
    assert (
        admin.post(
            "/service/settings/statuses/",
            {"name": "Awaiting parts", "category": "on_hold", "position": 5},
        ).status_code
        == 302
    )
    page = admin.get("/service/settings/").content.decode()
    assert "Std" in page and "Billing" in page and "Awaiting parts" in page


def test_mailbox_pages(box: Any) -> None:
    admin = client_for(UserFactory(is_superuser=True))
    response = admin.post(
        "/service/mailboxes/new/",
        {
            "name": "Sales",
            "email_address": "sales@shop.example",
            "enabled": "on",
            "imap_host": "imap.x",
            "imap_port": 993,
            "imap_security": "ssl",
            "imap_user": "",
            "folders": "INBOX\nOrders",
            "smtp_port": 587,
            "smtp_security": "starttls",
            "alert_after_minutes": 30,
        },
    )
    assert response.status_code == 422 and "Give the IMAP user name" in response.content.decode()
    box.last_error = "Cannot connect or log in: timeout"
    box.save()
    page = admin.get("/service/mailboxes/").content.decode()
    assert "Cannot connect or log in" in page and "support@shop.example" in page
    response = admin.post(f"/service/mailboxes/{box.pk}/", {"rotate_token": "1"})
    assert "rmw_" in response.content.decode()


def test_breach_report_and_signature(box: Any) -> None:
    ticket = tickets(box, 1)[0]
    Ticket.objects.filter(pk=ticket.pk).update(first_response_breached=True)
    user = agent(Scope.ALL)
    page = client_for(user).get("/service/breaches/").content.decode()
    assert "First response" in page and f"#{ticket.pk}" in page
    client = client_for(user)
    assert client.post("/service/signature/", {"signature": "Jo"}).status_code == 302
    assert "Jo" in client.get("/service/signature/").content.decode()


def test_customer_page_panel(box: Any) -> None:
    ticket = tickets(box, 1)[0]
    admin = client_for(UserFactory(is_superuser=True))
    page = admin.get(ticket.customer.get_absolute_url()).content.decode()
    assert f"#{ticket.pk} Question 0" in page
