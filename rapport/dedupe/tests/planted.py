"""A planted-duplicates data set: people written straight to the database, then copies of
some of them with the errors real data has (typos, swapped names, missing fields, a
different e-mail), plus household members who share a surname and address but are
different people and must never be paired."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from faker import Faker

from rapport.customers.models import Address, Customer, CustomerKind


@dataclass
class Planted:
    ids: list[int]
    duplicate_pairs: set[tuple[int, int]] = field(default_factory=set)
    household_pairs: set[tuple[int, int]] = field(default_factory=set)


def _typo(rng: random.Random, text: str) -> str:
    if len(text) < 4:
        return text
    i = rng.randrange(1, len(text) - 1)
    kind = rng.choice(["swap", "drop", "replace"])
    if kind == "swap":
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    if kind == "drop":
        return text[:i] + text[i + 1 :]
    return text[:i] + rng.choice("aeioustrn") + text[i + 1 :]


def _person(fake: Faker, rng: random.Random, n: int) -> dict[str, object]:
    first, last = fake.first_name(), fake.last_name()
    return {
        "first_name": first,
        "last_name": last,
        "birth_date": fake.date_between(dt.date(1940, 1, 1), dt.date(2004, 12, 31)),
        "primary_email": f"{first}.{last}{n}@{fake.free_email_domain()}".lower(),
        "primary_phone": f"+4420{rng.randrange(10**7, 10**8)}",
        "line1": fake.street_address(),
        "postcode": fake.postcode(),
        "city": fake.city(),
        "external_id": f"p-{n}",
    }


def _save(rows: list[dict[str, object]]) -> list[int]:
    customers = [
        Customer(
            kind=CustomerKind.PERSON,
            first_name=r["first_name"],
            last_name=r["last_name"],
            display_name=f"{r['first_name']} {r['last_name']}".strip(),
            birth_date=r["birth_date"],
            primary_email=r["primary_email"],
            primary_phone=r["primary_phone"],
            city=r["city"],
            country="GB",
            external_id=r["external_id"],
        )
        for r in rows
    ]
    Customer.objects.bulk_create(customers, batch_size=1000)
    by_ext = dict(
        Customer.objects.filter(external_id__in=[r["external_id"] for r in rows]).values_list(
            "external_id", "id"
        )
    )
    Address.objects.bulk_create(
        Address(
            customer_id=by_ext[r["external_id"]],
            line1=r["line1"],
            postcode=r["postcode"],
            city=r["city"],
            country="GB",
            is_primary=True,
        )
        for r in rows
    )
    return [by_ext[r["external_id"]] for r in rows]


def build(
    *, people: int = 300, duplicates: int = 40, households: int = 10, seed: int = 7
) -> Planted:
    fake = Faker("en_GB")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    originals = [_person(fake, rng, n) for n in range(people)]
    copies: list[dict[str, object]] = []
    for k, source in enumerate(rng.sample(originals, duplicates)):
        copy = dict(source, external_id=f"{source['external_id']}-dup{k}")
        error = k % 5
        if error == 0:  # typo in the last name, e-mail re-typed at another provider
            copy["last_name"] = _typo(rng, str(source["last_name"]))
            copy["primary_email"] = f"{copy['first_name']}{k}@example.net".lower()
        elif error == 1:  # given and family names swapped, no phone
            copy["first_name"], copy["last_name"] = source["last_name"], source["first_name"]
            copy["primary_phone"] = ""
        elif error == 2:  # typo in the first name, birth date missing
            copy["first_name"] = _typo(rng, str(source["first_name"]))
            copy["birth_date"] = None
        elif error == 3:  # new e-mail and phone, same name, birth date and address
            copy["primary_email"] = f"x{k}.{copy['last_name']}@example.org".lower()
            copy["primary_phone"] = f"+4477{rng.randrange(10**7, 10**8)}"
        else:  # shouted name with a typo, postcode missing, day and month of birth typed wrong
            copy["first_name"] = str(source["first_name"]).upper()
            copy["last_name"] = _typo(rng, str(source["last_name"])).upper()
            copy["postcode"] = ""
            birth = source["birth_date"]
            assert isinstance(birth, dt.date)
            copy["birth_date"] = birth.replace(day=min(28, (birth.day % 28) + 1))
        copies.append(copy)
    members: list[dict[str, object]] = []
    for k, source in enumerate(rng.sample(originals, households)):
        member = _person(fake, rng, 10_000 + k)
        # Same family name, home and landline; a different person (other first name,
        # other birth date, own e-mail).
        member.update(
            last_name=source["last_name"],
            line1=source["line1"],
            postcode=source["postcode"],
            city=source["city"],
            external_id=f"{source['external_id']}-household",
        )
        members.append(member)
    ids = _save(originals + copies + members)
    by_ext = dict(
        zip([str(r["external_id"]) for r in originals + copies + members], ids, strict=True)
    )
    planted = Planted(ids=ids)
    for copy in copies:
        a, b = by_ext[str(copy["external_id"]).split("-dup")[0]], by_ext[str(copy["external_id"])]
        planted.duplicate_pairs.add((min(a, b), max(a, b)))
    for member in members:
        a = by_ext[str(member["external_id"]).replace("-household", "")]
        b = by_ext[str(member["external_id"])]
        planted.household_pairs.add((min(a, b), max(a, b)))
    return planted
