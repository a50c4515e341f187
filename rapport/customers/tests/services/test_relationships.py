"""Relationships and affiliations between customers."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from rapport.core.models import OutboxEvent
from rapport.customers import selectors, services
from rapport.customers.models import Affiliation
from rapport.customers.tests.factories import organization, person

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
