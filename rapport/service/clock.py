"""The SLA clocks of one ticket: which policy applies, when each target is due, and what
pauses, meets or breaches them. Helpers of the ticket services (no writes of their own:
the calling service saves the ticket, audits and emits)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rapport.service import sla
from rapport.service.models import (
    DONE_CATEGORIES,
    PAUSED_CATEGORIES,
    BusinessCalendar,
    SLAPolicy,
    Ticket,
)

TARGETS = ("first_response", "next_response", "resolution")


def calendar_of(calendar: BusinessCalendar) -> sla.Calendar:
    return sla.calendar_from_settings(
        time_zone=calendar.time_zone,
        weekly_hours=calendar.weekly_hours,
        holidays=calendar.holidays,
    )


def policy_for(ticket: Ticket, customer_tags: set[str] | None = None) -> SLAPolicy | None:
    """The first active policy (by position) whose priority and customer tier match."""
    if customer_tags is None:
        customer_tags = set(ticket.customer.tags.values_list("name", flat=True))
    for policy in SLAPolicy.objects.filter(active=True).select_related("calendar"):
        if policy.priority and policy.priority != ticket.priority:
            continue
        if policy.customer_tag and policy.customer_tag not in customer_tags:
            continue
        return policy
    return None


def _minutes(policy: SLAPolicy, target: str) -> int | None:
    value = getattr(policy, f"{target}_minutes")
    return int(value) if value else None


def refresh_next_due(ticket: Ticket) -> None:
    """sla_next_due: the earliest target not yet breached (what the breach worker reads);
    a new earliest target may warn again."""
    dues = [
        getattr(ticket, f"{t}_due")
        for t in TARGETS
        if getattr(ticket, f"{t}_due") and not getattr(ticket, f"{t}_breached")
    ]
    next_due = min(dues) if dues else None
    if next_due != ticket.sla_next_due:
        ticket.sla_warned_at = None
    ticket.sla_next_due = next_due


def start(ticket: Ticket, *, now: dt.datetime, customer_tags: set[str] | None = None) -> None:
    """Pick the policy and set the first-response and resolution due times from the
    ticket's creation (plus the working time it has spent paused)."""
    policy = policy_for(ticket, customer_tags)
    ticket.sla_policy = policy
    if policy is None:
        for t in TARGETS:
            setattr(ticket, f"{t}_due", None)
        refresh_next_due(ticket)
        return
    cal = calendar_of(policy.calendar)
    paused = dt.timedelta(seconds=int(ticket.sla_remaining.get("paused_total", 0)))
    for t in ("first_response", "resolution"):
        minutes = _minutes(policy, t)
        done = ticket.first_responded_at if t == "first_response" else ticket.resolved_at
        if minutes is None or done is not None:
            setattr(ticket, f"{t}_due", None)
            continue
        setattr(
            ticket,
            f"{t}_due",
            sla.add_business_time(cal, ticket.created_at, dt.timedelta(minutes=minutes) + paused),
        )
    if ticket.status_category in PAUSED_CATEGORIES:
        pause(ticket, now=now)
    refresh_next_due(ticket)


def _met(ticket: Ticket, target: str, now: dt.datetime) -> None:
    due = getattr(ticket, f"{target}_due")
    if due is not None and now > due:
        setattr(ticket, f"{target}_breached", True)
    setattr(ticket, f"{target}_due", None)


def agent_replied(ticket: Ticket, *, now: dt.datetime) -> None:
    """A reply to the customer meets the first (or the next) response target."""
    if ticket.first_responded_at is None:
        ticket.first_responded_at = now
        _met(ticket, "first_response", now)
    _met(ticket, "next_response", now)
    ticket.sla_remaining.pop("next_response", None)
    refresh_next_due(ticket)


def customer_wrote(ticket: Ticket, *, now: dt.datetime) -> None:
    """A customer's message after the first response starts the next-response clock."""
    policy = ticket.sla_policy
    if policy is None or ticket.first_responded_at is None or ticket.next_response_due:
        return
    minutes = _minutes(policy, "next_response")
    if minutes is None:
        return
    if ticket.status_category in PAUSED_CATEGORIES:
        ticket.sla_remaining["next_response"] = minutes * 60
        return
    ticket.next_response_due = sla.add_business_time(
        calendar_of(policy.calendar), now, dt.timedelta(minutes=minutes)
    )
    refresh_next_due(ticket)


def pause(ticket: Ticket, *, now: dt.datetime) -> None:
    """Stop the clocks: keep the working time left on each running target."""
    if ticket.sla_paused_at is not None or ticket.sla_policy is None:
        return
    cal = calendar_of(ticket.sla_policy.calendar)
    ticket.sla_paused_at = now
    for t in TARGETS:
        due = getattr(ticket, f"{t}_due")
        if due is None or getattr(ticket, f"{t}_breached"):
            continue
        left = sla.business_time_between(cal, now, due)
        ticket.sla_remaining[t] = int(left.total_seconds())
        setattr(ticket, f"{t}_due", None)
    refresh_next_due(ticket)


def resume(ticket: Ticket, *, now: dt.datetime) -> None:
    """Start the clocks again with the working time they had left."""
    if ticket.sla_paused_at is None or ticket.sla_policy is None:
        ticket.sla_paused_at = None
        return
    cal = calendar_of(ticket.sla_policy.calendar)
    paused = sla.business_time_between(cal, ticket.sla_paused_at, now)
    total = int(ticket.sla_remaining.get("paused_total", 0)) + int(paused.total_seconds())
    for t in TARGETS:
        left = ticket.sla_remaining.pop(t, None)
        if left is not None:
            setattr(ticket, f"{t}_due", sla.add_business_time(cal, now, dt.timedelta(seconds=left)))
    ticket.sla_remaining["paused_total"] = total
    ticket.sla_paused_at = None
    refresh_next_due(ticket)


def status_moved(ticket: Ticket, *, previous: str, now: dt.datetime) -> None:
    """Apply a change of status category to the clocks."""
    current = ticket.status_category
    if current in DONE_CATEGORIES:
        if ticket.sla_paused_at is not None:
            resume(ticket, now=now)
        if ticket.resolved_at is None:
            ticket.resolved_at = now
        for t in TARGETS:
            _met(ticket, t, now) if t == "resolution" else setattr(ticket, f"{t}_due", None)
        ticket.sla_remaining = {
            k: v for k, v in ticket.sla_remaining.items() if k == "paused_total"
        }
        refresh_next_due(ticket)
        return
    if previous in DONE_CATEGORIES:
        ticket.resolved_at = None  # reopened; its resolution target was already judged
    if current in PAUSED_CATEGORIES:
        pause(ticket, now=now)
    else:
        resume(ticket, now=now)


def due_state(ticket: Any, *, now: dt.datetime) -> str:
    """ "breached", "warning" or "" for badges in lists."""
    if ticket.breached:
        return "breached"
    due = ticket.sla_next_due
    if due is None:
        return ""
    if due <= now:
        return "breached"
    warn = ticket.sla_policy.warn_before_minutes if ticket.sla_policy_id else 60
    return "warning" if due - now <= dt.timedelta(minutes=warn) else ""
