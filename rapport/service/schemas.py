"""The public shape of service data: what the API returns and what events carry.

Events carry no message bodies (they may quote personal data at length); the API does.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Schema


class TicketOut(Schema):
    id: int
    customer_id: int
    subject: str
    status: str
    status_category: str
    priority: str
    type: str
    queue_id: int | None
    channel: str
    tags: list[str]
    owner_id: int | None
    team_id: int | None
    sla_policy_id: int | None
    first_response_due: dt.datetime | None
    next_response_due: dt.datetime | None
    resolution_due: dt.datetime | None
    first_response_breached: bool
    next_response_breached: bool
    resolution_breached: bool
    first_responded_at: dt.datetime | None
    resolved_at: dt.datetime | None
    merged_into_id: int | None
    last_message_at: dt.datetime
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_status(obj: Any) -> str:
        return str(obj.status.name)


class AttachmentOut(Schema):
    id: int
    filename: str
    content_type: str
    size: int
    url: str

    @staticmethod
    def resolve_url(obj: Any) -> str:
        return str(obj.get_absolute_url())


class MessageOut(Schema):
    id: int
    ticket_id: int
    channel: str
    direction: str
    author_user_id: int | None
    author_customer_id: int | None
    from_address: str
    to_addresses: str
    subject: str
    body_text: str
    body_html: str
    message_id: str
    in_reply_to: str
    delivery_status: str
    created_at: dt.datetime
    attachments: list[AttachmentOut]


def ticket_payload(ticket: Any) -> dict[str, Any]:
    """The ticket as the API returns it, JSON-ready (for events and webhooks)."""
    return TicketOut.from_orm(ticket).model_dump(mode="json")


def message_payload(message: Any) -> dict[str, Any]:
    """A message's envelope for events: who, which way, on which ticket; no body."""
    return {
        "id": message.pk,
        "ticket_id": message.ticket_id,
        "channel": message.channel,
        "direction": message.direction,
        "author_user_id": message.author_user_id,
        "author_customer_id": message.author_customer_id,
        "message_id": message.message_id,
        "created_at": message.created_at.isoformat(),
    }
