"""Writes to the customer data hub. Each function is the one way to do its business action:
it checks access before writing, validates and normalises, writes in one transaction, and
records the audit row, the outbox event and (for interactions) the timeline entry."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from rapport.core import audit, outbox, registry
from rapport.core.models import AuditAction
from rapport.core.permissions import (
    Scope,
    acting_user,
    object_type_of,
    require,
    require_assignees_exist,
)
from rapport.core.versioning import lock_for_change
from rapport.customers import normalize, quality
from rapport.customers.custom_fields import validate_custom_fields
from rapport.customers.models import (
    RELATIONSHIP_LABELS,
    Address,
    AddressKind,
    Affiliation,
    Channel,
    ConsentChannel,
    ConsentPurpose,
    ConsentRecord,
    ConsentStatus,
    ContactKind,
    Customer,
    CustomerKind,
    CustomerTag,
    CustomFieldDefinition,
    CustomFieldType,
    Direction,
    EmailAddress,
    Interaction,
    InteractionKind,
    LifecycleStage,
    PhoneNumber,
    Relationship,
    RelationshipKind,
    SearchWord,
    Tag,
)
from rapport.customers.schemas import customer_payload, interaction_payload

CUSTOMER_TYPE = "customers.customer"


@dataclass
class EmailInput:
    email: str
    kind: str = ContactKind.WORK
    is_primary: bool = False


@dataclass
class PhoneInput:
    number: str
    kind: str = ContactKind.MOBILE
    is_primary: bool = False


@dataclass
class AddressInput:
    line1: str = ""
    line2: str = ""
    city: str = ""
    postcode: str = ""
    region: str = ""
    country: str = ""
    kind: str = AddressKind.HOME
    is_primary: bool = False


@dataclass
class CustomerInput:
    """Every writable field of a customer; None on update means "leave as it is"."""

    kind: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    organization_name: str | None = None
    job_title: str | None = None
    birth_date: dt.date | str | None = None
    language: str | None = None
    source: str | None = None
    lifecycle_stage: str | None = None
    website: str | None = None
    industry: str | None = None
    external_id: str | None = None
    emails: list[EmailInput] | None = None
    phones: list[PhoneInput] | None = None
    addresses: list[AddressInput] | None = None
    tags: list[str] | None = None
    custom_fields: dict[str, Any] | None = None
    owner_id: int | None = None
    team_id: int | None = None
    # Fields explicitly set to empty/None on update (to clear, not to leave as is).
    cleared: set[str] = field(default_factory=set)


SCALAR_FIELDS = (
    "kind",
    "first_name",
    "last_name",
    "organization_name",
    "job_title",
    "birth_date",
    "language",
    "source",
    "lifecycle_stage",
    "website",
    "industry",
    "external_id",
)


def _error(errors: dict[str, list[str]], name: str, exc: ValidationError) -> None:
    errors.setdefault(name, []).extend(exc.messages)


def _normalize_scalars(data: CustomerInput, errors: dict[str, list[str]]) -> dict[str, Any]:
    """The normalised value of every scalar field the input sets."""
    values: dict[str, Any] = {}
    steps: dict[str, Any] = {
        "kind": lambda v: v if v in CustomerKind.values else _invalid_choice(v, CustomerKind),
        "first_name": normalize.normalize_name,
        "last_name": normalize.normalize_name,
        "organization_name": lambda v: normalize.clean_text(v, max_length=200),
        "job_title": lambda v: normalize.clean_text(v, max_length=150),
        "birth_date": normalize.parse_birth_date,
        "language": normalize.normalize_language,
        "source": lambda v: normalize.clean_text(v, max_length=100),
        "lifecycle_stage": lambda v: (
            v if v in LifecycleStage.values else _invalid_choice(v, LifecycleStage)
        ),
        "website": _normalize_website,
        "industry": lambda v: normalize.clean_text(v, max_length=100),
        "external_id": lambda v: normalize.clean_text(v, max_length=100) or None,
    }
    for name in SCALAR_FIELDS:
        raw = getattr(data, name)
        if raw is None and name not in data.cleared:
            continue
        try:
            values[name] = steps[name](raw if raw is not None else "")
        except ValidationError as exc:
            _error(errors, name, exc)
    if "birth_date" in values and values["birth_date"] == "":
        values["birth_date"] = None
    return values


def _invalid_choice(value: Any, choices: Any) -> Any:
    raise ValidationError(f"{value!r} is not one of: {', '.join(choices.values)}.")


def _normalize_website(value: str) -> str:
    text = normalize.clean_text(value, max_length=300)
    if not text:
        return ""
    if "://" not in text:
        text = "https://" + text
    normalize.validate_web_address(text, shown=value)
    return text


def _normalize_emails(items: list[EmailInput], errors: dict[str, list[str]]) -> list[EmailInput]:
    seen: dict[str, EmailInput] = {}
    for i, item in enumerate(items):
        try:
            email = normalize.normalize_email(item.email)
        except ValidationError as exc:
            errors.setdefault(f"emails.{i}.email", []).extend(exc.messages)
            continue
        if email and email not in seen:
            kind = item.kind if item.kind in ContactKind.values else ContactKind.OTHER
            seen[email] = EmailInput(email=email, kind=kind, is_primary=item.is_primary)
    return _one_primary(list(seen.values()))


def _normalize_phones(
    items: list[PhoneInput], region: str | None, errors: dict[str, list[str]]
) -> list[PhoneInput]:
    seen: dict[str, PhoneInput] = {}
    for i, item in enumerate(items):
        try:
            e164 = normalize.normalize_phone(item.number, region=region)
        except ValidationError as exc:
            errors.setdefault(f"phones.{i}.number", []).extend(exc.messages)
            continue
        if e164 and e164 not in seen:
            kind = item.kind if item.kind in ContactKind.values else ContactKind.OTHER
            seen[e164] = PhoneInput(number=e164, kind=kind, is_primary=item.is_primary)
    return _one_primary(list(seen.values()))


def _normalize_addresses(
    items: list[AddressInput], errors: dict[str, list[str]]
) -> list[AddressInput]:
    result = []
    for i, item in enumerate(items):
        try:
            country = normalize.normalize_country(item.country)
        except ValidationError as exc:
            errors.setdefault(f"addresses.{i}.country", []).extend(exc.messages)
            continue
        try:
            postcode = normalize.normalize_postcode(item.postcode, country)
        except ValidationError as exc:
            errors.setdefault(f"addresses.{i}.postcode", []).extend(exc.messages)
            continue
        address = AddressInput(
            line1=normalize.clean_text(item.line1)[:200],
            line2=normalize.clean_text(item.line2)[:200],
            city=normalize.normalize_name(item.city)[:100],
            postcode=postcode,
            region=normalize.clean_text(item.region)[:100],
            country=country,
            kind=item.kind if item.kind in AddressKind.values else AddressKind.OTHER,
            is_primary=item.is_primary,
        )
        if any([address.line1, address.city, address.postcode, address.country]):
            result.append(address)
    return _one_primary(result)


def _one_primary(items: list[Any]) -> list[Any]:
    """Exactly one primary entry (the first flagged, else the first) when there are any."""
    primary = next((i for i in items if i.is_primary), items[0] if items else None)
    for item in items:
        item.is_primary = item is primary
    return items


def _normalize_tags(names: Iterable[str]) -> list[str]:
    cleaned = {normalize.clean_text(n)[:50].lower() for n in names}
    return sorted(n for n in cleaned if n)


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


def display_name_for(customer: Customer) -> str:
    if customer.kind == CustomerKind.ORGANIZATION:
        return customer.organization_name or "(unnamed organization)"
    name = " ".join(p for p in [customer.first_name, customer.last_name] if p)
    return name or customer.primary_email or customer.primary_phone or "(unnamed person)"


def search_text_for(
    customer: Customer,
    emails: Iterable[str] = (),
    phones: Iterable[str] = (),
    organization_names: Iterable[str] = (),
) -> str:
    """What global search matches: names, e-mails, phone digits (international and
    national), external id and the person's organizations, lower-cased with accents
    dropped (search folds the query alike, so "emile" finds "Émile")."""
    parts: list[str] = [
        customer.display_name,
        customer.first_name,
        customer.last_name,
        customer.organization_name,
        customer.external_id or "",
    ]
    parts.extend(emails)
    for phone in phones:
        digits = normalize.phone_digits(phone)
        parts.append(digits)
        try:  # noqa: SIM105
            parts.append(normalize.phone_national_number(phone))
        except Exception:  # noqa: S110  (an unparsable stored phone only loses one search form)
            pass
    parts.extend(organization_names)
    seen: dict[str, None] = {}
    for part in parts:
        if part:
            seen.setdefault(normalize.fold_accents(part), None)
    return " ".join(seen)


def remember_search_words(customers: Iterable[Customer]) -> None:
    """Add the customers' name words to search's typo vocabulary (one INSERT; words
    already known are skipped by the unique index)."""
    words: set[str] = set()
    for customer in customers:
        words |= normalize.name_words(
            customer.first_name, customer.last_name, customer.organization_name
        )
    if words:
        SearchWord.objects.bulk_create(
            [SearchWord(word=w) for w in sorted(words)], ignore_conflicts=True, batch_size=1000
        )


def _organization_names(customer: Customer) -> list[str]:
    if customer.kind != CustomerKind.PERSON or customer.pk is None:
        return []
    return list(customer.affiliations.values_list("organization__organization_name", flat=True))


def refresh_derived_fields(customer: Customer, *, normalized: Collection[str] = ()) -> None:
    """Recompute denormalised fields from the contact points (call after changing them),
    the data-quality score included. `normalized` names the contact points ("email",
    "phone", "address") this write has just normalised, which the score need not re-check."""
    emails = list(customer.emails.order_by("-is_primary", "id").values_list("email", flat=True))
    phones = list(customer.phones.order_by("-is_primary", "id").values_list("e164", flat=True))
    address = customer.addresses.order_by("-is_primary", "id").first()
    customer.primary_email = emails[0] if emails else ""
    customer.primary_phone = phones[0] if phones else ""
    customer.city = address.city if address else ""
    customer.country = address.country if address else ""
    customer.display_name = display_name_for(customer)
    customer.sort_name = normalize.name_sort_key(customer.display_name)
    customer.search_text = search_text_for(customer, emails, phones, _organization_names(customer))
    remember_search_words([customer])
    quality.apply(customer, address, normalized=normalized)


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


_DERIVED_FIELDS = [
    "primary_email",
    "primary_phone",
    "city",
    "country",
    "display_name",
    "sort_name",
    "search_text",
    "quality_score",
    "quality_issues",
]


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


@transaction.atomic
def interaction_record(
    *,
    actor: Any,
    customer: Customer,
    kind: str,
    summary: str,
    channel: str = Channel.SYSTEM,
    direction: str = Direction.NONE,
    occurred_at: dt.datetime | None = None,
    body: str = "",
    source: Any = None,
    data: dict[str, Any] | None = None,
    check_access: bool = False,
) -> Interaction:
    """Add an entry to the customer's timeline (any app records its interactions here).

    Other apps' services call this after their own access checks; pass `check_access`
    when the caller is a user acting on the timeline directly (e.g. adding a note).
    """
    if check_access:
        require(actor, "edit", customer)
    if kind not in InteractionKind.values:
        raise ValidationError({"kind": f"Unknown interaction kind {kind!r}."})
    if channel not in Channel.values:
        raise ValidationError({"channel": f"Unknown channel {channel!r}."})
    summary = normalize.clean_text(summary)[:500]
    if not summary:
        raise ValidationError({"summary": "An interaction needs a summary."})
    interaction = Interaction.objects.create(
        customer=customer,
        kind=kind,
        channel=channel,
        direction=direction,
        occurred_at=occurred_at or timezone.now(),
        actor=acting_user(actor),
        summary=summary,
        body=body,
        source_type=object_type_of(source) if source is not None else "",
        source_id=str(source.pk) if source is not None else "",
        data=data or {},
    )
    outbox.emit("interaction.created", interaction_payload(interaction), aggregate=customer)
    return interaction


@transaction.atomic
def note_add(*, actor: Any, customer: Customer, body: str) -> Interaction:
    """A user's note on the timeline. Plain text; templates escape it when shown."""
    require(actor, "edit", customer)
    text = (body or "").strip()
    if not text:
        raise ValidationError({"body": "Write something before adding the note."})
    if len(text) > 20_000:
        raise ValidationError({"body": "A note is at most 20,000 characters."})
    first_line = normalize.clean_text(text.splitlines()[0])
    note = interaction_record(
        actor=actor,
        customer=customer,
        kind=InteractionKind.NOTE,
        channel=Channel.SYSTEM,
        summary=first_line[:200] or "Note",
        body=text,
    )
    audit.record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=note,
        changes={"customer_id": [None, customer.pk], "body": [None, text[:1000]]},
    )
    return note


