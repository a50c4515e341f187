"""Service endpoints: tickets (CRUD through the shared builder) and, as actions beside
them, a ticket's messages, a reply (refused with 412 when the ticket changed since the
client's ETag: the collision check), an internal note, a status change and assignment."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema, Status

from rapport.core.api_crud import CrudResource, add_crud_routes, schema_from_dataclass
from rapport.core.api_fields import Id
from rapport.core.api_helpers import if_match_version, set_etag
from rapport.service import selectors, services
from rapport.service.models import Ticket
from rapport.service.schemas import MessageOut, TicketOut

router = Router(tags=["service"])

TicketIn = schema_from_dataclass(
    services.TicketInput,
    name="TicketIn",
    required=("customer_id", "subject"),
    exclude=("owner_id", "team_id"),
)
TicketPatch = schema_from_dataclass(
    services.TicketInput,
    name="TicketPatch",
    partial=True,
    exclude=("customer_id", "owner_id", "team_id"),
)
TicketFilterParams = schema_from_dataclass(selectors.TicketFilters, name="TicketFilterParams")

add_crud_routes(
    router,
    CrudResource(
        name="tickets",
        model=Ticket,
        schema_out=TicketOut,
        schema_in=TicketIn,
        schema_patch=TicketPatch,
        filters=TicketFilterParams,
        select_list=selectors.ticket_list,
        select_get=selectors.ticket_detail,
        sorts=selectors.TICKET_SORTS,
        default_sort="-last_message_at",
        create=services.ticket_create,
        update=services.ticket_update,
        delete=services.ticket_delete,
    ),
)


class ReplyIn(Schema):
    body: str
    status_id: Id | None = None


class NoteIn(Schema):
    body: str


class StatusIn(Schema):
    status_id: Id


class AssignIn(Schema):
    owner_id: Id | None = None
    team_id: Id | None = None


@router.get(
    "/tickets/{ticket_id}/messages", response=list[MessageOut], summary="A ticket's messages"
)
def ticket_messages(request: HttpRequest, ticket_id: Id) -> Any:
    ticket = selectors.ticket_detail(actor=request.user, pk=ticket_id)
    return selectors.ticket_messages(actor=request.user, ticket=ticket)


@router.post(
    "/tickets/{ticket_id}/reply",
    response={201: MessageOut},
    summary="Reply to the customer (sent by e-mail; If-Match refuses a reply to a changed ticket)",
)
def ticket_reply(
    request: HttpRequest, ticket_id: Id, payload: ReplyIn, response: HttpResponse
) -> Any:
    ticket = selectors.ticket_detail(actor=request.user, pk=ticket_id)
    message = services.ticket_reply(
        actor=request.user,
        ticket=ticket,
        body=payload.body,
        status_id=payload.status_id,
        expected_version=if_match_version(request, ticket),
    )
    return Status(201, message)


@router.post(
    "/tickets/{ticket_id}/notes", response={201: MessageOut}, summary="Add an internal note"
)
def ticket_note(request: HttpRequest, ticket_id: Id, payload: NoteIn) -> Any:
    ticket = selectors.ticket_detail(actor=request.user, pk=ticket_id)
    return Status(
        201, services.ticket_add_note(actor=request.user, ticket=ticket, body=payload.body)
    )


@router.post("/tickets/{ticket_id}/status", response=TicketOut, summary="Change a ticket's status")
def ticket_status(
    request: HttpRequest, ticket_id: Id, payload: StatusIn, response: HttpResponse
) -> Any:
    ticket = selectors.ticket_detail(actor=request.user, pk=ticket_id)
    ticket = services.ticket_set_status(
        actor=request.user,
        ticket=ticket,
        status_id=payload.status_id,
        expected_version=if_match_version(request, ticket),
    )
    set_etag(response, ticket)
    return ticket


@router.post("/tickets/{ticket_id}/assign", response=TicketOut, summary="Assign a ticket")
def ticket_assign(
    request: HttpRequest, ticket_id: Id, payload: AssignIn, response: HttpResponse
) -> Any:
    ticket = selectors.ticket_detail(actor=request.user, pk=ticket_id)
    ticket = services.ticket_assign(
        actor=request.user,
        ticket=ticket,
        owner_id=payload.owner_id,
        team_id=payload.team_id,
        expected_version=if_match_version(request, ticket),
    )
    set_etag(response, ticket)
    return ticket
