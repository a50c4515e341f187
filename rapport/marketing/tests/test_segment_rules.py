"""Segment rules against hand-built data: each kind of condition, nesting, negation, and
the validation errors the rule builder shows beside a rule."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from rapport.commerce.models import Order, OrderLine
from rapport.core.permissions import Scope, system_actor
from rapport.customers.models import ConsentRecord, CustomerTag, Tag
from rapport.marketing import segment_rules, selectors
from rapport.marketing.models import WebEvent
from rapport.marketing.services import live_customers
from rapport.marketing.tests.factories import customer, marketer

pytestmark = pytest.mark.django_db


def _names(rules: dict[str, Any]) -> list[str]:
    q = segment_rules.compile_rules(segment_rules.validate(rules), actor=system_actor())
    return sorted(live_customers().filter(q).values_list("first_name", flat=True))


def _and(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"op": "and", "rules": list(rules)}


def _or(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"op": "or", "rules": list(rules)}


def _view(who: Any, sku: str, days_ago: int) -> None:
    WebEvent.objects.create(
        event_key=f"{who.pk}-{sku}-{days_ago}",
        type="product_view",
        customer=who,
        product_sku=sku,
        occurred_at=timezone.now() - dt.timedelta(days=days_ago),
    )


def _order(who: Any, sku: str, days_ago: int, total: str, status: str = "paid") -> None:
    order = Order.objects.create(
        customer=who,
        currency="EUR",
        total=Decimal(total),
        status=status,
        ordered_at=timezone.now() - dt.timedelta(days=days_ago),
    )
    OrderLine.objects.create(
        order=order,
        position=1,
        sku=sku,
        name=sku,
        quantity=1,
        unit_price=Decimal(total),
        line_total=Decimal(total),
    )


@pytest.fixture
def people() -> dict[str, Any]:
    ann = customer(first_name="Ann", country="NL", city="Utrecht", email="ann@example.com")
    bob = customer(first_name="Bob", country="NL", city="Delft")
    cy = customer(first_name="Cy", country="BE", city="Gent")
    vip = Tag.objects.create(name="vip")
    CustomerTag.objects.create(customer=cy, tag=vip)
    for who, status in ((ann, "granted"), (bob, "granted")):
        ConsentRecord.objects.create(
            customer=who,
            channel="email",
            purpose="marketing",
            status=status,
            method="form",
            occurred_at=timezone.now() - dt.timedelta(days=5),
        )
    # Bob withdrew later: the latest row is in force.
    ConsentRecord.objects.create(
        customer=bob, channel="email", purpose="marketing", status="withdrawn", method="link"
    )
    # Cy consented for any channel.
    ConsentRecord.objects.create(
        customer=cy, channel="any", purpose="marketing", status="granted", method="form"
    )
    _view(ann, "TEA-1", 2)
    _view(bob, "TEA-1", 3)
    _view(cy, "TEA-1", 20)
    _order(bob, "TEA-1", 1, "40.00")
    _order(cy, "MUG-1", 100, "15.00")
    _order(cy, "MUG-1", 90, "500.00", status="cancelled")
    return {"ann": ann, "bob": bob, "cy": cy}


def test_profile_fields_and_tags(people: dict[str, Any]) -> None:
    assert _names(_and({"kind": "field", "field": "country", "value": "NL"})) == ["Ann", "Bob"]
    assert _names(_and({"kind": "field", "field": "tag", "value": "vip"})) == ["Cy"]
    either = _or(
        {"kind": "field", "field": "city", "value": "delft"},
        {"kind": "field", "field": "tag", "value": "vip"},
    )
    assert _names(either) == ["Bob", "Cy"]
    assert _names(_and({"kind": "field", "field": "country", "value": "NL", "negate": True})) == [
        "Cy"
    ]


def test_consent_in_force_per_topic(people: dict[str, Any]) -> None:
    consent = {"kind": "consent", "channel": "email", "purpose": "marketing"}
    assert _names(_and(consent)) == ["Ann", "Cy"]
    assert _names(_and({**consent, "negate": True})) == ["Bob"]


def test_viewed_product_x_in_the_last_7_days_and_did_not_buy_it(people: dict[str, Any]) -> None:
    rules = _and(
        {"kind": "event", "type": "product_view", "product_sku": "TEA-1", "days": 7},
        {"kind": "order", "measure": "product", "value": "TEA-1", "days": 7, "negate": True},
    )
    assert _names(rules) == ["Ann"]


def test_order_measures_ignore_cancelled_orders(people: dict[str, Any]) -> None:
    def names(**order: Any) -> list[str]:
        return _names(_and({"kind": "order", **order}))

    assert names(measure="count", op="gte", value=1) == ["Bob", "Cy"]
    assert names(measure="count", op="eq", value=0) == ["Ann"]
    assert names(measure="count", op="gte", value=2) == []
    assert names(measure="total", op="gte", value="20") == ["Bob"]
    assert names(measure="total", op="lte", value="20") == ["Ann", "Cy"]
    assert names(measure="last_order_days", op="lte", value=30) == ["Bob"]
    assert names(measure="last_order_days", op="gte", value=30) == ["Cy"]
    assert names(measure="product", value="MUG-1") == ["Cy"]
    assert names(measure="count", op="gte", value=1, days=30) == ["Bob"]


def test_nested_groups(people: dict[str, Any]) -> None:
    rules = _or(
        _and(
            {"kind": "field", "field": "country", "value": "NL"},
            {"kind": "consent", "channel": "email", "purpose": "marketing"},
        ),
        _and({"kind": "order", "measure": "product", "value": "MUG-1"}),
    )
    assert _names(rules) == ["Ann", "Cy"]
    assert _names(_and()) == ["Ann", "Bob", "Cy"]


def test_the_count_respects_record_scope(people: dict[str, Any]) -> None:
    rep = marketer(Scope.OWN)
    people["ann"].owner = rep
    people["ann"].save()
    everyone = _and({"kind": "event", "type": "product_view"})
    assert selectors.segment_count(actor=rep, rules=everyone) == 1
    assert selectors.segment_count(actor=marketer(Scope.ALL), rules=everyone) == 3


@pytest.mark.parametrize(
    ("rules", "path"),
    [
        ({"op": "xor", "rules": []}, "rules.op"),
        (_and({"kind": "field", "field": "shoe_size", "value": "42"}), "rules.0.field"),
        (_and({"kind": "field", "field": "country", "value": ""}), "rules.0.value"),
        (_and({"kind": "field", "field": "created_after", "value": "yesterday"}), "rules.0.value"),
        (_and({"kind": "event", "type": "Nope"}), "rules.0.type"),
        (_and({"kind": "event", "type": "page_view", "days": 0}), "rules.0.days"),
        (_and(_or({"kind": "order", "measure": "count", "op": "gte"})), "rules.0.0.value"),
        (_and({"kind": "consent", "channel": "pigeon"}), "rules.0.channel"),
        (_and({"kind": "weather"}), "rules.0.kind"),
        ("not even a group", "rules"),
    ],
)
def test_invalid_rules_name_the_rule(rules: Any, path: str) -> None:
    with pytest.raises(ValidationError) as caught:
        segment_rules.validate(rules)
    assert path in caught.value.message_dict


def test_groups_nest_at_most_four_deep() -> None:
    deep: dict[str, Any] = _and()
    for _ in range(5):
        deep = _and(deep)
    with pytest.raises(ValidationError):
        segment_rules.validate(deep)
