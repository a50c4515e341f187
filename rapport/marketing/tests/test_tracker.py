"""The tracker's public collector: tracker keys (services), allowed origins, CORS, rate
limit, browser events only."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client

from rapport.identity.tests.factories import UserFactory
from rapport.marketing.models import WebEvent
from rapport.marketing.services import clean_origins, tracker_key_create, tracker_key_update
from rapport.marketing.tests.factories import event, marketer

pytestmark = pytest.mark.django_db

SHOP = "https://shop.example.com"


def _key(**fields: Any) -> Any:
    admin = UserFactory(is_superuser=True)
    return tracker_key_create(actor=admin, name="Shop", allowed_origins=[SHOP + "/"], **fields)


def _collect(key: Any, body: Any, origin: str = SHOP) -> Any:
    return Client().post(
        f"/api/v1/collect?k={key.public_key}",
        data=json.dumps(body),
        content_type="text/plain;charset=UTF-8",
        headers={"Origin": origin},
    )


def test_only_admins_manage_tracker_keys_and_origins_are_checked() -> None:
    with pytest.raises(PermissionDenied):
        tracker_key_create(actor=marketer(), name="x", allowed_origins=[SHOP])
    with pytest.raises(ValidationError):
        _key(rate_per_minute=0)
    assert clean_origins(["HTTPS://Shop.Example.com/", "https://shop.example.com"]) == [SHOP]
    for bad in (["shop.example.com"], ["https://shop.example.com/path"], ["ftp://x.y"], []):
        with pytest.raises(ValidationError):
            clean_origins(bad)


def test_a_page_view_from_an_allowed_origin_lands_with_cors_headers() -> None:
    key = _key()
    answer = _collect(key, {"events": [event("page_view", visitor_id="v1")]})
    assert answer.status_code == 200, answer.content
    assert answer["Access-Control-Allow-Origin"] == SHOP
    assert answer.json() == {"accepted": 1, "duplicate": 0, "failed": 0}
    row = WebEvent.objects.get()
    assert row.visitor_id == "v1" and row.source == f"tracker:{key.pk}"


def test_other_origins_unknown_and_inactive_keys_are_refused() -> None:
    key = _key()
    refused = _collect(key, {"events": [event(visitor_id="v1")]}, origin="https://evil.test")
    assert refused.status_code == 403 and "Access-Control-Allow-Origin" not in refused
    preflight = Client().options(f"/api/v1/collect?k={key.public_key}", headers={"Origin": SHOP})
    assert preflight.status_code == 204 and preflight["Access-Control-Allow-Origin"] == SHOP
    tracker_key_update(actor=UserFactory(is_superuser=True), key=key, is_active=False)
    assert _collect(key, {"events": [event(visitor_id="v1")]}).status_code == 401
    assert not WebEvent.objects.exists()


def test_a_tracker_key_cannot_identify_or_order() -> None:
    key = _key()
    answer = _collect(
        key,
        {"events": [event("signup", visitor_id="v1", customer={"email": "ceo@example.com"})]},
    )
    assert answer.json()["failed"] == 1 and not WebEvent.objects.exists()


def test_the_rate_limit_answers_429() -> None:
    key = _key(rate_per_minute=2)
    codes = [_collect(key, {"events": [event(visitor_id="v1")]}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_a_malformed_body_is_a_400() -> None:
    key = _key()
    assert _collect(key, {"nope": 1}).status_code == 400
    assert _collect(key, {"events": []}).status_code == 400
