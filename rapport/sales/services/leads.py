"""Create, update, disqualify and delete leads. Capture never makes a second lead for a
person who already has an open one: the open lead is touched (and filled in) instead."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from rapport.commerce.services import check_assignment
from rapport.core import audit, outbox
from rapport.core.models import AuditAction
from rapport.core.permissions import require
from rapport.core.versioning import bump_version, lock_for_change
from rapport.customers import normalize
from rapport.sales.models import OPEN_LEAD_STATUSES, Lead, LeadStatus
from rapport.sales.schemas import lead_payload
from rapport.sales.services.common import LEAD_TYPE, _add_error, _default_team, _text
from rapport.sales.services.matching import best_match

# Plain text fields and their lengths (the model's).
LEAD_TEXT_FIELDS: dict[str, int] = {
    "organization_name": 200,
    "title": 200,
    "source": 100,
    "utm_source": 100,
    "utm_medium": 100,
    "utm_campaign": 100,
    "utm_term": 100,
    "utm_content": 100,
    "disqualify_reason": 200,
}


@dataclass
class LeadInput:
    """Writable lead fields; None on update means "leave as it is"."""

    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    organization_name: str | None = None
    title: str | None = None
    country: str | None = None
    source: str | None = None
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    utm_term: str | None = None
    utm_content: str | None = None
    message: str | None = None
    status: str | None = None
    score: int | None = None
    owner_id: int | None = None
    team_id: int | None = None


def _lead_values(data: LeadInput, *, creating: bool) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    for name in ("first_name", "last_name"):
        raw = getattr(data, name)
        if raw is not None:
            values[name] = normalize.normalize_name(raw)
    for name, length in LEAD_TEXT_FIELDS.items():
        raw = getattr(data, name, None)
        if raw is not None:
            values[name] = _text(raw, length)
    if data.email is not None:
        try:
            values["email"] = normalize.normalize_email(data.email) if data.email.strip() else ""
        except ValidationError as exc:
            _add_error(errors, "email", exc)
    if data.phone is not None:
        try:
            values["phone"] = normalize.normalize_phone(data.phone) if data.phone.strip() else ""
        except ValidationError as exc:
            _add_error(errors, "phone", exc)
    if data.country is not None:
        country = data.country.strip().upper()
        if country and (len(country) != 2 or not country.isalpha()):
            _add_error(errors, "country", "Use a two-letter country code (e.g. DE, US).")
        values["country"] = country
    if data.message is not None:
        values["message"] = str(data.message).strip()[:5000]
    if data.status is not None:
        if data.status not in (LeadStatus.NEW, LeadStatus.WORKING, LeadStatus.QUALIFIED):
            _add_error(
                errors,
                "status",
                "Set new, working or qualified here; disqualify and convert are actions.",
            )
        values["status"] = data.status
    if data.score is not None:
        if not 0 <= int(data.score) <= 100:
            _add_error(errors, "score", "A score is between 0 and 100.")
        values["score"] = int(data.score)
    if creating and not (
        values.get("first_name")
        or values.get("last_name")
        or values.get("email")
        or values.get("phone")
        or values.get("organization_name")
    ):
        _add_error(
            errors, "last_name", "A lead needs a name, an e-mail, a phone or an organization."
        )
    if errors:
        raise ValidationError(errors)
    return values


def _open_lead_of(values: dict[str, Any]) -> Lead | None:
    """The open lead of the same person (same e-mail or phone), if any."""
    q = Q(pk__in=[])
    if values.get("email"):
        q |= Q(email=values["email"])
    if values.get("phone"):
        q |= Q(phone=values["phone"])
    return (
        Lead.objects.select_for_update()
        .filter(q, status__in=OPEN_LEAD_STATUSES)
        .order_by("created_at", "id")
        .first()
    )


def _touch(actor: Any, lead: Lead, values: dict[str, Any]) -> Lead:
    """The person reached us again: count it, fill what the lead lacked, keep the message."""
    filled = {k: v for k, v in values.items() if v and not getattr(lead, k, None)}
    filled.pop("status", None)
    before = audit.snapshot(lead)
    for name, value in filled.items():
        setattr(lead, name, value)
    if values.get("message") and values["message"] != lead.message:
        lead.message = f"{lead.message}\n\n{values['message']}".strip()[:5000]
    lead.touches = F("touches") + 1
    lead.last_touched_at = timezone.now()
    bump_version(lead)
    lead.save()
    lead.refresh_from_db()
    changes = audit.diff(before, audit.snapshot(lead))
    audit.record(actor=actor, action=AuditAction.UPDATE, obj=lead, changes=changes)
    outbox.emit("lead.touched", lead_payload(lead), aggregate=lead)
    return lead


@transaction.atomic
def lead_create(*, actor: Any, data: LeadInput) -> Lead:
    """Capture a lead (by hand, API, import or web form). When the same person (e-mail or
    phone) already has an open lead, that lead is touched and returned instead: a second
    form never makes a second lead. The lead is matched against existing customers."""
    require(actor, "create", Lead)
    values = _lead_values(data, creating=True)
    existing = _open_lead_of(values)
    if existing is not None:
        return _touch(actor, existing, values)
    if data.owner_id is not None or data.team_id is not None:
        check_assignment(
            actor=actor,
            object_type=LEAD_TYPE,
            owner_id=data.owner_id,
            team_id=data.team_id,
            current=None,
        )
    match = best_match(
        first_name=values.get("first_name", ""),
        last_name=values.get("last_name", ""),
        email=values.get("email", ""),
        phone=values.get("phone", ""),
        organization_name=values.get("organization_name", ""),
    )
    lead = Lead(
        **values,
        matched_customer_id=match,
        owner_id=data.owner_id if data.owner_id is not None else actor.pk,
        team_id=data.team_id if data.team_id is not None else _default_team(actor),
    )
    lead.save(force_insert=True)
    audit.record_created(actor=actor, obj=lead)
    outbox.emit("lead.created", lead_payload(lead), aggregate=lead)
    return lead


@transaction.atomic
def lead_update(
    *, actor: Any, lead: Lead, data: LeadInput, expected_version: int | None = None
) -> Lead:
    """Change the fields `data` sets; a stale `expected_version` is refused (Conflict)."""
    require(actor, "edit", lead)
    lead = lock_for_change(lead, expected_version=expected_version)
    if not lead.is_open:
        raise ValidationError(f"This lead is {lead.get_status_display().lower()}; it is closed.")
    values = _lead_values(data, creating=False)
    if data.owner_id is not None or data.team_id is not None:
        check_assignment(
            actor=actor,
            object_type=LEAD_TYPE,
            owner_id=data.owner_id,
            team_id=data.team_id,
            current=lead,
        )
        if data.owner_id is not None:
            values["owner_id"] = data.owner_id
        if data.team_id is not None:
            values["team_id"] = data.team_id
    before = audit.snapshot(lead)
    for name, value in values.items():
        setattr(lead, name, value)
    if {"email", "phone", "first_name", "last_name", "organization_name"} & values.keys():
        lead.matched_customer_id = best_match(
            first_name=lead.first_name,
            last_name=lead.last_name,
            email=lead.email,
            phone=lead.phone,
            organization_name=lead.organization_name,
        )
    changes = audit.diff(before, audit.snapshot(lead))
    if not changes:
        return lead
    bump_version(lead)
    lead.save()
    lead.refresh_from_db()
    audit.record(actor=actor, action=AuditAction.UPDATE, obj=lead, changes=changes)
    outbox.emit(
        "lead.updated", {**lead_payload(lead), "changed_fields": sorted(changes)}, aggregate=lead
    )
    return lead


@transaction.atomic
def lead_disqualify(
    *, actor: Any, lead: Lead, reason: str, expected_version: int | None = None
) -> Lead:
    """Close a lead as not a fit, recording why (the reason is required)."""
    require(actor, "edit", lead)
    lead = lock_for_change(lead, expected_version=expected_version)
    reason = _text(reason, 200)
    if not reason:
        raise ValidationError({"reason": "Say why the lead is disqualified."})
    if not lead.is_open:
        raise ValidationError(f"This lead is {lead.get_status_display().lower()} already.")
    before = audit.snapshot(lead)
    lead.status = LeadStatus.DISQUALIFIED
    lead.disqualify_reason = reason
    bump_version(lead)
    lead.save()
    lead.refresh_from_db()
    audit.record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=lead,
        changes=audit.diff(before, audit.snapshot(lead)),
    )
    outbox.emit("lead.disqualified", lead_payload(lead), aggregate=lead)
    return lead


@transaction.atomic
def lead_delete(*, actor: Any, lead: Lead, expected_version: int | None = None) -> None:
    """Remove a lead (a converted lead's customer and deal stay)."""
    require(actor, "delete", lead)
    lead = lock_for_change(lead, expected_version=expected_version)
    payload = lead_payload(lead)
    audit.record_deleted(actor=actor, obj=lead, before=audit.snapshot(lead))
    outbox.emit("lead.deleted", payload, aggregate=lead)
    lead.delete()
