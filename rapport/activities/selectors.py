"""Reads of activities, always narrowed to what the actor may see (record scope on the
activity's owner and team), and of the actor's own notifications."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from rapport.activities.inputs import site_zone
from rapport.activities.models import (
    Activity,
    ActivityKind,
    ActivityStatus,
    Notification,
)
from rapport.core.pagination import Page, SortKey, keyset_page, parse_sort
from rapport.core.permissions import acting_user, scope_queryset

# Each sort walks an index, whatever the actor's scope and the list's size: no sort by
# subject or creation time (a million-row sort), filter by them instead.
ACTIVITY_SORTS = {
    "due": SortKey("due", "due_at"),
    "priority": SortKey("priority", "priority"),
}
MY_DAY_LIMIT = 50  # per section; the section says "and N more" past it
COUNT_CAP = 999  # badges count up to this and show "999+" past it


@dataclass
class ActivityFilters:
    """The whitelisted activity filters (UI query string and API)."""

    kind: str | None = None
    status: str | None = None
    owner_id: int | None = None
    customer_id: int | None = None
    related_type: str | None = None
    related_id: str | None = None
    due_from: dt.date | None = None
    due_to: dt.date | None = None
    q: str | None = None  # words in the subject


def _check_choice(name: str, value: str | None, choices: Any) -> None:
    if value and value not in choices.values:
        raise ValidationError(
            {name: f"Unknown {name} {value!r}. Allowed: {', '.join(choices.values)}."}
        )


def day_start(day: dt.date) -> dt.datetime:
    """Midnight of `day` in the site's time zone (a date filter means whole local days)."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=site_zone())


def visible(actor: Any, action: str = "view") -> QuerySet[Activity]:
    return scope_queryset(Activity.objects.all(), actor=actor, action=action)


def activity_list(*, actor: Any, filters: ActivityFilters | None = None) -> QuerySet[Activity]:
    """The activities the actor may see, filtered, with customer and owner (one query per
    page; attendees one more where asked for)."""
    f = filters or ActivityFilters()
    _check_choice("kind", f.kind, ActivityKind)
    _check_choice("status", f.status, ActivityStatus)
    qs = visible(actor).select_related("customer", "owner")
    if f.kind:
        qs = qs.filter(kind=f.kind)
    if f.status:
        qs = qs.filter(status=f.status)
    if f.owner_id:
        qs = qs.filter(owner_id=f.owner_id)
    if f.customer_id:
        qs = qs.filter(customer_id=f.customer_id)
    if f.related_type:
        qs = qs.filter(related_type=f.related_type)
    if f.related_id:
        qs = qs.filter(related_id=str(f.related_id))
    if f.due_from and f.due_to and f.due_from > f.due_to:
        raise ValidationError({"due_to": "The end date is before the start date."})
    if f.due_from:
        qs = qs.filter(due_at__gte=day_start(f.due_from))
    if f.due_to:
        qs = qs.filter(due_at__lt=day_start(f.due_to + dt.timedelta(days=1)))
    if f.q:
        qs = qs.filter(subject__icontains=f.q.replace("\x00", "").strip())
    return qs


def activity_page(
    *,
    actor: Any,
    filters: ActivityFilters | None = None,
    sort: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
    with_attendees: bool = False,
) -> Page[Activity]:
    """One keyset page of activities (soonest due first by default)."""
    sort_key, descending = parse_sort(sort, ACTIVITY_SORTS, "due")
    qs = activity_list(actor=actor, filters=filters)
    if with_attendees:
        qs = qs.prefetch_related("attendees")
    return keyset_page(qs, sort_key=sort_key, descending=descending, cursor=cursor, limit=limit)


def activity_detail(*, actor: Any, pk: int) -> Activity:
    """One activity the actor may see (Http404 otherwise), with its attendees."""
    qs = (
        visible(actor)
        .select_related("customer", "owner", "team")
        .prefetch_related(Prefetch("attendees"))
    )
    return get_object_or_404(qs, pk=pk)


@dataclass
class Section:
    key: str
    title: str
    items: list[Activity] = field(default_factory=list)
    more: bool = False  # more than MY_DAY_LIMIT: the section links to the full list


@dataclass
class MyDay:
    overdue: Section
    today: Section
    upcoming: Section
    day: dt.date

    @property
    def sections(self) -> list[Section]:
        return [self.overdue, self.today, self.upcoming]

    @property
    def is_empty(self) -> bool:
        return not any(s.items for s in self.sections)


def my_day(*, actor: Any, now: dt.datetime | None = None, upcoming_days: int = 7) -> MyDay:
    """The actor's own open activities: overdue, due later today, and the next days —
    three queries on the (owner, status, due_at) index whatever the actor's scope (a
    manager's day is their own work; the list shows the team's)."""
    now = now or timezone.now()
    local_now = timezone.localtime(now, site_zone())
    tomorrow = day_start(local_now.date() + dt.timedelta(days=1))
    horizon = day_start(local_now.date() + dt.timedelta(days=upcoming_days + 1))
    user = acting_user(actor)
    mine = visible(actor).filter(owner_id=user.pk if user else None, status=ActivityStatus.OPEN)
    mine = mine.select_related("customer")

    def section(key: str, title: str, qs: QuerySet[Activity]) -> Section:
        rows = list(qs.order_by("due_at", "id")[: MY_DAY_LIMIT + 1])
        return Section(key, title, rows[:MY_DAY_LIMIT], more=len(rows) > MY_DAY_LIMIT)

    return MyDay(
        overdue=section("overdue", "Overdue", mine.filter(due_at__lt=now)),
        today=section("today", "Today", mine.filter(due_at__gte=now, due_at__lt=tomorrow)),
        upcoming=section(
            "upcoming", "Upcoming", mine.filter(due_at__gte=tomorrow, due_at__lt=horizon)
        ),
        day=local_now.date(),
    )


def overdue_count(*, actor: Any, now: dt.datetime | None = None) -> int:
    """How many of the actor's own open activities are overdue (capped at COUNT_CAP + 1:
    a badge never counts a million rows)."""
    user = acting_user(actor)
    if user is None:
        return 0
    qs = visible(actor).filter(
        owner_id=user.pk, status=ActivityStatus.OPEN, due_at__lt=now or timezone.now()
    )
    return len(qs.values_list("pk", flat=True)[: COUNT_CAP + 1])


def customer_activities(*, actor: Any, customer_id: int, limit: int = 10) -> list[Activity]:
    """A customer's open activities the actor may see, soonest first (one query)."""
    qs = visible(actor).filter(customer_id=customer_id, status=ActivityStatus.OPEN)
    return list(qs.select_related("owner").order_by("due_at", "id")[:limit])


def unread_count(*, actor: Any) -> int:
    user = acting_user(actor)
    if user is None:
        return 0
    unread = Notification.objects.filter(recipient=user, read_at__isnull=True)
    return len(unread.values_list("pk", flat=True)[: COUNT_CAP + 1])


def notifications(*, actor: Any, limit: int = 50) -> list[Notification]:
    """The actor's newest notifications, unread first."""
    user = acting_user(actor)
    if user is None:
        return []
    rows = Notification.objects.filter(recipient=user).order_by("-created_at", "-id")
    return list(rows[:limit])


def notification(*, actor: Any, pk: int) -> Notification:
    """One of the actor's own notifications (Http404 for anyone else's)."""
    return get_object_or_404(Notification, pk=pk, recipient_id=getattr(actor, "pk", None) or 0)
