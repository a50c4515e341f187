"""What webhooks hold about a person: the stored request (the event envelope) and the
receiver's answer of every delivery, kept for the delivery log and for replays."""

from __future__ import annotations

from django.db.models import Q

from rapport.core import registry
from rapport.core.gdpr import ErasureContext, chunked, sweep
from rapport.integrations.models import WebhookDelivery


def erase(*, ctx: ErasureContext) -> int:
    """Blank the deliveries of the events the outbox blanked, and of events about the
    person that the outbox has since pruned; then any other delivery quoting them. A
    replay re-sends the stored payload, so it then sends the blanked one."""
    about_person = Q(event_type__startswith="customer.", payload__data__id=ctx.customer_id) | Q(
        payload__data__customer_id=ctx.customer_id
    )
    ids = set(WebhookDelivery.objects.filter(about_person).values_list("pk", flat=True))
    for batch in chunked(sorted(ctx.event_ids)):
        ids.update(WebhookDelivery.objects.filter(event_id__in=batch).values_list("pk", flat=True))
    for pk in ids:
        delivery = WebhookDelivery.objects.only("payload").get(pk=pk)
        envelope = {k: v for k, v in (delivery.payload or {}).items() if k != "data"}
        data = (delivery.payload or {}).get("data") or {}
        ident = data.get("id") if isinstance(data, dict) else None
        WebhookDelivery.objects.filter(pk=pk).update(
            payload={**envelope, "data": {"id": ident, "erased": True}},
            response_body="",
            error="",
        )
    return len(ids) + sweep(
        WebhookDelivery.objects.all(),
        ctx,
        text_fields=["response_body", "error"],
        json_fields=["payload"],
    )


def register() -> None:
    registry.add_gdpr_contributor(
        registry.GdprContributor(
            key="integrations", label="Webhook deliveries", erase=erase, order=85
        )
    )
