"""Issue 17: the orders import's dry run says created, updated and unchanged by the
import's own rule (orders_bulk_upsert compare-only), as the contacts dry run does
(decision 0780)."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from rapport.customers.models import Customer
from rapport.identity.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

HEADER = (
    "external_id,customer_external_id,ordered_at,total,currency,status,channel,sku,"
    "quantity,unit_price\n"
)
ROWS = (
    "O1,C1,2024-03-01T10:00:00,30.00,EUR,paid,web,SKU1,2,10\n"
    "O1,C1,2024-03-01T10:00:00,30.00,EUR,paid,web,SKU2,1,10\n"
    "O2,C1,2024-03-02,5.00,EUR,,,,,\n"
)


def _import(path: Path, *extra: str) -> dict[str, Any]:
    out = StringIO()
    call_command("import", "orders", str(path), "--json", *extra, stdout=out)
    return json.loads(out.getvalue())


def test_the_dry_run_compares_with_the_stored_orders(tmp_path: Path) -> None:
    from rapport.commerce.models import Order, OrderLine
    from rapport.customers.models import Interaction

    UserFactory(is_superuser=True)
    Customer.objects.create(display_name="Ann", external_id="C1")
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + ROWS)

    fresh = _import(path, "--dry-run")
    assert (fresh["created"], fresh["updated"], fresh.get("unchanged", 0)) == (2, 0, 0), fresh
    assert Order.objects.count() == 0

    _import(path)
    stored = list(Order.objects.order_by("pk").values_list("pk", "version", "status"))
    lines = OrderLine.objects.count()
    timeline = Interaction.objects.filter(kind="order").count()

    again = _import(path, "--dry-run")
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2), again

    # O2 is now shipped and O3 is new: one update, one creation, one unchanged.
    path.write_text(
        HEADER
        + ROWS.replace("2024-03-02,5.00,EUR,,", "2024-03-02,5.00,EUR,shipped,")
        + "O3,C1,2024-03-03,7.00,EUR,,,,,\n"
    )
    mixed = _import(path, "--dry-run")
    assert (mixed["created"], mixed["updated"], mixed["unchanged"]) == (1, 1, 1), mixed
    # ...and nothing was written by any dry run.
    assert list(Order.objects.order_by("pk").values_list("pk", "version", "status")) == stored
    assert OrderLine.objects.count() == lines
    assert Interaction.objects.filter(kind="order").count() == timeline

    real = _import(path)
    assert (real["created"], real["updated"], real["unchanged"]) == (1, 1, 1), real


def test_the_dry_run_reports_the_writes_errors_too(tmp_path: Path) -> None:
    """An order moving to another customer fails the real run; the dry run says so."""
    UserFactory(is_superuser=True)
    Customer.objects.create(display_name="Ann", external_id="C1")
    Customer.objects.create(display_name="Bob", external_id="C2")
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + "O9,C1,2024-03-02,5.00,EUR,,,,,\n")
    _import(path)
    path.write_text(HEADER + "O9,C2,2024-03-02,5.00,EUR,,,,,\n")
    dry = _import(path, "--dry-run")
    real = _import(path)
    assert dry["failed"] == real["failed"] == 1
    assert (dry["created"], dry["updated"]) == (real["created"], real["updated"]) == (0, 0)


def test_without_the_commerce_app_a_dry_run_still_checks_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rapport.dataquality import orders

    def unavailable() -> Any:
        raise orders.OrdersUnavailable("no commerce")

    monkeypatch.setattr(orders, "_write_batch", unavailable)
    UserFactory(is_superuser=True)
    Customer.objects.create(display_name="Ann", external_id="C1")
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + ROWS)
    dry = _import(path, "--dry-run")
    assert (dry["created"], dry["failed"]) == (2, 0), dry
