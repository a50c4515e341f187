"""/api/v1/activities: CRUD through the builder (scope, cursor, ETag/If-Match, problem
details), complete/reopen/cancel as actions and the call log."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from rapport.activities.models import Activity
from rapport.activities.tests.conftest import TYPES, activity_user, task
from rapport.commerce.tests.conftest import api_for
from rapport.core.permissions import Scope

pytestmark = pytest.mark.django_db

WRITE = [f"{t}:write" for t in TYPES]
SEES = {
    "rep": {"Rep's task"},
    "manager": {"Rep's task", "Mate's task"},
    "boss": {"Rep's task", "Mate's task", "South task"},
}


@pytest.mark.parametrize("who", sorted(SEES))
def test_list_and_get_follow_record_scope(world, who) -> None:
    api = api_for(getattr(world, who), WRITE)
    body = api.get("/activities").json()
    assert {a["subject"] for a in body["items"]} == SEES[who]
    for activity in world.activities.values():
        response = api.get(f"/activities/{activity.pk}")
        assert response.status_code == (200 if activity.subject in SEES[who] else 404)


def test_create_update_complete_and_delete(world) -> None:
    api = api_for(world.rep, WRITE)
    due = (timezone.now() + dt.timedelta(days=1)).isoformat()
    created = api.post(
        "/activities",
        {
            "kind": "call",
            "subject": "Call back",
            "customer_id": world.customers["north"].pk,
            "due_at": due,
        },
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert created.status_code == 201, created.content
    item = created.json()
    assert item["owner_id"] == world.rep.pk and item["status"] == "open"
    again = api.post(
        "/activities",
        {
            "kind": "call",
            "subject": "Call back",
            "customer_id": world.customers["north"].pk,
            "due_at": due,
        },
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert again.json()["id"] == item["id"]  # the same request, answered once
    got = api.get(f"/activities/{item['id']}")
    etag = got["ETag"]
    stale = api.patch(f"/activities/{item['id']}", {"subject": "x"}, HTTP_IF_MATCH='"999"')
    assert stale.status_code == 412
    patched = api.patch(f"/activities/{item['id']}", {"priority": 3}, HTTP_IF_MATCH=etag)
    assert patched.status_code == 200 and patched.json()["priority"] == 3
    done = api.post(
        f"/activities/{item['id']}/complete",
        {"call_outcome": "connected", "call_duration_seconds": 90},
    )
    assert done.status_code == 200, done.content
    assert done.json()["status"] == "done" and done.json()["call_outcome"] == "connected"
    twice = api.post(f"/activities/{item['id']}/complete", {})
    assert twice.status_code == 422 and twice["Content-Type"] == "application/problem+json"
    assert api.post(f"/activities/{item['id']}/reopen", {}).json()["status"] == "open"
    assert api.post(f"/activities/{item['id']}/cancel", {}).json()["status"] == "cancelled"
    assert api.delete(f"/activities/{item['id']}").status_code == 204
    assert not Activity.objects.filter(pk=item["id"]).exists()


def test_bad_input_is_a_problem_with_field_errors(world) -> None:
    api = api_for(world.rep, WRITE)
    response = api.post("/activities", {"kind": "lunch", "subject": "x", "priority": 7})
    assert response.status_code in (400, 422)
    problem = response.json()
    assert response["Content-Type"] == "application/problem+json"
    fields = {
        e.get("field") or ".".join(str(p) for p in e.get("loc", [])) for e in problem["errors"]
    }
    assert any("kind" in f for f in fields) and any("priority" in f for f in fields)


def test_actions_on_records_out_of_scope_are_404(world) -> None:
    api = api_for(world.rep, WRITE)
    south = world.activities["south"]
    assert api.post(f"/activities/{south.pk}/complete", {}).status_code == 404
    assert api.patch(f"/activities/{south.pk}", {"subject": "x"}).status_code == 404


def test_a_read_only_key_cannot_write(world) -> None:
    api = api_for(world.rep, [f"{t}:read" for t in TYPES])
    assert api.get("/activities").status_code == 200
    assert api.post(f"/activities/{world.activities['rep'].pk}/complete", {}).status_code == 403


def test_log_a_call(world) -> None:
    api = api_for(world.rep, WRITE)
    response = api.post(
        "/activities/calls",
        {
            "customer_id": world.customers["north"].pk,
            "subject": "Inbound question",
            "direction": "in",
            "duration_seconds": 42,
            "outcome": "connected",
            "recording_url": "https://pbx.example.com/r/9.mp3",
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["kind"], body["status"], body["call_direction"]) == ("call", "done", "in")
    bad = api.post("/activities/calls", {"subject": "x", "direction": "up"})
    assert bad.status_code == 422 and "direction" in bad.content.decode()


def test_list_filters_and_query_count(world, django_assert_max_num_queries) -> None:
    boss = activity_user(Scope.ALL)
    for i in range(25):
        task(
            boss,
            f"B{i}",
            kind="meeting" if i % 2 else "task",
            starts_at=timezone.now() + dt.timedelta(days=1) if i % 2 else None,
            attendee_ids=[boss.pk] if i % 2 else None,
        )
    api = api_for(boss, WRITE)
    body = api.get("/activities?kind=meeting&limit=5").json()
    assert len(body["items"]) == 5 and all(a["kind"] == "meeting" for a in body["items"])
    assert all(a["attendee_ids"] == [boss.pk] for a in body["items"])
    assert body["next_cursor"]
    api.get("/activities?limit=20")
    with django_assert_max_num_queries(8):
        assert len(api.get("/activities?limit=20").json()["items"]) == 20
