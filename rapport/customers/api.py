"""Customer endpoints: persons, organizations, relationships, notes, timelines, bulk upsert.

Thin: each endpoint parses its input (declared fields only: `extra="forbid"`), reads
through the scoped selectors and writes through the services, which check access before
writing. Shared behaviour (keyset lists, ETag/If-Match, Idempotency-Key) comes from
`rapport.core.api_helpers`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any, Literal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpResponse
from ninja import Field, Query, Router, Schema
from pydantic import ConfigDict

from rapport.core.api import ProblemError
from rapport.core.api_fields import Id, Int64
from rapport.core.api_helpers import (
    idempotent,
    if_match_version,
    json_response,
    keyset,
    keyset_list,
    page_schema,
    set_etag,
)
from rapport.core.pagination import SortKey
from rapport.core.permissions import require
from rapport.core.rows import plain_values
from rapport.customers import services
from rapport.customers.api_selectors import (
    CustomerApiFilters,
    contact_points_for,
    customer_for_api,
    customers_for_api,
    relationship_for_api,
    relationships_for_api,
    timeline_for_api,
)
from rapport.customers.models import (
    RELATIONSHIP_LABELS,
    Channel,
    Customer,
    CustomerKind,
    Interaction,
    InteractionKind,
    Relationship,
)
from rapport.customers.normalize import normalize_email
from rapport.customers.schemas import (
    CUSTOMER_SCALAR_FIELDS,
    CustomerOut,
    InteractionOut,
    customer_json,
    customer_payload,
    json_datetime,
)
from rapport.customers.selectors import follow_merges
from rapport.identity.http import UserRequest

router = Router(tags=["customers"])

ContactKindName = Literal["work", "home", "mobile", "other"]
AddressKindName = Literal["home", "work", "billing", "shipping", "other"]
StageName = Literal["subscriber", "lead", "customer", "churned"]
RelationshipKindName = Literal["household", "employer", "referred_by", "partner"]


class StrictSchema(Schema):
    """Input: only declared fields; anything else (owner, version, is_staff…) is a 422."""

    model_config = ConfigDict(extra="forbid")


class EmailIn(StrictSchema):
    email: str = Field(max_length=254)
    kind: ContactKindName = "work"
    is_primary: bool = False


class PhoneIn(StrictSchema):
    number: str = Field(max_length=50, description="Any format; stored as E.164.")
    kind: ContactKindName = "mobile"
    is_primary: bool = False


class AddressIn(StrictSchema):
    kind: AddressKindName = "home"
    line1: str = ""
    line2: str = ""
    city: str = ""
    postcode: str = ""
    region: str = ""
    country: str = Field("", description="ISO 3166-1 alpha-2 or a country name.")
    is_primary: bool = False


class _CustomerFields(StrictSchema):
    language: str | None = None
    source: str | None = None
    lifecycle_stage: StageName | None = None
    website: str | None = None
    external_id: str | None = Field(None, max_length=100)
    emails: list[EmailIn] | None = None
    phones: list[PhoneIn] | None = None
    addresses: list[AddressIn] | None = None
    tags: list[str] | None = None
    custom_fields: dict[str, Any] | None = None
    owner_id: Id | None = Field(
        None, description="Assign to this user (your role decides to whom you may assign)."
    )
    team_id: Id | None = Field(None, description="Assign to this team (same rule).")


class PersonIn(_CustomerFields):
    first_name: str | None = None
    last_name: str | None = None
    job_title: str | None = None
    birth_date: dt.date | None = None


class OrganizationIn(_CustomerFields):
    organization_name: str | None = None
    industry: str | None = None


CustomerPage = page_schema(CustomerOut, "CustomerPage")
InteractionPage = page_schema(InteractionOut, "InteractionPage")

CUSTOMER_SORTS = {
    "id": SortKey("id", "pk"),
    "name": SortKey("name", "sort_name"),
    "created_at": SortKey("created_at", "created_at"),
    "updated_at": SortKey("updated_at", "updated_at"),
}
CUSTOMER_FILTERS = (
    "email",
    "phone",
    "external_id",
    "lifecycle_stage",
    "tag",
    "owner",
    "team",
    "updated_after",
    "q",
)


class CustomerListParams(Schema):
    email: str | None = Field(None, max_length=254)
    phone: str | None = Field(None, max_length=50, description="Any format; matched as E.164.")
    external_id: str | None = Field(None, max_length=100)
    lifecycle_stage: StageName | None = None
    tag: str | None = Field(None, max_length=50)
    owner: Id | None = None
    team: Id | None = None
    updated_after: dt.datetime | None = None
    q: str | None = Field(None, max_length=200)
    cursor: str | None = Field(None, max_length=1000)
    limit: Int64 | None = Field(None, description="1 to 200; default 50.")
    sort: str | None = Field(
        None, max_length=30, description="id, name, created_at, updated_at; prefix - to reverse."
    )


def _require(request: UserRequest, action: str, target: Any = Customer) -> None:
    """The role and the API key's scopes must allow `action` on customers at all (403)."""
    actor: Any = request.user
    require(actor, action, target)


