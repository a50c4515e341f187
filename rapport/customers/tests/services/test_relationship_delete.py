"""Removing a relationship between two customers: whoever may edit either side may, with
an audit row and a `relationship.deleted` event carrying `relationship_payload`."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from rapport.core.models import AuditLogEntry, OutboxEvent
from rapport.core.permissions import Scope
from rapport.customers import services
from rapport.customers.models import Relationship
from rapport.customers.tests.factories import organization, person
from rapport.identity.tests.factories import user_with

pytestmark = pytest.mark.django_db


def test_relationship_payload_reads_the_link_from_both_sides(admin) -> None:
    ada = person(admin)
    engines = organization(admin)
    rel = services.relationship_create(
        actor=admin, from_customer=ada, to_customer=engines, kind="employer", note=" since 1843 "
    )
    assert services.relationship_payload(rel) == {
        "id": rel.pk,
        "from_customer_id": ada.pk,
        "to_customer_id": engines.pk,
        "kind": "employer",
        "label_from": "Works for",
        "label_to": "Employs",
        "note": "since 1843",
    }
    assert OutboxEvent.objects.get(type="relationship.created").data == (
        services.relationship_payload(rel)
    )


def test_relationship_delete_records_and_announces_the_removal(admin) -> None:
    ada = person(admin)
    engines = organization(admin)
    rel = services.relationship_create(
        actor=admin, from_customer=ada, to_customer=engines, kind="employer"
    )
    payload, pk = services.relationship_payload(rel), rel.pk

    services.relationship_delete(actor=admin, relationship=rel)

    assert not Relationship.objects.filter(pk=pk).exists()
    row = AuditLogEntry.objects.get(object_id=str(pk), action="delete")
    assert row.object_type == "customers.relationship"
    assert row.changes["kind"] == ["employer", None]
    event = OutboxEvent.objects.get(type="relationship.deleted")
    assert event.data == payload
    assert event.aggregate_id == str(ada.pk)


def test_editing_the_other_side_is_enough_to_remove_it(admin, teams) -> None:
    rep = user_with(Scope.OWN, teams=[teams[0]])
    mine = person(rep, "Ada", "Lovelace")
    theirs = person(admin, "Grace", "Hopper")
    rel = services.relationship_create(
        actor=admin, from_customer=theirs, to_customer=mine, kind="referred_by"
    )
    services.relationship_delete(actor=rep, relationship=rel)
    assert not Relationship.objects.exists()


def test_someone_who_may_edit_neither_side_is_refused(admin, teams) -> None:
    rep = user_with(Scope.OWN, teams=[teams[0]])
    ada, grace = person(admin, "Ada", "Lovelace"), person(admin, "Grace", "Hopper")
    rel = services.relationship_create(
        actor=admin, from_customer=ada, to_customer=grace, kind="household"
    )
    with pytest.raises(PermissionDenied):
        services.relationship_delete(actor=rep, relationship=rel)
    assert Relationship.objects.filter(pk=rel.pk).exists()
    assert not OutboxEvent.objects.filter(type="relationship.deleted").exists()
    assert not AuditLogEntry.objects.filter(object_id=str(rel.pk), action="delete").exists()
