"""GDPR actions on a person: export their data, erase it."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from rapport.core import audit, outbox, registry
from rapport.core.models import AuditAction
from rapport.core.permissions import require
from rapport.customers.models import Customer, CustomerKind


def customer_export_personal_data(*, actor: Any, customer: Customer) -> Any:
    """Start a background job that builds the person's data archive (JSON + HTML, zipped).

    The archive is downloadable from the job page by its requester (or an admin) only.
    """
    from rapport.core.jobs import job_create

    require(actor, "export", customer)
    with transaction.atomic():
        job = job_create(
            owner=actor,
            kind="customers.personal_data_export",
            title=f"Personal data of {customer.display_name}",
            params={"customer_id": customer.pk},
        )
        audit.record(
            actor=actor,
            action=AuditAction.EXPORT,
            obj=customer,
            changes={"personal_data_export": {"job": str(job.pk)}},
        )
        outbox.emit(
            "customer.exported",
            {"customer_id": customer.pk, "job_id": str(job.pk)},
            aggregate=customer,
        )

    def enqueue() -> None:
        registry.enqueue("customers.export_personal_data", str(job.pk))

    transaction.on_commit(enqueue)
    return job


def _delete_personal_data_archives(customer_id: int) -> None:
    """Earlier GDPR archives of the person hold everything erasure removes: delete them."""
    from pathlib import Path

    from django.conf import settings

    from rapport.core.models import Job

    root = (Path(settings.VAR_DIR) / "files").resolve()
    jobs = Job.objects.filter(
        kind="customers.personal_data_export", params__customer_id=customer_id
    )
    for job in jobs:
        if job.result_file:
            path = (root / job.result_file).resolve()
            if root in path.parents and path.is_file():
                path.unlink()
    jobs.update(result_file="", message="Archive deleted: the person's data was erased")


@transaction.atomic
def customer_erase(*, actor: Any, customer: Customer) -> Customer:
    """Erase a person's personal data (GDPR art. 17) and keep an anonymous row.

    Orders, aggregates and timeline entries stay linked to "Erased customer #id" so
    revenue and counts stay right. Every app's GDPR contributor (`core.registry`) then
    removes its copies: this app's record, contact points and free text; merge history;
    import error rows; job files; webhook deliveries; and, last, the personal values in
    earlier audit rows and events. The audit log keeps the fact of erasure.
    """
    from rapport.core import registry
    from rapport.core.gdpr import ErasureContext

    require(actor, "delete", customer)
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if customer.kind != CustomerKind.PERSON:
        raise ValidationError({"kind": "Only a person's data can be erased."})
    if customer.erased_at is not None:
        raise ValidationError({"erased_at": "This person's data was already erased."})
    ctx = ErasureContext(
        actor=actor, customer_id=customer.pk, label=f"Erased customer #{customer.pk}"
    )
    _delete_personal_data_archives(customer.pk)
    redacted: dict[str, int] = {}
    for contributor in registry.gdpr_contributors():
        redacted[contributor.key] = contributor.erase(ctx=ctx) or 0
    customer.refresh_from_db()

    # How many rows each app rewrote, never what they said: the one audited record of the
    # sanctioned rewrite of the audit log and the other copies.
    audit.record(
        actor=actor,
        action=AuditAction.ERASE,
        obj=customer,
        changes={"erased": ["personal data", None], "redacted": redacted},
    )
    outbox.emit(
        "customer.erased",
        {
            "id": customer.pk,
            "erased_at": customer.erased_at.isoformat() if customer.erased_at else None,
        },
        aggregate=customer,
    )
    return customer
