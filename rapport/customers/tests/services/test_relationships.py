"""Relationships and affiliations between customers."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from rapport.core.models import AuditLogEntry, OutboxEvent
from rapport.core.permissions import Scope
from rapport.customers import selectors, services
from rapport.customers.models import Affiliation, Relationship
from rapport.customers.tests.factories import organization, person
from rapport.identity.tests.factories import user_with

pytestmark = pytest.mark.django_db


def test_relationship_reads_both_ways_with_its_own_wording(admin):
    ada, org = person(admin), organization(admin)
    charles = person(admin, "Charles", "Babbage")
    services.relationship_create(
        actor=admin, from_customer=ada, to_customer=charles, kind="referred_by"
    )
    services.relationship_create(actor=admin, from_customer=ada, to_customer=org, kind="employer")
    ada_view = {
        (r.label, r.other.pk)
        for r in selectors.relationships_of(selectors.customer_detail(actor=admin, pk=ada.pk))
    }
    assert ada_view == {("Was referred by", charles.pk), ("Works for", org.pk)}
    charles_view = [
        (r.label, r.other.pk)
        for r in selectors.relationships_of(selectors.customer_detail(actor=admin, pk=charles.pk))
    ]
    assert charles_view == [("Referred", ada.pk)]
    org_view = [
        (r.label, r.other.pk)
        for r in selectors.relationships_of(selectors.customer_detail(actor=admin, pk=org.pk))
    ]
    assert org_view == [("Employs", ada.pk)]
    with pytest.raises(ValidationError):
        services.relationship_create(
            actor=admin, from_customer=ada, to_customer=charles, kind="referred_by"
        )
    with pytest.raises(ValidationError):
        services.relationship_create(
            actor=admin, from_customer=ada, to_customer=ada, kind="partner"
        )
    assert OutboxEvent.objects.filter(type="relationship.created").count() == 2


def test_affiliation_makes_the_person_findable_by_organization(admin):
    ada, org = person(admin), organization(admin, "Difference Engines")
    aff = services.affiliation_create(actor=admin, person=ada, organization=org, title="Analyst")
    ada.refresh_from_db()
    assert "difference engines" in ada.search_text
    with pytest.raises(ValidationError):
        services.affiliation_create(actor=admin, person=org, organization=ada)
    services.affiliation_update(actor=admin, affiliation=aff, title="Chief analyst")
    assert Affiliation.objects.get().title == "Chief analyst"
    services.affiliation_delete(actor=admin, affiliation=aff)
    ada.refresh_from_db()
    assert "difference engines" not in ada.search_text


# --- Removing a relationship: relationship_delete, relationship_payload ---


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
