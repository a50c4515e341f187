"""An API key can be narrowed to webhooks, so an integration manages its own subscriptions
with a key that can do nothing else; a key without the scope gets 403, not an empty list."""

from __future__ import annotations

from typing import Any

import pytest

from rapport.core import registry
from rapport.customers.tests.api_support import ApiClient
from rapport.identity import services as identity_services
from rapport.identity.forms import ApiKeyForm
from rapport.identity.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

WEBHOOKS = "integrations.webhookendpoint"


def _client(admin: Any, scopes: list[str]) -> ApiClient:
    _, raw = identity_services.api_key_create(actor=admin, name="hooks", scopes=scopes)
    return ApiClient(raw)


def test_a_webhooks_only_key_manages_webhooks_and_nothing_else() -> None:
    admin = UserFactory(is_superuser=True)
    api = _client(admin, [f"{WEBHOOKS}:write"])
    created = api.post("/webhooks", {"url": "https://hooks.example.com/in", "event_types": ["*"]})
    assert created.status_code == 201, created.content
    endpoint_id = created.json()["id"]
    assert [w["id"] for w in api.get("/webhooks").json()] == [endpoint_id]
    assert api.get(f"/webhooks/{endpoint_id}/deliveries").status_code == 200
    assert api.patch(f"/webhooks/{endpoint_id}", {"is_active": False}).status_code == 200
    assert api.get("/persons").status_code == 403
    assert api.delete(f"/webhooks/{endpoint_id}").status_code == 204


def test_a_read_key_lists_webhooks_but_cannot_change_them() -> None:
    admin = UserFactory(is_superuser=True)
    api = _client(admin, [f"{WEBHOOKS}:read"])
    assert api.get("/webhooks").status_code == 200
    refused = api.post("/webhooks", {"url": "https://hooks.example.com/in", "event_types": ["*"]})
    assert refused.status_code == 403


def test_an_admin_key_without_the_webhooks_scope_gets_403_not_an_empty_list() -> None:
    admin = UserFactory(is_superuser=True)
    api = _client(admin, ["customers.customer:write"])
    listed = api.get("/webhooks")
    assert listed.status_code == 403, listed.content
    assert listed.json()["type"].endswith("/forbidden")
    created = api.post("/webhooks", {"url": "https://hooks.example.com/in", "event_types": ["*"]})
    assert created.status_code == 403


def test_the_webhooks_scope_is_offered_for_keys_but_not_granted_by_roles() -> None:
    assert f"{WEBHOOKS}:write" in identity_services.api_key_scope_choices()
    form = ApiKeyForm(data={"name": "Shop", f"scope__{WEBHOOKS.replace('.', '__')}": "write"})
    assert form.is_valid(), form.errors
    assert form.scopes() == [f"{WEBHOOKS}:write"]
    assert WEBHOOKS not in {t.name for t in registry.object_types()}
