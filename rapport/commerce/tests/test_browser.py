"""In a real Chromium: an order page with its shipment, a tracking update through the form,
and the goods-in-transit page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from rapport.commerce import services
from rapport.commerce.services import LineInput, OrderInput, ShipmentInput
from rapport.commerce.tests.factories import CustomerFactory, ProductFactory, commerce_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, live_server, user) -> None:
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


def test_order_page_tracking_update_and_goods_in_transit(page, live_server) -> None:
    user = commerce_user(full_name="Olivia Ops")
    customer = CustomerFactory(owner=user, display_name="Margarethe Lindqvist")
    tea = ProductFactory(name="Gyokuro, 50 g", sku="TEA-204", price="18.50")
    kettle = ProductFactory(name="Gooseneck kettle, 1 l", sku="BRE-202", price="59.00")
    order = services.order_create(
        actor=user,
        customer=customer,
        data=OrderInput(
            currency="EUR",
            channel="web",
            lines=[LineInput(product_id=tea.pk, quantity=2), LineInput(product_id=kettle.pk)],
            tax="18.24",
        ),
    )
    services.order_update_status(actor=user, order=order, status="paid")
    shipment = services.shipment_create(
        actor=user,
        order=order,
        data=ShipmentInput(
            carrier="DHL",
            tracking_number="JJD014600003",
            tracking_url="https://www.dhl.com/track?id=JJD014600003",
            status="in_transit",
            location="Leipzig hub",
            expected_delivery=timezone.localdate() + dt.timedelta(days=2),
        ),
    )
    other = services.order_create(
        actor=user,
        customer=CustomerFactory(owner=user, display_name="Kofi Mensah"),
        data=OrderInput(currency="EUR", lines=[LineInput(product_id=tea.pk)]),
    )
    services.shipment_create(
        actor=user,
        order=other,
        data=ShipmentInput(
            carrier="UPS",
            tracking_number="1Z999AA10123456784",
            status="exception",
            location="Cologne depot",
            expected_delivery=timezone.localdate() - dt.timedelta(days=1),
        ),
    )
    _login(page, live_server, user)

    page.goto(f"{live_server.url}/commerce/orders/{order.pk}/")
    assert page.get_by_role("heading", level=1).inner_text().startswith(f"Order {order.number}")
    assert page.get_by_test_id("order-total").inner_text() == "114.24 EUR"
    assert (
        page.get_by_role("link", name="JJD014600003")
        .get_attribute("href")
        .startswith("https://www.dhl.com/")
    )
    page.screenshot(path="/tmp/commerce-order.png", full_page=True)

    # A tracking update with the keyboard only.
    page.get_by_label("New status").select_option("out_for_delivery")
    page.get_by_label("Location").fill("Munich depot")
    page.get_by_label("Location").press("Enter")
    page.wait_for_url(f"**/commerce/orders/{order.pk}/")
    assert "Tracking update saved." in page.inner_text(".messages")
    history = page.get_by_role("list", name="Tracking history").inner_text()
    assert history.index("Munich depot") < history.index("Leipzig hub")
    shipment.refresh_from_db()
    assert shipment.status == "out_for_delivery"

    page.get_by_role("link", name="Goods in transit").click()
    page.wait_for_url("**/commerce/in-transit/")
    rows = page.locator("table.table tbody tr")
    assert rows.count() == 2
    # Soonest (here: overdue) first.
    assert "1 day late" in rows.nth(0).inner_text()
    assert "Kofi Mensah" in rows.nth(0).inner_text()
    assert "in 2 days" in rows.nth(1).inner_text()
    assert "Munich depot" in rows.nth(1).inner_text()
    page.screenshot(path="/tmp/commerce-in-transit.png", full_page=True)


def test_change_status_offers_next_steps_and_confirms_a_cancellation(page, live_server) -> None:
    user = commerce_user(full_name="Olivia Ops")
    customer = CustomerFactory(owner=user, display_name="Margarethe Lindqvist")
    order = services.order_create(
        actor=user, customer=customer, data=OrderInput(currency="EUR", total="42.00")
    )
    order = services.order_update_status(actor=user, order=order, status="paid")
    _login(page, live_server, user)
    page.goto(f"{live_server.url}/commerce/orders/{order.pk}/")
    select = page.locator(".status-form select[name=status]")
    assert select.input_value() == ""  # no status is preselected
    labels = select.locator("option").all_inner_texts()
    assert labels[1:] == ["Fulfilled", "Shipped", "Delivered", "Cancelled", "Returned"]

    # Submitting without a choice changes nothing: the browser asks for one.
    page.click(".status-form button[type=submit]")
    assert select.evaluate("e => e.validity.valueMissing")
    order.refresh_from_db()
    assert order.status == "paid"

    confirm = page.locator(".status-form input[name=confirm_cancel]")
    assert not confirm.is_visible()
    page.select_option(".status-form select[name=status]", "cancelled")
    confirm.wait_for(state="visible")
    page.click(".status-form button[type=submit]")
    page.locator(".confirm-cancel .errorlist").wait_for()
    order.refresh_from_db()
    assert order.status == "paid"

    page.select_option(".status-form select[name=status]", "cancelled")
    page.check(".status-form input[name=confirm_cancel]")
    page.click(".status-form button[type=submit]")
    page.locator(".message-success").wait_for()
    order.refresh_from_db()
    assert order.status == "cancelled"


def test_the_360_timeline_folds_shipment_updates_under_their_order(page, live_server) -> None:
    user = commerce_user(full_name="Olivia Ops")
    customer = CustomerFactory(owner=user, display_name="Margarethe Lindqvist")
    order = services.order_create(
        actor=user, customer=customer, data=OrderInput(currency="EUR", total="42.00")
    )
    shipment = services.shipment_create(
        actor=user, order=order, data=ShipmentInput(carrier="DHL", status="pending")
    )
    for step in ("in_transit", "out_for_delivery", "delivered"):
        shipment = services.shipment_update_status(
            actor=user, shipment=shipment, status=step, location="Leipzig"
        )
    _login(page, live_server, user)
    page.goto(f"{live_server.url}{customer.get_absolute_url()}")
    items = page.locator("#timeline-list > .timeline-item")
    assert items.count() == 1
    assert order.number in items.first.locator(".timeline-summary").first.inner_text()
    folded = items.first.locator(".timeline-subitem")
    assert not folded.first.is_visible()
    page.click(".timeline-group summary")
    folded.first.wait_for(state="visible")
    assert "delivered" in folded.first.inner_text()
    assert page.locator(".value-metrics").count() == 0


def test_a_sort_header_swaps_the_results_in_place_and_keeps_the_url(page, live_server) -> None:
    user = commerce_user()
    customer = CustomerFactory(owner=user, display_name="Margarethe Lindqvist")
    for number, price in (("A-1", "5.00"), ("A-2", "50.00"), ("A-3", "20.00")):
        services.order_create(
            actor=user,
            customer=customer,
            data=OrderInput(
                currency="EUR",
                number=number,
                lines=[LineInput(sku="T", name="Tea", unit_price=price)],
            ),
        )
    _login(page, live_server, user)
    page.goto(f"{live_server.url}/commerce/orders/")
    page.wait_for_function("window.htmx !== undefined")
    page.evaluate("window.stillThisPage = true")  # gone if the click reloads the page
    page.get_by_role("link", name="Total").click()
    page.wait_for_url("**/commerce/orders/?sort=total")
    numbers = page.locator("#list-results tbody td:first-child a")
    expect(numbers).to_have_text(["A-1", "A-3", "A-2"])
    # The fragment replaced the results: one results block, one page header.
    assert page.locator("#list-results").count() == 1
    assert page.get_by_role("heading", level=1).count() == 1
    assert page.evaluate("window.stillThisPage") is True
    page.get_by_role("link", name="Total ▲").click()
    page.wait_for_url("**/commerce/orders/?sort=-total")
    expect(numbers).to_have_text(["A-2", "A-3", "A-1"])
