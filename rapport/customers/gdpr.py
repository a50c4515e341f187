"""The GDPR data archive of one person: everything we hold about them, as JSON for
machines and as a readable HTML page for people, zipped together."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.template.loader import render_to_string
from django.utils import timezone

from rapport.core.models import AuditLogEntry
from rapport.customers.custom_fields import definitions
from rapport.customers.models import (
    RELATIONSHIP_LABELS,
    Affiliation,
    ConsentRecord,
    Customer,
    Interaction,
    Relationship,
)
from rapport.customers.schemas import customer_payload

CUSTOMER_TYPE = "customers.customer"


def personal_data(customer_id: int) -> dict[str, Any]:
    """Every fact about the customer, as plain JSON-ready data."""
    customer = Customer.objects.prefetch_related("tags", "emails", "phones", "addresses").get(
        pk=customer_id
    )
    profile = customer_payload(customer)
    labels = {d.key: d.label for d in definitions(CUSTOMER_TYPE).values()}
    relationships = [
        {
            "relation": RELATIONSHIP_LABELS[r.kind][0],
            "customer": r.to_customer.display_name,
            "customer_id": r.to_customer_id,
            "note": r.note,
        }
        for r in Relationship.objects.filter(from_customer=customer).select_related("to_customer")
    ] + [
        {
            "relation": RELATIONSHIP_LABELS[r.kind][1],
            "customer": r.from_customer.display_name,
            "customer_id": r.from_customer_id,
            "note": r.note,
        }
        for r in Relationship.objects.filter(to_customer=customer).select_related("from_customer")
    ]
    affiliations = [
        {
            "organization": a.organization.display_name,
            "title": a.title,
            "started_on": a.started_on,
            "ended_on": a.ended_on,
        }
        for a in Affiliation.objects.filter(person=customer).select_related("organization")
    ]
    consents = list(
        ConsentRecord.objects.filter(customer=customer)
        .order_by("occurred_at", "id")
        .values("channel", "purpose", "status", "occurred_at", "method", "text_shown", "evidence")
    )
    timeline = list(
        Interaction.objects.filter(customer=customer)
        .order_by("occurred_at", "id")
        .values("occurred_at", "kind", "channel", "direction", "summary", "body")
        .iterator(chunk_size=2000)
    )
    history = list(
        AuditLogEntry.objects.filter(object_type=CUSTOMER_TYPE, object_id=str(customer.pk))
        .order_by("occurred_at", "id")
        .values("occurred_at", "action", "actor_label", "changes")
    )
    return {
        "generated_at": timezone.now(),
        "profile": profile,
        "custom_fields": [
            {"field": labels.get(k, k), "key": k, "value": v}
            for k, v in customer.custom_fields.items()
        ],
        "relationships": relationships,
        "affiliations": affiliations,
        "consents": consents,
        "timeline": timeline,
        "history": history,
    }


def build_archive(customer_id: int, job_id: str) -> str:
    """Write the zip under VAR_DIR/files and return its path relative to that folder."""
    data = personal_data(customer_id)
    as_json = json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)
    html = render_to_string("customers/gdpr/archive.html", {"data": data})
    relative = Path("gdpr") / job_id / f"personal-data-{customer_id}.zip"
    path = Path(settings.VAR_DIR) / "files" / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("personal-data.json", as_json)
        archive.writestr("personal-data.html", html)
    return str(relative)