# --- Relationships -------------------------------------------------------------------


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


# --- Affiliations (a person's role at an organization) -------------------------------


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


# --- Consent ledger ------------------------------------------------------------------


@transaction.atomic
def consent_record(
    *,
    actor: Any,
    customer: Customer,
    channel: str,
    purpose: str,
    status: str,
    method: str,
    text_shown: str = "",
    evidence: str = "",
    occurred_at: dt.datetime | None = None,
) -> ConsentRecord:
    """Append a grant or withdrawal to the consent ledger (never edited afterwards)."""
    require(actor, "edit", customer)
    errors: dict[str, list[str]] = {}
    if channel not in ConsentChannel.values:
        errors["channel"] = [f"{channel!r} is not one of: {', '.join(ConsentChannel.values)}."]
    if purpose not in ConsentPurpose.values:
        errors["purpose"] = [f"{purpose!r} is not one of: {', '.join(ConsentPurpose.values)}."]
    if status not in ConsentStatus.values:
        errors["status"] = [f"{status!r} is not one of: {', '.join(ConsentStatus.values)}."]
    method = normalize.clean_text(method, max_length=50)
    if not method:
        errors["method"] = ["Say how the consent was given or withdrawn (web form, call…)."]
    if occurred_at is not None and occurred_at > timezone.now() + dt.timedelta(minutes=5):
        errors["occurred_at"] = ["Consent cannot be recorded in the future."]
    if errors:
        raise ValidationError(errors)
    record = ConsentRecord.objects.create(
        customer=customer,
        channel=channel,
        purpose=purpose,
        status=status,
        occurred_at=occurred_at or timezone.now(),
        method=method,
        text_shown=(text_shown or "").strip()[:5000],
        evidence=normalize.clean_text(evidence, max_length=255),
        recorded_by=acting_user(actor),
    )
    verb = "granted" if status == ConsentStatus.GRANTED else "withdrew"
    interaction_record(
        actor=actor,
        customer=customer,
        kind=InteractionKind.CONSENT,
        summary=(
            f"Consent {verb}: {ConsentPurpose(purpose).label} by "
            f"{ConsentChannel(channel).label} ({method})"
        ),
        occurred_at=record.occurred_at,
        source=record,
        data={"channel": channel, "purpose": purpose, "status": status},
    )
    audit.record_created(actor=actor, obj=record)
    outbox.emit(
        "consent.recorded",
        {
            "id": record.pk,
            "customer_id": customer.pk,
            "channel": channel,
            "purpose": purpose,
            "status": status,
            "method": method,
            "occurred_at": record.occurred_at.isoformat(),
        },
        aggregate=customer,
    )
    return record


