"""Reads of service, always narrowed to what the actor may see: tickets by record scope
(owner = assignee, team), messages and attachments through their ticket."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from rapport.core.pagination import Page, SortKey, keyset_page, parse_sort
from rapport.core.permissions import can, require, scope_queryset
from rapport.service.models import (
    DONE_CATEGORIES,
    Attachment,
    BusinessCalendar,
    Mailbox,
    Message,
    Priority,
    Queue,
    SLAPolicy,
    StatusCategory,
    Ticket,
    TicketStatus,
)

TICKET_SORTS = {
    "last_message_at": SortKey("last_message_at", "last_message_at"),
    "created": SortKey("created", "created_at"),
    "due": SortKey("due", "sla_next_due"),
    "id": SortKey("id", "pk"),
}
# The inbox's saved views: what each one means.
VIEWS = {
    "open": "Open tickets",
    "mine": "My open tickets",
    "unassigned": "Unassigned",
    "breaching": "Breaching soon",
    "breached": "Breached",
    "waiting": "Waiting on customer",
    "solved": "Solved and closed",
    "all": "All tickets",
}
OPEN_CATEGORIES = (StatusCategory.OPEN, StatusCategory.ON_HOLD, StatusCategory.WAITING_ON_CUSTOMER)
BREACHING_WINDOW = dt.timedelta(hours=2)


@dataclass
class TicketFilters:
    """The whitelisted ticket filters (inbox query string and API)."""

    view: str | None = None
    queue_id: int | None = None
    status_id: int | None = None
    priority: str | None = None
    customer_id: int | None = None
    owner_id: int | None = None
    tag: str | None = None
    q: str | None = None  # subject contains, or #number


def _view(qs: QuerySet[Ticket], view: str, actor: Any) -> QuerySet[Ticket]:
    now = timezone.now()
    if view not in VIEWS:
        raise ValidationError({"view": f"Unknown view {view!r}. Allowed: {', '.join(VIEWS)}."})
    if view == "open":
        return qs.filter(status_category=StatusCategory.OPEN)
    if view == "mine":
        return qs.filter(owner_id=actor.pk, status_category__in=OPEN_CATEGORIES)
    if view == "unassigned":
        return qs.filter(owner_id=None, status_category=StatusCategory.OPEN)
    if view == "breaching":
        return qs.filter(sla_next_due__lte=now + BREACHING_WINDOW)
    if view == "breached":
        return qs.filter(
            Q(first_response_breached=True)
            | Q(next_response_breached=True)
            | Q(resolution_breached=True)
        )
    if view == "waiting":
        return qs.filter(status_category=StatusCategory.WAITING_ON_CUSTOMER)
    if view == "solved":
        return qs.filter(status_category__in=DONE_CATEGORIES)
    return qs


def ticket_list(*, actor: Any, filters: TicketFilters | None = None) -> QuerySet[Ticket]:
    """The tickets the actor may see, filtered, with what a list row shows (one query)."""
    qs = scope_queryset(
        Ticket.objects.select_related("customer", "status", "queue", "owner", "sla_policy"),
        actor=actor,
    )
    f = filters or TicketFilters()
    if f.view:
        qs = _view(qs, f.view, actor)
    if f.priority:
        if f.priority not in Priority.values:
            raise ValidationError({"priority": f"Unknown priority {f.priority!r}."})
        qs = qs.filter(priority=f.priority)
    for name in ("queue_id", "status_id", "customer_id", "owner_id"):
        if getattr(f, name):
            qs = qs.filter(**{name: getattr(f, name)})
    if f.tag:
        tag = f.tag.replace("\x00", "").lower()  # PostgreSQL refuses NUL in text
        qs = (
            qs.filter(tags__contains=[tag])
            if _json_contains()
            else qs.filter(tags__icontains=f'"{tag}"')
        )
    if f.q:
        text = f.q.replace("\x00", "").strip()
        if text.lstrip("#").isdigit():
            qs = qs.filter(pk=int(text.lstrip("#")))
        else:
            qs = qs.filter(subject__icontains=text)
    return qs


def _json_contains() -> bool:
    from django.db import connection

    return bool(connection.features.supports_json_field_contains)


def ticket_page(
    *,
    actor: Any,
    filters: TicketFilters | None = None,
    sort: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[Ticket]:
    """One keyset page of tickets (latest activity first by default)."""
    sort_key, descending = parse_sort(sort, TICKET_SORTS, "-last_message_at")
    return keyset_page(
        ticket_list(actor=actor, filters=filters),
        sort_key=sort_key,
        descending=descending,
        cursor=cursor,
        limit=limit,
    )


def ticket_detail(*, actor: Any, pk: int) -> Ticket:
    """One ticket the actor may see (404 otherwise)."""
    return get_object_or_404(ticket_list(actor=actor), pk=pk)


def ticket_messages(*, actor: Any, ticket: Ticket) -> list[Message]:
    """The conversation, oldest first, with attachments (two queries)."""
    if not can(actor, "view", ticket):
        raise Http404
    return list(
        Message.objects.filter(ticket=ticket)
        .select_related("author_user", "author_customer")
        .prefetch_related("attachments")
        .order_by("created_at", "id")
    )


def message_list(*, actor: Any, ticket_id: int | None = None) -> QuerySet[Message]:
    """Messages of the tickets the actor may see."""
    qs = Message.objects.filter(ticket__in=ticket_list(actor=actor)).prefetch_related("attachments")
    return qs.filter(ticket_id=ticket_id) if ticket_id else qs


def attachment_for(*, actor: Any, pk: int) -> Attachment:
    """An attachment, only for someone who may see its ticket (404 otherwise)."""
    attachment = get_object_or_404(Attachment.objects.select_related("message__ticket"), pk=pk)
    if not can(actor, "view", attachment.message.ticket):
        raise Http404
    return attachment


def customer_tickets(*, actor: Any, customer_id: int, limit: int = 10) -> list[Ticket]:
    """A customer's latest tickets, for the 360° page."""
    qs = scope_queryset(
        Ticket.objects.filter(customer_id=customer_id).select_related("status"), actor=actor
    )
    return list(qs.order_by("-created_at", "-id")[:limit])


