"""Reads of customers, always narrowed to what the actor may see.

List filters and sorts are whitelisted: an unknown name is a ValidationError (the UI shows
it, the API answers 400), never a piece of SQL. Lists page by keyset and count with a cap.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.db.models import F, Prefetch, Q, QuerySet
from django.urls import reverse
from django.utils.http import urlencode

from rapport.core import registry
from rapport.core.pagination import (
    InvalidCursor,
    Page,
    SortKey,
    after_row,
    cursor_values_checked,
    decode_cursor,
    encode_cursor,
    parse_sort,
)
from rapport.core.params import parse_id_param, parse_int_param
from rapport.core.permissions import can, scope_queryset
from rapport.core.registry import SearchResults
from rapport.customers import normalize, quality, search
from rapport.customers.custom_fields import definitions
from rapport.customers.models import (
    RELATIONSHIP_LABELS,
    Affiliation,
    ConsentRecord,
    Customer,
    CustomerKind,
    CustomFieldDefinition,
    CustomFieldType,
    Interaction,
    Relationship,
    Tag,
)

CUSTOMER_TYPE = "customers.customer"

# Public filter names and what they mean; `cf_<key>` filters on a custom field.
FILTERS: dict[str, str] = {
    "q": "Search text (name, e-mail, phone, external id, organization)",
    "kind": "person or organization",
    "lifecycle_stage": "subscriber, lead, customer or churned",
    "owner": "Owner's user id ('me' for yourself, 'none' for unassigned)",
    "team": "Team id",
    "tag": "Tag name (repeat for all of several tags)",
    "country": "ISO country code",
    "city": "City",
    "source": "Source",
    "language": "Language tag",
    "industry": "Industry",
    "email": "E-mail address (exact, any of the customer's addresses)",
    "phone": "Phone number in any format",
    "external_id": "External id (exact)",
    "first_name": "First name contains",
    "last_name": "Last name contains",
    "organization_name": "Organization name contains",
    "job_title": "Job title contains",
    "website": "Website contains",
    "birth_date_after": "Born on or after this date",
    "birth_date_before": "Born before this date",
    "organization": "Organization id: the people affiliated to it",
    "created_after": "Created on or after this date",
    "created_before": "Created before this date",
    "updated_after": "Changed on or after this date",
    "stage_changed_after": "Lifecycle stage changed on or after this date",
    "has_email": "yes or no",
    "has_phone": "yes or no",
    "quality_below": "Data-quality score below this number (0-100)",
    "quality_issue": "Data-quality issue, e.g. phone_invalid (repeat for any of several)",
}

SORTS: dict[str, SortKey] = {
    "name": SortKey("name", "sort_name"),
    "created": SortKey("created", "created_at"),
    "updated": SortKey("updated", "updated_at"),
    # Ties within a stage or a country are broken as their indexes hold the rows, so
    # the list walks an index instead of sorting every customer of one stage by id.
    # Stages run in lifecycle order (subscriber, lead, customer, churned): their codes'
    # reverse alphabetical order, which customer_stage holds (a test keeps it so).
    "stage": SortKey(
        "stage",
        "lifecycle_stage",
        then=("sort_name",),
        reversed=frozenset({"lifecycle_stage"}),
    ),
    "country": SortKey("country", "country", then=("city",)),
    "city": SortKey("city", "city"),
    "email": SortKey("email", "primary_email"),
    "quality": SortKey("quality", "quality_score"),
    "id": SortKey("id", "pk"),
}
DEFAULT_SORT = "name"
# A search's own order (the list's default when `q` is given): the global search's
# ranking of its pooled matches first, then every other match in name order.
RELEVANCE = "relevance"


def default_sort(filters: Mapping[str, Any] | None) -> str:
    return RELEVANCE if filters and _values(filters.get("q")) else DEFAULT_SORT


def search_plan(actor: Any, query: str) -> Any:
    """The search's plan for `query`, made once per request: the list's count and page
    both filter by it (kept on the request's user object)."""
    plans = actor.__dict__.setdefault("_search_plans", {})
    if query not in plans:
        plans[query] = search.plan(actor=actor, query=query)
    return plans[query]


PAGE_SIZES = (25, 50, 100)


def _visible(actor: Any, action: str = "view") -> QuerySet[Customer]:
    return scope_queryset(
        Customer.objects.filter(merged_into__isnull=True), actor=actor, action=action
    )


def _values(raw: Any) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, list | tuple):
        return [str(v).strip() for v in raw if str(v).strip()]
    text = str(raw).strip()
    return [text] if text else []