# --- Custom field definitions (administrators) ---------------------------------------


def _require_admin(actor: Any) -> None:
    if not getattr(actor, "is_admin", False):
        raise PermissionDenied("Only administrators may define custom fields.")


def _clean_definition(
    *, field_type: str, label: str, choices: list[str] | None, errors: dict[str, list[str]]
) -> tuple[str, list[str]]:
    label = normalize.clean_text(label, max_length=100)
    if not label:
        errors["label"] = ["Give the field a label."]
    if field_type not in CustomFieldType.values:
        errors["field_type"] = [
            f"{field_type!r} is not one of: {', '.join(CustomFieldType.values)}."
        ]
    clean_choices: list[str] = []
    for choice in choices or []:
        text = normalize.clean_text(choice, max_length=100)
        if text and text not in clean_choices:
            clean_choices.append(text)
    if field_type in (CustomFieldType.CHOICE, CustomFieldType.MULTI_CHOICE) and not clean_choices:
        errors["choices"] = ["A choice field needs at least one choice."]
    if field_type not in (CustomFieldType.CHOICE, CustomFieldType.MULTI_CHOICE):
        clean_choices = []
    return label, clean_choices


@transaction.atomic
def custom_field_define(
    *,
    actor: Any,
    key: str,
    label: str,
    field_type: str,
    choices: list[str] | None = None,
    required: bool = False,
    help_text: str = "",
    position: int = 0,
    object_type: str = CUSTOMER_TYPE,
) -> CustomFieldDefinition:
    """Define a new custom field (admins). Its key is permanent: the API and imports use it."""
    import re

    _require_admin(actor)
    errors: dict[str, list[str]] = {}
    key = (key or "").strip().lower()
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,49}", key):
        errors["key"] = ["Use lower-case letters, digits and _ (starting with a letter)."]
    elif CustomFieldDefinition.objects.filter(object_type=object_type, key=key).exists():
        errors["key"] = [f"There is already a field {key!r}."]
    label, clean_choices = _clean_definition(
        field_type=field_type, label=label, choices=choices, errors=errors
    )
    if errors:
        raise ValidationError(errors)
    definition = CustomFieldDefinition.objects.create(
        object_type=object_type,
        key=key,
        label=label,
        field_type=field_type,
        choices=clean_choices,
        required=required,
        help_text=normalize.clean_text(help_text, max_length=255),
        position=position,
    )
    audit.record_created(actor=actor, obj=definition)
    outbox.emit("custom_field.created", audit.snapshot(definition) | {"id": definition.pk})
    return definition


