"""The Content-Security-Policy header: strict by default, widened only where documented,
and the API docs served from our own static files (they work offline)."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from rapport.identity.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {
        name: values
        for name, *values in (part.split() for part in header.split(";") if part.strip())
    }


@pytest.mark.parametrize("path", ["/login/", "/", "/customers/", "/api/v1/openapi.json"])
def test_every_response_carries_the_strict_policy(path):
    client = Client()
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    csp = policy(client.get(path))
    assert csp["script-src"] == ["'self'"]  # no inline script, no eval
    assert csp["style-src"] == ["'self'"]  # no <style> elements
    assert csp["style-src-attr"] == ["'unsafe-inline'"]  # style="…" attributes only
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["form-action"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert csp["default-src"] == ["'self'"]


def test_api_docs_are_served_from_our_static_files_with_their_own_policy():
    client = Client()
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    response = client.get("/api/v1/docs")
    html = response.content.decode()
    assert response.status_code == 200
    assert "/static/ninja/swagger-ui-bundle.js" in html
    assert "/static/ninja/swagger-ui-init.js" in html
    assert not re.search(r"https?://", html.split("<body")[1].replace("http://testserver", ""))
    assert '"validatorUrl": null' in html
    csp = policy(response)
    assert csp["img-src"] == ["'self'", "data:"]  # Swagger UI's icons, on this page only
    assert csp["script-src"] == ["'self'"]
    assert policy(client.get(reverse("core:home")))["img-src"] == ["'self'"]


def test_a_report_uri_is_added_when_configured(settings):
    settings.CONTENT_SECURITY_POLICY = {
        "DIRECTIVES": {
            **settings.CONTENT_SECURITY_POLICY["DIRECTIVES"],
            "report-uri": ["https://csp.example.com/r"],
        }
    }
    assert policy(Client().get("/login/"))["report-uri"] == ["https://csp.example.com/r"]
