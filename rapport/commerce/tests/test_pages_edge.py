"""The UI's integer filters go through one parser (core.params): a record number past 64
bits in a URL is a clear message on the page, never a 500 from the database."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from rapport.commerce.tests.factories import CustomerFactory, commerce_user
from rapport.identity.tests.factories import UserFactory

BIG = "99999999999999999999999"


@pytest.fixture
def admin_client(db: Any) -> Client:
    client = Client()
    client.force_login(UserFactory(is_superuser=True))
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "status", "message"),
    [
        (f"/customers/?owner={BIG}", 400, f"&#x27;{BIG}&#x27; is not a record number."),
        (f"/customers/?team={BIG}", 400, f"&#x27;{BIG}&#x27; is not a record number."),
        (f"/customers/?organization={BIG}", 400, f"&#x27;{BIG}&#x27; is not a record number."),
        ("/customers/?owner=-1", 400, "&#x27;-1&#x27; is not a record number."),
        (f"/commerce/orders/?customer={BIG}", 200, "customer: Not a record number."),
        (f"/exports/new/?owner={BIG}", 200, f"&#x27;{BIG}&#x27; is not a record number."),
    ],
)
def test_an_integer_filter_past_64_bits_is_a_clear_message(
    admin_client: Client, url: str, status: int, message: str
) -> None:
    response = admin_client.get(url)
    assert response.status_code == status, url
    assert message in response.content.decode()


@pytest.mark.django_db
def test_a_valid_customer_filter_still_filters_orders(admin_client: Client) -> None:
    customer = CustomerFactory(display_name="Margarethe Lindqvist")
    response = admin_client.get(f"/commerce/orders/?customer={customer.pk}")
    assert response.status_code == 200
    assert "Margarethe Lindqvist" in response.content.decode()
    assert 'role="alert"' not in response.content.decode()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_customer_list_says_what_is_wrong_with_an_owner_filter(
    page: Any, live_server: Any
) -> None:
    user = commerce_user()
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    page.goto(f"{live_server.url}/customers/?owner={BIG}")
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert f"'{BIG}' is not a record number." in alert.inner_text()
    page.goto(f"{live_server.url}/commerce/orders/?customer={BIG}")
    page.get_by_role("alert").wait_for()
    assert "Not a record number." in page.get_by_role("alert").inner_text()
