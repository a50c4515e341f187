"""Create, update and delete a customer (person or organization), its contact points and tags."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from rapport.core import audit, outbox
from rapport.core.models import AuditAction
from rapport.core.permissions import Scope, require, require_assignees_exist
from rapport.core.versioning import lock_for_change
from rapport.customers import quality
from rapport.customers.custom_fields import validate_custom_fields
from rapport.customers.models import (
    Address,
    Customer,
    CustomerKind,
    CustomerTag,
    EmailAddress,
    InteractionKind,
    PhoneNumber,
    Tag,
)
from rapport.customers.schemas import customer_payload
from rapport.customers.services.derived import (
    _DERIVED_FIELDS,
    display_name_for,
    refresh_derived_fields,
)
from rapport.customers.services.inputs import (
    CUSTOMER_TYPE,
    AddressInput,
    CustomerInput,
    EmailInput,
    PhoneInput,
    _normalize_addresses,
    _normalize_emails,
    _normalize_phones,
    _normalize_scalars,
    _normalize_tags,
)
from rapport.customers.services.interactions import interaction_record


def check_assignment(
    *, actor: Any, owner_id: int | None, team_id: int | None, current: Customer | None
) -> None:
    """Who may give a record to whom: `all` scope anyone to anyone; `team` scope within
    their own teams; `own` scope keeps records with themselves."""
    grant = actor.grant_for(CUSTOMER_TYPE)
    if grant.scope == Scope.ALL:
        # The narrower scopes only allow assignees that exist (themselves, their teams).
        require_assignees_exist(owner_id=owner_id, team_id=team_id)
        return
    current_owner = current.owner_id if current else actor.pk
    current_team = current.team_id if current else None
    if grant.scope == Scope.TEAM:
        if team_id is not None and team_id != current_team and team_id not in actor.team_ids():
            raise PermissionDenied("You may only assign records to your own teams.")
        if owner_id is not None and owner_id != current_owner and owner_id != actor.pk:
            from django.contrib.auth import get_user_model

            shares_team = (
                get_user_model().objects.filter(pk=owner_id, teams__in=actor.team_ids()).exists()
            )
            if not shares_team:
                raise PermissionDenied("You may only assign records to people in your teams.")
        return
    if (owner_id is not None and owner_id != current_owner) or (
        team_id is not None and team_id != current_team
    ):
        raise PermissionDenied("Your role does not allow assigning records to others.")


def _replace_contact_points(
    customer: Customer,
    emails: list[EmailInput] | None,
    phones: list[PhoneInput] | None,
    addresses: list[AddressInput] | None,
) -> None:
    if emails is not None:
        customer.emails.all().delete()
        EmailAddress.objects.bulk_create(
            EmailAddress(customer=customer, email=e.email, kind=e.kind, is_primary=e.is_primary)
            for e in emails
        )
    if phones is not None:
        customer.phones.all().delete()
        PhoneNumber.objects.bulk_create(
            PhoneNumber(customer=customer, e164=p.number, kind=p.kind, is_primary=p.is_primary)
            for p in phones
        )
    if addresses is not None:
        customer.addresses.all().delete()
        Address.objects.bulk_create(
            Address(
                customer=customer,
                kind=a.kind,
                line1=a.line1,
                line2=a.line2,
                city=a.city,
                postcode=a.postcode,
                region=a.region,
                country=a.country,
                is_primary=a.is_primary,
            )
            for a in addresses
        )


def set_tags(customer: Customer, names: Iterable[str]) -> list[str]:
    """Make the customer's tags exactly `names` (creating new tags); return them."""
    wanted = _normalize_tags(names)
    existing = {t.name: t for t in Tag.objects.filter(name__in=wanted)}
    missing = [Tag(name=n) for n in wanted if n not in existing]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {t.name: t for t in Tag.objects.filter(name__in=wanted)}
    CustomerTag.objects.filter(customer=customer).exclude(tag__name__in=wanted).delete()
    have = set(CustomerTag.objects.filter(customer=customer).values_list("tag__name", flat=True))
    CustomerTag.objects.bulk_create(
        CustomerTag(customer=customer, tag=existing[n]) for n in wanted if n not in have
    )
    return wanted


