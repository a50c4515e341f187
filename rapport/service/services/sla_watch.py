"""The SLA watch (a scheduled task): warn before a target is due, mark it breached when
it passes, and escalate by the policy's rule (reassign to a person or queue). Reads the
tickets by their indexed earliest due time, so it costs the same at a million tickets."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from rapport.core import audit, outbox
from rapport.core.models import AuditAction
from rapport.core.permissions import system_actor
from rapport.core.versioning import bump_version
from rapport.service import clock
from rapport.service.models import SLAPolicy, Ticket
from rapport.service.schemas import ticket_payload

BATCH = 500


@dataclass
class WatchResult:
    warned: int = 0
    breached: int = 0
    escalated: int = 0


def _breach(ticket: Ticket, now: dt.datetime) -> list[str]:
    hit = []
    for target in clock.TARGETS:
        due = getattr(ticket, f"{target}_due")
        if due is not None and due <= now and not getattr(ticket, f"{target}_breached"):
            setattr(ticket, f"{target}_breached", True)
            hit.append(target)
    return hit


@transaction.atomic
def sla_check_breaches(*, now: dt.datetime | None = None) -> WatchResult:
    """Warn, breach and escalate every ticket whose earliest due time is near or past."""
    actor = system_actor()
    now = now or timezone.now()
    result = WatchResult()
    longest = SLAPolicy.objects.aggregate(m=Max("warn_before_minutes"))["m"] or 0
    horizon = now + dt.timedelta(minutes=longest)
    due = (
        Ticket.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(Q(sla_next_due__lte=now) | Q(sla_next_due__lte=horizon, sla_warned_at=None))
        .select_related("sla_policy")
        .order_by("sla_next_due", "id")[:BATCH]
    )
    for ticket in due:
        before = audit.snapshot(ticket)
        policy = ticket.sla_policy
        hit = _breach(ticket, now)
        event = None
        if hit:
            result.breached += 1
            event = "ticket.sla_breached"
            if policy is not None and (policy.escalate_to_id or policy.escalate_queue_id):
                if policy.escalate_to_id:
                    ticket.owner_id = policy.escalate_to_id
                if policy.escalate_queue_id:
                    ticket.queue_id = policy.escalate_queue_id
                result.escalated += 1
        elif ticket.sla_warned_at is None:
            warn = dt.timedelta(minutes=policy.warn_before_minutes if policy else 60)
            if ticket.sla_next_due and ticket.sla_next_due - now <= warn:
                ticket.sla_warned_at = now
                result.warned += 1
                event = "ticket.sla_warning"
        clock.refresh_next_due(ticket)
        if event is None:
            continue
        changes = audit.diff(before, audit.snapshot(ticket))
        # Only a reassignment is news to an agent with the ticket open (collision check).
        if "owner_id" in changes or "queue_id" in changes:
            bump_version(ticket)
        ticket.save()
        ticket.refresh_from_db()
        audit.record(actor=actor, action=AuditAction.UPDATE, obj=ticket, changes=changes)
        payload = {**ticket_payload(ticket), "targets": hit, "changed_fields": sorted(changes)}
        outbox.emit(event, payload, aggregate=ticket)
    return result
