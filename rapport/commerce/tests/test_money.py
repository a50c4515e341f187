"""Money is exact: Decimal amounts, two places, ISO 4217 codes; totals computed and checked."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from rapport.commerce import services
from rapport.commerce.models import Order
from rapport.commerce.money import normalize_currency, parse_amount
from rapport.commerce.services import LineInput, OrderInput
from rapport.commerce.tests.factories import CustomerFactory, ProductFactory, commerce_user


def test_amounts_parse_exactly_and_refuse_floats_and_sub_cent() -> None:
    assert parse_amount("19.9") == Decimal("19.90")
    assert parse_amount(7) == Decimal("7.00")
    assert str(parse_amount(Decimal("0.1"))) == "0.10"
    with pytest.raises(ValidationError, match="not floats"):
        parse_amount(0.1)
    with pytest.raises(ValidationError, match="more than two decimal places"):
        parse_amount("1.005")
    with pytest.raises(ValidationError, match="negative"):
        parse_amount("-1.00")
    with pytest.raises(ValidationError, match="not an amount"):
        parse_amount("12,50 €")
    with pytest.raises(ValidationError, match="not an amount"):
        parse_amount("NaN")


def test_currency_is_checked_against_iso_4217() -> None:
    assert normalize_currency(" eur ") == "EUR"
    assert normalize_currency("JPY") == "JPY"
    for bad in ("EURO", "XXY", "", "€"):
        with pytest.raises(ValidationError):
            normalize_currency(bad)


@pytest.mark.django_db
def test_order_totals_are_exact_decimal_sums_of_the_lines() -> None:
    user = commerce_user()
    customer = CustomerFactory(owner=user)
    # 0.1 + 0.2 is not 0.3 in floating point; in an order it must be.
    order = services.order_create(
        actor=user,
        customer=customer,
        data=OrderInput(
            currency="EUR",
            lines=[
                LineInput(sku="A", name="A", quantity=3, unit_price="0.10"),
                LineInput(sku="B", name="B", quantity=1, unit_price="0.20"),
            ],
            tax="0.10",
            shipping="0.00",
            total="0.60",
        ),
    )
    stored = Order.objects.get(pk=order.pk)
    assert isinstance(stored.total, Decimal)
    assert stored.subtotal == Decimal("0.50")
    assert stored.total == Decimal("0.60")
    assert [line.line_total for line in stored.lines.all()] == [Decimal("0.30"), Decimal("0.20")]


@pytest.mark.django_db
def test_a_total_that_does_not_match_the_lines_is_refused_with_the_arithmetic() -> None:
    user = commerce_user()
    customer = CustomerFactory(owner=user)
    with pytest.raises(ValidationError) as err:
        services.order_create(
            actor=user,
            customer=customer,
            data=OrderInput(
                currency="EUR",
                lines=[LineInput(sku="A", name="A", quantity=2, unit_price="9.95")],
                shipping="4.90",
                total="24.79",
            ),
        )
    assert "19.90" in err.value.message_dict["total"][0]
    assert "24.80" in err.value.message_dict["total"][0]
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_bad_lines_are_reported_per_line_and_field() -> None:
    user = commerce_user()
    customer = CustomerFactory(owner=user)
    with pytest.raises(ValidationError) as err:
        services.order_create(
            actor=user,
            customer=customer,
            data=OrderInput(
                currency="EURO",
                lines=[
                    LineInput(sku="A", name="A", quantity=-1, unit_price="1.00"),
                    LineInput(sku="B", name="B", quantity=1, unit_price="1.001"),
                    LineInput(sku="C", name="C", quantity="1.5", unit_price="1.00"),
                ],
            ),
        )
    errors = err.value.message_dict
    assert "currency" in errors
    assert "at least 1" in errors["lines.0.quantity"][0]
    assert "two decimal places" in errors["lines.1.unit_price"][0]
    assert "whole number" in errors["lines.2.quantity"][0]
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_a_product_priced_in_another_currency_needs_an_explicit_unit_price() -> None:
    user = commerce_user()
    customer = CustomerFactory(owner=user)
    product = ProductFactory(price=Decimal("10.00"), currency="USD")
    with pytest.raises(ValidationError) as err:
        services.order_create(
            actor=user,
            customer=customer,
            data=OrderInput(currency="EUR", lines=[LineInput(product_id=product.pk)]),
        )
    assert "USD" in err.value.message_dict["lines.0.unit_price"][0]
    order = services.order_create(
        actor=user,
        customer=customer,
        data=OrderInput(
            currency="EUR", lines=[LineInput(product_id=product.pk, unit_price="9.20")]
        ),
    )
    line = order.lines.get()
    assert (line.sku, line.unit_price, line.product_id) == (
        product.sku,
        Decimal("9.20"),
        product.pk,
    )


@pytest.mark.django_db
def test_product_prices_and_currencies_are_validated() -> None:
    user = commerce_user()
    with pytest.raises(ValidationError) as err:
        services.product_create(
            actor=user,
            data=services.ProductInput(sku="X-1", name="X", price="12.345", currency="ABC"),
        )
    assert set(err.value.message_dict) == {"price", "currency"}
    product = services.product_create(
        actor=user, data=services.ProductInput(sku="X-1", name="X", price="12.30", currency="gbp")
    )
    assert (product.price, product.currency) == (Decimal("12.30"), "GBP")