def _date(name: str, value: str) -> dt.date:
    try:
        parsed = normalize.parse_date(value)
    except ValidationError as exc:
        raise ValidationError({name: exc.messages}) from exc
    if parsed is None:
        raise ValidationError({name: "Give a date, e.g. 2024-05-31."})
    return parsed


def _int(name: str, value: str) -> int:
    return parse_int_param(name, value)


def _id(name: str, value: str) -> int:
    return parse_id_param(name, value)


def _yes_no(name: str, value: str) -> bool:
    text = value.lower()
    if text in {"yes", "true", "1"}:
        return True
    if text in {"no", "false", "0"}:
        return False
    raise ValidationError({name: "Use yes or no."})


def _custom_field_q(definition: CustomFieldDefinition, name: str, value: str) -> Q:
    path = f"custom_fields__{definition.key}"
    kind = definition.field_type
    if kind in (CustomFieldType.TEXT, CustomFieldType.URL):
        return Q(**{f"{path}__icontains": value})
    if kind == CustomFieldType.CHOICE:
        return Q(**{path: value})
    if kind == CustomFieldType.MULTI_CHOICE:
        # The stored JSON array's text contains the quoted choice on both databases.
        return Q(**{f"{path}__icontains": f'"{value}"'})
    if kind == CustomFieldType.BOOLEAN:
        return Q(**{path: _yes_no(name, value)})
    if kind == CustomFieldType.NUMBER:
        try:
            number = float(value.replace(",", ""))
        except ValueError as exc:
            raise ValidationError({name: f"{value!r} is not a number."}) from exc
        return Q(**{path: int(number) if number.is_integer() else number})
    if kind == CustomFieldType.DATE:
        return Q(**{path: _date(name, value).isoformat()})
    raise ValidationError({name: "This field cannot be filtered."})


def apply_filters(
    queryset: QuerySet[Customer], filters: Mapping[str, Any], *, actor: Any
) -> QuerySet[Customer]:
    """Narrow `queryset` by whitelisted filters; an unknown name or bad value: ValidationError.

    The filters are the customer segment fields in `core.registry` (this app's, registered
    from `register_segment_fields`, and any another app adds), plus `cf_<key>`."""
    fields = registry.segment_fields(CUSTOMER_TYPE)
    custom: dict[str, CustomFieldDefinition] | None = None
    for name in filters:
        values = _values(filters[name])
        if name in {"sort", "cursor", "page_size", "view"}:
            continue
        if name.startswith("cf_"):
            if custom is None:
                custom = definitions(CUSTOMER_TYPE)
            definition = custom.get(name[3:])
            if definition is None:
                raise ValidationError({name: f"There is no custom field {name[3:]!r}."})
            for value in values:
                queryset = queryset.filter(_custom_field_q(definition, name, value))
            continue
        if name not in fields:
            raise ValidationError(
                {name: f"Unknown filter {name!r}. Allowed: {', '.join(sorted(fields))}, cf_<key>."}
            )
        if values:
            queryset = fields[name].apply(queryset, values, actor=actor)
    return queryset


# --- the customer segment fields (what apply_filters compiles each filter to) ----------

Apply = Callable[..., QuerySet[Customer]]


def _first(lookup: str, parse: Callable[[str, str], Any] | None = None) -> Apply:
    """Filter `lookup` by the first value, parsed by `parse(name, value)` when given."""

    def apply(queryset: QuerySet[Customer], values: list[str], *, actor: Any) -> QuerySet[Customer]:
        value = values[0]
        return queryset.filter(**{lookup: parse(lookup, value) if parse else value})

    return apply


def _named(name: str, parse: Callable[[str, str], Any]) -> Callable[[str, str], Any]:
    # Errors name the public filter, not the ORM lookup.
    return lambda _lookup, value: parse(name, value)


def _search(queryset: QuerySet[Customer], values: list[str], *, actor: Any) -> QuerySet[Customer]:
    # Every match, as the global search matches (exact, else corrected words), so the
    # count is honest and the pages go through all of them.
    return search.matches(queryset, search_plan(actor, values[0]), values[0])


