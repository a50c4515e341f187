"""The customer list's column chooser: each user's choice is kept (in a per-user saved-view
row), unknown columns are refused, and the list's query count stays constant."""

from __future__ import annotations

import pytest
from django.urls import reverse

from rapport.customers import selectors, services
from rapport.customers.tests.factories import person
from rapport.identity.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _headers(html):
    head = html[html.index("<thead>") : html.index("</thead>")]
    return [c for c, _, _ in selectors.LIST_COLUMNS if f"col-{c}" in head]


def test_the_chosen_columns_persist_per_user(client, admin):
    person(admin)
    client.force_login(admin)
    default = _headers(client.get(reverse("customers:list")).content.decode())
    assert default == list(selectors.DEFAULT_COLUMNS)
    response = client.post(
        reverse("customers:list_columns"),
        {"columns": ["stage", "created"], "query": "sort=-created"},
    )
    assert response.status_code == 302 and response["Location"].endswith("?sort=-created")
    html = client.get(reverse("customers:list")).content.decode()
    assert _headers(html) == ["name", "stage", "created"]
    assert "Contact" not in html[html.index("<thead>") : html.index("</thead>")]
    # Someone else's list is untouched, and the preference is no saved view in the chips.
    other = UserFactory(is_superuser=True)
    client.force_login(other)
    assert _headers(client.get(reverse("customers:list")).content.decode()) == default
    assert selectors.saved_views(actor=admin).count() == 0


def test_an_unknown_column_is_refused_and_changes_nothing(client, admin):
    person(admin)
    client.force_login(admin)
    services.list_columns_save(actor=admin, columns=["stage"])
    response = client.post(reverse("customers:list_columns"), {"columns": ["stage", "salary"]})
    assert response.status_code == 302
    html = client.get(reverse("customers:list")).content.decode()
    assert "Unknown column salary" in html
    assert _headers(html) == ["name", "stage"]


def test_the_chooser_keeps_the_list_query_count(client, admin, django_assert_max_num_queries):
    from rapport.customers.tests.test_views import _many_customers

    _many_customers(admin, 60)
    services.list_columns_save(actor=admin, columns=["stage", "tags", "owner", "created"])
    client.force_login(admin)
    with django_assert_max_num_queries(11):
        response = client.get(reverse("customers:list"), {"page_size": "50"})
    assert response.content.decode().count('name="ids"') == 50
