"""The customer list on core's generic list page: an exact, constant query count (2 rows
and 20 make the same queries)."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from rapport.customers.models import Customer, CustomerTag, EmailAddress, Tag

pytestmark = pytest.mark.django_db

# Session, user, role; the count, the page and its tags; saved views and columns; owners,
# teams, custom field definitions and tag names for the filter bar.
LIST_QUERIES = 10


def _customers(owner: Any, start: int, n: int) -> None:
    tags = [Tag.objects.get_or_create(name=f"tag{i}")[0] for i in range(2)]
    rows = Customer.objects.bulk_create(
        Customer(
            display_name=f"Person {i:03}",
            first_name="Person",
            last_name=f"{i:03}",
            owner=owner,
            primary_email=f"p{i}@example.com",
        )
        for i in range(start, start + n)
    )
    EmailAddress.objects.bulk_create(
        EmailAddress(customer=c, email=c.primary_email, is_primary=True) for c in rows
    )
    CustomerTag.objects.bulk_create(CustomerTag(customer=c, tag=t) for c in rows for t in tags)


@pytest.mark.parametrize("query", [{}, {"sort": "-created", "tag": "tag1"}])
def test_the_list_makes_the_same_queries_for_2_rows_and_20(
    client: Any, admin: Any, django_assert_num_queries: Any, query: dict[str, str]
) -> None:
    client.force_login(admin)
    _customers(admin, 0, 2)
    client.get(reverse("customers:list"))  # warm the session
    with django_assert_num_queries(LIST_QUERIES):
        html = client.get(reverse("customers:list"), query).content.decode()
    assert html.count('name="ids"') == 2
    _customers(admin, 2, 18)
    with django_assert_num_queries(LIST_QUERIES):
        html = client.get(reverse("customers:list"), query).content.decode()
    assert html.count('name="ids"') == 20
