"""Commerce lists on core's generic list page: the same number of queries at 2 rows and at
20, sortable headers from the selector's whitelist, and the htmx fragment."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from rapport.commerce.models import Product
from rapport.commerce.tests.factories import CustomerFactory, ProductFactory, commerce_user
from rapport.commerce.tests.test_pages import _orders, _ship
from rapport.core.permissions import Scope

pytestmark = pytest.mark.django_db


@pytest.fixture
def user() -> Any:
    return commerce_user()


@pytest.fixture
def client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _count_queries(client: Client, url: str, django_assert_num_queries: Any, n: int) -> None:
    client.get(url)  # warm the session and the grant cache
    with django_assert_num_queries(n):
        assert client.get(url).status_code == 200


# Session, user, role and grants, the page's rows (and the categories for the product filter).
QUERIES = {"/commerce/orders/": 5, "/commerce/in-transit/": 5, "/commerce/products/": 6}


@pytest.mark.parametrize("url", sorted(QUERIES))
def test_lists_make_the_same_queries_for_2_rows_and_20(
    client: Client, user: Any, django_assert_num_queries: Any, url: str
) -> None:
    customers = [CustomerFactory(owner=user) for _ in range(4)]
    orders = _orders(user, customers, 2)
    _ship(user, orders)
    ProductFactory.create_batch(2)
    _count_queries(client, url, django_assert_num_queries, QUERIES[url])
    more = _orders(user, customers, 20, currency="USD")
    _ship(user, more)
    ProductFactory.create_batch(18)
    _count_queries(client, url, django_assert_num_queries, QUERIES[url])


def test_headers_sort_by_the_whitelist_and_keep_the_filters(client: Client, user: Any) -> None:
    _orders(user, [CustomerFactory(owner=user)], 3)
    html = client.get("/commerce/orders/?status=paid").content.decode()
    # Newest first is the default: the header says so and its link flips to oldest first.
    assert 'aria-sort="descending"><a href="?status=paid&amp;sort=ordered_at"' in html
    assert 'href="?status=paid&amp;sort=total"' in html
    oldest = client.get("/commerce/orders/?status=paid&sort=ordered_at").content.decode()
    # Back to the default sort: the link drops the parameter rather than repeat it.
    assert 'aria-sort="ascending"><a href="?status=paid"' in oldest


def test_an_unknown_sort_is_said_and_the_first_page_shown(client: Client, user: Any) -> None:
    ProductFactory(name="Green tea")
    html = client.get("/commerce/products/?sort=owner__password").content.decode()
    assert "Unknown sort" in html and "Green tea" in html


def test_an_htmx_request_gets_the_results_fragment_only(client: Client, user: Any) -> None:
    ProductFactory(name="Green tea")
    full = client.get("/commerce/products/?sort=-price")
    fragment = client.get(
        "/commerce/products/?sort=-price", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="list-results"
    )
    assert "<html" in full.content.decode() and "<html" not in fragment.content.decode()
    body = fragment.content.decode()
    assert body.lstrip().startswith('<div id="list-results">') and "Green tea" in body
    assert 'hx-target="#list-results"' in body
    assert "HX-Request" in fragment["Vary"]


def test_an_empty_catalogue_offers_the_first_product_only_to_who_may_add(client: Client) -> None:
    assert "Add the first product" in client.get("/commerce/products/").content.decode()
    viewer = Client()
    viewer.force_login(commerce_user(Scope.ALL, actions=("view",)))
    html = viewer.get("/commerce/products/").content.decode()
    assert "Add the first product" not in html and "colleague with the right role" in html
    assert not Product.objects.exists()