@transaction.atomic
def custom_field_update(
    *,
    actor: Any,
    definition: CustomFieldDefinition,
    label: str | None = None,
    choices: list[str] | None = None,
    required: bool | None = None,
    help_text: str | None = None,
    position: int | None = None,
    is_active: bool | None = None,
) -> CustomFieldDefinition:
    """Change a definition; its key and type stay (stored values keep their meaning)."""
    _require_admin(actor)
    before = audit.snapshot(definition)
    errors: dict[str, list[str]] = {}
    new_label, new_choices = _clean_definition(
        field_type=definition.field_type,
        label=label if label is not None else definition.label,
        choices=choices if choices is not None else definition.choices,
        errors=errors,
    )
    if errors:
        raise ValidationError(errors)
    definition.label = new_label
    definition.choices = new_choices
    if required is not None:
        definition.required = required
    if help_text is not None:
        definition.help_text = normalize.clean_text(help_text, max_length=255)
    if position is not None:
        definition.position = position
    if is_active is not None:
        definition.is_active = is_active
    definition.save()
    changes = audit.diff(before, audit.snapshot(definition))
    if changes:
        audit.record(actor=actor, action=AuditAction.UPDATE, obj=definition, changes=changes)
        outbox.emit("custom_field.updated", audit.snapshot(definition) | {"id": definition.pk})
    return definition


def custom_field_deactivate(
    *, actor: Any, definition: CustomFieldDefinition
) -> CustomFieldDefinition:
    """Hide a field from forms and validation; stored values stay (reactivating restores)."""
    return custom_field_update(actor=actor, definition=definition, is_active=False)


# --- Bulk actions --------------------------------------------------------------------


@dataclass
class BulkResult:
    """How many selected records were changed and how many the actor may not change."""

    done: int
    skipped: int


def _bulk_targets(
    actor: Any, customer_ids: Iterable[int], action: str
) -> tuple[list[Customer], int]:
    from rapport.core.permissions import scope_queryset

    ids = sorted({int(i) for i in customer_ids})
    allowed = list(
        scope_queryset(Customer.objects.filter(pk__in=ids), actor=actor, action=action)
        .select_for_update()
        .order_by("pk")
    )
    return allowed, len(ids) - len(allowed)


def _bulk_events(customer_ids: list[int], event_type: str, extra: dict[str, Any]) -> None:
    refreshed = Customer.objects.filter(pk__in=customer_ids).prefetch_related(
        "tags", "emails", "phones", "addresses"
    )
    outbox.emit_many(
        outbox.build(event_type, {**customer_payload(c), **extra}, aggregate=c) for c in refreshed
    )


def _audit_each(actor: Any, action: str, customers: Iterable[Customer], changes_of: Any) -> None:
    """One audit row per customer of a bulk write, inserted together."""
    from rapport.core.models import AuditLogEntry

    AuditLogEntry.objects.bulk_create(
        [
            audit.entry(
                actor=actor,
                action=action,
                object_type=CUSTOMER_TYPE,
                object_id=c.pk,
                object_repr=c.display_name,
                changes=changes_of(c),
            )
            for c in customers
        ],
        batch_size=1000,
    )


