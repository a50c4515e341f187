"""Data-quality fix-ups: one mechanical cleansing applied to many customers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from rapport.core import outbox
from rapport.core.models import AuditAction
from rapport.customers import normalize, quality
from rapport.customers.models import Address, Customer, CustomerKind, EmailAddress, PhoneNumber
from rapport.customers.schemas import customer_payload
from rapport.customers.services.bulk import BulkResult, _audit_each, _bulk_targets
from rapport.customers.services.derived import _DERIVED_FIELDS, _refresh_derived_batch

# What each fix-up repairs: the issue it clears and what it says it does.
CLEANSING_FIXES: dict[str, tuple[quality.Issue, str]] = {
    "names": (quality.Issue.NAME_FORMAT, "Fix name casing and spacing"),
    "emails": (quality.Issue.EMAIL_FORMAT, "Normalise e-mail addresses"),
    "phones": (quality.Issue.PHONE_FORMAT, "Re-normalise phones to E.164"),
    "postcodes": (quality.Issue.POSTCODE_FORMAT, "Normalise postcodes"),
    "countries": (quality.Issue.COUNTRY_FORMAT, "Map countries to ISO codes"),
}


def _cleaned_names(customer: Customer) -> dict[str, list[str]]:
    changes: dict[str, list[str]] = {}
    if customer.kind == CustomerKind.ORGANIZATION:
        pairs = [("organization_name", lambda v: normalize.clean_text(v, max_length=200))]
    else:
        pairs = [("first_name", normalize.normalize_name), ("last_name", normalize.normalize_name)]
    for name, clean in pairs:
        value = getattr(customer, name)
        try:
            fixed = clean(value)
        except ValidationError:
            continue  # too long: a person must look at it
        if fixed != value:
            changes[name] = [value, fixed]
            setattr(customer, name, fixed)
    return changes


def _region_of(addresses: list[Address]) -> str | None:
    """The country to read national phone numbers in: the first address's, as an ISO
    code even when it is stored as "uk" or "Germany"."""
    for address in addresses:
        if address.country:
            try:
                return normalize.normalize_country(address.country) or None
            except ValidationError:
                return None
    return None


def _dedupe_contact_rows(rows: list[Any], key: str) -> tuple[list[Any], list[Any]]:
    """Rows whose normalised value now repeats one the customer has: the first (primary
    first) stays, the rest go. Returns (kept, removed)."""
    kept: dict[str, Any] = {}
    removed = []
    for row in sorted(rows, key=lambda r: (not r.is_primary, r.pk)):
        value = getattr(row, key)
        if value in kept:
            removed.append(row)
        else:
            kept[value] = row
    return list(kept.values()), removed


@transaction.atomic
def customers_bulk_cleanse(*, actor: Any, customer_ids: Iterable[int], fix: str) -> BulkResult:
    """Apply one mechanical fix-up (CLEANSING_FIXES) to many customers, the way a person
    editing each record would have: the values go through the same normalisers, every
    changed record gets an audit row with before/after, a new version and a
    `customer.updated` event, and its derived fields (primary contact points, search text,
    quality score) are refreshed. Records the actor may not edit are skipped; values the
    normalisers refuse are left for a person. Running it again changes nothing more.
    """
    if fix not in CLEANSING_FIXES:
        raise ValidationError({"fix": f"Unknown fix-up {fix!r}: use {', '.join(CLEANSING_FIXES)}."})
    targets, skipped = _bulk_targets(actor, customer_ids, "edit")
    targets = [c for c in targets if c.erased_at is None]
    if not targets:
        return BulkResult(done=0, skipped=skipped)
    ids = [c.pk for c in targets]
    changes: dict[int, dict[str, Any]] = {c.pk: {} for c in targets}
    addresses: dict[int, list[Address]] = {i: [] for i in ids}
    for address in Address.objects.filter(customer_id__in=ids).order_by("-is_primary", "id"):
        addresses[address.customer_id].append(address)

    if fix == "names":
        for customer in targets:
            changes[customer.pk].update(_cleaned_names(customer))
    elif fix in ("emails", "phones"):
        model: Any = EmailAddress if fix == "emails" else PhoneNumber
        key = "email" if fix == "emails" else "e164"
        rows: dict[int, list[Any]] = {i: [] for i in ids}
        for row in model.objects.filter(customer_id__in=ids).order_by("-is_primary", "id"):
            rows[row.customer_id].append(row)
        updated, deleted = [], []
        for customer in targets:
            mine = rows[customer.pk]
            before = sorted(getattr(r, key) for r in mine)
            region = _region_of(addresses[customer.pk])
            for row in mine:
                value = getattr(row, key)
                try:
                    if fix == "emails":
                        fixed = normalize.normalize_email(value)
                    else:
                        fixed = normalize.normalize_phone(value, region=region)
                except ValidationError:
                    if fix == "phones" and row.raw:
                        try:
                            fixed = normalize.normalize_phone(row.raw, region=region)
                        except ValidationError:
                            continue
                    else:
                        continue
                if fixed != value:
                    setattr(row, key, fixed)
                    updated.append(row)
            kept, removed = _dedupe_contact_rows(mine, key)
            if removed and not any(r.is_primary for r in kept):
                kept[0].is_primary = True
            deleted += removed
            after = sorted(getattr(r, key) for r in kept)
            if after != before:
                changes[customer.pk][fix] = [before, after]
        gone = {r.pk for r in deleted}
        if gone:
            model.objects.filter(pk__in=gone).delete()
        survivors = [r for r in updated if r.pk not in gone]
        if survivors:
            model.objects.bulk_update(survivors, [key, "is_primary"], batch_size=500)
    else:
        changed_addresses = []
        for customer in targets:
            before = [str(a) for a in addresses[customer.pk]]
            for address in addresses[customer.pk]:
                try:
                    country = normalize.normalize_country(address.country)
                    if fix == "countries":
                        fixed_fields = {"country": country}
                    else:
                        fixed_fields = {
                            "postcode": normalize.normalize_postcode(address.postcode, country)
                        }
                except ValidationError:
                    continue
                if any(getattr(address, k) != v for k, v in fixed_fields.items()):
                    for k, v in fixed_fields.items():
                        setattr(address, k, v)
                    changed_addresses.append(address)
            after = [str(a) for a in addresses[customer.pk]]
            if after != before:
                changes[customer.pk]["addresses"] = [before, after]
        if changed_addresses:
            Address.objects.bulk_update(changed_addresses, ["postcode", "country"], batch_size=500)

    changed = [c for c in targets if changes[c.pk]]
    if changed:
        _refresh_derived_batch(changed)
        now = timezone.now()
        for customer in changed:
            customer.version += 1
            customer.updated_at = now
        Customer.objects.bulk_update(
            changed,
            [
                "first_name",
                "last_name",
                "organization_name",
                *_DERIVED_FIELDS,
                "version",
                "updated_at",
            ],
            batch_size=500,
        )
        _audit_each(
            actor,
            AuditAction.UPDATE,
            changed,
            lambda c: {**changes[c.pk], "cleansing": [None, fix]},
        )
        refreshed = Customer.objects.filter(pk__in=[c.pk for c in changed]).prefetch_related(
            "tags", "emails", "phones", "addresses"
        )
        outbox.emit_many(
            outbox.build(
                "customer.updated",
                {**customer_payload(c), "changed_fields": sorted(changes[c.pk])},
                aggregate=c,
            )
            for c in refreshed
        )
    # Unchanged records may still carry a stale issue bit (scored before a rule changed):
    # rescoring them keeps the report honest and the job from finding them again.
    unchanged = [c for c in targets if not changes[c.pk]]
    if unchanged:
        quality.rescore(Customer.objects.filter(pk__in=[c.pk for c in unchanged]))
    return BulkResult(done=len(changed), skipped=skipped)
