"""Duplicate organizations: the same company entered twice ("ACME Ltd." and "Acme Limited").

Organizations carry too little for Splink's EM to estimate a model on (a name, a website,
a phone, a city), so this is a blocked Fellegi-Sunter score with fixed weights, as the
on-create check uses for persons (decision 0602). Names are compared after cleanco strips
legal forms in many languages ("GmbH & Co. KG", "S.A.", "Limited") and accents and
punctuation are folded; the web domain (from the website, or from a company e-mail) and
the phone are strong evidence, the city weak.

Candidates come from blocks on the folded name, the domain and the phone. A block larger
than `MAX_BLOCK` (a placeholder name shared by thousands) is skipped rather than compared
pairwise, so the cost stays linear at a million records.
"""

from __future__ import annotations

import math
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import combinations
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
from cleanco import basename
from rapidfuzz.distance import JaroWinkler
from rapidfuzz.fuzz import token_sort_ratio

from rapport.customers.models import Customer, CustomerKind

PRIOR = -9.0  # log2 odds that two organizations sharing a block are one
W_NAME = {"exact": 10.0, "close": 7.0, "similar": 2.0, "different": -8.0}
W_DOMAIN = {"same": 9.0, "different": -3.0}
W_PHONE = {"same": 8.0, "different": -1.0}
W_CITY = {"same": 1.5, "different": -1.5}
MAX_BLOCK = 50
BATCH = 20_000
# Domains that say nothing about the company (personal mailboxes).
FREE_MAIL = frozenset(
    [
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "yahoo.com",
        "icloud.com",
        "me.com",
        "aol.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "t-online.de",
        "orange.fr",
        "free.fr",
        "proton.me",
        "protonmail.com",
        "mail.com",
        "yandex.ru",
    ]
)


@dataclass(frozen=True)
class Org:
    id: int
    name: str  # folded, without legal form
    domain: str
    phone: str
    city: str


def fold_name(name: str) -> str:
    """'Müller GmbH & Co. KG' -> 'muller'; 'ACME, Limited' -> 'acme'."""
    text = basename(name or "").strip() or (name or "")
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = "".join(ch if ch.isalnum() else " " for ch in text.casefold())
    return " ".join(text.split())


def domain_of(website: str, email: str) -> str:
    host = ""
    if website:
        url = website if "//" in website else f"//{website}"
        host = (urlsplit(url).hostname or "").lower()
    if not host and email and "@" in email:
        host = email.rsplit("@", 1)[1].lower()
        if host in FREE_MAIL:
            host = ""
    return host.removeprefix("www.")


def organizations(ids: Iterable[int] | None = None) -> Iterator[Org]:
    rows = Customer.objects.filter(
        kind=CustomerKind.ORGANIZATION, merged_into__isnull=True, erased_at__isnull=True
    )
    if ids is not None:
        rows = rows.filter(pk__in=list(ids))
    for pk, name, website, email, phone, city in (
        rows.order_by()
        .values_list("id", "organization_name", "website", "primary_email", "primary_phone", "city")
        .iterator(chunk_size=BATCH)
    ):
        yield Org(
            id=pk,
            name=fold_name(name),
            domain=domain_of(website, email),
            phone=phone or "",
            city=(city or "").casefold(),
        )


def _name_level(a: str, b: str) -> str:
    if a == b:
        return "exact"
    if token_sort_ratio(a, b) >= 92 or JaroWinkler.similarity(a, b) >= 0.95:
        return "close"
    if token_sort_ratio(a, b) >= 75:
        return "similar"
    return "different"


def score(a: Org, b: Org) -> tuple[float, dict[str, dict[str, Any]]]:
    """Match weight in bits and the evidence per field, as the person model records it."""
    details: dict[str, dict[str, Any]] = {}

    def add(field: str, level: str, weight: float) -> None:
        details[field] = {"level": level, "weight": weight}

    if a.name and b.name:
        level = _name_level(a.name, b.name)
        add("name", f"{level} organization name", W_NAME[level])
    if a.domain and b.domain:
        level = "same" if a.domain == b.domain else "different"
        add("domain", f"{level} web domain", W_DOMAIN[level])
    if a.phone and b.phone:
        level = "same" if a.phone == b.phone else "different"
        add("phone", f"{level} phone", W_PHONE[level])
    if a.city and b.city:
        level = "same" if a.city == b.city else "different"
        add("city", f"{level} city", W_CITY[level])
    return PRIOR + sum(d["weight"] for d in details.values()), details


def probability(weight: float) -> float:
    return 1.0 / (1.0 + math.pow(2.0, -weight))


def _blocks(orgs: list[Org]) -> Iterator[list[Org]]:
    keyed: dict[tuple[str, str], list[Org]] = defaultdict(list)
    for org in orgs:
        if org.name:
            keyed[("name", org.name)].append(org)
            first = org.name.split()[0]
            if len(first) >= 4:
                keyed[("first word+city", f"{first}|{org.city}")].append(org)
        if org.domain:
            keyed[("domain", org.domain)].append(org)
        if org.phone:
            keyed[("phone", org.phone)].append(org)
    for members in keyed.values():
        if 1 < len(members) <= MAX_BLOCK:
            yield members


def detect(*, threshold: float, changed: Iterable[int] | None = None) -> pd.DataFrame:
    """Scored pairs (id_a < id_b) at or above `threshold`, in the engine's pair format.

    With `changed`, only pairs that involve one of those organizations are returned
    (an incremental run), still compared against everyone.
    """
    orgs = list(organizations())
    focus = set(changed) if changed is not None else None
    seen: set[tuple[int, int]] = set()
    rows = []
    for block in _blocks(orgs):
        for a, b in combinations(sorted(block, key=lambda o: o.id), 2):
            key = (a.id, b.id)
            if key in seen or (focus is not None and a.id not in focus and b.id not in focus):
                continue
            seen.add(key)
            weight, details = score(a, b)
            p = probability(weight)
            if p >= threshold:
                rows.append((a.id, b.id, p, weight, details))
    return pd.DataFrame(rows, columns=["id_a", "id_b", "probability", "match_weight", "details"])