def _kind(queryset: QuerySet[Customer], values: list[str], *, actor: Any) -> QuerySet[Customer]:
    if values[0] not in CustomerKind.values:
        raise ValidationError({"kind": "Use person or organization."})
    return queryset.filter(kind=values[0])


def _stages(queryset: QuerySet[Customer], values: list[str], *, actor: Any) -> QuerySet[Customer]:
    return queryset.filter(lifecycle_stage__in=values)


def _owner(queryset: QuerySet[Customer], values: list[str], *, actor: Any) -> QuerySet[Customer]:
    value = values[0]
    if value == "me":
        return queryset.filter(owner_id=actor.pk)
    if value == "none":
        return queryset.filter(owner__isnull=True)
    return queryset.filter(owner_id=_id("owner", value))


def _tags(queryset: QuerySet[Customer], values: list[str], *, actor: Any) -> QuerySet[Customer]:
    for tag in values:
        queryset = queryset.filter(tags__name=tag.lower())
    return queryset


def _country(queryset: QuerySet[Customer], values: list[str], *, actor: Any) -> QuerySet[Customer]:
    return queryset.filter(country=values[0].upper())


def _email(queryset: QuerySet[Customer], values: list[str], *, actor: Any) -> QuerySet[Customer]:
    return queryset.filter(emails__email=values[0].strip().lower()).distinct()


def _phone(queryset: QuerySet[Customer], values: list[str], *, actor: Any) -> QuerySet[Customer]:
    try:
        e164 = normalize.normalize_phone(values[0])
    except ValidationError as exc:
        raise ValidationError({"phone": exc.messages}) from exc
    return queryset.filter(phones__e164=e164).distinct()


def _has(column: str, name: str) -> Apply:
    def apply(queryset: QuerySet[Customer], values: list[str], *, actor: Any) -> QuerySet[Customer]:
        if _yes_no(name, values[0]):
            return queryset.exclude(**{column: ""})
        return queryset.filter(**{column: ""})

    return apply


def _quality_issue(
    queryset: QuerySet[Customer], values: list[str], *, actor: Any
) -> QuerySet[Customer]:
    return with_quality_issue(queryset, values)


def _segment_fields() -> list[tuple[str, str, tuple[str, ...], Apply, str]]:
    """(name, type, operators, apply, lookup) of each customer filter, in FILTERS' order."""
    date = _named
    fields: list[tuple[str, str, tuple[str, ...], Apply, str]] = [
        ("q", "search", ("match",), _search, ""),
        ("kind", "choice", ("eq",), _kind, "kind"),
        ("lifecycle_stage", "choice", ("in",), _stages, "lifecycle_stage__in"),
        ("owner", "id", ("eq",), _owner, "owner_id"),
        ("team", "id", ("eq",), _first("team_id", _named("team", _id)), "team_id"),
        ("tag", "tag", ("all",), _tags, "tags__name"),
        ("country", "choice", ("eq",), _country, "country"),
    ]
    fields += [
        (name, "text", ("iexact",), _first(f"{name}__iexact"), f"{name}__iexact")
        for name in ("city", "source", "language", "industry")
    ]
    fields += [
        ("email", "text", ("eq",), _email, "emails__email"),
        ("phone", "text", ("eq",), _phone, "phones__e164"),
        ("external_id", "text", ("eq",), _first("external_id"), "external_id"),
    ]
    fields += [
        (name, "text", ("contains",), _first(f"{name}__icontains"), f"{name}__icontains")
        for name in ("first_name", "last_name", "organization_name", "job_title", "website")
    ]
    for name, lookup, operator in (
        ("birth_date_after", "birth_date__gte", "gte"),
        ("birth_date_before", "birth_date__lt", "lt"),
    ):
        fields.append((name, "date", (operator,), _first(lookup, date(name, _date)), lookup))
    organization = "affiliations__organization_id"
    fields.append(
        ("organization", "id", ("eq",), _first(organization, _named("organization", _id)), "")
    )
    for name, lookup, operator in (
        ("created_after", "created_at__date__gte", "gte"),
        ("created_before", "created_at__date__lt", "lt"),
        ("updated_after", "updated_at__date__gte", "gte"),
        ("stage_changed_after", "lifecycle_changed_at__date__gte", "gte"),
    ):
        fields.append((name, "date", (operator,), _first(lookup, date(name, _date)), lookup))
    fields += [
        ("has_email", "boolean", ("eq",), _has("primary_email", "has_email"), ""),
        ("has_phone", "boolean", ("eq",), _has("primary_phone", "has_phone"), ""),
        (
            "quality_below",
            "number",
            ("lt",),
            _first("quality_score__lt", _named("quality_below", _int)),
            "quality_score__lt",
        ),
        ("quality_issue", "choice", ("in",), _quality_issue, ""),
    ]
    return fields