@transaction.atomic
def customers_bulk_tag(
    *,
    actor: Any,
    customer_ids: Iterable[int],
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
) -> BulkResult:
    """Add and/or remove tags on many customers; records the actor may not edit are skipped."""
    add_names, remove_names = _normalize_tags(add), _normalize_tags(remove)
    if not add_names and not remove_names:
        raise ValidationError({"tags": "Name at least one tag to add or remove."})
    targets, skipped = _bulk_targets(actor, customer_ids, "edit")
    ids = [c.pk for c in targets]
    if not ids:
        return BulkResult(done=0, skipped=skipped)
    if add_names:
        Tag.objects.bulk_create([Tag(name=n) for n in add_names], ignore_conflicts=True)
        tags = list(Tag.objects.filter(name__in=add_names))
        CustomerTag.objects.bulk_create(
            [CustomerTag(customer_id=i, tag=t) for i in ids for t in tags],
            ignore_conflicts=True,
            batch_size=1000,
        )
    if remove_names:
        CustomerTag.objects.filter(customer_id__in=ids, tag__name__in=remove_names).delete()
    Customer.objects.filter(pk__in=ids).update(version=F("version") + 1, updated_at=timezone.now())
    change = {"tags": {"added": add_names, "removed": remove_names}}
    _audit_each(actor, AuditAction.UPDATE, targets, lambda c: change)
    _bulk_events(ids, "customer.updated", {"changed_fields": ["tags"]})
    return BulkResult(done=len(ids), skipped=skipped)


@transaction.atomic
def customers_bulk_assign(
    *,
    actor: Any,
    customer_ids: Iterable[int],
    owner_id: int | None = None,
    team_id: int | None = None,
) -> BulkResult:
    """Give many customers a new owner and/or team, within what the actor may assign."""
    if owner_id is None and team_id is None:
        raise ValidationError({"owner": "Choose an owner or a team."})
    targets, skipped = _bulk_targets(actor, customer_ids, "edit")
    checked: dict[tuple[Any, Any], bool] = {}
    allowed: list[Customer] = []
    for customer in targets:
        key = (customer.owner_id, customer.team_id)
        if key not in checked:
            try:
                check_assignment(actor=actor, owner_id=owner_id, team_id=team_id, current=customer)
                checked[key] = True
            except PermissionDenied:
                checked[key] = False
        if checked[key]:
            allowed.append(customer)
    skipped += len(targets) - len(allowed)
    ids = [c.pk for c in allowed]
    if not ids:
        return BulkResult(done=0, skipped=skipped)
    update: dict[str, Any] = {"version": F("version") + 1, "updated_at": timezone.now()}
    if owner_id is not None:
        update["owner_id"] = owner_id
    if team_id is not None:
        update["team_id"] = team_id
    Customer.objects.filter(pk__in=ids).update(**update)
    from rapport.core.models import AuditLogEntry

    rows = []
    for c in allowed:
        changes: dict[str, Any] = {}
        if owner_id is not None and c.owner_id != owner_id:
            changes["owner_id"] = [c.owner_id, owner_id]
        if team_id is not None and c.team_id != team_id:
            changes["team_id"] = [c.team_id, team_id]
        rows.append(
            audit.entry(
                actor=actor,
                action=AuditAction.UPDATE,
                object_type=CUSTOMER_TYPE,
                object_id=c.pk,
                object_repr=c.display_name,
                changes=changes,
            )
        )
    AuditLogEntry.objects.bulk_create(rows, batch_size=1000)
    fields = [n for n, v in (("owner_id", owner_id), ("team_id", team_id)) if v is not None]
    _bulk_events(ids, "customer.updated", {"changed_fields": fields})
    return BulkResult(done=len(ids), skipped=skipped)


@transaction.atomic
def customers_bulk_delete(*, actor: Any, customer_ids: Iterable[int]) -> BulkResult:
    """Delete many customers the actor may delete; each gets an audit row and an event."""
    targets, skipped = _bulk_targets(actor, customer_ids, "delete")
    protected = _protected_by(Customer.objects.filter(pk__in=[c.pk for c in targets]))
    if protected:
        skipped += len(protected)
        targets = [c for c in targets if c.pk not in protected]
    ids = [c.pk for c in targets]
    if not ids:
        return BulkResult(done=0, skipped=skipped)
    _audit_each(
        actor,
        AuditAction.DELETE,
        targets,
        lambda c: {
            k: [v, None] for k, v in audit.snapshot(c).items() if v not in (None, "", [], {})
        },
    )
    _bulk_events(ids, "customer.deleted", {})
    Customer.objects.filter(pk__in=ids).delete()
    return BulkResult(done=len(ids), skipped=skipped)


# --- Data-quality fix-ups (mechanical cleansing in bulk) -----------------------------

# What each fix-up repairs: the issue it clears and what it says it does.
CLEANSING_FIXES: dict[str, tuple[quality.Issue, str]] = {
    "names": (quality.Issue.NAME_FORMAT, "Fix name casing and spacing"),
    "emails": (quality.Issue.EMAIL_FORMAT, "Normalise e-mail addresses"),
    "phones": (quality.Issue.PHONE_FORMAT, "Re-normalise phones to E.164"),
    "postcodes": (quality.Issue.POSTCODE_FORMAT, "Normalise postcodes"),
    "countries": (quality.Issue.COUNTRY_FORMAT, "Map countries to ISO codes"),
}


def _cleaned_names(customer: Customer) -> dict[str, list[str]]:
    changes: dict[str, list[str]] = {}
    if customer.kind == CustomerKind.ORGANIZATION:
        pairs = [("organization_name", lambda v: normalize.clean_text(v, max_length=200))]
    else:
        pairs = [("first_name", normalize.normalize_name), ("last_name", normalize.normalize_name)]
    for name, clean in pairs:
        value = getattr(customer, name)
        try:
            fixed = clean(value)
        except ValidationError:
            continue  # too long: a person must look at it
        if fixed != value:
            changes[name] = [value, fixed]
            setattr(customer, name, fixed)
    return changes


