"""Links between customers: relationships (household, employer…) and a person's affiliations."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from rapport.core import audit, outbox
from rapport.core.models import AuditAction
from rapport.core.permissions import require
from rapport.customers import normalize
from rapport.customers.models import (
    RELATIONSHIP_LABELS,
    Affiliation,
    Customer,
    CustomerKind,
    Relationship,
    RelationshipKind,
)
from rapport.customers.services.derived import refresh_derived_fields


def relationship_payload(rel: Relationship) -> dict[str, Any]:
    return {
        "id": rel.pk,
        "from_customer_id": rel.from_customer_id,
        "to_customer_id": rel.to_customer_id,
        "kind": rel.kind,
        "label_from": RELATIONSHIP_LABELS[rel.kind][0],
        "label_to": RELATIONSHIP_LABELS[rel.kind][1],
        "note": rel.note,
    }


@transaction.atomic
def relationship_create(
    *, actor: Any, from_customer: Customer, to_customer: Customer, kind: str, note: str = ""
) -> Relationship:
    """Link two customers (household, employer, referred-by, partner); shown on both."""
    require(actor, "edit", from_customer)
    require(actor, "view", to_customer)
    if kind not in RelationshipKind.values:
        raise ValidationError(
            {"kind": f"{kind!r} is not one of: {', '.join(RelationshipKind.values)}."}
        )
    if from_customer.pk == to_customer.pk:
        raise ValidationError({"to_customer": "A customer cannot be related to itself."})
    exists = Relationship.objects.filter(
        from_customer=from_customer, to_customer=to_customer, kind=kind
    ).exists()
    if exists:
        raise ValidationError({"to_customer": "This relationship already exists."})
    rel = Relationship.objects.create(
        from_customer=from_customer,
        to_customer=to_customer,
        kind=kind,
        note=normalize.clean_text(note, max_length=255),
    )
    audit.record_created(actor=actor, obj=rel)
    outbox.emit("relationship.created", relationship_payload(rel), aggregate=from_customer)
    return rel


@transaction.atomic
def relationship_delete(*, actor: Any, relationship: Relationship) -> None:
    """Remove a relationship; whoever may edit either side may remove it."""
    from rapport.core.permissions import can

    if not (
        can(actor, "edit", relationship.from_customer)
        or can(actor, "edit", relationship.to_customer)
    ):
        require(actor, "edit", relationship.from_customer)  # raises with the usual message
    payload = relationship_payload(relationship)
    audit.record_deleted(actor=actor, obj=relationship, before=audit.snapshot(relationship))
    outbox.emit("relationship.deleted", payload, aggregate=relationship.from_customer)
    relationship.delete()


def _affiliation_payload(aff: Affiliation) -> dict[str, Any]:
    return {
        "id": aff.pk,
        "person_id": aff.person_id,
        "organization_id": aff.organization_id,
        "title": aff.title,
        "is_primary": aff.is_primary,
        "started_on": aff.started_on.isoformat() if aff.started_on else None,
        "ended_on": aff.ended_on.isoformat() if aff.ended_on else None,
    }


def _refresh_search_text(customer: Customer) -> None:
    refresh_derived_fields(customer)
    Customer.objects.filter(pk=customer.pk).update(search_text=customer.search_text)


def _check_affiliation_dates(started_on: Any, ended_on: Any) -> tuple[Any, Any]:
    try:
        start = normalize.parse_date(started_on) if started_on else None
    except ValidationError as exc:
        raise ValidationError({"started_on": exc.messages}) from exc
    try:
        end = normalize.parse_date(ended_on) if ended_on else None
    except ValidationError as exc:
        raise ValidationError({"ended_on": exc.messages}) from exc
    if start and end and end < start:
        raise ValidationError({"ended_on": "The end date is before the start date."})
    return start, end


@transaction.atomic
def affiliation_create(
    *,
    actor: Any,
    person: Customer,
    organization: Customer,
    title: str = "",
    is_primary: bool = True,
    started_on: dt.date | str | None = None,
    ended_on: dt.date | str | None = None,
) -> Affiliation:
    """Record that a person works at (or belongs to) an organization."""
    require(actor, "edit", person)
    require(actor, "view", organization)
    if person.kind != CustomerKind.PERSON:
        raise ValidationError({"person": "Only a person can be affiliated to an organization."})
    if organization.kind != CustomerKind.ORGANIZATION:
        raise ValidationError({"organization": "Choose an organization, not a person."})
    if Affiliation.objects.filter(person=person, organization=organization).exists():
        raise ValidationError({"organization": "This person is already linked to it."})
    start, end = _check_affiliation_dates(started_on, ended_on)
    if is_primary:
        Affiliation.objects.filter(person=person, is_primary=True).update(is_primary=False)
    aff = Affiliation.objects.create(
        person=person,
        organization=organization,
        title=normalize.clean_text(title, max_length=150),
        is_primary=is_primary,
        started_on=start,
        ended_on=end,
    )
    _refresh_search_text(person)
    audit.record_created(actor=actor, obj=aff)
    outbox.emit("affiliation.created", _affiliation_payload(aff), aggregate=person)
    return aff


@transaction.atomic
def affiliation_update(
    *,
    actor: Any,
    affiliation: Affiliation,
    title: str | None = None,
    is_primary: bool | None = None,
    started_on: dt.date | str | None = None,
    ended_on: dt.date | str | None = None,
) -> Affiliation:
    require(actor, "edit", affiliation.person)
    before = audit.snapshot(affiliation)
    if title is not None:
        affiliation.title = normalize.clean_text(title, max_length=150)
    if started_on is not None or ended_on is not None:
        start, end = _check_affiliation_dates(
            started_on if started_on is not None else affiliation.started_on,
            ended_on if ended_on is not None else affiliation.ended_on,
        )
        affiliation.started_on, affiliation.ended_on = start, end
    if is_primary is not None:
        if is_primary:
            Affiliation.objects.filter(person_id=affiliation.person_id, is_primary=True).exclude(
                pk=affiliation.pk
            ).update(is_primary=False)
        affiliation.is_primary = is_primary
    affiliation.save()
    changes = audit.diff(before, audit.snapshot(affiliation))
    if changes:
        audit.record(actor=actor, action=AuditAction.UPDATE, obj=affiliation, changes=changes)
        outbox.emit(
            "affiliation.updated", _affiliation_payload(affiliation), aggregate=affiliation.person
        )
    return affiliation


@transaction.atomic
def affiliation_delete(*, actor: Any, affiliation: Affiliation) -> None:
    person = affiliation.person
    require(actor, "edit", person)
    payload = _affiliation_payload(affiliation)
    audit.record_deleted(actor=actor, obj=affiliation, before=audit.snapshot(affiliation))
    outbox.emit("affiliation.deleted", payload, aggregate=person)
    affiliation.delete()
    _refresh_search_text(person)
