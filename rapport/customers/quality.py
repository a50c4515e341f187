"""The data-quality score of a customer record: how complete and how valid it is, 0-100,
and which fields let it down, as a bit set stored beside the score.

The score is derived data, like `display_name` and `search_text`: every write through the
customer services and every import recomputes it from the values in hand (no query), and
`rescore` recomputes it in batches for records written before it existed or by a path
that bypassed the services. The bits let the list filter by issue and the quality report
count every issue in one aggregate query.

Bit values are stored in the database: never renumber one; add new ones at the end.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from rapport.customers import normalize
from rapport.customers.models import UNSCORED, Address, Customer, CustomerKind


class Issue(enum.IntFlag):
    NAME_MISSING = 1 << 0
    NAME_FORMAT = 1 << 1
    EMAIL_MISSING = 1 << 2
    EMAIL_INVALID = 1 << 3
    EMAIL_FORMAT = 1 << 4
    PHONE_MISSING = 1 << 5
    PHONE_INVALID = 1 << 6
    PHONE_FORMAT = 1 << 7
    ADDRESS_MISSING = 1 << 8
    ADDRESS_INCOMPLETE = 1 << 9
    POSTCODE_MISSING = 1 << 10
    POSTCODE_INVALID = 1 << 11
    POSTCODE_FORMAT = 1 << 12
    COUNTRY_MISSING = 1 << 13
    COUNTRY_INVALID = 1 << 14
    COUNTRY_FORMAT = 1 << 15
    BIRTH_DATE_MISSING = 1 << 16
    BIRTH_DATE_IMPLAUSIBLE = 1 << 17
    WEBSITE_MISSING = 1 << 18
    # The default of the column: the record has not been scored yet (written before the
    # score existed, or by a path that bypasses the services; `rescore` fixes it).
    UNSCORED = UNSCORED


class Problem(enum.StrEnum):
    MISSING = "missing"
    INVALID = "invalid"
    FORMAT = "format"  # valid, but not in canonical form: a mechanical fix exists


@dataclass(frozen=True)
class IssueInfo:
    issue: Issue
    field: str  # the report's row: name, email, phone, address, postcode, country, …
    problem: Problem
    label: str  # what the 360 badge says
    fix: str | None = None  # the bulk fix-up that repairs it (services.CLEANSING_FIXES)

    @property
    def problem_label(self) -> str:
        return {"missing": "Missing", "invalid": "Invalid", "format": "Fixable"}[self.problem]

    @property
    def key(self) -> str:
        """The issue's name in filters and links: "phone_invalid"."""
        return (self.issue.name or "").lower()


ISSUES: tuple[IssueInfo, ...] = (
    IssueInfo(Issue.NAME_MISSING, "name", Problem.MISSING, "No full name"),
    IssueInfo(Issue.NAME_FORMAT, "name", Problem.FORMAT, "Name casing or spacing", "names"),
    IssueInfo(Issue.EMAIL_MISSING, "email", Problem.MISSING, "No e-mail"),
    IssueInfo(Issue.EMAIL_INVALID, "email", Problem.INVALID, "Invalid e-mail"),
    IssueInfo(Issue.EMAIL_FORMAT, "email", Problem.FORMAT, "E-mail not normalised", "emails"),
    IssueInfo(Issue.PHONE_MISSING, "phone", Problem.MISSING, "No phone"),
    IssueInfo(Issue.PHONE_INVALID, "phone", Problem.INVALID, "Invalid phone"),
    IssueInfo(Issue.PHONE_FORMAT, "phone", Problem.FORMAT, "Phone not in E.164", "phones"),
    IssueInfo(Issue.ADDRESS_MISSING, "address", Problem.MISSING, "No address"),
    IssueInfo(Issue.ADDRESS_INCOMPLETE, "address", Problem.INVALID, "Address lacks street or city"),
    IssueInfo(Issue.POSTCODE_MISSING, "postcode", Problem.MISSING, "No postcode"),
    IssueInfo(Issue.POSTCODE_INVALID, "postcode", Problem.INVALID, "Invalid postcode"),
    IssueInfo(
        Issue.POSTCODE_FORMAT, "postcode", Problem.FORMAT, "Postcode not normalised", "postcodes"
    ),
    IssueInfo(Issue.COUNTRY_MISSING, "country", Problem.MISSING, "No country"),
    IssueInfo(Issue.COUNTRY_INVALID, "country", Problem.INVALID, "Unknown country"),
    IssueInfo(
        Issue.COUNTRY_FORMAT, "country", Problem.FORMAT, "Country not an ISO code", "countries"
    ),
    IssueInfo(Issue.BIRTH_DATE_MISSING, "birth_date", Problem.MISSING, "No birth date"),
    IssueInfo(
        Issue.BIRTH_DATE_IMPLAUSIBLE, "birth_date", Problem.INVALID, "Implausible birth date"
    ),
    IssueInfo(Issue.WEBSITE_MISSING, "website", Problem.MISSING, "No website"),
)
ISSUE_INFO: dict[Issue, IssueInfo] = {info.issue: info for info in ISSUES}
ISSUE_BY_NAME: dict[str, IssueInfo] = {info.key: info for info in ISSUES}

