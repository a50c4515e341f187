"""The API key lookup cache: a busy key costs no query, and anything that takes access away
(revocation, deactivation, a narrower role, expiry) takes effect on the next request, in
this process and, through the shared access epoch, in every other one."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from rapport.identity import auth
from rapport.identity.models import ApiKey, RolePermission
from rapport.identity.services import api_key_revoke, user_update
from rapport.identity.tests.factories import UserFactory, api_key_for, user_with

pytestmark = pytest.mark.django_db

READ = ["customers.customer:read"]


@pytest.fixture(autouse=True)
def _empty_cache():
    auth._entries.clear()
    yield
    auth._entries.clear()


def get(raw: str, path: str = "/api/v1/me") -> int:
    return Client().get(path, headers={"Authorization": f"Bearer {raw}"}).status_code


def queries_for(raw: str, path: str = "/api/v1/me") -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        status = get(raw, path)
    return status, [q["sql"] for q in captured.captured_queries]


def test_a_busy_key_is_looked_up_once():
    _, raw = api_key_for(UserFactory(), READ)
    status, first = queries_for(raw)
    assert status == 200 and any("identity_apikey" in sql for sql in first)
    status, again = queries_for(raw)
    assert status == 200
    assert again == []  # no key lookup, no last-used stamp (written at most once a minute)


def test_a_revoked_key_is_refused_on_the_next_request():
    user = UserFactory()
    key, raw = api_key_for(user, READ)
    assert get(raw) == 200  # now cached
    api_key_revoke(actor=user, key=key)
    assert get(raw) == 401


def test_a_deleted_key_is_refused_on_the_next_request():
    key, raw = api_key_for(UserFactory(), READ)
    assert get(raw) == 200
    key.delete()
    assert get(raw) == 401


def test_deactivating_the_user_refuses_their_keys():
    admin = UserFactory(is_superuser=True)
    user = UserFactory()
    _, raw = api_key_for(user, READ)
    assert get(raw) == 200
    user_update(actor=admin, user=user, full_name="", role=None, teams=[], is_active=False)
    assert get(raw) == 401


def test_a_narrower_role_applies_to_a_cached_key():
    user = user_with("all")
    _, raw = api_key_for(user, READ)
    assert get(raw, "/api/v1/persons") == 200
    grant = RolePermission.objects.get(role=user.role)
    grant.can_view = False
    grant.save()
    assert get(raw, "/api/v1/persons") == 403


def test_another_process_revoking_is_seen_through_the_shared_epoch():
    """Another process revokes the key and writes a new epoch into the shared cache; this
    process's entry was loaded under the old epoch, so it is reloaded and refused."""
    key, raw = api_key_for(UserFactory(), READ)
    assert get(raw) == 200
    # The other process's database write (no signal fires in this one)…
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    # …is not known here until its epoch arrives: this is exactly what the epoch is for.
    assert get(raw) == 200
    cache.set(auth.ACCESS_EPOCH_KEY, "written-by-another-process", timeout=None)
    assert get(raw) == 401


def test_a_lost_epoch_invalidates_every_entry():
    """If the shared cache loses the epoch (eviction, restart), entries are not trusted."""
    key, raw = api_key_for(UserFactory(), READ)
    assert get(raw) == 200
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    cache.delete(auth.ACCESS_EPOCH_KEY)
    assert get(raw) == 401


def test_entries_live_at_most_the_configured_time(monkeypatch, settings):
    settings.API_KEY_CACHE_SECONDS = 30
    key, raw = api_key_for(UserFactory(), READ)
    assert get(raw) == 200
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())  # no epoch change
    later = auth.time.monotonic() + 31
    monkeypatch.setattr(auth.time, "monotonic", lambda: later)
    assert get(raw) == 401


def test_a_key_that_expires_while_cached_is_refused():
    key, raw = api_key_for(UserFactory(), READ, expires_at=timezone.now() + dt.timedelta(hours=1))
    assert get(raw) == 200
    key.expires_at = timezone.now() - dt.timedelta(seconds=1)
    ApiKey.objects.filter(pk=key.pk).update(expires_at=key.expires_at)  # no signal
    auth._entries[key.key_hash].key.expires_at = key.expires_at  # as time passing would
    assert get(raw) == 401


def test_the_cache_can_be_turned_off(settings):
    settings.API_KEY_CACHE_SECONDS = 0
    key, raw = api_key_for(UserFactory(), READ)
    assert get(raw) == 200
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    assert get(raw) == 401
    assert auth._entries == {}


def test_unknown_keys_are_not_cached():
    for n in range(20):
        assert get(f"rk_unknown-{n}") == 401
    assert auth._entries == {}


def test_each_request_gets_its_own_user_object():
    user = UserFactory()
    _, raw = api_key_for(user, READ)
    first = auth.cached_api_key(raw)
    second = auth.cached_api_key(raw)
    assert first is not None and second is not None
    assert first.user is not second.user and first is not second
    first.user.full_name = "changed by one request"
    assert second.user.full_name == user.full_name
