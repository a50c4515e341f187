"""API keys: created in the UI and shown once, stored hashed, narrowed by scopes,
revocable by their owner or an admin; revoked and expired keys get 401 problem details."""

from __future__ import annotations

import datetime as dt

import pytest
from django.apps import apps
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from rapport.core.models import AuditLogEntry
from rapport.core.permissions import Scope, can, require
from rapport.identity.auth import api_key_for_token
from rapport.identity.models import ApiKey, hash_api_key
from rapport.identity.services import api_key_create
from rapport.identity.tests.conftest import login_as
from rapport.identity.tests.factories import UserFactory, api_key_for, user_with

pytestmark = pytest.mark.django_db

# Customers sit above identity in the layers; the sample object is looked up by label.
Customer = apps.get_model("customers", "Customer")

SCOPE_FIELD = "scope__customers__customer"


def bearer(raw: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def test_create_shows_the_raw_key_once_and_stores_only_its_hash(client):
    user = user_with(Scope.ALL)
    login_as(client, user)
    response = client.post(reverse("identity:api_keys"), {"name": "Webshop", SCOPE_FIELD: "read"})
    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    raw = response.context["new_key"][1]
    assert raw.startswith("rk_") and raw.encode() in response.content

    key = ApiKey.objects.get(user=user)
    assert key.scopes == ["customers.customer:read"]
    assert key.key_hash == hash_api_key(raw)
    # The raw key is nowhere in the database: not in the key row, not in the audit log.
    for row in ApiKey.objects.values():
        assert raw not in str(row)
    for row in AuditLogEntry.objects.values():
        assert raw not in str(row) and key.key_hash not in str(row)

    listing = client.get(reverse("identity:api_keys"))
    assert raw.encode() not in listing.content
    assert key.prefix.encode() in listing.content
    assert client.get("/api/v1/me", **bearer(raw)).json()["email"] == user.email


def test_create_with_no_scope_or_a_past_expiry_is_refused(client):
    login_as(client, UserFactory())
    none = client.post(reverse("identity:api_keys"), {"name": "x", SCOPE_FIELD: ""})
    assert none.status_code == 400
    assert b"at least one type" in none.content
    past = client.post(
        reverse("identity:api_keys"),
        {"name": "x", SCOPE_FIELD: "read", "expires_on": "2000-01-01"},
    )
    assert past.status_code == 400
    assert not ApiKey.objects.exists()


def test_create_with_an_unknown_scope_is_refused_by_the_service():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as exc:
        api_key_create(actor=UserFactory(), name="x", scopes=["identity.user:write"])
    assert "Unknown scope" in str(exc.value)


def test_expiry_date_is_stored_at_the_start_of_that_day(client):
    login_as(client, UserFactory())
    day = timezone.now().date() + dt.timedelta(days=30)
    client.post(
        reverse("identity:api_keys"),
        {"name": "x", SCOPE_FIELD: "write", "expires_on": day.isoformat()},
    )
    key = ApiKey.objects.get()
    assert key.expires_at == dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
    assert key.scopes == ["customers.customer:write"]


def acting_with(raw: str):
    """The user as ApiKeyAuth hands it to an endpoint: carrying the key it came with."""
    key = api_key_for_token(raw)
    user = key.user
    user.api_key = key
    return user


def test_read_scope_narrows_the_users_grant():
    user = user_with(Scope.ALL)
    own = Customer.objects.create(display_name="Mine", owner=user)
    _, raw = api_key_for(user, ["customers.customer:read"])
    keyed = acting_with(raw)
    assert can(keyed, "view", own)
    assert not can(keyed, "edit", own)
    with pytest.raises(PermissionDenied):
        require(keyed, "delete", own)
    assert not keyed.grant_for("customers.customer").allows("export")
    # The user's own session still has the full grant.
    assert can(user, "edit", own)


def test_a_key_never_exceeds_its_users_role():
    user = user_with(Scope.OWN, actions=("view",))
    other = Customer.objects.create(display_name="Theirs", owner=UserFactory())
    _, raw = api_key_for(user, ["customers.customer:write"])
    keyed = acting_with(raw)
    assert not can(keyed, "edit", Customer.objects.create(display_name="M", owner=user))
    assert not can(keyed, "view", other)


def test_revoked_key_gets_401_problem_details(client):
    user = UserFactory()
    key, raw = api_key_for(user, ["customers.customer:read"])
    assert Client().get("/api/v1/me", **bearer(raw)).status_code == 200
    login_as(client, user)
    assert client.post(reverse("identity:api_key_revoke", args=[key.pk])).status_code == 302
    response = Client().get("/api/v1/me", **bearer(raw))
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 401 and body["type"].endswith("/unauthenticated")
    assert AuditLogEntry.objects.filter(changes__event=[None, "api_key_revoked"]).exists()


def test_expired_key_gets_401_problem_details():
    _, raw = api_key_for(
        UserFactory(), ["customers.customer:read"], expires_at=timezone.now() - dt.timedelta(1)
    )
    response = Client().get("/api/v1/me", **bearer(raw))
    assert response.status_code == 401
    assert response.json()["title"] == "Authentication required"


def test_nobody_revokes_someone_elses_key_but_an_admin(client, admin_user):
    key, _ = api_key_for(UserFactory(), ["customers.customer:read"])
    login_as(client, UserFactory())
    assert client.post(reverse("identity:api_key_revoke", args=[key.pk])).status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None

    admin = login_as(Client(), admin_user)
    page = admin.get(reverse("identity:settings_user", args=[key.user_id]))
    assert key.prefix.encode() in page.content
    back = reverse("identity:settings_user", args=[key.user_id])
    response = admin.post(reverse("identity:api_key_revoke", args=[key.pk]), {"next": back})
    assert response["Location"] == back
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_revoke_redirect_stays_on_our_origin(client):
    user = UserFactory()
    key, _ = api_key_for(user, ["customers.customer:read"])
    login_as(client, user)
    response = client.post(
        reverse("identity:api_key_revoke", args=[key.pk]), {"next": "https://evil.tld/"}
    )
    assert response["Location"] == reverse("identity:api_keys")


def test_key_list_query_count_does_not_grow_with_keys(client, django_assert_max_num_queries):
    user = UserFactory()
    for i in range(30):
        api_key_for(user, ["customers.customer:read"], name=f"key {i}")
    login_as(client, user)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("identity:api_keys"))
    assert response.content.count(b"Revoke") >= 30
