"""Core's GDPR contributors: what the kernel's own tables and files hold about a person
(jobs, stored API responses, saved views, stored files, the outbox and, last, the audit
log). Apart from `core.gdpr`'s tools because the audit log's redaction uses those tools."""

from __future__ import annotations

import logging
from typing import Any

from rapport.core import audit, registry
from rapport.core.gdpr import ErasureContext, chunked, scrub_files, sweep
from rapport.core.models import IdempotencyRecord, Job, OutboxEvent, SavedView

logger = logging.getLogger(__name__)


def _erase_outbox(*, ctx: ErasureContext) -> int:
    # Events about the person's records say only which record and that it was erased.
    for object_type, ids in ctx.objects.items():
        for aggregate_id in sorted(ids):
            events = OutboxEvent.objects.filter(
                aggregate_type=object_type, aggregate_id=aggregate_id
            )
            found = [str(e) for e in events.values_list("event_id", flat=True)]
            if found:
                ctx.event_ids.update(found)
                ident: Any = int(aggregate_id) if aggregate_id.isdigit() else aggregate_id
                events.update(data={"id": ident, "erased": True})
    # Other events may carry their values (an order's customer, a merge's loser).
    swept = sweep(OutboxEvent.objects.all(), ctx, text_fields=["last_error"], json_fields=["data"])
    return len(ctx.event_ids) + swept


def _erase_audit(*, ctx: ErasureContext) -> int:
    redacted = 0
    for object_type, ids in ctx.objects.items():
        for batch in chunked(sorted(ids)):
            redacted += audit.redact_for_erasure(
                object_type=object_type, object_ids=batch, object_repr=ctx.label
            )
    return redacted + audit.redact_personal_values(ctx)


def _erase_jobs(*, ctx: ErasureContext) -> int:
    return sweep(
        Job.objects.all(),
        ctx,
        text_fields=["title", "message", "error"],
        json_fields=["params", "result"],
    )


def _erase_idempotency_records(*, ctx: ErasureContext) -> int:
    return sweep(IdempotencyRecord.objects.all(), ctx, json_fields=["response_body"])


def _erase_saved_views(*, ctx: ErasureContext) -> int:
    return sweep(SavedView.objects.all(), ctx, json_fields=["params"])


def _erase_files(*, ctx: ErasureContext) -> int:
    touched = scrub_files(ctx)
    if touched:
        logger.info("GDPR erasure of customer %s rewrote %d files", ctx.customer_id, len(touched))
    return len(touched)


def register() -> None:
    for key, label, erase, order in (
        ("core.jobs", "Background jobs", _erase_jobs, 50),
        ("core.idempotency", "Stored API responses", _erase_idempotency_records, 50),
        ("core.saved_views", "Saved list views", _erase_saved_views, 50),
        ("core.files", "Stored files", _erase_files, 60),
        ("core.outbox", "Domain events", _erase_outbox, 80),
        ("core.audit", "Audit log", _erase_audit, 90),
    ):
        registry.add_gdpr_contributor(
            registry.GdprContributor(key=key, label=label, erase=erase, order=order)
        )