def _audited(customer: Customer) -> dict[str, Any]:
    snap = audit.snapshot(customer)
    # Derived from the fields audited here: recording them again is noise.
    for derived in ("search_text", "quality_score", "quality_issues"):
        snap.pop(derived, None)
    snap["emails"] = sorted(customer.emails.values_list("email", flat=True))
    snap["phones"] = sorted(customer.phones.values_list("e164", flat=True))
    snap["addresses"] = [str(a) for a in customer.addresses.all()]
    snap["tags"] = sorted(customer.tags.values_list("name", flat=True))
    return snap


def _prefetched(customer: Customer) -> Customer:
    return (
        Customer.objects.prefetch_related("tags", "emails", "phones", "addresses")
        .select_related(None)
        .get(pk=customer.pk)
    )


def _check_unique_external_id(
    external_id: str | None, errors: dict[str, list[str]], exclude_pk: int | None
) -> None:
    if not external_id:
        return
    clash = Customer.objects.filter(external_id=external_id)
    if exclude_pk is not None:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        errors.setdefault("external_id", []).append(
            f"Another customer already has external_id {external_id!r}."
        )


def _validate_identity(kind: str, values: Mapping[str, Any], has_contact: bool) -> None:
    if kind == CustomerKind.ORGANIZATION:
        if not values.get("organization_name"):
            raise ValidationError({"organization_name": "An organization needs a name."})
    elif not (values.get("first_name") or values.get("last_name") or has_contact):
        raise ValidationError(
            {"last_name": "A person needs a name, an e-mail address or a phone number."}
        )


@transaction.atomic
def customer_create(*, actor: Any, data: CustomerInput) -> Customer:
    """Create a person or an organization with its contact points, tags and custom fields."""
    require(actor, "create", Customer)
    errors: dict[str, list[str]] = {}
    values = _normalize_scalars(data, errors)
    kind = values.pop("kind", None) or CustomerKind.PERSON
    addresses = _normalize_addresses(data.addresses or [], errors)
    region = addresses[0].country if addresses and addresses[0].country else None
    emails = _normalize_emails(data.emails or [], errors)
    phones = _normalize_phones(data.phones or [], region, errors)
    try:
        custom = validate_custom_fields(CUSTOMER_TYPE, data.custom_fields or {}, partial=False)
    except ValidationError as exc:
        errors.update({f"custom_fields.{k}": v for k, v in exc.message_dict.items()})
        custom = {}
    _check_unique_external_id(values.get("external_id"), errors, None)
    if errors:
        raise ValidationError(errors)
    _validate_identity(kind, values, bool(emails or phones))
    check_assignment(actor=actor, owner_id=data.owner_id, team_id=data.team_id, current=None)

    customer = Customer(
        **values,
        kind=kind,
        custom_fields=custom,
        owner_id=data.owner_id if data.owner_id is not None else actor.pk,
        team_id=data.team_id if data.team_id is not None else _default_team(actor),
    )
    customer.display_name = display_name_for(customer)
    customer.save(force_insert=True)
    _replace_contact_points(customer, emails, phones, addresses)
    if data.tags:
        set_tags(customer, data.tags)
    refresh_derived_fields(customer, normalized=quality.ALL_NORMALIZED)
    customer.save(update_fields=_DERIVED_FIELDS)

    customer = _prefetched(customer)
    audit.record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=customer,
        changes={k: [None, v] for k, v in _audited(customer).items() if v not in (None, "", [])},
    )
    outbox.emit("customer.created", customer_payload(customer), aggregate=customer)
    return customer


def _default_team(actor: Any) -> int | None:
    team_ids = sorted(actor.team_ids()) if hasattr(actor, "team_ids") else []
    return team_ids[0] if team_ids else None