FIELD_LABELS: dict[str, str] = {
    "name": "Name",
    "email": "E-mail",
    "phone": "Phone",
    "address": "Address",
    "postcode": "Postcode",
    "country": "Country",
    "birth_date": "Birth date",
    "website": "Website",
}

# What each field is worth, out of 100. A person is reached by e-mail and phone and is
# told apart from namesakes by birth date; an organization is found by its website.
WEIGHTS: dict[str, dict[str, int]] = {
    CustomerKind.PERSON: {
        "name": 20,
        "email": 25,
        "phone": 15,
        "address": 15,
        "postcode": 10,
        "country": 5,
        "birth_date": 10,
    },
    CustomerKind.ORGANIZATION: {
        "name": 25,
        "email": 15,
        "phone": 15,
        "address": 15,
        "postcode": 10,
        "country": 10,
        "website": 10,
    },
}
assert all(sum(w.values()) == 100 for w in WEIGHTS.values())

# Fields whose values a caller has just put through the normalisers (so they are valid
# and canonical by construction and need no second check). Names are cheap to check and
# always are; e-mail and phone validation is what costs (tens of microseconds each).
ALL_NORMALIZED: frozenset[str] = frozenset({"email", "phone", "address"})


@dataclass(frozen=True)
class Assessment:
    score: int
    issues: int


def _issue(field: str, problem: Problem) -> Issue:
    for info in ISSUES:
        if info.field == field and info.problem == problem:
            return info.issue
    raise KeyError((field, problem))


def _name_state(customer: Any, checked: bool) -> Problem | None:
    if customer.kind == CustomerKind.ORGANIZATION:
        name = customer.organization_name or ""
        if not name:
            return Problem.MISSING
        return Problem.FORMAT if checked and normalize.clean_text(name) != name else None
    first, last = customer.first_name or "", customer.last_name or ""
    if checked:
        for value in (first, last):
            if value and not _name_is_canonical(value):
                return Problem.FORMAT
    return Problem.MISSING if not (first and last) else None


@lru_cache(maxsize=65_536)
def _name_is_canonical(value: str) -> bool:
    # Names repeat across a customer base (an import scores thousands per second).
    try:
        return normalize.normalize_name(value) == value
    except ValidationError:
        return False


# A plain ASCII local part (RFC 5322 dot-atom), as the import engine checks it.
_DOT_ATOM = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")


@lru_cache(maxsize=65_536)
def _domain_is_canonical(domain: str) -> bool:
    try:
        return normalize.normalize_email(f"a@{domain}") == f"a@{domain}"
    except ValidationError:
        return False


def _email_state(value: str, checked: bool) -> Problem | None:
    if not value:
        return Problem.MISSING
    if not checked:
        return None
    # The common case without email-validator's full run: a lower-case ASCII local part
    # and a domain already seen canonical (validated once per domain, as imports do).
    local, at, domain = value.rpartition("@")
    plain = at and 0 < len(local) <= 64 and len(value) <= 254 and _DOT_ATOM.match(local)
    if plain and _domain_is_canonical(domain):
        return None
    try:
        canonical = normalize.normalize_email(value)
    except ValidationError:
        return Problem.INVALID
    return Problem.FORMAT if canonical != value else None