def register_segment_fields() -> None:
    """The customer list's filters as segment fields (from the app's ready())."""
    for name, kind, operators, apply, lookup in _segment_fields():
        registry.add_segment_field(
            registry.SegmentField(
                object_type=CUSTOMER_TYPE,
                name=name,
                label=FILTERS[name],
                type=kind,
                operators=operators,
                apply=apply,
                lookup=lookup,
            )
        )


def with_quality_issue(queryset: QuerySet[Customer], names: Iterable[str]) -> QuerySet[Customer]:
    """Customers with any of the named data-quality issues ("phone_invalid", "unscored")."""
    mask = 0
    for issue_name in names:
        if issue_name.strip().lower() == "unscored":
            mask |= quality.Issue.UNSCORED
            continue
        try:
            mask |= quality.issue_from_name(issue_name).issue
        except ValidationError as exc:
            raise ValidationError({"quality_issue": exc.messages}) from exc
    if not mask:
        return queryset
    return queryset.alias(quality_hit=F("quality_issues").bitand(int(mask))).filter(
        quality_hit__gt=0
    )


def customer_list(
    *, actor: Any, action: str = "view", filters: Mapping[str, Any] | None = None
) -> QuerySet[Customer]:
    """The customers `actor` may `action`, narrowed by whitelisted `filters`."""
    queryset = _visible(actor, action)
    if filters:
        queryset = apply_filters(queryset, filters, actor=actor)
    return queryset


def with_list_columns(queryset: QuerySet[Customer]) -> QuerySet[Customer]:
    """What a list row shows, in a constant number of queries."""
    return queryset.select_related("owner", "team").prefetch_related(
        Prefetch("tags", queryset=Tag.objects.order_by("name"))
    )


# SQLite: the index that yields each sort's order (SQLite indexes end in the rowid, so
# `customer_email` on primary_email alone is ordered by (primary_email, id)); "pk" walks
# the table itself. Sorts not listed here have no such index and are left to the planner.
SORT_INDEXES = {
    "sort_name": "customer_name",
    "lifecycle_stage": "customer_stage",
    "country": "customer_place",
    "city": "customer_city",
    "created_at": "customer_created",
    "updated_at": "customer_updated",
    "primary_email": "customer_email",
    "quality_score": "customer_quality",
    "pk": None,
}


# An index that holds a sort's order within one value of a filter, preferred to the sort's
# own when the list is filtered to that one value: customer_place is (country, city, id),
# so one country's rows in city order, where the city index would first walk every other
# country's cities (230 ms at 1M customers when they sort before that country's).
SORT_INDEXES_WITHIN = {("city", "country"): "customer_place"}


def _walk_hint(field: str, filters: Mapping[str, Any]) -> str | None:
    """SQLite's hint for reading a page through the sort's index (None: no such index)."""
    if field not in SORT_INDEXES:
        return None
    index = SORT_INDEXES[field]
    for (sort_field, filter_name), within in SORT_INDEXES_WITHIN.items():
        if sort_field == field and len(_values(filters.get(filter_name))) == 1:
            index = within
    return f"INDEXED BY {connection.ops.quote_name(index)}" if index else "NOT INDEXED"


