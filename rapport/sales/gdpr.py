"""What sales holds about a person: the leads that matched or became them, and their deals.
Erasure blanks a lead's personal fields outright (a lead is nothing but the person's own
details and message), keeps deals (revenue and pipeline history) and blanks only the free
text in them that quotes the person; both are named to the audit log's redaction."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from rapport.core import registry
from rapport.core.gdpr import ErasureContext, sweep
from rapport.sales.models import Deal, Lead

LEAD_EXPORT_FIELDS = ("country", "source", "utm_source", "utm_medium", "utm_campaign", "status")
DEAL_EXPORT_FIELDS = ("id", "name", "status", "amount", "currency", "expected_close_date")
LEAD_PERSONAL_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "organization_name",
    "title",
    "message",
)
DEAL_TEXT_FIELDS = ("name", "next_step", "lost_reason", "competitors")


def _leads(customer_id: int) -> Any:
    return Lead.objects.filter(
        Q(matched_customer_id=customer_id) | Q(converted_customer_id=customer_id)
    )


def export(*, customer_id: int) -> dict[str, Any]:
    leads = _leads(customer_id).order_by("created_at", "id")
    deals = Deal.objects.filter(customer_id=customer_id).order_by("created_at", "id")
    return {
        "leads": [
            dict(row)
            for row in leads.values("id", *LEAD_PERSONAL_FIELDS, *LEAD_EXPORT_FIELDS, "created_at")
        ],
        "deals": [
            dict(row)
            for row in deals.values(*DEAL_EXPORT_FIELDS, "next_step", "lost_reason", "created_at")
        ],
    }


def erase(*, ctx: ErasureContext) -> int:
    leads = _leads(ctx.customer_id)
    ctx.add_objects("sales.lead", leads.values_list("pk", flat=True))
    blanked = leads.update(**dict.fromkeys(LEAD_PERSONAL_FIELDS, ""))
    deals = Deal.objects.filter(customer_id=ctx.customer_id)
    ctx.add_objects("sales.deal", deals.values_list("pk", flat=True))
    return blanked + sweep(deals, ctx, text_fields=DEAL_TEXT_FIELDS)


def register() -> None:
    registry.add_gdpr_contributor(
        registry.GdprContributor(
            key="sales", label="Leads and deals", erase=erase, export=export, order=25
        )
    )
