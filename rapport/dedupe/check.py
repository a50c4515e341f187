"""The on-create check: likely duplicates of a record about to be created or imported.

Fast and training-free: a blocked candidate set from indexed lookups (exact e-mail, exact
phone, the display name in either order, the same birth date with the same last name),
then a Fellegi-Sunter style score from fixed log-2 weights with rapidfuzz Jaro-Winkler
name similarity. The weights mirror the levels the trained model uses (docs/data-quality.md).
"""

from __future__ import annotations

import datetime as dt
import math

from django.core.exceptions import ValidationError
from django.db.models import Q
from rapidfuzz.distance import JaroWinkler

from rapport.customers import normalize
from rapport.customers.models import Address, EmailAddress, PhoneNumber
from rapport.dedupe.engine import fold, phone_key
from rapport.dedupe.loader import persons

CANDIDATE_LIMIT = 200
# Prior odds of two records matching before any evidence, and evidence weights in bits.
PRIOR = -10.0
W_EMAIL = 14.0
W_PHONE = 11.0
W_NAME = {
    "exact": 9.0,
    "close": 7.0,
    "similar": 3.0,
    "swapped": 7.0,
    "last only": 1.0,
    "different": -6.0,
}
W_BIRTH = {"exact": 8.0, "year": 1.0, "different": -6.0}
W_POSTCODE = {"exact": 2.0, "different": -1.0}


def _name_level(
    first: str | None, last: str | None, c_first: str | None, c_last: str | None
) -> str | None:
    if not (first or last) or not (c_first or c_last):
        return None
    if first == c_first and last == c_last:
        return "exact"
    if first and last and first == c_last and last == c_first:
        return "swapped"
    jw_first = JaroWinkler.similarity(first or "", c_first or "")
    jw_last = JaroWinkler.similarity(last or "", c_last or "")
    if jw_first >= 0.92 and jw_last >= 0.92:
        return "close"
    if jw_first >= 0.8 and jw_last >= 0.8:
        return "similar"
    if jw_last >= 0.92:
        return "last only"
    return "different"


def _birth_level(a: dt.date | None, b: dt.date | None) -> str | None:
    if a is None or b is None:
        return None
    if a == b:
        return "exact"
    return "year" if a.year == b.year else "different"


def likely_duplicates(
    *,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    phone: str = "",
    birth_date: dt.date | str | None = None,
    postcode: str = "",
    limit: int = 5,
    min_probability: float = 0.5,
    exclude_id: int | None = None,
) -> list[tuple[int, float]]:
    """Existing persons that are likely the same person, most likely first."""
    first, last = fold(first_name), fold(last_name)
    email_norm = email.strip().lower()
    try:
        phone_e164 = normalize.normalize_phone(phone) if phone else ""
    except ValidationError:
        phone_e164 = ""
    phone_digits = phone_key(phone) if phone else None
    if isinstance(birth_date, str):
        try:
            birth = normalize.parse_date(birth_date)
        except ValidationError:
            birth = None
    else:
        birth = birth_date
    postcode_norm = postcode.replace(" ", "").upper()

    q = Q(pk__in=[])
    if email_norm:
        q |= Q(primary_email=email_norm)
        q |= Q(pk__in=EmailAddress.objects.filter(email=email_norm).values("customer_id"))
    for number in {phone_e164, phone.strip()} - {""}:
        q |= Q(primary_phone=number)
        q |= Q(pk__in=PhoneNumber.objects.filter(e164=number).values("customer_id"))
    if first_name and last_name:
        given = normalize.normalize_name(first_name)
        family = normalize.normalize_name(last_name)
        q |= Q(display_name__in=[f"{given} {family}", f"{family} {given}"])
    if birth is not None and last_name:
        q |= Q(birth_date=birth, last_name__iexact=last_name.strip())
    candidates = persons().filter(q)
    if exclude_id is not None:
        candidates = candidates.exclude(pk=exclude_id)
    rows = list(
        candidates.values_list(
            "id", "first_name", "last_name", "primary_email", "primary_phone", "birth_date"
        )[:CANDIDATE_LIMIT]
    )
    if not rows:
        return []
    postcodes: dict[int, set[str]] = {}
    if postcode_norm:
        for cid, code in Address.objects.filter(customer_id__in=[r[0] for r in rows]).values_list(
            "customer_id", "postcode"
        ):
            postcodes.setdefault(cid, set()).add(code.replace(" ", "").upper())

    scored: list[tuple[int, float]] = []
    for cid, c_first, c_last, c_email, c_phone, c_birth in rows:
        weight = PRIOR
        if email_norm and c_email:
            weight += W_EMAIL if c_email == email_norm else 0.0
        if phone_digits and c_phone:
            weight += W_PHONE if phone_key(c_phone) == phone_digits else 0.0
        name_level = _name_level(first, last, fold(c_first), fold(c_last))
        if name_level:
            weight += W_NAME[name_level]
        birth_level = _birth_level(birth, c_birth)
        if birth_level:
            weight += W_BIRTH[birth_level]
        if postcode_norm and cid in postcodes:
            weight += W_POSTCODE["exact" if postcode_norm in postcodes[cid] else "different"]
        probability = 1.0 / (1.0 + math.pow(2.0, -weight))
        if probability >= min_probability:
            scored.append((cid, round(probability, 6)))
    scored.sort(key=lambda item: (-item[1], item[0]))
    return scored[:limit]
