"""Bulk actions on selected customers."""

from __future__ import annotations

import pytest

from rapport.core.models import AuditLogEntry, OutboxEvent
from rapport.core.permissions import Scope
from rapport.customers import services
from rapport.customers.models import Customer, CustomerTag
from rapport.customers.tests.factories import person
from rapport.identity.tests.factories import user_with

pytestmark = pytest.mark.django_db


def test_bulk_actions_respect_scope(teams, admin):
    north, south = teams
    rep = user_with(Scope.OWN, actions=("view", "create", "edit"), teams=[north])
    mine = [person(rep, f"Mine{i}", "Rep") for i in range(3)]
    others = [person(admin, f"Other{i}", "Admin", team_id=south.pk) for i in range(2)]
    ids = [c.pk for c in mine + others]

    result = services.customers_bulk_tag(actor=rep, customer_ids=ids, add=["VIP"])
    assert (result.done, result.skipped) == (3, 2)
    assert set(
        CustomerTag.objects.filter(tag__name="vip").values_list("customer_id", flat=True)
    ) == {c.pk for c in mine}
    assert AuditLogEntry.objects.filter(action="update", changes__tags__added=["vip"]).count() == 3
    assert OutboxEvent.objects.filter(type="customer.updated").count() == 3

    result = services.customers_bulk_tag(actor=rep, customer_ids=ids, remove=["vip"])
    assert result.done == 3 and not CustomerTag.objects.filter(tag__name="vip").exists()

    # An own-scope user may not give records away; nothing changes.
    result = services.customers_bulk_assign(actor=rep, customer_ids=ids, owner_id=admin.pk)
    assert (result.done, result.skipped) == (0, 5)
    assert Customer.objects.filter(owner=admin).count() == 2

    # No delete permission at all: everything skipped, nothing deleted.
    result = services.customers_bulk_delete(actor=rep, customer_ids=ids)
    assert (result.done, result.skipped) == (0, 5)

    result = services.customers_bulk_assign(actor=admin, customer_ids=ids, owner_id=rep.pk)
    assert result.done == 5 and Customer.objects.filter(owner=rep).count() == 5
    result = services.customers_bulk_delete(actor=admin, customer_ids=ids[:2])
    assert result.done == 2 and Customer.objects.count() == 3
    assert (
        AuditLogEntry.objects.filter(action="delete", object_type="customers.customer").count() == 2
    )
    assert OutboxEvent.objects.filter(type="customer.deleted").count() == 2
