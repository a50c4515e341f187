"""GDPR for one person: the data archive (everything every app holds about them, as JSON
for machines and a readable HTML page for people, zipped together) and this app's part of
erasure. Other apps add theirs through `core.registry.add_gdpr_contributor`."""

from __future__ import annotations

import json
import logging
import zipfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from rapport.core import humanize, registry
from rapport.core.gdpr import ErasureContext
from rapport.core.models import AuditLogEntry
from rapport.customers.custom_fields import definitions
from rapport.customers.models import (
    RELATIONSHIP_LABELS,
    Affiliation,
    ConsentRecord,
    Customer,
    Interaction,
    InteractionKind,
    Relationship,
)
from rapport.customers.schemas import customer_payload

CUSTOMER_TYPE = "customers.customer"

logger = logging.getLogger(__name__)


def personal_data(customer_id: int) -> dict[str, Any]:
    """Every fact every app holds about the customer, as plain JSON-ready data."""
    data: dict[str, Any] = {"generated_at": timezone.now()}
    for contributor in registry.gdpr_contributors():
        if contributor.export is not None:
            data.update(contributor.export(customer_id=customer_id) or {})
    return data


# The sections the archive's HTML page lays out by hand; other apps' sections are tables.
OWN_SECTIONS = (
    "generated_at",
    "profile",
    "custom_fields",
    "relationships",
    "affiliations",
    "consents",
    "timeline",
    "history",
)


def export(*, customer_id: int) -> dict[str, Any]:
    """This app's sections of the archive: the record, its timeline and its history."""
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


def _profile_rows(customer_id: int, data: dict[str, Any]) -> list[tuple[str, str]]:
    """The profile as the archive's page shows it: field labels and readable values
    (choice labels, local dates, language names, owner and team names), never codes. The
    JSON file keeps the codes: it is for computers."""
    customer = Customer.objects.select_related("owner", "team").get(pk=customer_id)
    names = {"owner_id": customer.owner, "team_id": customer.team}
    rows = []
    for key, value in data["profile"].items():
        if key in ("emails", "phones", "addresses", "custom_fields"):
            continue
        if key in names:
            shown = str(names[key]) if names[key] is not None else humanize.EMPTY
        elif key == "language":
            shown = humanize.language_name(value) or humanize.EMPTY
        elif key == "source":
            shown = humanize.words(value) or humanize.EMPTY
        else:
            shown = humanize.value_label(Customer, key, value)
        rows.append((humanize.field_label(Customer, key), shown))
    return rows


def build_archive(customer_id: int, job_id: str) -> str:
    """Write the zip under VAR_DIR/files and return its path relative to that folder."""
    data = personal_data(customer_id)
    as_json = json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)
    more = [
        {"title": key.replace("_", " ").capitalize(), "rows": value}
        for key, value in data.items()
        if key not in OWN_SECTIONS
    ]
    # No actor for the history: people (users, teams) get their names; other records
    # stay "#id", as the archive's reader may not see them.
    history = AuditLogEntry.objects.filter(
        object_type=CUSTOMER_TYPE, object_id=str(customer_id)
    ).order_by("occurred_at", "id")
    context = {
        "data": data,
        "more": more,
        "profile_rows": _profile_rows(customer_id, data),
        "history_rows": humanize.audit_rows(history, actor=None),
    }
    html = render_to_string("customers/gdpr/archive.html", context)
    relative = Path("gdpr") / job_id / f"personal-data-{customer_id}.zip"
    path = Path(settings.VAR_DIR) / "files" / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("personal-data.json", as_json)
        archive.writestr("personal-data.html", html)
    return str(relative)


# Kinds whose summary is the person's own words (a note's first line, an e-mail subject).
ERASED_KINDS_SUMMARY = {
    InteractionKind.NOTE,
    InteractionKind.EMAIL,
    InteractionKind.CALL,
    InteractionKind.MEETING,
    InteractionKind.CHAT,
    InteractionKind.WEB_EVENT,
}


# A note shorter than this ("Called back") is not searched for elsewhere: it would match
# everyone's; the person's own notes are emptied all the same.
NOTE_IDENTIFIES = 24


