"""Client text never becomes a format string: a website or URL custom field of `%d` or
`%s%s%s%n` is a 422 quoting it, not a 500 from %-formatting the validation message."""

from __future__ import annotations

from typing import Any

import pytest

from rapport.customers import services
from rapport.customers.tests.api_support import ApiClient, make_person
from rapport.identity.tests.factories import api_key_for

pytestmark = pytest.mark.django_db

FORMAT_STRINGS = ["%d", "%s%s%s%n", "%(value)s", "%", "{0}{value}"]


@pytest.fixture
def api(admin: Any) -> ApiClient:
    return ApiClient(api_key_for(admin, ["customers.customer:write"])[1])


@pytest.mark.parametrize("text", FORMAT_STRINGS)
def test_a_website_that_looks_like_a_format_string_is_a_422(
    admin: Any, api: ApiClient, text: str
) -> None:
    person = make_person(admin)
    response = api.patch(f"/persons/{person.pk}", {"website": text})
    assert response.status_code == 422, response.content
    assert response.json()["errors"] == [
        {"field": "website", "message": f"{text!r} is not a web address."}
    ]
    created = api.post("/persons", {"first_name": "Ada", "website": text})
    assert created.status_code == 422, created.content


@pytest.mark.parametrize("text", FORMAT_STRINGS)
def test_a_url_custom_field_that_looks_like_a_format_string_is_a_422(
    admin: Any, api: ApiClient, text: str
) -> None:
    services.custom_field_define(actor=admin, key="home", label="Home page", field_type="url")
    person = make_person(admin)
    response = api.patch(f"/persons/{person.pk}", {"custom_fields": {"home": text}})
    assert response.status_code == 422, response.content
    [error] = response.json()["errors"]
    assert error["field"].startswith("custom_fields")
    assert error["message"] == f"{text!r} is not a web address."
    person.refresh_from_db()
    assert "home" not in person.custom_fields


@pytest.mark.parametrize(("field", "message"), [("owner_id", "user"), ("team_id", "team")])
def test_assigning_a_person_to_no_such_user_or_team_is_a_422(
    admin: Any, api: ApiClient, field: str, message: str
) -> None:
    """The foreign key would only fail at commit: a 500 on PostgreSQL, found by schemathesis."""
    person = make_person(admin)
    response = api.patch(f"/persons/{person.pk}", {field: 424242})
    assert response.status_code == 422, response.content
    assert response.json()["errors"] == [
        {"field": field, "message": f"There is no {message} #424242."}
    ]
    created = api.post("/persons", {"first_name": "Ada", field: 424242})
    assert created.status_code == 422