def _phone_state(value: str, country: str, checked: bool) -> Problem | None:
    if not value:
        return Problem.MISSING
    if not checked:
        return None
    try:
        canonical = normalize.normalize_phone(value, region=country or None)
    except ValidationError:
        return Problem.INVALID
    return Problem.FORMAT if canonical != value else None


def _country_state(value: str, checked: bool) -> Problem | None:
    if not value:
        return Problem.MISSING
    if not checked or normalize.is_country_code(value):
        return None
    try:
        normalize.normalize_country(value)
    except ValidationError:
        return Problem.INVALID
    return Problem.FORMAT


def _postcode_state(value: str, country: str, checked: bool) -> Problem | None:
    if not value:
        return Problem.MISSING if normalize.country_uses_postcodes(country) else None
    if not checked:
        return None
    try:
        canonical = normalize.normalize_postcode(value, country if country else None)
    except ValidationError:
        return Problem.INVALID
    return Problem.FORMAT if canonical != value else None


def _birth_date_state(value: dt.date | None, today: dt.date) -> Problem | None:
    if value is None:
        return Problem.MISSING
    if not dt.date(1900, 1, 1) <= value <= today:
        return Problem.INVALID
    return None


def assess(
    customer: Any,
    address: Any | None,
    *,
    normalized: Collection[str] = (),
    today: dt.date | None = None,
) -> Assessment:
    """Score `customer` with its primary `address` (anything with line1, city, postcode
    and country, or None). `normalized` names the fields ("email", "phone", "address")
    the caller has just normalised: their values are not checked again."""
    if getattr(customer, "erased_at", None) is not None:
        return Assessment(score=100, issues=0)  # nothing left to complete or fix
    today = today or dt.date.today()
    kind = CustomerKind.ORGANIZATION if customer.kind == CustomerKind.ORGANIZATION else "person"
    weights = WEIGHTS[kind]
    states: dict[str, Problem | None] = {
        "name": _name_state(customer, True),
        "email": _email_state(customer.primary_email or "", "email" not in normalized),
    }
    check_address = "address" not in normalized
    raw_country = (address.country or "") if address is not None else ""
    country_state = _country_state(raw_country, check_address) if address is not None else None
    region = raw_country if country_state is None else ""
    if country_state is Problem.FORMAT:
        region = normalize.normalize_country(raw_country)
    states["phone"] = _phone_state(customer.primary_phone or "", region, "phone" not in normalized)
    if address is None:
        states["address"] = states["postcode"] = states["country"] = Problem.MISSING
    else:
        complete = bool(address.line1) and bool(address.city)
        states["address"] = None if complete else Problem.INVALID
        states["country"] = country_state
        states["postcode"] = _postcode_state(address.postcode or "", region, check_address)
    if kind == CustomerKind.ORGANIZATION:
        states["website"] = None if customer.website else Problem.MISSING
    else:
        states["birth_date"] = _birth_date_state(customer.birth_date, today)

    score = 0
    issues = 0
    for field, weight in weights.items():
        state = states.get(field)
        if state is None:
            score += weight
            continue
        issues |= _issue(field, state)
        if state is Problem.FORMAT:
            score += weight // 2
        elif field == "address" and state is Problem.INVALID:
            score += weight // 2  # an address without street or city still locates them
    return Assessment(score=score, issues=issues)


def apply(
    customer: Customer, address: Any | None, *, normalized: Collection[str] = ()
) -> Assessment:
    """Set the customer's `quality_score` and `quality_issues` (in memory; the caller saves)."""
    result = assess(customer, address, normalized=normalized)
    customer.quality_score = result.score
    customer.quality_issues = result.issues
    return result