def _region_of(addresses: list[Address]) -> str | None:
    """The country to read national phone numbers in: the first address's, as an ISO
    code even when it is stored as "uk" or "Germany"."""
    for address in addresses:
        if address.country:
            try:
                return normalize.normalize_country(address.country) or None
            except ValidationError:
                return None
    return None


def _dedupe_contact_rows(rows: list[Any], key: str) -> tuple[list[Any], list[Any]]:
    """Rows whose normalised value now repeats one the customer has: the first (primary
    first) stays, the rest go. Returns (kept, removed)."""
    kept: dict[str, Any] = {}
    removed = []
    for row in sorted(rows, key=lambda r: (not r.is_primary, r.pk)):
        value = getattr(row, key)
        if value in kept:
            removed.append(row)
        else:
            kept[value] = row
    return list(kept.values()), removed


@transaction.atomic
def customers_bulk_cleanse(*, actor: Any, customer_ids: Iterable[int], fix: str) -> BulkResult:
    """Apply one mechanical fix-up (CLEANSING_FIXES) to many customers, the way a person
    editing each record would have: the values go through the same normalisers, every
    changed record gets an audit row with before/after, a new version and a
    `customer.updated` event, and its derived fields (primary contact points, search text,
    quality score) are refreshed. Records the actor may not edit are skipped; values the
    normalisers refuse are left for a person. Running it again changes nothing more.
    """
    if fix not in CLEANSING_FIXES:
        raise ValidationError({"fix": f"Unknown fix-up {fix!r}: use {', '.join(CLEANSING_FIXES)}."})
    targets, skipped = _bulk_targets(actor, customer_ids, "edit")
    targets = [c for c in targets if c.erased_at is None]
    if not targets:
        return BulkResult(done=0, skipped=skipped)
    ids = [c.pk for c in targets]
    changes: dict[int, dict[str, Any]] = {c.pk: {} for c in targets}
    addresses: dict[int, list[Address]] = {i: [] for i in ids}
    for address in Address.objects.filter(customer_id__in=ids).order_by("-is_primary", "id"):
        addresses[address.customer_id].append(address)

    if fix == "names":
        for customer in targets:
            changes[customer.pk].update(_cleaned_names(customer))
    elif fix in ("emails", "phones"):
        model: Any = EmailAddress if fix == "emails" else PhoneNumber
        key = "email" if fix == "emails" else "e164"
        rows: dict[int, list[Any]] = {i: [] for i in ids}
        for row in model.objects.filter(customer_id__in=ids).order_by("-is_primary", "id"):
            rows[row.customer_id].append(row)
        updated, deleted = [], []
        for customer in targets:
            mine = rows[customer.pk]
            before = sorted(getattr(r, key) for r in mine)
            region = _region_of(addresses[customer.pk])
            for row in mine:
                value = getattr(row, key)
                try:
                    if fix == "emails":
                        fixed = normalize.normalize_email(value)
                    else:
                        fixed = normalize.normalize_phone(value, region=region)
                except ValidationError:
                    if fix == "phones" and row.raw:
                        try:
                            fixed = normalize.normalize_phone(row.raw, region=region)
                        except ValidationError:
                            continue
                    else:
                        continue
                if fixed != value:
                    setattr(row, key, fixed)
                    updated.append(row)
            kept, removed = _dedupe_contact_rows(mine, key)
            if removed and not any(r.is_primary for r in kept):
                kept[0].is_primary = True
            deleted += removed
            after = sorted(getattr(r, key) for r in kept)
            if after != before:
                changes[customer.pk][fix] = [before, after]
        gone = {r.pk for r in deleted}
        if gone:
            model.objects.filter(pk__in=gone).delete()
        survivors = [r for r in updated if r.pk not in gone]
        if survivors:
            model.objects.bulk_update(survivors, [key, "is_primary"], batch_size=500)
    else:
        changed_addresses = []
        for customer in targets:
            before = [str(a) for a in addresses[customer.pk]]
            for address in addresses[customer.pk]:
                try:
                    country = normalize.normalize_country(address.country)
                    if fix == "countries":
                        fixed_fields = {"country": country}
                    else:
                        fixed_fields = {
                            "postcode": normalize.normalize_postcode(address.postcode, country)
                        }
                except ValidationError:
                    continue
                if any(getattr(address, k) != v for k, v in fixed_fields.items()):
                    for k, v in fixed_fields.items():
                        setattr(address, k, v)
                    changed_addresses.append(address)
            after = [str(a) for a in addresses[customer.pk]]
            if after != before:
                changes[customer.pk]["addresses"] = [before, after]
        if changed_addresses:
            Address.objects.bulk_update(changed_addresses, ["postcode", "country"], batch_size=500)

    changed = [c for c in targets if changes[c.pk]]
    if changed:
        _refresh_derived_batch(changed)
        now = timezone.now()
        for customer in changed:
            customer.version += 1
            customer.updated_at = now
        Customer.objects.bulk_update(
            changed,
            [
                "first_name",
                "last_name",
                "organization_name",
                *_DERIVED_FIELDS,
                "version",
                "updated_at",
            ],
            batch_size=500,
        )
        _audit_each(
            actor,
            AuditAction.UPDATE,
            changed,
            lambda c: {**changes[c.pk], "cleansing": [None, fix]},
        )
        refreshed = Customer.objects.filter(pk__in=[c.pk for c in changed]).prefetch_related(
            "tags", "emails", "phones", "addresses"
        )
        outbox.emit_many(
            outbox.build(
                "customer.updated",
                {**customer_payload(c), "changed_fields": sorted(changes[c.pk])},
                aggregate=c,
            )
            for c in refreshed
        )
    # Unchanged records may still carry a stale issue bit (scored before a rule changed):
    # rescoring them keeps the report honest and the job from finding them again.
    unchanged = [c for c in targets if not changes[c.pk]]
    if unchanged:
        quality.rescore(Customer.objects.filter(pk__in=[c.pk for c in unchanged]))
    return BulkResult(done=len(changed), skipped=skipped)


