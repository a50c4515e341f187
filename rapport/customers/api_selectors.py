"""Reads the customers API needs beyond the shared selectors, each narrowed to the actor's
record scope with `scope_queryset` (through `customer_list`), plus the batched fetch of
contact points that keeps a list response at a constant number of queries."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet

from rapport.customers import normalize, search
from rapport.customers.models import (
    Address,
    Customer,
    CustomerTag,
    EmailAddress,
    Interaction,
    PhoneNumber,
    Relationship,
    Tag,
)
from rapport.customers.selectors import customer_list


@dataclass
class CustomerApiFilters:
    """The whitelisted filters of the persons/organizations lists (values already typed)."""

    email: str | None = None
    phone: str | None = None
    external_id: str | None = None
    lifecycle_stage: str | None = None
    tag: str | None = None
    owner: int | None = None
    team: int | None = None
    updated_after: dt.datetime | None = None
    q: str | None = None


def customers_for_api(
    *, actor: Any, kind: str, filters: CustomerApiFilters | None = None, action: str = "view"
) -> QuerySet[Customer]:
    """Customers of `kind` the actor may `action`, narrowed by the filters.

    E-mail and phone filters are normalised first (any format the UI accepts matches);
    an unparsable one raises ValidationError (a 422 naming the filter).
    """
    qs = customer_list(actor=actor, action=action).filter(kind=kind, erased_at__isnull=True)
    f = filters or CustomerApiFilters()
    if f.email:
        email = normalize.normalize_email(f.email)
        qs = qs.filter(Exists(EmailAddress.objects.filter(customer=OuterRef("pk"), email=email)))
    if f.phone:
        e164 = normalize.normalize_phone(f.phone)
        qs = qs.filter(Exists(PhoneNumber.objects.filter(customer=OuterRef("pk"), e164=e164)))
    if f.external_id:
        qs = qs.filter(external_id=f.external_id)
    if f.lifecycle_stage:
        qs = qs.filter(lifecycle_stage=f.lifecycle_stage)
    if f.tag:
        name = normalize.clean_text(f.tag).lower()
        qs = qs.filter(Exists(CustomerTag.objects.filter(customer=OuterRef("pk"), tag__name=name)))
    if f.owner is not None:
        qs = qs.filter(owner_id=f.owner)
    if f.team is not None:
        qs = qs.filter(team_id=f.team)
    if f.updated_after is not None:
        qs = qs.filter(updated_at__gt=f.updated_after)
    if f.q:
        # Global search's exact step (every term, as a substring of the search text) on the
        # full-text index; the list keeps its own sort and keyset pages.
        qs = search.matching(qs, normalize.clean_text(f.q))
    return qs


def customer_for_api(*, actor: Any, pk: int, kind: str | None = None) -> Customer:
    """One customer the actor may see (Customer.DoesNotExist otherwise: a 404)."""
    qs = customer_list(actor=actor).filter(erased_at__isnull=True)
    if kind is not None:
        qs = qs.filter(kind=kind)
    return qs.prefetch_related("tags", "emails", "phones", "addresses").get(pk=pk)


@dataclass
class ContactPoints:
    emails: dict[int, list[dict[str, Any]]]
    phones: dict[int, list[dict[str, Any]]]
    addresses: dict[int, list[dict[str, Any]]]
    tags: dict[int, list[str]]


def _contact_points_sql(count: int) -> str:
    """One UNION ALL over the four child tables (names from the models, ids as params).

    PostgreSQL takes the ids as one array literal (`= ANY(%s::bigint[])`): psycopg's client-side
    binding re-parses a statement with hundreds of placeholders on every call (it caches
    only short ones), which cost more than the query. SQLite takes `IN (?, …)`.
    """
    in_list = f"IN ({', '.join(['%s'] * count)})"
    ids = "= ANY(%s::bigint[])" if connection.vendor == "postgresql" else in_list
    email = EmailAddress._meta.db_table
    phone = PhoneNumber._meta.db_table
    address = Address._meta.db_table
    link = CustomerTag._meta.db_table
    tag = Tag._meta.db_table
    blank = "NULL, NULL, NULL, NULL, NULL, NULL"
    # Only table names from our models and placeholders are interpolated.
    return (
        f"SELECT 'e' AS src, customer_id, id, email, kind, is_primary, {blank} "  # noqa: S608
        f"FROM {email} WHERE customer_id {ids} "
        f"UNION ALL SELECT 'p', customer_id, id, e164, kind, is_primary, {blank} "
        f"FROM {phone} WHERE customer_id {ids} "
        f"UNION ALL SELECT 'a', customer_id, id, line1, kind, is_primary, "
        f"line2, city, postcode, region, country, NULL "
        f"FROM {address} WHERE customer_id {ids} "
        f"UNION ALL SELECT 't', l.customer_id, l.id, t.name, NULL, NULL, {blank} "
        f"FROM {link} l JOIN {tag} t ON t.id = l.tag_id WHERE l.customer_id {ids} "
        "ORDER BY 1, 2, 6 DESC, 3"
    )


def contact_points_for(customer_ids: list[int]) -> ContactPoints:
    """E-mails, phones, addresses and tags of these customers, in one query, as dicts.

    The list endpoint's hot path: one parameterised SQL statement instead of four ORM
    queries (ORM query building cost more than the database work here). Ordered as the
    models order them: primary first, then by id.
    """
    emails: dict[int, list[dict[str, Any]]] = defaultdict(list)
    phones: dict[int, list[dict[str, Any]]] = defaultdict(list)
    addresses: dict[int, list[dict[str, Any]]] = defaultdict(list)
    tags: dict[int, list[str]] = defaultdict(list)
    ids = [int(i) for i in customer_ids]
    if not ids:
        return ContactPoints(emails, phones, addresses, tags)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The ids as one array literal: psycopg's list dumper is Python code that
            # inspects every element (a fifth of this query's client time for 200 ids).
            params: list[Any] = ["{" + ",".join(map(str, ids)) + "}"] * 4
        else:
            params = ids * 4
        cursor.execute(_contact_points_sql(len(ids)), params)
        rows = cursor.fetchall()
    for (
        src,
        customer_id,
        _id,
        value,
        kind,
        primary,
        line2,
        city,
        postcode,
        region,
        country,
        _,
    ) in rows:
        if src == "e":
            emails[customer_id].append({"email": value, "kind": kind, "is_primary": bool(primary)})
        elif src == "p":
            phones[customer_id].append({"e164": value, "kind": kind, "is_primary": bool(primary)})
        elif src == "a":
            addresses[customer_id].append(
                {
                    "kind": kind,
                    "line1": value,
                    "line2": line2,
                    "city": city,
                    "postcode": postcode,
                    "region": region,
                    "country": country,
                    "is_primary": bool(primary),
                }
            )
        else:
            tags[customer_id].append(value)
    return ContactPoints(emails, phones, addresses, tags)


def timeline_for_api(
    *, actor: Any, customer: Customer, kind: str | None = None, channel: str | None = None
) -> QuerySet[Interaction]:
    """The customer's timeline (the caller has already fetched `customer` through scope)."""
    qs = Interaction.objects.filter(customer_id=customer.pk)
    if kind:
        qs = qs.filter(kind=kind)
    if channel:
        qs = qs.filter(channel=channel)
    return qs


def relationships_for_api(*, actor: Any, customer: Customer) -> QuerySet[Relationship]:
    """Relationships of a visible customer, both directions, whose other side is visible."""
    visible = customer_list(actor=actor).values("pk")
    return (
        Relationship.objects.filter(
            Q(from_customer_id=customer.pk, to_customer_id__in=visible)
            | Q(to_customer_id=customer.pk, from_customer_id__in=visible)
        )
        .select_related("from_customer", "to_customer")
        .order_by("id")
    )


def relationship_for_api(*, actor: Any, pk: int) -> Relationship:
    """A relationship whose two customers the actor may both see (DoesNotExist: a 404)."""
    visible = customer_list(actor=actor).values("pk")
    return Relationship.objects.select_related("from_customer", "to_customer").get(
        pk=pk, from_customer_id__in=visible, to_customer_id__in=visible
    )