# --- Serialisation ----------------------------------------------------------------------


# The columns a list row needs (no search_text, no merge/erase bookkeeping).
# The name sort's cursor holds sort_name; it is read for that and not returned.
LIST_COLUMNS = (*CUSTOMER_SCALAR_FIELDS, "sort_name")


def customer_dicts(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Customers (rows of `.values(*LIST_COLUMNS)`) in the CustomerOut shape, through
    `customer_json` (equal to `customer_payload`; it skips model instances and pydantic
    validation, which dominate the time of a list request)."""
    points = contact_points_for([row["id"] for row in rows])
    return [
        customer_json(
            row,
            tags=points.tags.get(row["id"], ()),
            emails=points.emails.get(row["id"], []),
            phones=points.phones.get(row["id"], []),
            addresses=points.addresses.get(row["id"], []),
        )
        for row in rows
    ]


def _customer_response(customer: Customer, status: int = 200) -> HttpResponse:
    response: HttpResponse = json_response(customer_payload(customer), status=status)
    set_etag(response, customer)
    return response


def _to_input(payload: StrictSchema, kind: str | None) -> services.CustomerInput:
    """The service input from the fields the client actually sent (null clears a field)."""
    sent = payload.model_dump(exclude_unset=True)
    data = services.CustomerInput(kind=kind)
    for name, value in sent.items():
        if name == "emails":
            data.emails = [services.EmailInput(**e) for e in value or []]
        elif name == "phones":
            data.phones = [services.PhoneInput(**p) for p in value or []]
        elif name == "addresses":
            data.addresses = [services.AddressInput(**a) for a in value or []]
        elif name in {"tags", "custom_fields"}:
            setattr(data, name, value if value is not None else ([] if name == "tags" else {}))
        else:
            setattr(data, name, value)
            if value is None and name in services.SCALAR_FIELDS:
                data.cleared.add(name)
    return data


# --- Persons and organizations ----------------------------------------------------------


def _list(request: UserRequest, kind: str, params: CustomerListParams) -> HttpResponse:
    _require(request, "view", Customer)
    filters = CustomerApiFilters(
        **{name: getattr(params, name) for name in CUSTOMER_FILTERS},
    )
    qs = customers_for_api(actor=request.user, kind=kind, filters=filters)
    return keyset_list(
        qs.values(*LIST_COLUMNS),
        serialize=customer_dicts,
        sorts=CUSTOMER_SORTS,
        default_sort="id",
        sort=params.sort,
        cursor=params.cursor,
        limit=params.limit,
        fetch=plain_values,
    )


def _retrieve(request: UserRequest, kind: str, customer_id: int) -> HttpResponse:
    _require(request, "view", Customer)
    return _customer_response(customer_for_api(actor=request.user, pk=customer_id, kind=kind))


def _create(request: UserRequest, kind: str, payload: StrictSchema) -> HttpResponse:
    _require(request, "create", Customer)

    def create() -> tuple[int, dict[str, Any]]:
        customer = services.customer_create(actor=request.user, data=_to_input(payload, kind))
        return 201, customer_payload(customer)

    response = idempotent(request, create)
    if response.status_code == 201:
        body = json.loads(response.content)
        response["Location"] = f"{request.path.rstrip('/')}/{body['id']}"
        response["ETag"] = f'"{body["id"]}-{body["version"]}"'
    return response


def _update(
    request: UserRequest, kind: str, customer_id: int, payload: StrictSchema
) -> HttpResponse:
    _require(request, "edit", Customer)
    customer = customer_for_api(actor=request.user, pk=customer_id, kind=kind)
    expected = if_match_version(request, customer)
    updated = services.customer_update(
        actor=request.user,
        customer=customer,
        data=_to_input(payload, None),
        expected_version=expected,
    )
    return _customer_response(updated)


def _delete(request: UserRequest, kind: str, customer_id: int) -> HttpResponse:
    _require(request, "delete", Customer)
    customer = customer_for_api(actor=request.user, pk=customer_id, kind=kind)
    expected = if_match_version(request, customer)
    services.customer_delete(actor=request.user, customer=customer, expected_version=expected)
    return HttpResponse(status=204)


PERSON = CustomerKind.PERSON.value
ORGANIZATION = CustomerKind.ORGANIZATION.value
_ERRORS: dict[int, Any] = {}


@router.get("/persons", response=CustomerPage, summary="List persons")
def list_persons(request: UserRequest, params: Query[CustomerListParams]) -> HttpResponse:
    """Persons you may see, filtered, 50 a page by default; follow `next_cursor`."""
    return _list(request, PERSON, params)


@router.post("/persons", response={201: CustomerOut}, summary="Create a person")
def create_person(request: UserRequest, payload: PersonIn) -> HttpResponse:
    """Send `Idempotency-Key` to make a retry safe: the first response is replayed."""
    return _create(request, PERSON, payload)


@router.get("/persons/{int:customer_id}", response=CustomerOut, summary="Get a person")
def get_person(request: UserRequest, customer_id: Id) -> HttpResponse:
    """The person, with an `ETag` to send back as `If-Match` when you change it."""
    return _retrieve(request, PERSON, customer_id)


@router.patch("/persons/{int:customer_id}", response=CustomerOut, summary="Change a person")
def update_person(request: UserRequest, customer_id: Id, payload: PersonIn) -> HttpResponse:
    """Only the fields you send change; `null` clears a field. `If-Match` guards staleness."""
    return _update(request, PERSON, customer_id, payload)


@router.delete("/persons/{int:customer_id}", response={204: None}, summary="Delete a person")
def delete_person(request: UserRequest, customer_id: Id) -> HttpResponse:
    return _delete(request, PERSON, customer_id)


@router.get("/organizations", response=CustomerPage, summary="List organizations")
def list_organizations(request: UserRequest, params: Query[CustomerListParams]) -> HttpResponse:
    return _list(request, ORGANIZATION, params)


@router.post("/organizations", response={201: CustomerOut}, summary="Create an organization")
def create_organization(request: UserRequest, payload: OrganizationIn) -> HttpResponse:
    return _create(request, ORGANIZATION, payload)


@router.get("/organizations/{int:customer_id}", response=CustomerOut, summary="Get an organization")
def get_organization(request: UserRequest, customer_id: Id) -> HttpResponse:
    return _retrieve(request, ORGANIZATION, customer_id)


@router.patch(
    "/organizations/{int:customer_id}", response=CustomerOut, summary="Change an organization"
)
def update_organization(
    request: UserRequest, customer_id: Id, payload: OrganizationIn
) -> HttpResponse:
    return _update(request, ORGANIZATION, customer_id, payload)


@router.delete(
    "/organizations/{int:customer_id}", response={204: None}, summary="Delete an organization"
)
def delete_organization(request: UserRequest, customer_id: Id) -> HttpResponse:
    return _delete(request, ORGANIZATION, customer_id)


# --- Bulk upsert ------------------------------------------------------------------------

BULK_MAX_ROWS = 500


class BulkUpsertIn(StrictSchema):
    match_on: Literal["external_id", "email"] = Field(
        "external_id", description="Find an existing person by external_id or primary e-mail."
    )
    rows: list[PersonIn] = Field(min_length=1, max_length=BULK_MAX_ROWS)


class RowError(Schema):
    field: str
    message: str


class BulkRowResult(Schema):
    row: int
    status: Literal["created", "updated", "failed"]
    id: int | None
    errors: list[RowError]


class BulkUpsertOut(Schema):
    created: int
    updated: int
    failed: int
    results: list[BulkRowResult]


def _row_errors(exc: Exception) -> list[dict[str, str]]:
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            return [
                {"field": field, "message": str(message)}
                for field, messages in exc.message_dict.items()
                for message in messages
            ]
        return [{"field": "row", "message": str(m)} for m in exc.messages]
    if isinstance(exc, PermissionDenied):
        return [{"field": "row", "message": str(exc) or "You may not change this person."}]
    raise exc


def _match(actor: Any, row: PersonIn, match_on: str) -> Customer | None:
    if match_on == "external_id":
        if not row.external_id:
            raise ValidationError({"external_id": "Each row needs an external_id to match on."})
        # Unscoped on purpose: external_id is unique, so a row for a customer the caller may
        # not edit must fail (PermissionDenied in the service), not create a clash.
        found = Customer.objects.filter(external_id=row.external_id.strip()).first()
        if found is not None and found.merged_into_id is not None:
            # The record was merged away: the row updates the record it now lives on.
            found = Customer.objects.get(pk=follow_merges([found.pk])[found.pk])
        return found
    if not row.emails:
        raise ValidationError({"emails": "Each row needs an e-mail address to match on."})
    email = normalize_email(row.emails[0].email)
    matches = list(
        customers_for_api(actor=actor, kind=PERSON, action="view").filter(primary_email=email)[:2]
    )
    if len(matches) > 1:
        raise ValidationError({"emails": f"More than one person has the e-mail {email}."})
    return matches[0] if matches else None


@router.post("/persons/bulk-upsert", response=BulkUpsertOut, summary="Create or update persons")
def bulk_upsert_persons(request: UserRequest, payload: BulkUpsertIn) -> HttpResponse:
    """Up to 500 rows; each is created or updated in its own transaction, so a bad row is
    reported (`failed` with its errors) and never half-written while the others go in."""
    _require(request, "create", Customer)
    actor = request.user

    def run() -> tuple[int, dict[str, Any]]:
        results: list[dict[str, Any]] = []
        for number, row in enumerate(payload.rows, start=1):
            try:
                with transaction.atomic():  # a savepoint per row
                    existing = _match(actor, row, payload.match_on)
                    if existing is None:
                        created = services.customer_create(actor=actor, data=_to_input(row, PERSON))
                        results.append(
                            {"row": number, "status": "created", "id": created.pk, "errors": []}
                        )
                    else:
                        if existing.kind != PERSON:
                            raise ValidationError(
                                {"external_id": "This external_id belongs to an organization."}
                            )
                        data = _to_input(row, None)
                        if payload.match_on == "external_id" and existing.external_id != (
                            (row.external_id or "").strip()
                        ):
                            # Matched through a merge: the survivor keeps its own id.
                            data.external_id = None
                        updated = services.customer_update(
                            actor=actor, customer=existing, data=data
                        )
                        results.append(
                            {"row": number, "status": "updated", "id": updated.pk, "errors": []}
                        )
            except (ValidationError, PermissionDenied) as exc:
                results.append(
                    {"row": number, "status": "failed", "id": None, "errors": _row_errors(exc)}
                )
        counts = {s: sum(1 for r in results if r["status"] == s) for s in ("created", "updated")}
        failed = len(results) - counts["created"] - counts["updated"]
        return 200, {**counts, "failed": failed, "results": results}

    return idempotent(request, run)


# --- Timeline and notes -----------------------------------------------------------------

TIMELINE_SORTS = {"occurred_at": SortKey("occurred_at", "occurred_at")}


class TimelineParams(Schema):
    kind: InteractionKind | None = None
    channel: Channel | None = None
    cursor: str | None = Field(None, max_length=1000)
    limit: Int64 | None = None


def interaction_dicts(items: Sequence[Interaction]) -> list[dict[str, Any]]:
    return [InteractionOut.from_orm(i).model_dump(mode="json") for i in items]


def _timeline(
    request: UserRequest, customer_id: Id, kind: str | None, channel: str | None, params: Any
) -> HttpResponse:
    _require(request, "view", Customer)
    customer = customer_for_api(actor=request.user, pk=customer_id)
    qs = timeline_for_api(actor=request.user, customer=customer, kind=kind, channel=channel)
    return keyset_list(
        qs,
        serialize=interaction_dicts,
        sorts=TIMELINE_SORTS,
        default_sort="-occurred_at",
        sort="-occurred_at",
        cursor=params.cursor,
        limit=params.limit,
    )


@router.get(
    "/customers/{int:customer_id}/timeline",
    response=InteractionPage,
    summary="A customer's timeline",
)
def customer_timeline(
    request: UserRequest, customer_id: Id, params: Query[TimelineParams]
) -> HttpResponse:
    """Every interaction, newest first; filter by `kind` and `channel`."""
    return _timeline(request, customer_id, params.kind, params.channel, params)


class NoteIn(StrictSchema):
    customer_id: Id
    body: str = Field(min_length=1, max_length=20_000)


class NotesParams(Schema):
    customer_id: Id
    cursor: str | None = Field(None, max_length=1000)
    limit: Int64 | None = None


@router.post("/notes", response={201: InteractionOut}, summary="Add a note to a customer")
def create_note(request: UserRequest, payload: NoteIn) -> HttpResponse:
    _require(request, "edit", Customer)
    customer = customer_for_api(actor=request.user, pk=payload.customer_id)

    def create() -> tuple[int, dict[str, Any]]:
        note = services.note_add(actor=request.user, customer=customer, body=payload.body)
        return 201, InteractionOut.from_orm(note).model_dump(mode="json")

    return idempotent(request, create)


@router.get("/notes", response=InteractionPage, summary="A customer's notes")
def list_notes(request: UserRequest, params: Query[NotesParams]) -> HttpResponse:
    return _timeline(request, params.customer_id, InteractionKind.NOTE, None, params)


# --- Relationships ----------------------------------------------------------------------


class RelationshipIn(StrictSchema):
    from_customer_id: Id
    to_customer_id: Id
    kind: RelationshipKindName
    note: str = Field("", max_length=255)


class RelationshipOut(Schema):
    id: int
    from_customer_id: int
    from_customer_name: str
    to_customer_id: int
    to_customer_name: str
    kind: str
    label: str = Field(description="How it reads from the `from` side, e.g. 'Works for'.")
    inverse_label: str = Field(description="How it reads from the `to` side, e.g. 'Employs'.")
    note: str
    created_at: dt.datetime


class RelationshipPage(Schema):
    items: list[RelationshipOut]
    next_cursor: str | None = None


def _relationship_out(r: Relationship) -> dict[str, Any]:
    label, inverse = RELATIONSHIP_LABELS.get(r.kind, (r.kind, r.kind))
    return {
        "id": r.pk,
        "from_customer_id": r.from_customer_id,
        "from_customer_name": r.from_customer.display_name,
        "to_customer_id": r.to_customer_id,
        "to_customer_name": r.to_customer.display_name,
        "kind": r.kind,
        "label": label,
        "inverse_label": inverse,
        "note": r.note,
        "created_at": json_datetime(r.created_at),
    }


class RelationshipParams(Schema):
    customer_id: Id
    cursor: str | None = Field(None, max_length=1000)
    limit: Int64 | None = None


@router.get("/relationships", response=RelationshipPage, summary="A customer's relationships")
def list_relationships(request: UserRequest, params: Query[RelationshipParams]) -> HttpResponse:
    """Both directions: where the customer is `from` and where it is `to`."""
    _require(request, "view", Customer)
    customer = customer_for_api(actor=request.user, pk=params.customer_id)
    page = keyset(
        relationships_for_api(actor=request.user, customer=customer),
        sorts={"id": SortKey("id", "pk")},
        default_sort="id",
        sort=None,
        cursor=params.cursor,
        limit=params.limit,
    )
    return json_response(
        {"items": [_relationship_out(r) for r in page.items], "next_cursor": page.next_cursor}
    )


@router.post("/relationships", response={201: RelationshipOut}, summary="Relate two customers")
def create_relationship(request: UserRequest, payload: RelationshipIn) -> HttpResponse:
    _require(request, "edit", Customer)
    from_customer = customer_for_api(actor=request.user, pk=payload.from_customer_id)
    try:
        to_customer = customer_for_api(actor=request.user, pk=payload.to_customer_id)
    except Customer.DoesNotExist as exc:
        raise ProblemError(
            422,
            "Invalid request",
            "The related customer does not exist or you may not see it.",
            type="validation",
            errors=[{"field": "to_customer_id", "message": "No such customer."}],
        ) from exc

    def create() -> tuple[int, dict[str, Any]]:
        relationship = services.relationship_create(
            actor=request.user,
            from_customer=from_customer,
            to_customer=to_customer,
            kind=payload.kind,
            note=payload.note,
        )
        return 201, _relationship_out(relationship)

    return idempotent(request, create)


@router.delete("/relationships/{int:relationship_id}", response={204: None}, summary="Unrelate")
def delete_relationship(request: UserRequest, relationship_id: Id) -> HttpResponse:
    _require(request, "edit", Customer)
    relationship = relationship_for_api(actor=request.user, pk=relationship_id)
    services.relationship_delete(actor=request.user, relationship=relationship)
    return HttpResponse(status=204)