def _refresh_derived_batch(customers: list[Customer]) -> None:
    """refresh_derived_fields for many customers in five queries."""
    ids = [c.pk for c in customers]
    emails: dict[int, list[str]] = {i: [] for i in ids}
    for cid, email in (
        EmailAddress.objects.filter(customer_id__in=ids)
        .order_by("-is_primary", "id")
        .values_list("customer_id", "email")
    ):
        emails[cid].append(email)
    phones: dict[int, list[str]] = {i: [] for i in ids}
    for cid, e164 in (
        PhoneNumber.objects.filter(customer_id__in=ids)
        .order_by("-is_primary", "id")
        .values_list("customer_id", "e164")
    ):
        phones[cid].append(e164)
    first_address = quality.primary_addresses(ids)
    organizations: dict[int, list[str]] = {i: [] for i in ids}
    for pid, name in Affiliation.objects.filter(person_id__in=ids).values_list(
        "person_id", "organization__organization_name"
    ):
        organizations[pid].append(name)
    for customer in customers:
        address = first_address.get(customer.pk)
        customer.primary_email = emails[customer.pk][0] if emails[customer.pk] else ""
        customer.primary_phone = phones[customer.pk][0] if phones[customer.pk] else ""
        customer.city = address.city if address else ""
        customer.country = address.country if address else ""
        customer.display_name = display_name_for(customer)
        customer.sort_name = normalize.name_sort_key(customer.display_name)
        customer.search_text = search_text_for(
            customer, emails[customer.pk], phones[customer.pk], organizations[customer.pk]
        )
        quality.apply(customer, address)
    remember_search_words(customers)


# --- GDPR: export a person's data, erase a person ------------------------------------


def customer_export_personal_data(*, actor: Any, customer: Customer) -> Any:
    """Start a background job that builds the person's data archive (JSON + HTML, zipped).

    The archive is downloadable from the job page by its requester (or an admin) only.
    """
    from rapport.core.jobs import job_create

    require(actor, "export", customer)
    with transaction.atomic():
        job = job_create(
            owner=actor,
            kind="customers.personal_data_export",
            title=f"Personal data of {customer.display_name}",
            params={"customer_id": customer.pk},
        )
        audit.record(
            actor=actor,
            action=AuditAction.EXPORT,
            obj=customer,
            changes={"personal_data_export": {"job": str(job.pk)}},
        )
        outbox.emit(
            "customer.exported",
            {"customer_id": customer.pk, "job_id": str(job.pk)},
            aggregate=customer,
        )

    def enqueue() -> None:
        registry.enqueue("customers.export_personal_data", str(job.pk))

    transaction.on_commit(enqueue)
    return job


def _delete_personal_data_archives(customer_id: int) -> None:
    """Earlier GDPR archives of the person hold everything erasure removes: delete them."""
    from pathlib import Path

    from django.conf import settings

    from rapport.core.models import Job

    root = (Path(settings.VAR_DIR) / "files").resolve()
    jobs = Job.objects.filter(
        kind="customers.personal_data_export", params__customer_id=customer_id
    )
    for job in jobs:
        if job.result_file:
            path = (root / job.result_file).resolve()
            if root in path.parents and path.is_file():
                path.unlink()
    jobs.update(result_file="", message="Archive deleted: the person's data was erased")


@transaction.atomic
def customer_erase(*, actor: Any, customer: Customer) -> Customer:
    """Erase a person's personal data (GDPR art. 17) and keep an anonymous row.

    Orders, aggregates and timeline entries stay linked to "Erased customer #id" so
    revenue and counts stay right. Every app's GDPR contributor (`core.registry`) then
    removes its copies: this app's record, contact points and free text; merge history;
    import error rows; job files; webhook deliveries; and, last, the personal values in
    earlier audit rows and events. The audit log keeps the fact of erasure.
    """
    from rapport.core import registry
    from rapport.core.gdpr import ErasureContext

    require(actor, "delete", customer)
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if customer.kind != CustomerKind.PERSON:
        raise ValidationError({"kind": "Only a person's data can be erased."})
    if customer.erased_at is not None:
        raise ValidationError({"erased_at": "This person's data was already erased."})
    ctx = ErasureContext(
        actor=actor, customer_id=customer.pk, label=f"Erased customer #{customer.pk}"
    )
    _delete_personal_data_archives(customer.pk)
    redacted: dict[str, int] = {}
    for contributor in registry.gdpr_contributors():
        redacted[contributor.key] = contributor.erase(ctx=ctx) or 0
    customer.refresh_from_db()

    # How many rows each app rewrote, never what they said: the one audited record of the
    # sanctioned rewrite of the audit log and the other copies.
    audit.record(
        actor=actor,
        action=AuditAction.ERASE,
        obj=customer,
        changes={"erased": ["personal data", None], "redacted": redacted},
    )
    outbox.emit(
        "customer.erased",
        {
            "id": customer.pk,
            "erased_at": customer.erased_at.isoformat() if customer.erased_at else None,
        },
        aggregate=customer,
    )
    return customer


