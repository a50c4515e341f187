"""Names sort as a person reads them: accents and case folded, a leading lower-case
particle filed under the name after it, the same on both databases, from the index."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rapport.customers import selectors
from rapport.customers.models import Customer
from rapport.customers.normalize import name_sort_key
from rapport.customers.tests.factories import organization, person

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Émile Zola", "emile zola"),
        ("ÉMILE  zola", "emile zola"),
        ("Øyvind Straße", "oyvind strasse"),
        ("de la Cruz", "cruz de la"),
        ("van der Berg Holding", "berg holding van der"),
        ("d'Ancona", "ancona d"),
        ("De Niro", "de niro"),  # capitalised: part of the name, as in English
        ("Juan de la Cruz", "juan de la cruz"),  # only a leading particle moves
        ("O'Brien & Sons", "o brien sons"),
        ("de", "de"),  # a particle alone is the name
    ],
)
def test_sort_key(name: str, key: str) -> None:
    assert name_sort_key(name) == key


def _names(page: selectors.Page[Customer]) -> list[str]:
    return [c.display_name for c in page.items]


READING_ORDER = ["Carla Zed", "de la Cruz", "Dora Ames", "Emil", "Émile", "Emma", "Zoe"]


def test_the_list_sorts_accents_and_particles_as_read(admin) -> None:
    organization(admin, name="de la Cruz")
    for first in ["Zoe", "Émile", "Emma", "Emil"]:
        person(admin, first=first, last="")
    person(admin, first="Dora", last="Ames")
    person(admin, first="Carla", last="Zed")
    page = selectors.customer_page(actor=admin, sort="name")
    assert _names(page) == READING_ORDER
    assert _names(selectors.customer_page(actor=admin, sort="-name")) == READING_ORDER[::-1]


def test_keyset_pages_follow_the_reading_order(admin) -> None:
    for name in READING_ORDER[::-1]:
        organization(admin, name=name)
    seen, cursor = [], None
    while True:
        page = selectors.customer_page(actor=admin, sort="name", cursor=cursor, limit=2)
        seen += _names(page)
        cursor = page.next_cursor
        if not cursor:
            break
    assert seen == READING_ORDER


def test_every_write_keeps_the_key(admin) -> None:
    ada = person(admin, first="Ada", last="Lovelace")
    assert ada.sort_name == "ada lovelace"
    ada.first_name, ada.display_name = "Ádá", "Ádá Lovelace"
    ada.save(update_fields=["first_name", "display_name"])
    assert Customer.objects.get(pk=ada.pk).sort_name == "ada lovelace"
    Customer.objects.bulk_create([Customer(kind="person", display_name="Ñoño")])
    assert Customer.objects.get(display_name="Ñoño").sort_name == "nono"


def test_the_name_sort_walks_its_index_without_sorting(admin) -> None:
    person(admin, first="Ada", last="Lovelace")
    if connection.vendor == "postgresql":
        # Byte order, as SQLite compares: the database's locale would ignore spaces.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT collation_name FROM information_schema.columns "
                "WHERE table_name = 'customers_customer' AND column_name = 'sort_name'"
            )
            assert cursor.fetchone()[0] == "C"
        return
    with CaptureQueriesContext(connection) as queries:
        selectors.customer_page(
            actor=admin,
            filters={"kind": ["person"]},
            sort="name",
            matches=selectors.CappedCount(value=10_000, more=True),
        )
    (walk,) = [q["sql"] for q in queries if "INDEXED BY" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {walk}")
        plan = " / ".join(str(row[-1]) for row in cursor.fetchall())
    assert "customer_name" in plan and "TEMP B-TREE" not in plan, plan
