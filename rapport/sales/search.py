"""Global search: leads by e-mail, name or organization; deals by name (prefix matches on
indexed columns where possible, narrowed to what the actor may see)."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from rapport.core.permissions import scope_queryset
from rapport.core.registry import SearchHit
from rapport.sales.models import OPEN_LEAD_STATUSES, Deal, Lead


def search(*, actor: Any, query: str, limit: int = 8) -> list[SearchHit]:
    text = query.strip()
    if len(text) < 2 or len(text) > 100:
        return []
    hits: list[SearchHit] = []
    leads = scope_queryset(Lead.objects.all(), actor=actor).filter(
        Q(email__iexact=text)
        | Q(last_name__istartswith=text)
        | Q(organization_name__istartswith=text),
        status__in=OPEN_LEAD_STATUSES,
    )
    for lead in leads.order_by("-id")[:limit]:
        hits.append(
            SearchHit(
                title=lead.name,
                subtitle=" · ".join(
                    x for x in (lead.organization_name, lead.email, lead.get_status_display()) if x
                ),
                url=lead.get_absolute_url(),
                kind="Lead",
            )
        )
    deals = scope_queryset(Deal.objects.select_related("customer", "stage"), actor=actor).filter(
        name__icontains=text
    )
    for deal in deals.order_by("-id")[:limit]:
        hits.append(
            SearchHit(
                title=deal.name,
                subtitle=f"{deal.customer.display_name} · {deal.amount:,.2f} {deal.currency} · "
                f"{deal.stage.name}",
                url=deal.get_absolute_url(),
                kind="Deal",
            )
        )
    return hits[:limit]