@transaction.atomic
def customer_update(
    *, actor: Any, customer: Customer, data: CustomerInput, expected_version: int | None = None
) -> Customer:
    """Change the fields `data` sets; a stale `expected_version` is refused (Conflict)."""
    require(actor, "edit", customer)
    customer = lock_for_change(customer, expected_version=expected_version)
    before = _audited(customer)
    errors: dict[str, list[str]] = {}
    values = _normalize_scalars(data, errors)
    addresses = _normalize_addresses(data.addresses, errors) if data.addresses is not None else None
    region = (addresses[0].country if addresses else customer.country) or None
    emails = _normalize_emails(data.emails, errors) if data.emails is not None else None
    phones = _normalize_phones(data.phones, region, errors) if data.phones is not None else None
    custom = None
    if data.custom_fields is not None:
        try:
            custom = validate_custom_fields(
                CUSTOMER_TYPE, {**customer.custom_fields, **data.custom_fields}, partial=False
            )
        except ValidationError as exc:
            errors.update({f"custom_fields.{k}": v for k, v in exc.message_dict.items()})
    if "external_id" in values:
        _check_unique_external_id(values["external_id"], errors, customer.pk)
    if errors:
        raise ValidationError(errors)
    if data.owner_id is not None or data.team_id is not None:
        check_assignment(
            actor=actor, owner_id=data.owner_id, team_id=data.team_id, current=customer
        )

    old_stage = customer.lifecycle_stage
    for name, value in values.items():
        setattr(customer, name, value)
    if custom is not None:
        customer.custom_fields = custom
    if data.owner_id is not None:
        customer.owner_id = data.owner_id
    if data.team_id is not None:
        customer.team_id = data.team_id
    merged_identity = {
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "organization_name": customer.organization_name,
    }
    has_contact = bool(emails) if emails is not None else bool(customer.primary_email)
    has_contact = has_contact or (
        bool(phones) if phones is not None else bool(customer.primary_phone)
    )
    _validate_identity(customer.kind, merged_identity, has_contact)
    stage_changed = customer.lifecycle_stage != old_stage
    if stage_changed:
        customer.lifecycle_changed_at = timezone.now()

    _replace_contact_points(customer, emails, phones, addresses)
    if data.tags is not None:
        set_tags(customer, data.tags)
    refresh_derived_fields(
        customer,
        normalized=[
            name
            for name, given in (("email", emails), ("phone", phones), ("address", addresses))
            if given is not None
        ],
    )
    customer.version = F("version") + 1
    customer.save()
    customer = _prefetched(customer)

    changes = audit.diff(before, _audited(customer))
    if not changes:
        return customer
    audit.record(actor=actor, action=AuditAction.UPDATE, obj=customer, changes=changes)
    if stage_changed:
        interaction_record(
            actor=actor,
            customer=customer,
            kind=InteractionKind.LIFECYCLE,
            summary=f"Lifecycle stage: {old_stage} → {customer.lifecycle_stage}",
            data={"from": old_stage, "to": customer.lifecycle_stage},
        )
    outbox.emit(
        "customer.updated",
        {**customer_payload(customer), "changed_fields": sorted(changes)},
        aggregate=customer,
    )
    return customer


@transaction.atomic
def customer_delete(*, actor: Any, customer: Customer, expected_version: int | None = None) -> None:
    require(actor, "delete", customer)
    customer = lock_for_change(customer, expected_version=expected_version)
    blockers = _protected_by(Customer.objects.filter(pk=customer.pk))
    if blockers:
        raise ValidationError(
            f"{customer.display_name} has {blockers[customer.pk]} that must be kept, so the "
            "record cannot be deleted. Merge it into another customer, or erase the "
            "person's data (GDPR) to keep the records anonymously."
        )
    payload = customer_payload(_prefetched(customer))
    audit.record_deleted(actor=actor, obj=customer, before=_audited(customer))
    outbox.emit("customer.deleted", payload, aggregate=customer)
    customer.delete()


def _protected_by(customers: Any) -> dict[int, str]:
    """Customers that other apps' records protect from deletion (orders, say), by id, with
    what protects them. Other apps declare it with on_delete=PROTECT; no import needed."""
    from django.db.models.deletion import Collector, ProtectedError

    collector = Collector(using=customers.db)
    try:
        collector.collect(list(customers))
    except ProtectedError as exc:
        found: dict[int, set[str]] = {}
        for obj in exc.protected_objects:
            customer_id = getattr(obj, "customer_id", None)
            if customer_id is not None:
                found.setdefault(customer_id, set()).add(str(obj._meta.verbose_name_plural))
        return {pk: " and ".join(sorted(kinds)) for pk, kinds in found.items()}
    return {}
