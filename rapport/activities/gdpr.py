"""What activities hold about a person: the tasks, calls and meetings filed on them.
Erasure keeps the rows (a user's work history) but blanks the free text that may quote or
name the person, and names them to the audit log's redaction."""

from __future__ import annotations

from typing import Any

from rapport.activities.models import Activity
from rapport.core import registry
from rapport.core.gdpr import ErasureContext, sweep

TEXT_FIELDS = ("subject", "notes", "location", "recording_url")


def export(*, customer_id: int) -> dict[str, Any]:
    rows = (
        Activity.objects.filter(customer_id=customer_id)
        .order_by("due_at", "id")
        .values(
            "id",
            "kind",
            "status",
            "subject",
            "notes",
            "due_at",
            "starts_at",
            "ends_at",
            "completed_at",
            "call_direction",
            "call_duration_seconds",
            "call_outcome",
            "recording_url",
            "location",
            "attendee_emails",
        )
    )
    return {"activities": [dict(r) for r in rows]}


def erase(*, ctx: ErasureContext) -> int:
    activities = Activity.objects.filter(customer_id=ctx.customer_id)
    ctx.add_objects("activities.activity", activities.values_list("pk", flat=True))
    return sweep(activities, ctx, text_fields=TEXT_FIELDS, json_fields=["attendee_emails"])


def register() -> None:
    registry.add_gdpr_contributor(
        registry.GdprContributor(
            key="activities", label="Activities", erase=erase, export=export, order=25
        )
    )
