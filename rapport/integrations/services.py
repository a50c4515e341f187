"""Writes of the integrations app: webhook endpoints (secret shown once), delivery rows
created from outbox events, signed sending with retries and backoff, and replays."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.client
import json
import logging
import secrets
import time
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils import timezone

from rapport.core import audit, events, registry
from rapport.core.models import AuditAction, OutboxEvent
from rapport.core.permissions import require
from rapport.integrations import outbound
from rapport.integrations.models import (
    ALL_EVENTS,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
)

logger = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"  # noqa: S105  (a label, not a secret)
# Delays after attempts 1..7; the 8th failure gives up (about 22 hours in all).
BACKOFF = [
    dt.timedelta(minutes=1),
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=15),
    dt.timedelta(hours=1),
    dt.timedelta(hours=3),
    dt.timedelta(hours=6),
    dt.timedelta(hours=12),
]
MAX_ATTEMPTS = len(BACKOFF) + 1
LOCK_FOR = dt.timedelta(minutes=2)
BATCH_SIZE = 100
AUDITED = ("url", "description", "event_types", "is_active")


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """`v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`, the Rapport-Signature value."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def _require_admin(actor: Any, action: str) -> None:
    if not getattr(actor, "is_admin", False):
        raise PermissionDenied("Only administrators manage webhooks.")
    require(actor, action, WebhookEndpoint)


def _clean_event_types(names: Iterable[str]) -> list[str]:
    wanted = sorted({n.strip() for n in names if n and n.strip()})
    if not wanted:
        raise ValidationError({"event_types": "Choose at least one event type (or all events)."})
    if ALL_EVENTS in wanted:
        return [ALL_EVENTS]
    unknown = [n for n in wanted if not events.is_registered(n)]
    if unknown:
        raise ValidationError({"event_types": f"Unknown event type(s): {', '.join(unknown)}."})
    return wanted


def _clean_url(url: str) -> str:
    url = (url or "").strip()
    if len(url) > 500:
        raise ValidationError({"url": "At most 500 characters."})
    problem = outbound.literal_address_problem(url)
    if problem:
        raise ValidationError({"url": problem})
    return url


def _audited(endpoint: WebhookEndpoint) -> dict[str, Any]:
    # Never the secret: the audit log is readable by admins and kept forever.
    return audit.snapshot(endpoint, AUDITED)


@transaction.atomic
def endpoint_create(
    *, actor: Any, url: str, event_types: Iterable[str], description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret (returned here once; stored encrypted)."""
    _require_admin(actor, "create")
    endpoint = WebhookEndpoint(
        url=_clean_url(url),
        description=(description or "").strip()[:200],
        event_types=_clean_event_types(event_types),
        created_by=actor,
    )
    secret = new_secret()
    endpoint.secret = secret
    endpoint.save(force_insert=True)
    audit.record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=endpoint,
        changes={k: [None, v] for k, v in _audited(endpoint).items()},
    )
    return endpoint, secret


@transaction.atomic
def endpoint_update(
    *,
    actor: Any,
    endpoint: WebhookEndpoint,
    url: str | None = None,
    event_types: Iterable[str] | None = None,
    description: str | None = None,
    is_active: bool | None = None,
) -> WebhookEndpoint:
    _require_admin(actor, "edit")
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    before = _audited(endpoint)
    if url is not None:
        endpoint.url = _clean_url(url)
    if event_types is not None:
        endpoint.event_types = _clean_event_types(event_types)
    if description is not None:
        endpoint.description = description.strip()[:200]
    if is_active is not None:
        endpoint.is_active = is_active
    endpoint.save()
    changes = audit.diff(before, _audited(endpoint))
    if changes:
        audit.record(actor=actor, action=AuditAction.UPDATE, obj=endpoint, changes=changes)
    return endpoint


@transaction.atomic
def endpoint_rotate_secret(*, actor: Any, endpoint: WebhookEndpoint) -> str:
    """A new secret replaces the old one at once; returned here only."""
    _require_admin(actor, "edit")
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    secret = new_secret()
    endpoint.secret = secret
    endpoint.secret_rotated_at = timezone.now()
    endpoint.save(update_fields=["secret", "secret_rotated_at", "updated_at"])
    audit.record(
        actor=actor,
        action=AuditAction.SECURITY,
        obj=endpoint,
        changes={"secret": ["(rotated)", "(rotated)"]},
    )
    return secret


@transaction.atomic
def endpoint_delete(*, actor: Any, endpoint: WebhookEndpoint) -> None:
    _require_admin(actor, "delete")
    audit.record_deleted(actor=actor, obj=endpoint, before=_audited(endpoint))
    endpoint.delete()


def enqueue_sending() -> None:
    """Start the sender after the current transaction commits (the sweep is the backstop)."""

    def start() -> None:
        try:
            registry.enqueue("integrations.send_due_webhooks")
        except Exception:
            logger.exception("Could not enqueue the webhook sender; the sweep will send")

    transaction.on_commit(start)


def deliveries_for_event(event: OutboxEvent) -> int:
    """One pending delivery per active endpoint subscribed to the event's type.

    Idempotent on (endpoint, event id): the outbox delivers at least once, and a second
    hand-over finds the rows already there.
    """
    endpoints = [
        e for e in WebhookEndpoint.objects.filter(is_active=True) if e.subscribes_to(event.type)
    ]
    if not endpoints:
        return 0
    envelope = event.as_envelope()
    rows = [
        WebhookDelivery(
            endpoint=endpoint,
            event_id=event.event_id,
            event_type=event.type,
            payload=envelope,
        )
        for endpoint in endpoints
    ]
    WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    enqueue_sending()
    return len(rows)


@transaction.atomic
def delivery_replay(*, actor: Any, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery's payload again, as a new delivery (same event id, new attempt)."""
    _require_admin(actor, "edit")
    replay = WebhookDelivery.objects.create(
        endpoint=delivery.endpoint,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        payload=delivery.payload,
        replay_of=delivery,
    )
    audit.record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=delivery.endpoint,
        changes={"replayed_delivery": [None, str(delivery.delivery_id)]},
    )
    enqueue_sending()
    return replay


