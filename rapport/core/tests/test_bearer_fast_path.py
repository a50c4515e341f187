"""API requests with a Bearer key skip the session machinery, and nothing else does: the
UI and session-authenticated API calls keep sessions and CSRF, and a request that sends a
key is judged by that key alone."""

from __future__ import annotations

import pytest
from django.middleware.csrf import _get_new_csrf_string, _mask_cipher_secret
from django.test import Client, RequestFactory

from rapport.core.middleware import is_bearer_api_request
from rapport.identity.tests.factories import UserFactory, api_key_for

pytestmark = pytest.mark.django_db

RW = ["customers.customer:read", "customers.customer:write"]


@pytest.fixture
def admin():
    return UserFactory(is_superuser=True)


def test_which_requests_take_the_fast_path():
    rf = RequestFactory()
    assert is_bearer_api_request(rf.get("/api/v1/persons", HTTP_AUTHORIZATION="Bearer rk_x"))
    assert is_bearer_api_request(rf.get("/api/v1/me", HTTP_AUTHORIZATION="bearer rk_x"))
    assert not is_bearer_api_request(rf.get("/api/v1/persons"))
    assert not is_bearer_api_request(rf.get("/api/v1/persons", HTTP_AUTHORIZATION="Basic eDp5"))
    assert not is_bearer_api_request(rf.get("/customers/", HTTP_AUTHORIZATION="Bearer rk_x"))
    assert not is_bearer_api_request(rf.get("/apiary", HTTP_AUTHORIZATION="Bearer rk_x"))


def test_a_bearer_request_loads_no_session_and_sets_no_cookie(admin):
    _, raw = api_key_for(admin, RW)
    client = Client()
    client.force_login(admin)  # a browser session is present, but the key decides
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 200
    assert response.json()["api_key"] is not None
    assert "Cookie" not in response.get("Vary", "")  # the session was never read
    assert not response.cookies
    assert response["X-Frame-Options"] == "DENY"  # the security headers still apply


def test_a_bad_key_never_falls_back_to_the_session(admin):
    client = Client()
    client.force_login(admin)
    assert client.get("/api/v1/me").status_code == 200  # the session alone works
    response = client.get("/api/v1/me", headers={"Authorization": "Bearer rk_wrong"})
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="rapport"'


def test_a_session_api_write_still_needs_the_csrf_token(admin):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    body = {"first_name": "Eve"}
    refused = client.post("/api/v1/persons", data=body, content_type="application/json")
    assert refused.status_code == 403
    # A header that is not a Bearer key changes nothing: still the session, still CSRF.
    refused = client.post(
        "/api/v1/persons",
        data=body,
        content_type="application/json",
        headers={"Authorization": "Basic eDp5"},
    )
    assert refused.status_code == 403
    secret = _get_new_csrf_string()
    client.cookies["csrftoken"] = secret
    accepted = client.post(
        "/api/v1/persons",
        data=body,
        content_type="application/json",
        headers={"X-CSRFToken": _mask_cipher_secret(secret)},
    )
    assert accepted.status_code == 201, accepted.content


def test_a_bearer_write_needs_no_csrf_token_because_no_cookie_is_used(admin):
    _, raw = api_key_for(admin, RW)
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/api/v1/persons",
        data={"first_name": "Eve"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw}"},
    )
    assert response.status_code == 201, response.content


def test_ui_pages_keep_their_session_whatever_the_headers(admin):
    client = Client()
    client.force_login(admin)
    response = client.get("/", headers={"Authorization": "Bearer rk_wrong"})
    assert response.status_code == 200  # not sent to the login page