def customer_page(
    *,
    actor: Any,
    filters: Mapping[str, Any] | None = None,
    sort: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
    matches: CappedCount | None = None,
) -> Page[Customer]:
    """One keyset page of the list (constant cost however deep).

    `matches`, the list's capped count when the caller has it, tells how to read the
    page: when more rows match than the cap, SQLite walks the sort's own index and stops
    after `limit` + 1 matching rows. Its planner otherwise takes the filter's index (a
    country, a stage: a quarter of a million customers each at 1M) and sorts every
    matching row for the first 50: 250-750 ms. With fewer matches than the cap, the
    filter's index and a sort of at most the cap's rows is the cheaper plan.
    """
    query = _values((filters or {}).get("q"))
    if sort == RELEVANCE and query:
        return _relevance_page(
            actor=actor,
            filters=filters or {},
            query=query[0],
            cursor=cursor,
            limit=limit,
            walk=matches is not None and matches.more and connection.vendor == "sqlite",
        )
    if sort == RELEVANCE:
        sort = DEFAULT_SORT
    sort_key, descending = parse_sort(sort, SORTS, DEFAULT_SORT)
    queryset = with_list_columns(customer_list(actor=actor, filters=filters))
    return _keyset_page(
        queryset,
        sort_key=sort_key,
        descending=descending,
        cursor=cursor,
        limit=limit,
        walk_hint=(
            _walk_hint(sort_key.field, filters)
            if filters and matches is not None and matches.more and connection.vendor == "sqlite"
            else None
        ),
    )


def _relevance_page(
    *,
    actor: Any,
    filters: Mapping[str, Any],
    query: str,
    cursor: str | None,
    limit: int,
    walk: bool = False,
) -> Page[Customer]:
    """A page in the search's order: the global search's ranked matches (at most its
    pool), then the other matches by name. A cursor is [0, position] in the ranked part,
    or [1, sort_name, id] in the rest. `walk`: more match than the count's cap, so SQLite
    reads the rest through the name index (see customer_page) instead of sorting every
    match (12,500 for a common surname at 100k customers)."""
    queryset = with_list_columns(customer_list(actor=actor, filters=filters))
    found = search_plan(actor, query)
    ranked = [c.pk for c in search.ranked(actor=actor, query=query, found=found)]
    phase, position, after = 0, 0, None
    if cursor:
        values = decode_cursor(cursor, RELEVANCE)
        if values[:1] == [0] and len(values) == 2 and isinstance(values[1], int):
            position = values[1]
        elif values == [1]:  # the rest, from its start
            phase = 1
        elif values[:1] == [1] and len(values) == 3:
            phase, after = 1, values[1:]
        else:
            raise ValidationError({"cursor": "This cursor is invalid."})
    rows: list[Customer] = []
    if phase == 0 and ranked:
        # The ranked ones this list's other filters keep, in the search's order (with no
        # other filter, all: they are matches already, read inside the actor's scope).
        not_filters = {"q", "sort", "cursor", "page_size", "view"}
        others = {k: v for k, v in filters.items() if k not in not_filters}
        if others:
            kept = set(queryset.filter(pk__in=ranked).values_list("pk", flat=True))
            ranked_kept = [pk for pk in ranked if pk in kept]
        else:
            ranked_kept = ranked
        window = ranked_kept[position : position + limit + 1]
        # Loaded by id alone: the search condition again would read every match.
        by_id = {c.pk: c for c in with_list_columns(_visible(actor)).filter(pk__in=window)}
        rows = [by_id[pk] for pk in window if pk in by_id]
        if len(rows) > limit:
            cursor_values: list[Any] = [0, position + limit]
            return Page(
                items=rows[:limit],
                next_cursor=encode_cursor(RELEVANCE, cursor_values),
                sort=RELEVANCE,
            )
    rest = queryset.exclude(pk__in=ranked).order_by("sort_name", "pk")
    if len(rows) == limit:
        # The ranked part ends with this page: the next one starts the rest (a name
        # cursor from a ranked row would skip the rest's names before it).
        more = rest.exists()
        return Page(
            items=rows, next_cursor=encode_cursor(RELEVANCE, [1]) if more else None, sort=RELEVANCE
        )
    if after is not None:
        rest = rest.filter(after_row(("sort_name",), after, directions=(False,)))
    wanted = limit - len(rows) + 1
    if walk:
        index = connection.ops.quote_name(SORT_INDEXES["sort_name"] or "")
        rows += _rows_by_sort_index(rest, f"INDEXED BY {index}", wanted)
    else:
        rows += list(rest[:wanted])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(RELEVANCE, [1, last.sort_name, last.pk])
    return Page(items=rows, next_cursor=next_cursor, sort=RELEVANCE)


