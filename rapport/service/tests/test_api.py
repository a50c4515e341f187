"""The tickets API: CRUD through the shared builder (scope, ETag, If-Match), messages,
reply with the collision check, notes, status and assignment."""

from __future__ import annotations

from typing import Any

import pytest

from rapport.commerce.tests.conftest import api_for
from rapport.core.permissions import Scope
from rapport.service import services
from rapport.service.models import Ticket
from rapport.service.tests.factories import agent, customer_with_email

pytestmark = pytest.mark.django_db
SCOPES = ["service.ticket:write", "customers.customer:read", "commerce.order:read"]


@pytest.fixture
def boss() -> Any:
    return agent(Scope.ALL)


@pytest.fixture
def ann() -> Any:
    return customer_with_email("ann@example.com")


def test_crud(boss: Any, ann: Any, django_assert_max_num_queries: Any) -> None:
    api = api_for(boss, SCOPES)
    created = api.post(
        "/tickets", {"customer_id": ann.pk, "subject": "Broken kettle", "priority": "high"}
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["status"] == "Open" and body["priority"] == "high"
    tid = body["id"]
    got = api.get(f"/tickets/{tid}")
    etag = got["ETag"]
    assert (
        api.patch(f"/tickets/{tid}", {"subject": "Kettle"}, HTTP_IF_MATCH=etag).status_code == 200
    )
    assert api.patch(f"/tickets/{tid}", {"subject": "x"}, HTTP_IF_MATCH=etag).status_code == 412
    for i in range(5):
        services.ticket_create(
            actor=boss, data=services.TicketInput(customer_id=ann.pk, subject=f"T{i}")
        )
    api.get("/tickets")
    with django_assert_max_num_queries(8):
        listed = api.get("/tickets?limit=50")
    assert len(listed.json()["items"]) == 6
    assert api.get("/tickets?view=bogus").status_code == 422
    assert api.delete(f"/tickets/{tid}").status_code == 204
    assert not Ticket.objects.filter(pk=tid).exists()


def test_scope(boss: Any, ann: Any) -> None:
    ticket = services.ticket_create(
        actor=boss, data=services.TicketInput(customer_id=ann.pk, subject="x")
    )
    rep_api = api_for(agent(Scope.OWN), SCOPES)
    assert rep_api.get(f"/tickets/{ticket.pk}").status_code == 404
    assert rep_api.get("/tickets").json()["items"] == []
    reader = api_for(boss, ["service.ticket:read"])
    assert reader.post(f"/tickets/{ticket.pk}/notes", {"body": "hi"}).status_code == 403


def test_reply_note_status_assign(boss: Any, ann: Any, smtp: Any) -> None:
    api = api_for(boss, SCOPES)
    ticket = services.ticket_create(
        actor=boss,
        data=services.TicketInput(customer_id=ann.pk, subject="Where?"),
        message=services.MessageInput(body_text="Where is it?", from_address="ann@example.com"),
    )
    etag = api.get(f"/tickets/{ticket.pk}")["ETag"]
    reply = api.post(f"/tickets/{ticket.pk}/reply", {"body": "Today."}, HTTP_IF_MATCH=etag)
    assert reply.status_code == 201 and reply.json()["direction"] == "out"
    stale = api.post(f"/tickets/{ticket.pk}/reply", {"body": "Again"}, HTTP_IF_MATCH=etag)
    assert stale.status_code == 412
    assert api.post(f"/tickets/{ticket.pk}/notes", {"body": "fyi"}).status_code == 201
    messages = api.get(f"/tickets/{ticket.pk}/messages").json()
    assert [m["direction"] for m in messages] == ["in", "out", "internal"]
    pending = next(s for s in services.statuses_seed() if s.category == "waiting_on_customer")
    moved = api.post(f"/tickets/{ticket.pk}/status", {"status_id": pending.pk})
    assert moved.status_code == 200 and moved.json()["status_category"] == "waiting_on_customer"
    assigned = api.post(f"/tickets/{ticket.pk}/assign", {"owner_id": boss.pk})
    assert assigned.json()["owner_id"] == boss.pk
    bad = api.post(f"/tickets/{ticket.pk}/reply", {"body": " "})
    assert bad.status_code == 422


def test_ticket_delete_service(boss: Any, ann: Any) -> None:
    ticket = services.ticket_create(
        actor=boss, data=services.TicketInput(customer_id=ann.pk, subject="x")
    )
    services.ticket_delete(actor=boss, ticket=ticket)
    assert not Ticket.objects.exists()
