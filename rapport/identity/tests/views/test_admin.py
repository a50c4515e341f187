"""The Django admin is for superusers only; staff who are not superusers get its login."""

from __future__ import annotations

import pytest
from django.test import Client

from rapport.identity.tests.conftest import login_as
from rapport.identity.tests.factories import RoleFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_superuser_opens_the_admin_and_the_identity_models():
    client = login_as(Client(), UserFactory(is_staff=True, is_superuser=True))
    assert client.get("/admin/").status_code == 200
    for model in ["user", "team", "role", "apikey"]:
        assert client.get(f"/admin/identity/{model}/").status_code == 200, model


@pytest.mark.parametrize(
    "fields",
    [
        {"is_staff": True},
        {"is_staff": True, "role": "admin-role"},
        {"role": "admin-role"},
        {},
    ],
)
def test_everybody_else_gets_the_admin_login(fields):
    if fields.get("role"):
        fields["role"] = RoleFactory(is_admin=True)
    client = login_as(Client(), UserFactory(**fields))
    for path in ["/admin/", "/admin/identity/user/", "/admin/identity/apikey/"]:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/admin/login/"), path


def test_admin_never_shows_an_api_key_hash():
    from rapport.identity.tests.factories import api_key_for

    owner = UserFactory()
    key, raw = api_key_for(owner, ["customers.customer:read"])
    client = login_as(Client(), UserFactory(is_staff=True, is_superuser=True))
    page = client.get(f"/admin/identity/apikey/{key.pk}/change/")
    assert page.status_code == 200
    assert key.key_hash.encode() not in page.content
    assert raw.encode() not in page.content
