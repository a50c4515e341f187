"""Fields computed from a customer's own data: display and sort name, search text, quality score."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from rapport.customers import normalize, quality
from rapport.customers.models import (
    Affiliation,
    Customer,
    CustomerKind,
    EmailAddress,
    PhoneNumber,
    SearchWord,
)


def display_name_for(customer: Customer) -> str:
    if customer.kind == CustomerKind.ORGANIZATION:
        return customer.organization_name or "(unnamed organization)"
    name = " ".join(p for p in [customer.first_name, customer.last_name] if p)
    return name or customer.primary_email or customer.primary_phone or "(unnamed person)"


def search_text_for(
    customer: Customer,
    emails: Iterable[str] = (),
    phones: Iterable[str] = (),
    organization_names: Iterable[str] = (),
) -> str:
    """What global search matches: names, e-mails, phone digits (international and
    national), external id and the person's organizations, lower-cased with accents
    dropped (search folds the query alike, so "emile" finds "Émile")."""
    parts: list[str] = [
        customer.display_name,
        customer.first_name,
        customer.last_name,
        customer.organization_name,
        customer.external_id or "",
    ]
    parts.extend(emails)
    for phone in phones:
        digits = normalize.phone_digits(phone)
        parts.append(digits)
        try:  # noqa: SIM105
            parts.append(normalize.phone_national_number(phone))
        except Exception:  # noqa: S110  (an unparsable stored phone only loses one search form)
            pass
    parts.extend(organization_names)
    seen: dict[str, None] = {}
    for part in parts:
        if part:
            seen.setdefault(normalize.fold_accents(part), None)
    return " ".join(seen)


def remember_search_words(customers: Iterable[Customer]) -> None:
    """Add the customers' name words to search's typo vocabulary (one INSERT; words
    already known are skipped by the unique index)."""
    words: set[str] = set()
    for customer in customers:
        words |= normalize.name_words(
            customer.first_name, customer.last_name, customer.organization_name
        )
    if words:
        SearchWord.objects.bulk_create(
            [SearchWord(word=w) for w in sorted(words)], ignore_conflicts=True, batch_size=1000
        )


def _organization_names(customer: Customer) -> list[str]:
    if customer.kind != CustomerKind.PERSON or customer.pk is None:
        return []
    return list(customer.affiliations.values_list("organization__organization_name", flat=True))


def refresh_derived_fields(customer: Customer, *, normalized: Collection[str] = ()) -> None:
    """Recompute denormalised fields from the contact points (call after changing them),
    the data-quality score included. `normalized` names the contact points ("email",
    "phone", "address") this write has just normalised, which the score need not re-check."""
    emails = list(customer.emails.order_by("-is_primary", "id").values_list("email", flat=True))
    phones = list(customer.phones.order_by("-is_primary", "id").values_list("e164", flat=True))
    address = customer.addresses.order_by("-is_primary", "id").first()
    customer.primary_email = emails[0] if emails else ""
    customer.primary_phone = phones[0] if phones else ""
    customer.city = address.city if address else ""
    customer.country = address.country if address else ""
    customer.display_name = display_name_for(customer)
    customer.sort_name = normalize.name_sort_key(customer.display_name)
    customer.search_text = search_text_for(customer, emails, phones, _organization_names(customer))
    remember_search_words([customer])
    quality.apply(customer, address, normalized=normalized)


_DERIVED_FIELDS = [
    "primary_email",
    "primary_phone",
    "city",
    "country",
    "display_name",
    "sort_name",
    "search_text",
    "quality_score",
    "quality_issues",
]


def _refresh_derived_batch(customers: list[Customer]) -> None:
    """refresh_derived_fields for many customers in five queries."""
    ids = [c.pk for c in customers]
    emails: dict[int, list[str]] = {i: [] for i in ids}
    for cid, email in (
        EmailAddress.objects.filter(customer_id__in=ids)
        .order_by("-is_primary", "id")
        .values_list("customer_id", "email")
    ):
        emails[cid].append(email)
    phones: dict[int, list[str]] = {i: [] for i in ids}
    for cid, e164 in (
        PhoneNumber.objects.filter(customer_id__in=ids)
        .order_by("-is_primary", "id")
        .values_list("customer_id", "e164")
    ):
        phones[cid].append(e164)
    first_address = quality.primary_addresses(ids)
    organizations: dict[int, list[str]] = {i: [] for i in ids}
    for pid, name in Affiliation.objects.filter(person_id__in=ids).values_list(
        "person_id", "organization__organization_name"
    ):
        organizations[pid].append(name)
    for customer in customers:
        address = first_address.get(customer.pk)
        customer.primary_email = emails[customer.pk][0] if emails[customer.pk] else ""
        customer.primary_phone = phones[customer.pk][0] if phones[customer.pk] else ""
        customer.city = address.city if address else ""
        customer.country = address.country if address else ""
        customer.display_name = display_name_for(customer)
        customer.sort_name = normalize.name_sort_key(customer.display_name)
        customer.search_text = search_text_for(
            customer, emails[customer.pk], phones[customer.pk], organizations[customer.pk]
        )
        quality.apply(customer, address)
    remember_search_words(customers)
