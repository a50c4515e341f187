"""POST /api/v1/events and GET /api/v1/events: API-key scope, per-event answers, scope."""

from __future__ import annotations

import pytest

from rapport.core.permissions import Scope
from rapport.customers.tests.api_support import ApiClient
from rapport.identity.tests.factories import api_key_for
from rapport.marketing.tests.factories import customer, event, marketer

pytestmark = pytest.mark.django_db

EVENTS_WRITE = "marketing.webevent:write"


def _api(user: object, scopes: list[str]) -> ApiClient:
    _, raw = api_key_for(user, scopes)  # type: ignore[arg-type]
    return ApiClient(raw)


def test_a_batch_answers_per_event_and_a_retry_is_all_duplicates() -> None:
    api = _api(marketer(), [EVENTS_WRITE])
    batch = {"events": [event("page_view", visitor_id="v1"), {"type": "page_view"}]}
    first = api.post("/events", batch)
    assert first.status_code == 200, first.content
    body = first.json()
    assert (body["accepted"], body["failed"]) == (1, 1)
    fields = {e["field"] for e in body["results"][1]["errors"]}
    assert {"idempotency_key", "occurred_at"} <= fields
    again = api.post("/events", batch).json()
    assert (again["accepted"], again["duplicate"], again["failed"]) == (0, 1, 1)


def test_a_key_without_the_events_scope_is_refused() -> None:
    api = _api(marketer(), ["customers.customer:write"])
    refused = api.post("/events", {"events": [event()]})
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("/forbidden")


def test_an_events_only_key_can_do_nothing_else() -> None:
    api = _api(marketer(), [EVENTS_WRITE])
    assert api.get("/persons").status_code == 403
    assert api.get("/orders").status_code == 403


def test_more_than_a_thousand_events_is_a_422() -> None:
    api = _api(marketer(), [EVENTS_WRITE])
    refused = api.post("/events", {"events": [event() for _ in range(1001)]})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "events"


def test_the_event_list_shows_only_customers_in_scope() -> None:
    rep = marketer(Scope.OWN)
    mine = customer(external_id="mine", owner=rep)
    customer(external_id="theirs")
    writer = _api(marketer(), [EVENTS_WRITE])
    writer.post(
        "/events",
        {
            "events": [
                event("page_view", customer={"external_id": "mine"}),
                event("page_view", customer={"external_id": "theirs"}),
                event("page_view", visitor_id="anon"),
            ]
        },
    )
    # Events are seen through the customers they belong to: both scopes are needed.
    readers = ["marketing.webevent:read", "customers.customer:read"]
    assert _api(rep, ["marketing.webevent:read"]).get("/events").json()["items"] == []
    seen = _api(rep, readers).get("/events").json()["items"]
    assert [e["customer_id"] for e in seen] == [mine.pk]
    everyone = _api(marketer(Scope.ALL), readers).get("/events").json()
    assert len(everyone["items"]) == 3
    typed = _api(marketer(), ["marketing.webevent:read"]).get("/events?type=nope")
    assert typed.status_code == 422
