"""Commerce pages: they render, their forms call the services, and their queries stay
constant however many rows they show."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.utils import timezone

from rapport.commerce import services
from rapport.commerce.models import Order, Product, Shipment, ShipmentEvent
from rapport.commerce.panels import customer_panel_context
from rapport.commerce.services import LineInput, OrderRow, ShipmentInput
from rapport.commerce.tests.factories import CustomerFactory, ProductFactory, commerce_user
from rapport.core.permissions import Scope
from rapport.customers.models import Interaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():
    return commerce_user()


@pytest.fixture
def client(user):
    client = Client()
    client.force_login(user)
    return client


def _orders(user, customers, n, *, currency="EUR", start=None):
    start = start or timezone.now() - dt.timedelta(days=30)
    rows = [
        OrderRow(
            external_id=f"{currency}-{i}",
            customer_id=customers[i % len(customers)].pk,
            ordered_at=start + dt.timedelta(hours=i),
            currency=currency,
            status="paid" if i % 10 else "cancelled",
            lines=[
                LineInput(sku="A", name="Alpha", quantity=2, unit_price="10.00"),
                LineInput(sku="B", name="Beta", unit_price="5.50"),
            ],
        )
        for i in range(n)
    ]
    services.orders_bulk_upsert(actor=user, rows=rows)
    return list(Order.objects.filter(currency=currency).order_by("id"))


def _ship(user, orders, status="in_transit"):
    for i, order in enumerate(orders):
        shipment = services.shipment_create(
            actor=user,
            order=order,
            data=ShipmentInput(
                carrier="DHL",
                tracking_number=f"T{i}",
                status=status,
                expected_delivery=timezone.localdate() + dt.timedelta(days=i % 4 - 1),
            ),
        )
        services.shipment_update_status(
            actor=user, shipment=shipment, status=status, location=f"Hub {i}"
        )


def test_order_list_renders_filters_and_pages_in_constant_queries(
    client, user, django_assert_max_num_queries
) -> None:
    customers = [CustomerFactory(owner=user) for _ in range(10)]
    _orders(user, customers, 80)
    client.get("/commerce/orders/")  # warm the session
    with django_assert_max_num_queries(10):
        response = client.get("/commerce/orders/")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('class="mono">EUR-') == 50
    assert "Next 50" in html
    by_total = client.get("/commerce/orders/?sort=-total").content.decode()
    assert by_total.count('class="mono">EUR-') == 50
    oldest = client.get("/commerce/orders/?sort=ordered_at").content.decode()
    assert oldest.index(">EUR-0<") < oldest.index(">EUR-1<")
    cancelled = client.get("/commerce/orders/?status=cancelled").content.decode()
    assert cancelled.count('class="mono">EUR-') == 8
    one_customer = client.get(f"/commerce/orders/?customer={customers[3].pk}").content.decode()
    assert one_customer.count('class="mono">EUR-') == 8
    assert customers[3].display_name in one_customer
    future = (timezone.localdate() + dt.timedelta(days=3)).isoformat()
    empty = client.get(f"/commerce/orders/?ordered_from={future}").content.decode()
    assert "No order matches these filters" in empty


def test_order_list_empty_state(client) -> None:
    html = client.get("/commerce/orders/").content.decode()
    assert "No orders yet" in html


def test_order_detail_shows_lines_totals_shipments_and_events_in_constant_queries(
    client, user, django_assert_max_num_queries
) -> None:
    customer = CustomerFactory(owner=user)
    order = services.order_create(
        actor=user,
        customer=customer,
        data=services.OrderInput(
            currency="EUR",
            lines=[
                LineInput(sku=f"S{i}", name=f"Item {i}", quantity=1, unit_price="1000.10")
                for i in range(12)
            ],
        ),
    )
    for i in range(4):
        shipment = services.shipment_create(
            actor=user, order=order, data=ShipmentInput(carrier=f"Carrier {i}", status="in_transit")
        )
        for where in ("A", "B", "C"):
            services.shipment_update_status(
                actor=user, shipment=shipment, status="in_transit", location=f"{where}{i}"
            )
    client.get(f"/commerce/orders/{order.pk}/")
    with django_assert_max_num_queries(12):
        response = client.get(f"/commerce/orders/{order.pk}/")
    html = response.content.decode()
    assert "12,001.20 EUR" in html
    assert html.count("Item ") >= 12
    assert all(f"Carrier {i}" in html for i in range(4))
    assert "C3" in html


def test_order_status_form_changes_the_status(client, user) -> None:
    customer = CustomerFactory(owner=user)
    order = services.order_create(
        actor=user,
        customer=customer,
        data=services.OrderInput(currency="EUR", total="10.00"),
    )
    response = client.post(
        f"/commerce/orders/{order.pk}/status/", {"status": "paid", "version": "1"}
    )
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == "paid"
    stale = client.post(
        f"/commerce/orders/{order.pk}/status/", {"status": "fulfilled", "version": "1"}
    )
    assert stale.status_code == 422
    assert "changed by someone else" in stale.content.decode()
    order.refresh_from_db()
    assert order.status == "paid"


def test_status_form_offers_only_allowed_transitions_in_lifecycle_order(client, user) -> None:
    customer = CustomerFactory(owner=user)
    order = services.order_create(
        actor=user, customer=customer, data=services.OrderInput(currency="EUR", total="10.00")
    )
    services.order_update_status(actor=user, order=order, status="paid")
    html = client.get(f"/commerce/orders/{order.pk}/").content.decode()
    form = html[html.index('class="form status-form"') :]
    select = form[form.index('name="status"') : form.index("</select>")]
    offered = re.findall(r'<option value="([a-z_]*)"', select)
    assert offered == ["", *services.order_next_statuses("paid")]
    assert offered[1:] == ["fulfilled", "shipped", "delivered", "cancelled", "returned"]
    # Only the blank prompt is preselected, never a status (least of all "cancelled").
    assert re.findall(r'<option value="([a-z_]*)" selected', select) == [""]


def test_cancelling_an_order_needs_a_confirmation(client, user) -> None:
    customer = CustomerFactory(owner=user)
    order = services.order_create(
        actor=user, customer=customer, data=services.OrderInput(currency="EUR", total="10.00")
    )
    url = f"/commerce/orders/{order.pk}/status/"
    unconfirmed = client.post(url, {"status": "cancelled", "version": str(order.version)})
    assert unconfirmed.status_code == 422
    assert "Yes, cancel this order" in unconfirmed.content.decode()
    order.refresh_from_db()
    assert order.status == "pending"
    blank = client.post(url, {"status": "", "version": str(order.version)})
    assert blank.status_code == 422
    order.refresh_from_db()
    assert order.status == "pending"
    confirmed = client.post(
        url, {"status": "cancelled", "confirm_cancel": "on", "version": str(order.version)}
    )
    assert confirmed.status_code == 302
    order.refresh_from_db()
    assert order.status == "cancelled"


def test_shipment_forms_add_a_shipment_and_a_tracking_update(client, user) -> None:
    customer = CustomerFactory(owner=user)
    order = services.order_create(
        actor=user, customer=customer, data=services.OrderInput(currency="EUR", total="10.00")
    )
    response = client.post(
        f"/commerce/orders/{order.pk}/shipments/",
        {"carrier": "GLS", "tracking_number": "G1", "status": "in_transit", "tracking_url": ""},
    )
    assert response.status_code == 302
    shipment = Shipment.objects.get()
    response = client.post(
        f"/commerce/shipments/{shipment.pk}/status/",
        {"status": "out_for_delivery", "location": "Bremen", "version": str(shipment.version)},
    )
    assert response.status_code == 302
    shipment.refresh_from_db()
    assert shipment.status == "out_for_delivery"
    assert ShipmentEvent.objects.filter(shipment=shipment, location="Bremen").exists()
    bad = client.post(f"/commerce/orders/{order.pk}/shipments/", {"carrier": "", "status": "x"})
    assert bad.status_code == 422


def test_goods_in_transit_lists_open_shipments_soonest_first(
    client, user, django_assert_max_num_queries
) -> None:
    customers = [CustomerFactory(owner=user) for _ in range(5)]
    orders = _orders(user, customers, 30)
    _ship(user, orders[:24])
    _ship(user, orders[24:], status="delivered")
    client.get("/commerce/in-transit/")
    with django_assert_max_num_queries(10):
        response = client.get("/commerce/in-transit/")
    html = response.content.decode()
    assert html.count('class="mono" href="/commerce/orders/') == 24
    assert "1 day late" in html and "today" in html and "tomorrow" in html
    first = html.index("1 day late")
    assert first < html.index("tomorrow")
    assert "Hub 0" in html


def test_transit_empty_state(client) -> None:
    assert "Nothing in transit" in client.get("/commerce/in-transit/").content.decode()


def test_customer_panel_context_is_three_queries_and_sums_revenue_per_currency(
    user, django_assert_max_num_queries
) -> None:
    customer = CustomerFactory(owner=user)
    eur = _orders(user, [customer], 40)
    _orders(user, [customer], 5, currency="USD")
    _ship(user, eur[-6:])
    user.grant_for("commerce.order")  # the role's grants load once per request
    with django_assert_max_num_queries(3):
        context = customer_panel_context(actor=user, customer=customer)
    assert context["order_count"] == 45
    revenue = {r["currency"]: (r["revenue"], r["orders"]) for r in context["revenue"]}
    # 36 of the 40 EUR orders count (every tenth is cancelled), 25.50 each.
    assert revenue["EUR"] == (Decimal("918.00"), 36)
    assert revenue["USD"] == (Decimal("102.00"), 4)
    assert len(context["recent_orders"]) == 5
    assert len(context["in_transit"]) == 5
    html = render_to_string("commerce/_customer_panel.html", context)
    assert "918.00 EUR" in html and "All 45 orders" in html and "On its way" in html


def test_customer_panel_for_a_customer_without_orders() -> None:
    user = commerce_user()
    customer = CustomerFactory(owner=user)
    html = render_to_string(
        "commerce/_customer_panel.html", customer_panel_context(actor=user, customer=customer)
    )
    assert "No orders yet" in html


def test_product_pages_create_edit_and_list(client, user, django_assert_max_num_queries) -> None:
    for _ in range(60):
        ProductFactory()
    with django_assert_max_num_queries(10):
        html = client.get("/commerce/products/").content.decode()
    assert html.count('href="/commerce/products/') >= 50
    response = client.post(
        "/commerce/products/new/",
        {"sku": "NEW-1", "name": "New tea", "price": "3.10", "currency": "EUR", "active": "on"},
    )
    assert response.status_code == 302
    product = Product.objects.get(sku="NEW-1")
    bad = client.post(
        f"/commerce/products/{product.pk}/edit/",
        {"sku": "NEW-1", "name": "New tea", "price": "3.10", "currency": "EURO", "version": "1"},
    )
    assert bad.status_code == 200
    assert "ISO 4217" in bad.content.decode()
    ok = client.post(
        f"/commerce/products/{product.pk}/edit/",
        {"sku": "NEW-1", "name": "Newer tea", "price": "3.20", "currency": "usd", "version": "1"},
    )
    assert ok.status_code == 302
    product.refresh_from_db()
    assert (product.name, product.price, product.currency, product.active) == (
        "Newer tea",
        Decimal("3.20"),
        "USD",
        False,
    )
    assert "Newer tea" in client.get(f"/commerce/products/{product.pk}/").content.decode()


def test_pages_need_the_grant() -> None:
    nobody = commerce_user(Scope.ALL, actions=())
    client = Client()
    client.force_login(nobody)
    for url in ("/commerce/orders/", "/commerce/in-transit/", "/commerce/products/"):
        assert client.get(url).status_code == 403
    viewer = commerce_user(Scope.ALL, actions=("view",))
    client.force_login(viewer)
    assert client.get("/commerce/products/new/").status_code == 403


def test_user_text_is_escaped(client, user) -> None:
    customer = CustomerFactory(owner=user, display_name='<img src=x onerror="alert(1)">')
    order = services.order_create(
        actor=user,
        customer=customer,
        data=services.OrderInput(
            currency="EUR",
            lines=[LineInput(sku="<b>x</b>", name="<script>alert(1)</script>", unit_price="1.00")],
        ),
    )
    html = client.get(f"/commerce/orders/{order.pk}/").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html
    assert '<img src=x onerror="alert(1)">' not in html
    assert Interaction.objects.filter(customer=customer).exists()
