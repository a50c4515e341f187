"""`rapport export orders`: the import's own columns, so an unchanged export re-imports as
nothing to do; record scope and the export permission; bad filters said plainly."""

from __future__ import annotations

import csv
import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command

from rapport.commerce import exports
from rapport.commerce.columns import ORDER_FIELDS
from rapport.commerce.models import Order
from rapport.core.cli import BadInput
from rapport.core.models import AuditAction, AuditLogEntry
from rapport.core.permissions import Scope
from rapport.customers.models import Customer
from rapport.identity.tests.factories import UserFactory, user_with

pytestmark = pytest.mark.django_db

ORDERS_FILE = (
    "external_id,customer_external_id,ordered_at,total,currency,status,channel,sku,"
    "quantity,unit_price\n"
    "O1,C1,2024-03-01T10:00:00+00:00,30.00,EUR,paid,web,SKU1,2,10.00\n"
    "O1,C1,2024-03-01T10:00:00+00:00,30.00,EUR,paid,web,SKU2,1,10.00\n"
    "O2,C2,2024-03-02T09:30:00+00:00,5.00,USD,pending,phone,,,\n"
)


def _cli(*args: str) -> dict[str, Any]:
    out = StringIO()
    call_command(*args, "--json", stdout=out)
    return json.loads(out.getvalue())


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_an_unchanged_orders_export_re_imports_as_nothing_to_do(tmp_path: Path) -> None:
    UserFactory(is_superuser=True)
    Customer.objects.create(display_name="Ann", external_id="C1")
    Customer.objects.create(display_name="Bob", external_id="C2")
    source = tmp_path / "orders.csv"
    source.write_text(ORDERS_FILE)
    assert _cli("import", "orders", str(source))["created"] == 2

    exported = tmp_path / "export.csv"
    assert _cli("export", "orders", "-o", str(exported)) == {"rows": 3, "file": str(exported)}
    rows = _read(exported)
    assert list(rows[0]) == list(ORDER_FIELDS)
    assert [(r["external_id"], r["sku"], r["quantity"]) for r in rows] == [
        ("O1", "SKU1", "2"),
        ("O1", "SKU2", "1"),
        ("O2", "", ""),  # an order without lines is one row with empty line columns
    ]
    versions = dict(Order.objects.values_list("external_id", "version"))

    again = _cli("import", "orders", str(exported))
    assert (again["created"], again["failed"], again["unchanged"]) == (0, 0, 2), again
    assert dict(Order.objects.values_list("external_id", "version")) == versions
    assert AuditLogEntry.objects.filter(
        action=AuditAction.EXPORT, object_type="commerce.order"
    ).exists()


def test_the_orders_export_takes_the_order_lists_filters(tmp_path: Path) -> None:
    UserFactory(is_superuser=True)
    Customer.objects.create(display_name="Ann", external_id="C1")
    Customer.objects.create(display_name="Bob", external_id="C2")
    source = tmp_path / "orders.csv"
    source.write_text(ORDERS_FILE)
    _cli("import", "orders", str(source))
    exported = tmp_path / "usd.csv"
    assert _cli("export", "orders", "-o", str(exported), "--filter", "currency=usd")["rows"] == 1
    assert [r["external_id"] for r in _read(exported)] == ["O2"]


def test_a_bad_filter_or_type_is_named(tmp_path: Path) -> None:
    admin = user_with(Scope.ALL, object_types=("commerce.order",))
    with pytest.raises(ValidationError, match="Unknown filter 'colour'"):
        exports.export_rows(actor=admin, filters={"colour": "red"})
    with pytest.raises(ValidationError, match="ordered_from: 'last week' is not a date"):
        exports.export_rows(actor=admin, filters={"ordered_from": "last week"})
    with pytest.raises(BadInput, match="'invoices'; use one of: contacts, orders"):
        call_command("export", "invoices", "-o", str(tmp_path / "x.csv"))


def test_a_rep_exports_only_their_own_orders_and_needs_the_export_permission() -> None:
    rep = user_with(Scope.OWN, object_types=("commerce.order",))
    other = user_with(Scope.OWN, object_types=("commerce.order",))
    customer = Customer.objects.create(display_name="Ann", external_id="C1")
    Order.objects.create(customer=customer, external_id="MINE", currency="EUR", owner=rep)
    Order.objects.create(customer=customer, external_id="THEIRS", currency="EUR", owner=other)

    _, rows = exports.export_rows(actor=rep, filters={})
    assert [row[0] for row in rows] == ["MINE"]

    viewer = user_with(Scope.ALL, actions=("view",), object_types=("commerce.order",))
    with pytest.raises(PermissionDenied):
        exports.export_rows(actor=viewer, filters={})