def _keyset_page(
    queryset: QuerySet[Customer],
    *,
    sort_key: SortKey,
    descending: bool,
    cursor: str | None,
    limit: int,
    walk_hint: str | None = None,
) -> Page[Customer]:
    """`core.pagination.keyset_page` for columns that are never NULL (all of SORTS).

    Without the NULLS LAST ordering and the `OR field IS NULL` condition that nullable
    columns need, the (field, id) indexes serve the page directly: 0.9 ms instead of
    75 ms for the first page of 100k customers on SQLite. A cursor holds the last row's
    value of each sort column and its id.
    """
    sort_name = ("-" if descending else "") + sort_key.name
    field = sort_key.field
    prefix = "-" if descending else ""
    if cursor:
        values = decode_cursor(cursor, sort_name)
        with cursor_values_checked():
            if field == "pk":
                if len(values) != 1:
                    raise InvalidCursor()
                queryset = queryset.filter(**{f"pk__{'lt' if descending else 'gt'}": values[0]})
            else:
                queryset = queryset.filter(
                    after_row(sort_key.fields, values, directions=sort_key.directions(descending))
                )
    if field == "pk":
        columns: tuple[str, ...] = ()
        queryset = queryset.order_by(f"{prefix}pk")
    else:
        columns = sort_key.fields
        directions = sort_key.directions(descending)
        queryset = queryset.order_by(
            *(f"{'-' if d else ''}{c}" for c, d in zip(columns, directions, strict=True)),
            f"{'-' if directions[-1] else ''}pk",
        )
    if walk_hint:
        rows = _rows_by_sort_index(queryset, walk_hint, limit + 1)
    else:
        rows = list(queryset[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(sort_name, [*(getattr(last, c) for c in columns), last.pk])
    return Page(items=rows, next_cursor=next_cursor, sort=sort_name)


def _rows_by_sort_index(queryset: QuerySet[Customer], hint: str, limit: int) -> list[Customer]:
    """The first `limit` rows of `queryset`, read as `hint` says (SQLite's INDEXED BY an
    index, or NOT INDEXED: the table in rowid order), then loaded with the list's columns
    by id.

    One query more than a plain page, whatever the page size. Only the top-level FROM is
    rewritten: the ids query selects the primary key alone, so the first FROM is it.
    """
    sql, params = queryset.values_list("pk", flat=True)[:limit].query.sql_with_params()
    table = connection.ops.quote_name(Customer._meta.db_table)
    sql = sql.replace(f"FROM {table}", f"FROM {table} {hint}", 1)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = [pk for (pk,) in cursor.fetchall()]
    by_id = {c.pk: c for c in queryset.order_by().filter(pk__in=ids)}
    return [by_id[pk] for pk in ids if pk in by_id]


@dataclass(frozen=True)
class CappedCount:
    """An exact count up to the cap; beyond it only "more than `value`"."""

    value: int
    more: bool

    def __str__(self) -> str:
        return f"more than {self.value:,}" if self.more else f"{self.value:,}"


def capped_count(queryset: QuerySet[Any], cap: int | None = None) -> CappedCount:
    """COUNT over at most cap+1 rows: never a full scan of a huge table."""
    cap = cap if cap is not None else settings.LIST_EXACT_COUNT_CAP
    n = queryset.order_by().values("pk")[: cap + 1].count()
    return CappedCount(value=min(n, cap), more=n > cap)


def customer_detail(*, actor: Any, pk: int) -> Customer:
    """One customer with everything the 360 page shows, in a fixed number of queries."""
    return (
        _visible(actor)
        .select_related("owner", "team")
        .prefetch_related(
            Prefetch("tags", queryset=Tag.objects.order_by("name")),
            "emails",
            "phones",
            "addresses",
            Prefetch(
                "affiliations",
                queryset=Affiliation.objects.select_related("organization").order_by(
                    "-is_primary", "id"
                ),
            ),
            Prefetch(
                "members",
                queryset=Affiliation.objects.select_related("person").order_by(
                    "person__display_name", "id"
                ),
            ),
            Prefetch(
                "relationships_out",
                queryset=Relationship.objects.select_related("to_customer").order_by("id"),
            ),
            Prefetch(
                "relationships_in",
                queryset=Relationship.objects.select_related("from_customer").order_by("id"),
            ),
        )
        .get(pk=pk)
    )


@dataclass(frozen=True)
class RelationshipView:
    """A relationship as read from one side: the wording and the other customer."""

    relationship: Relationship
    label: str
    other: Customer


def follow_merges(ids: Iterable[int]) -> dict[int, int]:
    """Each id -> the record it now lives on: itself, or the survivor of the merge(s) that
    folded it in (A into B, then B into C gives C). For integrations that still send an
    external id or an id of a merged-away record."""
    resolved = {pk: pk for pk in ids}
    pending = set(resolved)
    for _ in range(10):  # merge chains are short; a cycle is impossible but bounded anyway
        if not pending:
            break
        hops = dict(
            Customer.objects.filter(pk__in=pending, merged_into__isnull=False).values_list(
                "pk", "merged_into_id"
            )
        )
        if not hops:
            break
        for start, current in resolved.items():
            if current in hops:
                resolved[start] = hops[current]
        pending = set(hops.values())
    return resolved


def merged_survivor_id(*, actor: Any, pk: int) -> int | None:
    """The live record a merged-away customer now lives on, if the actor may see it.

    Follows the merge chain (A into B, then B into C gives C) a bounded number of steps.
    """
    current = follow_merges([pk])[pk]
    if current == pk or not _visible(actor).filter(pk=current).exists():
        return None
    return current


def relationships_of(customer: Customer) -> list[RelationshipView]:
    """Both directions, each with its own wording (uses customer_detail's prefetches)."""
    out = [
        RelationshipView(r, RELATIONSHIP_LABELS[r.kind][0], r.to_customer)
        for r in customer.relationships_out.all()
    ]
    inbound = [
        RelationshipView(r, RELATIONSHIP_LABELS[r.kind][1], r.from_customer)
        for r in customer.relationships_in.all()
    ]
    return out + inbound


def consents_in_force(*, customer: Customer) -> list[ConsentRecord]:
    """The latest ledger row per (channel, purpose): the consent that applies now."""
    latest: dict[tuple[str, str], ConsentRecord] = {}
    for record in ConsentRecord.objects.filter(customer=customer).order_by("-occurred_at", "-id"):
        latest.setdefault((record.channel, record.purpose), record)
    return sorted(latest.values(), key=lambda r: (r.channel, r.purpose))


def consent_allows(*, customer: Customer, channel: str, purpose: str) -> bool:
    """Whether consent for `purpose` on `channel` is granted now (a channel-specific
    record wins over an "any channel" one; no record means no consent)."""
    for ch in (channel, "any"):
        record = (
            ConsentRecord.objects.filter(customer=customer, channel=ch, purpose=purpose)
            .order_by("-occurred_at", "-id")
            .first()
        )
        if record is not None:
            return record.status == "granted"
    return False


def consent_history(*, customer: Customer, limit: int = 50) -> list[ConsentRecord]:
    return list(
        ConsentRecord.objects.filter(customer=customer)
        .select_related("recorded_by")
        .order_by("-occurred_at", "-id")[:limit]
    )


TIMELINE_SORT = "-occurred"


def timeline(
    *,
    actor: Any,
    customer: Customer,
    kinds: Iterable[str] = (),
    channels: Iterable[str] = (),
    cursor: str | None = None,
    limit: int = 30,
) -> Page[Interaction]:
    """The customer's timeline, newest first, keyset-paged on (occurred_at, id).

    An organization's timeline includes its people's entries (those the actor may see).
    """
    if not can(actor, "view", customer):
        raise PermissionDenied("You may not view this customer.")
    if customer.kind == CustomerKind.ORGANIZATION:
        people = _visible(actor).filter(affiliations__organization=customer).values("pk")
        queryset = Interaction.objects.filter(Q(customer=customer) | Q(customer__in=people))
    else:
        queryset = Interaction.objects.filter(customer=customer)
    kinds, channels = list(kinds), list(channels)
    if kinds:
        queryset = queryset.filter(kind__in=kinds)
    if channels:
        queryset = queryset.filter(channel__in=channels)
    if cursor:
        values = decode_cursor(cursor, TIMELINE_SORT)
        if len(values) != 2 or not isinstance(values[0], dt.datetime):
            raise InvalidCursor()
        occurred, last_id = values
        with cursor_values_checked():
            queryset = queryset.filter(
                Q(occurred_at__lt=occurred) | Q(occurred_at=occurred, id__lt=last_id)
            )
    rows = list(
        queryset.select_related("actor", "customer").order_by("-occurred_at", "-id")[: limit + 1]
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(TIMELINE_SORT, [rows[-1].occurred_at, rows[-1].pk])
    return Page(items=rows, next_cursor=next_cursor, sort=TIMELINE_SORT)


def custom_field_definitions(*, include_inactive: bool = False) -> QuerySet[CustomFieldDefinition]:
    qs = CustomFieldDefinition.objects.filter(object_type=CUSTOMER_TYPE)
    return qs if include_inactive else qs.filter(is_active=True)


def choice_label(field: str, value: Any) -> Any:
    """How a customer field's stored `value` reads (its choice's label, if it has choices)."""
    model_field: Any = Customer._meta.get_field(field)
    if getattr(model_field, "choices", None):
        return dict(model_field.flatchoices).get(value, value)
    return value


def tag_names() -> list[str]:
    return list(Tag.objects.order_by("name").values_list("name", flat=True)[:500])


def validate_list_params(*, actor: Any, params: Mapping[str, Any]) -> dict[str, Any]:
    """The list parameters worth saving (filters and sort), checked like a real request."""
    clean: dict[str, Any] = {}
    for name, raw in params.items():
        if name in {"cursor", "view", "page_size"}:
            continue
        values = _values(raw)
        if values:
            clean[name] = values if len(values) > 1 else values[0]
    sort = clean.pop("sort", None)
    if sort and sort != RELEVANCE:
        parse_sort(str(sort), SORTS, DEFAULT_SORT)
        clean["sort"] = sort
    apply_filters(
        Customer.objects.none(), {k: v for k, v in clean.items() if k != "sort"}, actor=actor
    )
    return clean


# The customer list's columns: (id, label, sort key or None). The name always shows; the
# others are each user's choice (the column chooser), kept as a per-user saved-view row.
LIST_COLUMNS: list[tuple[str, str, str | None]] = [
    ("name", "Name", "name"),
    ("stage", "Stage", "stage"),
    ("contact", "Contact", "email"),
    ("place", "Place", "city"),
    ("owner", "Owner", None),
    ("tags", "Tags", None),
    ("quality", "Quality", "quality"),
    ("created", "Created", "created"),
]
# What fits a 1440 px screen beside the sidebar; "Created" is one click away.
DEFAULT_COLUMNS = ("name", "stage", "contact", "place", "owner", "tags", "quality")
# The saved-view row that holds a user's column choice (never listed as a view).
COLUMNS_VIEW_TYPE = f"{CUSTOMER_TYPE}:columns"


def saved_views_and_columns(*, actor: Any) -> tuple[list[Any], list[str]]:
    """The actor's saved views (as `saved_views`) and chosen list columns, in one query."""
    from rapport.core.models import SavedView

    rows = SavedView.objects.filter(
        Q(object_type=CUSTOMER_TYPE, owner_id=actor.pk)
        | Q(object_type=CUSTOMER_TYPE, is_shared=True)
        | Q(object_type=COLUMNS_VIEW_TYPE, owner_id=actor.pk)
    ).order_by("name")
    views, columns = [], list(DEFAULT_COLUMNS)
    for row in rows:
        if row.object_type == COLUMNS_VIEW_TYPE:
            chosen = row.params.get("columns") or []
            known = [c for c, _, _ in LIST_COLUMNS]
            columns = ["name", *(c for c in known if c in chosen and c != "name")]
        else:
            views.append(row)
    return views, columns


def saved_views(*, actor: Any) -> QuerySet[Any]:
    """The actor's own saved customer views and the shared ones."""
    from rapport.core.models import SavedView

    return (
        SavedView.objects.filter(object_type=CUSTOMER_TYPE)
        .filter(Q(owner_id=actor.pk) | Q(is_shared=True))
        .order_by("name")
    )


def search_results(*, actor: Any, query: str, limit: int = 25) -> SearchResults:
    """The search page's customers: the best `limit`, how many match in all (as the
    customer list counts them: exact up to its cap) and the list of all of them."""
    found = search.plan(actor=actor, query=query)
    hits = [
        search.customer_hit(c) for c in search.ranked(actor=actor, query=query, found=found)[:limit]
    ]
    count = (
        capped_count(search.matches(customer_list(actor=actor), found, query))
        if found.ids
        else CappedCount(0, more=False)
    )
    return SearchResults(
        label="customers",
        label_one="customer",
        hits=hits,
        total=str(count),
        see_all_url=reverse("customers:list") + "?" + urlencode({"q": query}),
    )
