"""What a customer write takes (input dataclasses) and how each value is normalised."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

from rapport.customers import normalize
from rapport.customers.models import AddressKind, ContactKind, CustomerKind, LifecycleStage

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
    one_primary(items)
    return items


def one_primary(items: list[Any], primary: Any = None) -> list[Any]:
    """The one-primary rule of e-mails, phones and addresses, for every customer write
    (single and bulk): exactly one entry is primary when there are any, `primary` if
    given, else the first flagged, else the first. Returns the entries whose flag changed
    (what a bulk writer saves)."""
    if primary is None:
        primary = next((i for i in items if i.is_primary), items[0] if items else None)
    changed = []
    for item in items:
        flag = item is primary
        if item.is_primary != flag:
            item.is_primary = flag
            changed.append(item)
    return changed


def _normalize_tags(names: Iterable[str]) -> list[str]:
    cleaned = {normalize.clean_text(n)[:50].lower() for n in names}
    return sorted(n for n in cleaned if n)