# --- Saved list views ----------------------------------------------------------------


@transaction.atomic
def saved_view_create(
    *, actor: Any, name: str, params: Mapping[str, Any], is_shared: bool = False
) -> Any:
    """Save the list's current filters and sort under a name (private unless shared)."""
    from rapport.core.models import SavedView
    from rapport.customers.selectors import validate_list_params

    require(actor, "view", Customer)
    name = normalize.clean_text(name, max_length=100)
    if not name:
        raise ValidationError({"name": "Give the view a name."})
    clean = validate_list_params(actor=actor, params=params)
    view = SavedView.objects.create(
        owner=actor, object_type=CUSTOMER_TYPE, name=name, params=clean, is_shared=is_shared
    )
    audit.record_created(actor=actor, obj=view)
    return view


@transaction.atomic
def list_columns_save(*, actor: Any, columns: Sequence[str]) -> list[str]:
    """Remember which customer-list columns `actor` wants (the name always shows)."""
    from rapport.core.models import SavedView
    from rapport.customers.selectors import COLUMNS_VIEW_TYPE, LIST_COLUMNS

    require(actor, "view", Customer)
    known = [c for c, _, _ in LIST_COLUMNS]
    unknown = sorted(set(columns) - set(known))
    if unknown:
        raise ValidationError(
            {"columns": f"Unknown column {', '.join(unknown)}. Known: {', '.join(known)}."}
        )
    chosen = ["name", *(c for c in known if c in columns and c != "name")]
    view = SavedView.objects.filter(owner=actor, object_type=COLUMNS_VIEW_TYPE).first()
    if view is None:
        view = SavedView.objects.create(
            owner=actor, object_type=COLUMNS_VIEW_TYPE, name="Columns", params={}
        )
    before = list(view.params.get("columns") or [])
    view.params = {"columns": chosen}
    view.save(update_fields=["params"])
    audit.record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=view,
        changes={"columns": [before, chosen]},
    )
    return chosen


@transaction.atomic
def saved_view_delete(*, actor: Any, view: Any) -> None:
    if view.owner_id != actor.pk and not getattr(actor, "is_admin", False):
        raise PermissionDenied("Only its owner or an administrator may delete a saved view.")
    audit.record_deleted(actor=actor, obj=view, before=audit.snapshot(view))
    view.delete()


# --- Bulk actions on every customer matching a filter (background) --------------------

BULK_ACTIONS = {"tag": "Tag", "untag": "Untag", "assign": "Assign", "delete": "Delete"}
BULK_BATCH = 500


def _bulk_check(action: str, tag: str, owner_id: int | None) -> None:
    if action not in BULK_ACTIONS:
        raise ValidationError({"action": "Choose what to do with the customers."})
    if action in ("tag", "untag") and not _normalize_tags(tag.split(",")):
        raise ValidationError({"tags": "Name at least one tag to add or remove."})
    if action == "assign" and owner_id is None:
        raise ValidationError({"owner": "Choose an owner."})


@transaction.atomic
def customers_bulk_matching_start(
    *,
    actor: Any,
    filters: Mapping[str, list[str]],
    action: str,
    tag: str = "",
    owner_id: int | None = None,
) -> Any:
    """Queue `action` on every customer the list's `filters` match (not only the page the
    user sees), as a job with progress. The job re-checks every record against the
    actor's rights when it runs, in batches, each its own transaction: a retried or
    resumed job only redoes what is idempotent (tagging, assigning, deleting)."""
    from rapport.core.jobs import job_create
    from rapport.customers import selectors

    _bulk_check(action, tag, owner_id)
    selectors.customer_list(actor=actor, filters=filters).exists()  # bad filters: 400 now
    job = job_create(
        owner=acting_user(actor),
        kind="customers.bulk",
        title=f"{BULK_ACTIONS[action]} every matching customer",
        params={"filters": dict(filters), "action": action, "tag": tag, "owner_id": owner_id},
    )
    transaction.on_commit(lambda: registry.enqueue("customers.bulk_apply", job_id=str(job.pk)))
    return job


def customers_bulk_matching(
    *,
    actor: Any,
    filters: Mapping[str, list[str]],
    action: str,
    tag: str = "",
    owner_id: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> BulkResult:
    """Apply `action` to every customer matching `filters` that the actor may change,
    walking the ids in key order in batches (constant memory at a million records)."""
    from rapport.customers import selectors

    _bulk_check(action, tag, owner_id)
    matching = selectors.customer_list(
        actor=actor, action="delete" if action == "delete" else "edit", filters=filters
    )
    names = [t for t in tag.split(",") if t.strip()]
    done = skipped = 0
    last = 0
    while True:
        ids = list(
            matching.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:BULK_BATCH]
        )
        if not ids:
            break
        last = ids[-1]
        if action == "delete":
            result = customers_bulk_delete(actor=actor, customer_ids=ids)
        elif action == "assign":
            result = customers_bulk_assign(actor=actor, customer_ids=ids, owner_id=owner_id)
        else:
            result = customers_bulk_tag(
                actor=actor,
                customer_ids=ids,
                add=names if action == "tag" else (),
                remove=names if action == "untag" else (),
            )
        done += result.done
        skipped += result.skipped
        if progress is not None:
            progress(len(ids))
    return BulkResult(done=done, skipped=skipped)