def _remember_values(ctx: ErasureContext, customer: Customer) -> None:
    """What copies of the person look like elsewhere, read before the record is emptied."""
    ctx.add_identifiers(
        customer.external_id,
        f"{customer.first_name} {customer.last_name}",
        customer.display_name,
        customer.primary_email,
        customer.primary_phone,
        *customer.emails.values_list("email", flat=True),
        *[v for pair in customer.phones.values_list("e164", "raw") for v in pair],
        # The street line; a second line ("Flat 3") is shared by too many to point at one.
        *customer.addresses.values_list("line1", flat=True),
    )
    ctx.add_identifiers(
        *Interaction.objects.filter(customer=customer, kind__in=ERASED_KINDS_SUMMARY)
        .exclude(body="")
        .values_list("body", flat=True),
        min_length=NOTE_IDENTIFIES,
    )


def erase(*, ctx: ErasureContext) -> int:
    """Empty the person's record, contact points, notes, consent evidence and relationship
    notes; keep the row as "Erased customer #id" with its timeline (emptied) and links."""
    from django.db.models import F

    from rapport.customers import normalize, quality, search

    customer = Customer.objects.get(pk=ctx.customer_id)
    _remember_values(ctx, customer)
    name_words = normalize.name_words(
        customer.first_name, customer.last_name, customer.organization_name
    )
    customer.emails.all().delete()
    customer.phones.all().delete()
    customer.addresses.all().delete()
    for name in (
        "first_name",
        "last_name",
        "organization_name",
        "job_title",
        "website",
        "industry",
        "language",
        "source",
    ):
        setattr(customer, name, "")
    customer.birth_date = None
    customer.external_id = None
    customer.custom_fields = {}
    customer.erased_at = timezone.now()
    customer.primary_email = customer.primary_phone = customer.city = customer.country = ""
    customer.display_name = ctx.label
    customer.search_text = ctx.label.lower()
    quality.apply(customer, None)
    customer.version = F("version") + 1
    customer.save()
    # Search's typo vocabulary holds name words; the person's own rare ones go with them.
    search.forget_words(name_words, except_customer_id=customer.pk)

    timeline = Interaction.objects.filter(customer=customer)
    timeline.update(body="")
    for kind in ERASED_KINDS_SUMMARY:
        timeline.filter(kind=kind).update(
            summary=f"{InteractionKind(kind).label} (erased)", data={}
        )
    ConsentRecord.objects.filter(customer=customer).update(evidence="", text_shown="")
    relationships = Relationship.objects.filter(Q(from_customer=customer) | Q(to_customer=customer))
    relationships.update(note="")
    Affiliation.objects.filter(person=customer).update(title="")
    # The audit and outbox contributors blank the rows about these records.
    ctx.add_objects(CUSTOMER_TYPE, [customer.pk])
    ctx.add_objects(
        "customers.interaction",
        timeline.filter(kind=InteractionKind.NOTE).values_list("pk", flat=True),
    )
    ctx.add_objects(
        "customers.consentrecord",
        ConsentRecord.objects.filter(customer=customer).values_list("pk", flat=True),
    )
    ctx.add_objects("customers.relationship", relationships.values_list("pk", flat=True))
    ctx.add_objects(
        "customers.affiliation",
        Affiliation.objects.filter(person=customer).values_list("pk", flat=True),
    )
    # The search index's files still hold the old terms until it is rewritten: a task,
    # since rewriting a large index takes a while and holds SQLite's write lock.
    transaction.on_commit(_purge_search_terms)
    # Other timeline entries (orders, shipments) may quote the person in their data.
    from rapport.core.gdpr import sweep

    return 1 + sweep(timeline, ctx, text_fields=["summary"], json_fields=["data"])


def _purge_search_terms() -> None:
    try:
        registry.enqueue("customers.purge_erased_search_terms")
    except Exception:  # the erasure stands; the index merges its segments over time
        logger.exception("Could not enqueue the search index purge after an erasure")


def register() -> None:
    registry.add_gdpr_contributor(
        registry.GdprContributor(
            key="customers", label="Customer record", erase=erase, export=export, order=10
        )
    )
