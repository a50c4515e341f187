"""Convert a lead, in one transaction, into a customer (a new person, or the existing
customer it matched), an organization when it names one, and a deal in the default
pipeline, keeping the lead's history on the customer's timeline. Any failure rolls the
whole conversion back: the lead stays as it was."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from rapport.core import audit, outbox
from rapport.core.models import AuditAction
from rapport.core.permissions import require
from rapport.core.versioning import bump_version, lock_for_change
from rapport.customers import selectors as customer_selectors
from rapport.customers import services as customer_services
from rapport.customers.models import Affiliation, Customer, CustomerKind, InteractionKind
from rapport.sales.models import Deal, Lead, LeadStatus
from rapport.sales.schemas import lead_payload
from rapport.sales.services.common import _require_visible_customer, _timeline
from rapport.sales.services.deals import DealInput, deal_create


@dataclass
class Conversion:
    lead: Lead
    person: Customer
    organization: Customer | None
    deal: Deal | None
    merged: bool  # True when the lead went into an existing customer


def _new_person(actor: Any, lead: Lead) -> Customer:
    CI = customer_services.CustomerInput
    return customer_services.customer_create(
        actor=actor,
        data=CI(
            kind=CustomerKind.PERSON,
            first_name=lead.first_name or None,
            last_name=lead.last_name or None,
            job_title=lead.title or None,
            source=(lead.source or "lead")[:50],
            emails=[customer_services.EmailInput(email=lead.email, is_primary=True)]
            if lead.email
            else None,
            phones=[customer_services.PhoneInput(number=lead.phone, is_primary=True)]
            if lead.phone
            else None,
            owner_id=lead.owner_id,
            team_id=lead.team_id,
        ),
    )


def _organization(actor: Any, lead: Lead) -> Customer | None:
    """The organization the lead names: an existing one the actor sees, else a new one."""
    if not lead.organization_name:
        return None
    found = (
        customer_selectors.customer_list(actor=actor)
        .filter(kind=CustomerKind.ORGANIZATION, display_name__iexact=lead.organization_name)
        .order_by("id")
        .first()
    )
    if found is not None:
        return found
    return customer_services.customer_create(
        actor=actor,
        data=customer_services.CustomerInput(
            kind=CustomerKind.ORGANIZATION,
            organization_name=lead.organization_name,
            source=(lead.source or "lead")[:50],
            owner_id=lead.owner_id,
            team_id=lead.team_id,
        ),
    )


@transaction.atomic
def lead_convert(
    *,
    actor: Any,
    lead: Lead,
    customer: Customer | None = None,
    create_deal: bool = True,
    deal: DealInput | None = None,
    expected_version: int | None = None,
    via: str = "ui",
) -> Conversion:
    """Turn an open lead into a customer and (by default) a deal.

    `customer` merges the lead into that existing customer (e.g. the match shown on the
    lead page); without it a new person is created. The deal goes to the organization
    when the lead names one (B2B), else to the person, in the default pipeline unless
    `deal` says otherwise.
    """
    require(actor, "edit", lead)
    if create_deal:
        require(actor, "create", Deal)
    lead = lock_for_change(lead, expected_version=expected_version)
    if not lead.is_open:
        raise ValidationError(
            f"This lead is {lead.get_status_display().lower()}; it cannot be converted."
        )
    merged = customer is not None
    if customer is not None:
        _require_visible_customer(actor, customer)
        person = customer
    else:
        require(actor, "create", Customer)
        person = _new_person(actor, lead)
    organization = _organization(actor, lead) if person.kind == CustomerKind.PERSON else None
    if (
        organization is not None
        and not Affiliation.objects.filter(person=person, organization=organization).exists()
    ):
        customer_services.affiliation_create(
            actor=actor, person=person, organization=organization, title=lead.title
        )
    new_deal = None
    if create_deal:
        spec = deal or DealInput()
        if spec.name is None:
            spec.name = f"{lead.organization_name or lead.name}"[:200]
        if spec.owner_id is None and spec.team_id is None:
            spec.owner_id, spec.team_id = lead.owner_id, lead.team_id
        new_deal = deal_create(
            actor=actor, customer=organization or person, data=spec, via="conversion"
        )
        Deal.objects.filter(pk=new_deal.pk).update(source_lead=lead)
        new_deal.source_lead = lead
    before = audit.snapshot(lead)
    lead.status = LeadStatus.CONVERTED
    lead.converted_customer = person
    lead.converted_deal = new_deal
    lead.converted_at = timezone.now()
    bump_version(lead)
    lead.save()
    lead.refresh_from_db()
    audit.record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=lead,
        changes=audit.diff(before, audit.snapshot(lead)),
    )
    outbox.emit(
        "lead.converted",
        {
            **lead_payload(lead),
            "merged": merged,
            "organization_id": getattr(organization, "pk", None),
        },
        aggregate=lead,
    )
    # The lead's own history moves to the customer's timeline: where it came from, how
    # often it reached us, what it said.
    utm = {
        k: getattr(lead, k)
        for k in ("utm_source", "utm_medium", "utm_campaign")
        if getattr(lead, k)
    }
    _timeline(
        actor=actor,
        customer=person,
        kind=InteractionKind.LIFECYCLE,
        summary=f"Converted from lead ({lead.source or 'no source'}, "
        f"since {lead.created_at:%Y-%m-%d}, "
        f"{lead.touches} contact{'s' if lead.touches != 1 else ''})",
        source=lead,
        data={
            "lead_id": lead.pk,
            "source": lead.source,
            "utm": utm,
            "touches": lead.touches,
            "message": lead.message[:1000],
            "deal_id": getattr(new_deal, "pk", None),
            "merged": merged,
        },
    )
    return Conversion(
        lead=lead, person=person, organization=organization, deal=new_deal, merged=merged
    )