COUNT_CAP = 1000


def view_counts(*, actor: Any) -> dict[str, int]:
    """How many tickets each saved view holds (the inbox sidebar), counted up to
    COUNT_CAP each (the page shows "1000+"): each count is an index range scan that stops
    at the cap, so the sidebar costs the same at a million tickets."""
    counts = {}
    for view in ("open", "mine", "unassigned", "breaching", "waiting"):
        qs = _view(scope_queryset(Ticket.objects.all(), actor=actor), view, actor)
        counts[view] = qs.order_by().values("pk")[:COUNT_CAP].count()
    return counts


def breach_report(*, actor: Any, since: dt.datetime) -> dict[str, Any]:
    """Breaches per target and per queue among tickets opened since `since`."""
    qs = scope_queryset(Ticket.objects.filter(created_at__gte=since), actor=actor)
    totals = qs.aggregate(
        tickets=Count("pk"),
        with_sla=Count("pk", filter=Q(sla_policy__isnull=False)),
        first_response=Count("pk", filter=Q(first_response_breached=True)),
        next_response=Count("pk", filter=Q(next_response_breached=True)),
        resolution=Count("pk", filter=Q(resolution_breached=True)),
    )
    by_queue = list(
        qs.values("queue__name")
        .annotate(
            tickets=Count("pk"),
            breaches=Count(
                "pk",
                filter=Q(first_response_breached=True)
                | Q(next_response_breached=True)
                | Q(resolution_breached=True),
            ),
        )
        .order_by("queue__name")
    )
    recent = list(
        qs.filter(
            Q(first_response_breached=True)
            | Q(next_response_breached=True)
            | Q(resolution_breached=True)
        )
        .select_related("customer", "status", "owner", "queue")
        .order_by("-created_at", "-id")[:50]
    )
    return {"totals": totals, "by_queue": by_queue, "recent": recent}


def settings_overview(*, actor: Any) -> dict[str, Any]:
    """Everything on the service settings pages (administrators only)."""
    require(actor, "view", "service.settings")
    return {
        "mailboxes": list(Mailbox.objects.prefetch_related("folder_states").order_by("name")),
        "queues": list(Queue.objects.select_related("team")),
        "statuses": list(TicketStatus.objects.all()),
        "calendars": list(BusinessCalendar.objects.order_by("name")),
        "policies": list(SLAPolicy.objects.select_related("calendar")),
    }


def mailbox_for_webhook(*, pk: int, token_hash: str) -> Mailbox | None:
    """The enabled mailbox whose webhook token hashes to `token_hash`, else None."""
    import hmac

    mailbox = Mailbox.objects.filter(pk=pk, enabled=True).first()
    if mailbox is None or not mailbox.webhook_token_hash:
        return None
    return mailbox if hmac.compare_digest(mailbox.webhook_token_hash, token_hash) else None


def queues() -> list[Queue]:
    return list(Queue.objects.all())


def statuses() -> list[TicketStatus]:
    return list(TicketStatus.objects.all())


def signature_of(*, actor: Any) -> str:
    """The acting agent's own reply signature ("" when none)."""
    from rapport.service.models import AgentProfile

    pk = getattr(actor, "pk", None)
    profile = AgentProfile.objects.filter(user_id=pk).first() if pk else None
    return profile.signature if profile else ""
