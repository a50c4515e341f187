"""Reads of the integrations app; webhooks are for administrators only."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max, Q, QuerySet

from rapport.core.permissions import require, scope_queryset
from rapport.integrations.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint


def _check_admin(actor: Any) -> None:
    if not getattr(actor, "is_admin", False):
        raise PermissionDenied("Only administrators manage webhooks.")
    # An administrator's API key without a webhooks scope: 403, not an empty list.
    require(actor, "view", WebhookEndpoint)


def endpoint_list(*, actor: Any) -> QuerySet[WebhookEndpoint]:
    _check_admin(actor)
    return scope_queryset(WebhookEndpoint.objects.all(), actor=actor).annotate(
        last_delivery_at=Max("deliveries__last_attempt_at"),
        failing=Count(
            "deliveries", filter=Q(deliveries__status=DeliveryStatus.FAILED), distinct=True
        ),
    )


def endpoint_get(*, actor: Any, pk: int) -> WebhookEndpoint:
    _check_admin(actor)
    return scope_queryset(WebhookEndpoint.objects.all(), actor=actor).get(pk=pk)


def deliveries_for(*, actor: Any, endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    _check_admin(actor)
    return WebhookDelivery.objects.filter(endpoint=endpoint).defer("payload")


def delivery_get(*, actor: Any, endpoint: WebhookEndpoint, pk: int) -> WebhookDelivery:
    _check_admin(actor)
    return WebhookDelivery.objects.select_related("endpoint").get(endpoint=endpoint, pk=pk)
