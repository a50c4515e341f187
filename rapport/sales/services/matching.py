"""Which existing customers a lead probably is: e-mail, phone, name (the dedupe app's
on-create matcher, reached through the registry) and name + organization."""

from __future__ import annotations

from django.db.models import Q

from rapport.core import registry
from rapport.customers.models import Affiliation, Customer, CustomerKind, EmailAddress, PhoneNumber

# A name alone (the matcher's "exact name", about one in three) is not enough; the same
# name at the same organization is.
NAME_ONLY_FLOOR = 0.2
ORGANIZATION_BONUS = 0.6
MATCH_THRESHOLD = 0.5
EXACT_CONTACT = 0.95


def _same_organization(customer_ids: list[int], organization_name: str) -> set[int]:
    if not customer_ids or not organization_name:
        return set()
    name = organization_name.strip()
    direct = Customer.objects.filter(pk__in=customer_ids, organization_name__iexact=name)
    via = Affiliation.objects.filter(
        person_id__in=customer_ids, organization__display_name__iexact=name
    )
    return set(direct.values_list("pk", flat=True)) | set(via.values_list("person_id", flat=True))


def likely_customers(
    *,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    phone: str = "",
    organization_name: str = "",
    limit: int = 5,
) -> list[tuple[int, float]]:
    """[(customer id, probability)] most likely first, each at least MATCH_THRESHOLD."""
    scored: dict[int, float] = {}
    matcher = registry.person_matcher()
    if matcher is not None:
        for cid, p in matcher(
            first_name=first_name,
            last_name=last_name,
            email=email,
            phone=phone,
            limit=limit * 4,
            min_probability=NAME_ONLY_FLOOR,
        ):
            scored[cid] = p
    # The same e-mail address or phone number is the same person for a lead, whatever the
    # name typed into a form ("J." for "Jo"): the matcher weighs a differing name down.
    if email or phone:
        q = Q(pk__in=[])
        if email:
            q |= Q(pk__in=EmailAddress.objects.filter(email=email).values("customer_id"))
        if phone:
            q |= Q(pk__in=PhoneNumber.objects.filter(e164=phone).values("customer_id"))
        exact = Customer.objects.filter(
            q, kind=CustomerKind.PERSON, merged_into__isnull=True
        ).values_list("pk", flat=True)
        for cid in exact[: limit * 4]:
            scored[cid] = max(scored.get(cid, 0.0), EXACT_CONTACT)
    weak = [cid for cid, p in scored.items() if p < MATCH_THRESHOLD]
    for cid in _same_organization(weak, organization_name):
        scored[cid] = min(0.99, scored[cid] + ORGANIZATION_BONUS)
    found = [(cid, p) for cid, p in scored.items() if p >= MATCH_THRESHOLD]
    found.sort(key=lambda item: (-item[1], item[0]))
    return found[:limit]


def best_match(**fields: str) -> int | None:
    found = likely_customers(**fields, limit=1)
    return found[0][0] if found else None