def apply_batch(
    pairs: Iterable[tuple[Customer, Any | None]], *, normalized: Collection[str] = ()
) -> None:
    """`apply` for many (customer, primary address) pairs already in memory: an import
    batch calls this once; it runs no query. An address may also be a mapping of the
    address fields (an empty one counts as no address)."""
    today = dt.date.today()
    for customer, address in pairs:
        if isinstance(address, Mapping):
            address = SimpleNamespace(**address) if any(address.values()) else None
        result = assess(customer, address, normalized=normalized, today=today)
        customer.quality_score = result.score
        customer.quality_issues = result.issues


def describe(issues: int) -> list[IssueInfo]:
    """What the bits say, for people: one line per field (a record without an address is
    not also told it has no postcode and no country)."""
    found = [info for info in ISSUES if issues & info.issue]
    if issues & Issue.ADDRESS_MISSING:
        found = [i for i in found if i.field not in {"postcode", "country"}]
    return found


def issue_from_name(name: str) -> IssueInfo:
    """The issue a filter names ("phone_invalid"), or ValidationError listing the names."""
    info = ISSUE_BY_NAME.get(name.strip().lower())
    if info is None:
        raise ValidationError(
            f"Unknown data-quality issue {name!r}. Use one of: {', '.join(ISSUE_BY_NAME)}."
        )
    return info


# --- Recomputing in batches -------------------------------------------------------------

RESCORE_BATCH = 2000


def primary_addresses(customer_ids: list[int]) -> dict[int, Address]:
    """The primary (else first) address of each customer, in one query."""
    found: dict[int, Address] = {}
    rows = (
        Address.objects.filter(customer_id__in=customer_ids)
        .order_by("customer_id", "-is_primary", "id")
        .only("customer_id", "line1", "city", "postcode", "country", "is_primary")
    )
    for address in rows:
        found.setdefault(address.customer_id, address)
    return found


_SCORED_FIELDS = (
    "id",
    "kind",
    "first_name",
    "last_name",
    "organization_name",
    "birth_date",
    "website",
    "primary_email",
    "primary_phone",
    "erased_at",
    "quality_score",
    "quality_issues",
)


def _batches(queryset: QuerySet[Customer], size: int) -> Iterator[list[Customer]]:
    """Keyset batches by id: constant cost per batch however far in."""
    last = 0
    while True:
        batch = list(queryset.filter(pk__gt=last).order_by("pk").only(*_SCORED_FIELDS)[:size])
        if not batch:
            return
        yield batch
        last = batch[-1].pk


def rescore(
    queryset: QuerySet[Customer] | None = None,
    *,
    batch_size: int = RESCORE_BATCH,
    on_batch: Callable[[int, int], None] | None = None,
) -> tuple[int, int]:
    """Recompute the score of every customer in `queryset` (all by default), every value
    checked; write only the rows whose score or issues changed. Two queries per batch plus
    one UPDATE per distinct (score, issues) among its changed rows. Returns (records
    scored, records changed).

    Derived-field maintenance, like the search text: no audit row or event (the record's
    data did not change). Safe to stop and run again.
    """
    base = queryset if queryset is not None else Customer.objects.all()
    seen = changed_total = 0
    for batch in _batches(base, batch_size):
        addresses = primary_addresses([c.pk for c in batch])
        changed = []
        for customer in batch:
            before = (customer.quality_score, customer.quality_issues)
            result = assess(customer, addresses.get(customer.pk))
            if (result.score, result.issues) != before:
                customer.quality_score, customer.quality_issues = result.score, result.issues
                changed.append(customer)
        # Few distinct (score, issues) pairs per batch: one UPDATE … WHERE id IN (…) per
        # pair costs far less than bulk_update's CASE per row.
        by_result: dict[tuple[int, int], list[int]] = {}
        for customer in changed:
            key = (customer.quality_score, customer.quality_issues)
            by_result.setdefault(key, []).append(customer.pk)
        for (score, issues), ids in by_result.items():
            Customer.objects.filter(pk__in=ids).update(quality_score=score, quality_issues=issues)
        seen += len(batch)
        changed_total += len(changed)
        if on_batch is not None:
            on_batch(len(batch), len(changed))
    return seen, changed_total
