"""The on-create check: exact e-mail and phone hits, close name with the same birth date."""

from __future__ import annotations

import datetime as dt

import pytest

from rapport.customers.models import Address, Customer, CustomerKind
from rapport.dedupe.check import likely_duplicates

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    rows = [
        ("Margaret", "Thornton", dt.date(1971, 4, 9), "m.thornton@example.com", "+442079460000"),
        ("Margot", "Thornton", dt.date(1969, 1, 2), "margot@example.com", "+442079460001"),
        ("Peter", "Quill", dt.date(1980, 5, 5), "pq@example.com", "+442079460002"),
    ]
    made = []
    for first, last, birth, email, phone in rows:
        c = Customer.objects.create(
            kind=CustomerKind.PERSON,
            first_name=first,
            last_name=last,
            display_name=f"{first} {last}",
            birth_date=birth,
            primary_email=email,
            primary_phone=phone,
        )
        Address.objects.create(customer=c, line1="1 High St", postcode="SW1A 1AA", city="London")
        made.append(c)
    # Noise: many people with other names.
    Customer.objects.bulk_create(
        Customer(
            kind=CustomerKind.PERSON,
            first_name=f"N{i}",
            last_name=f"Other{i}",
            display_name=f"N{i} Other{i}",
        )
        for i in range(200)
    )
    return made


def test_exact_email_match(people, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        hits = likely_duplicates(
            first_name="Maggie", last_name="Thornton", email="M.Thornton@example.com"
        )
    assert hits[0][0] == people[0].pk
    assert hits[0][1] >= 0.95


def test_exact_phone_match_in_another_format(people, settings):
    settings.PHONE_DEFAULT_REGION = "GB"
    hits = likely_duplicates(first_name="Peter", last_name="Quill", phone="020 7946 0002")
    assert [h[0] for h in hits] == [people[2].pk]
    assert hits[0][1] >= 0.95


def test_close_name_and_same_birth_date(people):
    hits = likely_duplicates(first_name="margaret", last_name="thornton", birth_date="1971-04-09")
    assert hits[0][0] == people[0].pk
    assert hits[0][1] >= 0.9
    # Her relative with the same surname but another first name and birth date is not likely.
    assert people[1].pk not in [h[0] for h in hits]


def test_no_evidence_no_hits(people):
    assert likely_duplicates(first_name="Zed", last_name="Nobody") == []
    assert (
        likely_duplicates(
            first_name="Margaret", last_name="Thornton", limit=1, exclude_id=people[0].pk
        )
        == []
    )