def _claim(limit: int) -> list[WebhookDelivery]:
    now = timezone.now()
    ids = list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .filter(models.Q(locked_until__isnull=True) | models.Q(locked_until__lt=now))
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    if not ids:
        return []
    until = now + LOCK_FOR
    WebhookDelivery.objects.filter(id__in=ids, status=DeliveryStatus.PENDING).filter(
        models.Q(locked_until__isnull=True) | models.Q(locked_until__lt=now)
    ).update(locked_until=until)
    return list(
        WebhookDelivery.objects.filter(id__in=ids, locked_until=until)
        .select_related("endpoint")
        .order_by("id")
    )


def send_due(limit: int = BATCH_SIZE) -> int:
    """Send one batch of due deliveries; return how many were attempted."""
    batch = _claim(limit)
    for delivery in batch:
        attempt(delivery)
    return len(batch)


def attempt(delivery: WebhookDelivery) -> WebhookDelivery:
    """One signed POST of the delivery; record the answer and schedule a retry if needed."""
    endpoint = delivery.endpoint
    now = timezone.now()
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.locked_until = None
    if not endpoint.is_active:
        delivery.status = DeliveryStatus.FAILED
        delivery.error = "The endpoint was deactivated."
        delivery.save()
        return delivery
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Rapport-Webhooks/1.0",
        "Rapport-Event": delivery.event_type,
        "Rapport-Delivery": str(delivery.delivery_id),
        "Rapport-Timestamp": str(timestamp),
        "Rapport-Signature": sign(endpoint.secret, timestamp, body),
    }
    retry = True
    try:
        response = outbound.post(endpoint.url, body, headers)
    except outbound.DeliveryRefused as exc:
        # A refused target is refused again on retry unless DNS changes; retry anyway
        # (DNS does change), but say clearly why.
        delivery.error = f"Refused: {exc}"
        delivery.response_status_code = None
        delivery.response_body = ""
        delivery.duration_ms = None
    except (OSError, http.client.HTTPException) as exc:
        delivery.error = f"{type(exc).__name__}: {exc}"[:2000]
        delivery.response_status_code = None
        delivery.response_body = ""
        delivery.duration_ms = int((timezone.now() - now).total_seconds() * 1000)
    else:
        delivery.response_status_code = response.status
        delivery.response_body = response.body
        delivery.duration_ms = response.duration_ms
        if 200 <= response.status < 300:
            retry = False
            delivery.error = ""
            delivery.status = DeliveryStatus.SUCCEEDED
            delivery.delivered_at = timezone.now()
        else:
            delivery.error = f"The receiver answered {response.status}."
    if retry:
        if delivery.attempts >= MAX_ATTEMPTS:
            delivery.status = DeliveryStatus.FAILED
        else:
            delivery.next_attempt_at = timezone.now() + BACKOFF[delivery.attempts - 1]
    delivery.save()
    return delivery
