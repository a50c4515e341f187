"""Webhook endpoints over the API, for administrators (key scope
`integrations.webhookendpoint:read|write`). The secret is returned once, by create and by
rotate-secret, and never by any read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema
from pydantic import ConfigDict

from rapport.core import events
from rapport.core.api_fields import Id, Int64
from rapport.core.api_helpers import json_response, keyset_list, page_schema
from rapport.core.pagination import SortKey
from rapport.integrations import selectors, services
from rapport.integrations.models import WebhookDelivery, WebhookEndpoint

router = Router(tags=["webhooks"])


class EndpointIn(Schema):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=500)
    event_types: list[str] = Field(description='Event type names, or ["*"] for all.')
    description: str = Field("", max_length=200)


class EndpointPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(None, max_length=500)
    event_types: list[str] | None = None
    description: str | None = Field(None, max_length=200)
    is_active: bool | None = None


class EndpointOut(Schema):
    id: int
    url: str
    description: str
    event_types: list[str]
    is_active: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    secret_rotated_at: dt.datetime


class EndpointWithSecretOut(EndpointOut):
    secret: str = Field(description="Shown only in this response. Store it now.")


class DeliveryOut(Schema):
    id: int
    delivery_id: str
    event_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: dt.datetime
    last_attempt_at: dt.datetime | None
    delivered_at: dt.datetime | None
    response_status_code: int | None
    response_body: str
    duration_ms: int | None
    error: str
    replay_of_id: int | None
    created_at: dt.datetime


class EventTypeOut(Schema):
    name: str
    description: str


DeliveryPage = page_schema(DeliveryOut, "WebhookDeliveryPage")


class PageParams(Schema):
    cursor: str | None = Field(None, max_length=1000)
    limit: Int64 | None = None


def _out(endpoint: WebhookEndpoint, secret: str | None = None) -> dict[str, Any]:
    body = EndpointOut.from_orm(endpoint).model_dump(mode="json")
    if secret is not None:
        body["secret"] = secret
    return body


def _deliveries(items: Sequence[WebhookDelivery]) -> list[dict[str, Any]]:
    return [
        DeliveryOut.model_validate(
            {
                **{
                    f: getattr(d, f)
                    for f in DeliveryOut.model_fields
                    if f not in {"delivery_id", "event_id"}
                },
                "delivery_id": str(d.delivery_id),
                "event_id": str(d.event_id),
            }
        ).model_dump(mode="json")
        for d in items
    ]


@router.get("/webhook-event-types", response=list[EventTypeOut], summary="Event catalogue")
def event_types(request: HttpRequest) -> Any:
    """Every event type a webhook can subscribe to."""
    return [{"name": e.name, "description": e.description} for e in events.catalogue()]


@router.get("/webhooks", response=list[EndpointOut], summary="List webhooks")
def list_webhooks(request: HttpRequest) -> Any:
    return [_out(e) for e in selectors.endpoint_list(actor=request.user)]


@router.post("/webhooks", response={201: EndpointWithSecretOut}, summary="Add a webhook")
def create_webhook(request: HttpRequest, payload: EndpointIn) -> HttpResponse:
    endpoint, secret = services.endpoint_create(
        actor=request.user,
        url=payload.url,
        event_types=payload.event_types,
        description=payload.description,
    )
    return json_response(_out(endpoint, secret), status=201)


@router.get("/webhooks/{int:endpoint_id}", response=EndpointOut, summary="Get a webhook")
def get_webhook(request: HttpRequest, endpoint_id: Id) -> Any:
    return _out(selectors.endpoint_get(actor=request.user, pk=endpoint_id))


@router.patch("/webhooks/{int:endpoint_id}", response=EndpointOut, summary="Change a webhook")
def update_webhook(request: HttpRequest, endpoint_id: Id, payload: EndpointPatch) -> Any:
    endpoint = selectors.endpoint_get(actor=request.user, pk=endpoint_id)
    sent = payload.model_dump(exclude_unset=True)
    endpoint = services.endpoint_update(actor=request.user, endpoint=endpoint, **sent)
    return _out(endpoint)


@router.delete("/webhooks/{int:endpoint_id}", response={204: None}, summary="Delete a webhook")
def delete_webhook(request: HttpRequest, endpoint_id: Id) -> HttpResponse:
    endpoint = selectors.endpoint_get(actor=request.user, pk=endpoint_id)
    services.endpoint_delete(actor=request.user, endpoint=endpoint)
    return HttpResponse(status=204)


@router.post(
    "/webhooks/{int:endpoint_id}/rotate-secret",
    response=EndpointWithSecretOut,
    summary="Replace a webhook's signing secret",
)
def rotate_secret(request: HttpRequest, endpoint_id: Id) -> Any:
    endpoint = selectors.endpoint_get(actor=request.user, pk=endpoint_id)
    secret = services.endpoint_rotate_secret(actor=request.user, endpoint=endpoint)
    endpoint.refresh_from_db()
    return _out(endpoint, secret)


@router.get("/webhooks/{int:endpoint_id}/deliveries", response=DeliveryPage, summary="Delivery log")
def list_deliveries(
    request: HttpRequest, endpoint_id: Id, params: Query[PageParams]
) -> HttpResponse:
    endpoint = selectors.endpoint_get(actor=request.user, pk=endpoint_id)
    return keyset_list(
        selectors.deliveries_for(actor=request.user, endpoint=endpoint),
        serialize=_deliveries,
        sorts={"id": SortKey("id", "pk")},
        default_sort="-id",
        sort="-id",
        cursor=params.cursor,
        limit=params.limit,
    )


@router.post(
    "/webhooks/{int:endpoint_id}/deliveries/{int:delivery_id}/replay",
    response={202: DeliveryOut},
    summary="Send a delivery again",
)
def replay_delivery(request: HttpRequest, endpoint_id: Id, delivery_id: Id) -> HttpResponse:
    endpoint = selectors.endpoint_get(actor=request.user, pk=endpoint_id)
    delivery = selectors.delivery_get(actor=request.user, endpoint=endpoint, pk=delivery_id)
    replay = services.delivery_replay(actor=request.user, delivery=delivery)
    return json_response(_deliveries([replay])[0], status=202)
