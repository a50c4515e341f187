"""Global search: name, e-mail, phone in any format, external id, organization; typos;
record scope; on each database's own full-text engine."""

from __future__ import annotations

import pytest
from django.db import connection

from rapport.core.selectors import global_search
from rapport.customers import search, services
from rapport.customers.services import AddressInput, CustomerInput
from rapport.customers.tests.factories import organization, person

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(admin):
    org = organization(admin, "Babbage Difference Engines")
    ada = person(
        admin,
        "Ada",
        "Lovelace",
        emails=["ada.lovelace@example.org"],
        phones=["+44 20 7946 0958"],
        external_id="CRM-0042",
    )
    services.affiliation_create(actor=admin, person=ada, organization=org)
    person(
        admin,
        "Adam",
        "Smith",
        emails=["adam@example.com"],
        phones=["+1 202 555 0147"],
        addresses=[AddressInput(city="Washington", country="US")],
    )
    person(admin, "Charles", "Dickens", emails=["boz@example.net"])
    return ada, org


def top(actor, query):
    return [c.display_name for c in search.search_customers(actor=actor, query=query)]


@pytest.mark.parametrize(
    "query",
    [
        "Ada Lovelace",
        "lovelace",
        "LOVELACE ada",
        "ada.lovelace@example.org",
        "+44 20 7946 0958",
        "020 7946 0958",
        "(020) 7946-0958",
        "442079460958",
        "CRM-0042",
        "crm-0042",
        "Ada Lovelac",
        "Ada Lovleace",
        "lovalace",
    ],
)
def test_finds_by_name_email_phone_external_id_organization_and_typos(admin, people, query):
    assert top(admin, query)[0] == "Ada Lovelace"


@pytest.mark.parametrize("query", ["Babbage", "difference engines", "babage engines"])
def test_an_organization_finds_itself_and_its_people(admin, people, query):
    found = top(admin, query)
    assert found[0] == "Babbage Difference Engines" and "Ada Lovelace" in found


def test_us_phone_any_format(admin, people):
    for query in ["+1 (202) 555-0147", "202-555-0147", "12025550147"]:
        assert top(admin, query)[0] == "Adam Smith"


def test_nonsense_finds_nothing(admin, people):
    assert top(admin, "zzqqxxv") == []


def test_results_respect_record_scope(admin, scoped_users, people):
    own = scoped_users["own"]
    person(own, "Ada", "Ownrecord")
    assert top(own, "ada") == ["Ada Ownrecord"]
    assert "Ada Lovelace" not in top(own, "Ada Lovelace")
    hits = global_search(actor=own, query="lovelace")
    assert all("Lovelace" not in h.title for h in hits)


def test_search_text_follows_updates_and_deletes(admin, people):
    ada, _ = people
    services.customer_update(
        actor=admin, customer=ada, data=CustomerInput(last_name="Byron", emails=[])
    )
    assert top(admin, "Ada Byron")[0] == "Ada Byron"
    assert "Ada Byron" not in top(admin, "lovelace")
    services.customer_delete(actor=admin, customer=ada)
    assert "Ada Byron" not in top(admin, "byron")


def test_each_database_uses_its_own_full_text_index():
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT sql FROM sqlite_master WHERE name = 'customer_search'")
            assert "trigram" in cursor.fetchone()[0]
        elif connection.vendor == "postgresql":
            cursor.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'customers_customer'"
            )
            names = {row[0] for row in cursor.fetchall()}
            assert {"customer_search_trgm", "customer_search_fts"} <= names


def test_provider_is_registered_for_the_shell(admin, people):
    hits = global_search(actor=admin, query="lovelace")
    assert hits[0].title == "Ada Lovelace" and hits[0].url.endswith(f"/customers/{people[0].pk}/")
    assert hits[0].kind == "Person"
