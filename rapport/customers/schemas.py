"""The public shape of customer data: what the API returns and what events carry."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ninja import Schema


class EmailOut(Schema):
    email: str
    kind: str
    is_primary: bool


class PhoneOut(Schema):
    e164: str
    kind: str
    is_primary: bool


class AddressOut(Schema):
    kind: str
    line1: str
    line2: str
    city: str
    postcode: str
    region: str
    country: str
    is_primary: bool


class CustomerOut(Schema):
    id: int
    kind: str
    display_name: str
    first_name: str
    last_name: str
    organization_name: str
    job_title: str
    birth_date: dt.date | None
    language: str
    source: str
    lifecycle_stage: str
    lifecycle_changed_at: dt.datetime
    website: str
    industry: str
    primary_email: str
    primary_phone: str
    city: str
    country: str
    external_id: str | None
    tags: list[str]
    custom_fields: dict[str, Any]
    emails: list[EmailOut]
    phones: list[PhoneOut]
    addresses: list[AddressOut]
    owner_id: int | None
    team_id: int | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_tags(obj: Any) -> list[str]:
        return sorted(tag.name for tag in obj.tags.all())

    @staticmethod
    def resolve_emails(obj: Any) -> list[Any]:
        return list(obj.emails.all())

    @staticmethod
    def resolve_phones(obj: Any) -> list[Any]:
        return list(obj.phones.all())

    @staticmethod
    def resolve_addresses(obj: Any) -> list[Any]:
        return list(obj.addresses.all())


class InteractionOut(Schema):
    id: int
    customer_id: int
    kind: str
    channel: str
    direction: str
    occurred_at: dt.datetime
    actor_id: int | None
    summary: str
    body: str
    source_type: str
    source_id: str
    data: dict[str, Any]


# CustomerOut's own columns, in order: what fast paths (API lists, bulk import events)
# read with .values() instead of building models, so they can never drift from the schema.
_NESTED = {"tags", "emails", "phones", "addresses"}
CUSTOMER_SCALAR_FIELDS: tuple[str, ...] = tuple(
    name for name in CustomerOut.model_fields if name not in _NESTED
)


def customer_payload(customer: Any) -> dict[str, Any]:
    """The customer as the API returns it, JSON-ready (for events and webhooks)."""
    return CustomerOut.from_orm(customer).model_dump(mode="json")


def json_datetime(value: dt.datetime) -> str:
    """Pydantic's JSON spelling of an aware datetime: ISO 8601, `Z` for UTC."""
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


_DATETIMES = ("lifecycle_changed_at", "created_at", "updated_at")


def customer_json(
    scalars: Mapping[str, Any],
    *,
    tags: Iterable[str],
    emails: list[dict[str, Any]],
    phones: list[dict[str, Any]],
    addresses: list[dict[str, Any]],
    stamp: Callable[[dt.datetime], str] = json_datetime,
) -> dict[str, Any]:
    """`customer_payload`'s result from values already in hand: the one fast path (API
    lists, bulk upserts' events), for where model instances and pydantic validation would
    cost more than the work itself. `scalars` holds CUSTOMER_SCALAR_FIELDS (a `.values()`
    row or a model's `__dict__`); the contact points are dicts of `contact_point_json`'s
    shape, primary first. `stamp` lets a caller memoise the few datetimes of a batch.
    Tests hold it equal to `customer_payload`."""
    data = {name: scalars[name] for name in CUSTOMER_SCALAR_FIELDS}
    for name in _DATETIMES:
        data[name] = stamp(data[name])
    birth_date = data["birth_date"]
    data["birth_date"] = birth_date.isoformat() if birth_date is not None else None
    data["tags"] = sorted(tags)
    data["emails"] = emails
    data["phones"] = phones
    data["addresses"] = addresses
    return data


# The nested objects' keys, in the schemas' order.
EMAIL_FIELDS: tuple[str, ...] = tuple(EmailOut.model_fields)
PHONE_FIELDS: tuple[str, ...] = tuple(PhoneOut.model_fields)
ADDRESS_FIELDS: tuple[str, ...] = tuple(AddressOut.model_fields)


def contact_point_json(obj: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    """An e-mail, phone or address (model or row) as its schema's dict: `keys` is
    EMAIL_FIELDS, PHONE_FIELDS or ADDRESS_FIELDS."""
    return {name: getattr(obj, name) for name in keys}


def interaction_payload(interaction: Any) -> dict[str, Any]:
    return InteractionOut.from_orm(interaction).model_dump(mode="json")
