"""The consent ledger: grants and withdrawals, appended, never edited."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from rapport.core import audit, outbox
from rapport.core.permissions import acting_user, require
from rapport.customers import normalize
from rapport.customers.models import (
    ConsentChannel,
    ConsentPurpose,
    ConsentRecord,
    ConsentStatus,
    Customer,
    InteractionKind,
)
from rapport.customers.services.interactions import interaction_record


@transaction.atomic
def consent_record(
    *,
    actor: Any,
    customer: Customer,
    channel: str,
    purpose: str,
    status: str,
    method: str,
    text_shown: str = "",
    evidence: str = "",
    occurred_at: dt.datetime | None = None,
) -> ConsentRecord:
    """Append a grant or withdrawal to the consent ledger (never edited afterwards)."""
    require(actor, "edit", customer)
    errors: dict[str, list[str]] = {}
    if channel not in ConsentChannel.values:
        errors["channel"] = [f"{channel!r} is not one of: {', '.join(ConsentChannel.values)}."]
    if purpose not in ConsentPurpose.values:
        errors["purpose"] = [f"{purpose!r} is not one of: {', '.join(ConsentPurpose.values)}."]
    if status not in ConsentStatus.values:
        errors["status"] = [f"{status!r} is not one of: {', '.join(ConsentStatus.values)}."]
    method = normalize.clean_text(method, max_length=50)
    if not method:
        errors["method"] = ["Say how the consent was given or withdrawn (web form, call…)."]
    if occurred_at is not None and occurred_at > timezone.now() + dt.timedelta(minutes=5):
        errors["occurred_at"] = ["Consent cannot be recorded in the future."]
    if errors:
        raise ValidationError(errors)
    record = ConsentRecord.objects.create(
        customer=customer,
        channel=channel,
        purpose=purpose,
        status=status,
        occurred_at=occurred_at or timezone.now(),
        method=method,
        text_shown=(text_shown or "").strip()[:5000],
        evidence=normalize.clean_text(evidence, max_length=255),
        recorded_by=acting_user(actor),
    )
    verb = "granted" if status == ConsentStatus.GRANTED else "withdrew"
    interaction_record(
        actor=actor,
        customer=customer,
        kind=InteractionKind.CONSENT,
        summary=(
            f"Consent {verb}: {ConsentPurpose(purpose).label} by "
            f"{ConsentChannel(channel).label} ({method})"
        ),
        occurred_at=record.occurred_at,
        source=record,
        data={"channel": channel, "purpose": purpose, "status": status},
    )
    audit.record_created(actor=actor, obj=record)
    outbox.emit(
        "consent.recorded",
        {
            "id": record.pk,
            "customer_id": customer.pk,
            "channel": channel,
            "purpose": purpose,
            "status": status,
            "method": method,
            "occurred_at": record.occurred_at.isoformat(),
        },
        aggregate=customer,
    )
    return record
