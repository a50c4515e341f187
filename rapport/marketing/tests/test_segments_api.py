"""Segments over the API: CRUD with the hub's conventions, members (cursor, scope) and the
rule preview count."""

from __future__ import annotations

import pytest

from rapport.core.permissions import Scope
from rapport.customers.tests.api_support import ApiClient
from rapport.identity.tests.factories import api_key_for
from rapport.marketing.tests.factories import customer, marketer

pytestmark = pytest.mark.django_db

NL = {"op": "and", "rules": [{"kind": "field", "field": "country", "value": "NL"}]}
SCOPES = ["marketing.segment:write", "customers.customer:read"]


def _api(user: object, scopes: list[str] = SCOPES) -> ApiClient:
    _, raw = api_key_for(user, scopes)  # type: ignore[arg-type]
    return ApiClient(raw)


def test_create_read_update_delete_a_segment() -> None:
    customer(country="NL")
    api = _api(marketer())
    created = api.post("/segments", {"name": "Dutch", "rules": NL})
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["member_count"] == 1 and body["kind"] == "dynamic"
    got = api.get(f"/segments/{body['id']}")
    assert got.status_code == 200 and got["ETag"]
    changed = api.patch(
        f"/segments/{body['id']}", {"name": "Dutch shoppers"}, **{"If-Match": got["ETag"]}
    )
    assert changed.status_code == 200 and changed.json()["name"] == "Dutch shoppers"
    stale = api.patch(f"/segments/{body['id']}", {"name": "x"}, **{"If-Match": got["ETag"]})
    assert stale.status_code == 412
    assert [s["name"] for s in api.get("/segments").json()["items"]] == ["Dutch shoppers"]
    assert api.delete(f"/segments/{body['id']}").status_code == 204


def test_a_bad_rule_is_a_422_naming_the_rule() -> None:
    api = _api(marketer())
    bad = {"op": "and", "rules": [{"kind": "event", "type": "page_view", "days": 0}]}
    answer = api.post("/segments", {"name": "x", "rules": bad})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "rules.0.days"
    assert api.post("/segments/count", {"rules": bad}).status_code == 422


def test_members_and_count_follow_record_scope() -> None:
    rep = marketer(Scope.OWN)
    mine = customer(country="NL", owner=rep)
    customer(country="NL")
    boss = _api(marketer())
    segment_id = boss.post("/segments", {"name": "Dutch", "rules": NL}).json()["id"]
    everyone = boss.get(f"/segments/{segment_id}/members").json()
    assert len(everyone["items"]) == 2 and everyone["next_cursor"] is None
    assert boss.post("/segments/count", {"rules": NL}).json() == {"count": 2}
    rep_api = _api(rep)
    assert rep_api.post("/segments/count", {"rules": NL}).json() == {"count": 1}
    # The segment is the boss's: an own-scope user cannot see it at all.
    assert rep_api.get(f"/segments/{segment_id}/members").status_code == 404
    own = rep_api.post("/segments", {"name": "Mine", "rules": NL}).json()["id"]
    members = rep_api.get(f"/segments/{own}/members").json()["items"]
    assert [m["id"] for m in members] == [mine.pk]


def test_a_key_without_the_segment_scope_is_refused() -> None:
    api = _api(marketer(), ["customers.customer:read"])
    assert api.get("/segments").status_code == 403
    assert api.post("/segments/count", {"rules": NL}).status_code == 403
