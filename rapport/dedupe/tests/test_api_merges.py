"""Duplicates and merges over the API: queue scope, merge, idempotency, undo, conflicts."""

from __future__ import annotations

import pytest

from rapport.core.models import OutboxEvent
from rapport.core.permissions import Scope
from rapport.customers.models import Customer
from rapport.customers.tests.api_support import ApiClient
from rapport.customers.tests.factories import person
from rapport.dedupe.models import CustomerMerge, DuplicatePair, PairStatus
from rapport.identity.tests.factories import UserFactory, api_key_for, user_with

pytestmark = pytest.mark.django_db
RW = ["customers.customer:read", "customers.customer:write"]


@pytest.fixture
def admin():
    return UserFactory(is_superuser=True)


@pytest.fixture
def api(admin):
    _, raw = api_key_for(admin, RW)
    return ApiClient(raw)


def _pair(a, b, p=0.97):
    a, b = sorted([a, b], key=lambda c: c.pk)
    return DuplicatePair.objects.create(customer_a=a, customer_b=b, probability=p, match_weight=9)


def test_queue_lists_only_pairs_whose_both_records_the_key_may_see(admin):
    rep = user_with(Scope.OWN)
    mine_a, mine_b = person(rep, "Ada", "Lovelace"), person(rep, "Ada", "Lovelace")
    theirs = person(admin, "Ada", "Lovelace")
    visible = _pair(mine_a, mine_b, 0.9)
    _pair(mine_a, theirs, 0.99)
    _, raw = api_key_for(rep, RW)
    body = ApiClient(raw).get("/duplicates").json()
    assert [p["id"] for p in body["items"]] == [visible.pk]
    _, admin_raw = api_key_for(admin, RW)
    everything = ApiClient(admin_raw).get("/duplicates?min_probability=0.95").json()
    assert [p["probability"] for p in everything["items"]] == [0.99]


def test_queue_pages_by_keyset(api, admin):
    people = [person(admin, "Ada", f"Lovelace{i}") for i in range(7)]
    for i in range(6):
        _pair(people[i], people[i + 1], 0.5 + i / 100)
    first = api.get("/duplicates?limit=4").json()
    second = api.get(f"/duplicates?limit=4&cursor={first['next_cursor']}").json()
    probabilities = [p["probability"] for p in first["items"] + second["items"]]
    assert probabilities == sorted(probabilities, reverse=True) and len(probabilities) == 6
    assert second["next_cursor"] is None


def test_merge_then_undo_over_the_api(api, admin):
    keep = person(admin, "Ada", "Lovelace")
    dup = person(admin, "Ada", "King", job_title="Analyst")
    pair = _pair(keep, dup)
    response = api.post(
        "/merges",
        {"survivor_id": keep.pk, "loser_id": dup.pk, "choices": {"last_name": "loser"}},
        **{"Idempotency-Key": "merge-1"},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["survivor_id"] == keep.pk and set(body["changed_fields"]) >= {
        "last_name",
        "job_title",
    }
    assert Customer.objects.get(pk=keep.pk).last_name == "King"
    assert DuplicatePair.objects.get(pk=pair.pk).status == PairStatus.MERGED
    # A retried request gets the same answer, not a second merge (or a 400 "already merged").
    again = api.post(
        "/merges",
        {"survivor_id": keep.pk, "loser_id": dup.pk, "choices": {"last_name": "loser"}},
        **{"Idempotency-Key": "merge-1"},
    )
    assert again.status_code == 201 and again.json()["id"] == body["id"]
    assert CustomerMerge.objects.count() == 1
    assert api.get(f"/persons/{dup.pk}").status_code == 404

    undone = api.post(f"/merges/{body['id']}/undo", {})
    assert undone.status_code == 200 and undone.json()["status"] == "undone"
    assert Customer.objects.get(pk=keep.pk).last_name == "Lovelace"
    assert api.get(f"/persons/{dup.pk}").status_code == 200
    assert [
        e.type for e in OutboxEvent.objects.filter(type__startswith="customer.").order_by("id")
    ][-2:] == [
        "customer.merged",
        "customer.unmerged",
    ]
    assert api.post(f"/merges/{body['id']}/undo", {}).status_code == 422


def test_merge_errors_are_problems_with_fields(api, admin):
    keep = person(admin, "Ada", "Lovelace")
    dup = person(admin, "Ada", "Lovelace")
    bad = api.post("/merges", {"survivor_id": keep.pk, "loser_id": keep.pk})
    assert bad.status_code == 422 and bad["Content-Type"] == "application/problem+json"
    unknown = api.post(
        "/merges", {"survivor_id": keep.pk, "loser_id": dup.pk, "choices": {"email": "loser"}}
    )
    assert unknown.status_code == 422
    stale = api.post(
        "/merges", {"survivor_id": keep.pk, "loser_id": dup.pk, "loser_version": dup.version + 5}
    )
    assert stale.status_code == 412
    missing = api.post("/merges", {"survivor_id": keep.pk, "loser_id": 999_999})
    assert missing.status_code == 404


def test_a_read_only_key_cannot_merge_and_scope_hides_other_records(admin):
    keep = person(admin, "Ada", "Lovelace")
    dup = person(admin, "Ada", "Lovelace")
    _, read_only = api_key_for(admin, ["customers.customer:read"])
    assert (
        ApiClient(read_only)
        .post("/merges", {"survivor_id": keep.pk, "loser_id": dup.pk})
        .status_code
        == 403
    )
    rep = user_with(Scope.OWN)
    _, raw = api_key_for(rep, RW)
    assert (
        ApiClient(raw).post("/merges", {"survivor_id": keep.pk, "loser_id": dup.pk}).status_code
        == 404
    )
    assert Customer.objects.get(pk=dup.pk).merged_into_id is None


def test_dismiss_over_the_api(api, admin):
    pair = _pair(person(admin, "Ada", "Lovelace"), person(admin, "Ada", "Lovelace"))
    response = api.post(f"/duplicates/{pair.pk}/dismiss", {})
    assert response.status_code == 200 and response.json()["status"] == "dismissed"
    assert api.get("/duplicates").json()["items"] == []
