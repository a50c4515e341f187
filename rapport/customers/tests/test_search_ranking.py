"""Issue 17, items 7 and 8b: typos in every word, exact names first, honest counts, and
one search with one ranking for the search page and the customer list. Realistic data:
dozens of Smiths, Johns and Junes, on both databases."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from rapport.core.permissions import Scope
from rapport.customers import search, selectors
from rapport.customers.models import Customer
from rapport.customers.services import remember_search_words, search_text_for
from rapport.identity.tests.factories import user_with

pytestmark = pytest.mark.django_db

FIRST = ["John", "June", "Jon", "Joan", "Johnny", "Jane", "Mary", "Peter", "Anna", "Émile"]
LAST = ["Smith", "Smyth", "Smithson", "Schmidt", "Jones", "Brown", "Taylor", "Dijkstra50000"]


def _bulk_people(owner: Any, names: list[tuple[str, str]]) -> None:
    """People written as the import writes them (search text and vocabulary included)."""
    rows = []
    for i, (first, last) in enumerate(names):
        customer = Customer(
            kind="person",
            first_name=first,
            last_name=last,
            display_name=f"{first} {last}",
            owner=owner,
            primary_email=f"p{i}@example.com",
        )
        customer.search_text = search_text_for(customer, [customer.primary_email])
        rows.append(customer)
    Customer.objects.bulk_create(rows)
    remember_search_words(rows)


@pytest.fixture
def crowd(admin: Any) -> list[tuple[str, str]]:
    """Every first name with every surname (80 people: 10 Smiths, 8 Johns...), twice over
    for Smith, plus one Margaret Dijkstra50000 among 30 other Margarets."""
    names = list(itertools.product(FIRST, LAST)) + [(f, "Smith") for f in FIRST]
    names += [("Margaret", f"Dijkstra{n}") for n in range(30)] + [("Margaret", "Dijkstra50000")]
    names += [("Margaret", "Dikson")]
    _bulk_people(admin, names)
    return names


def top(actor: Any, query: str, limit: int = 8) -> list[str]:
    return [c.display_name for c in search.search_customers(actor=actor, query=query, limit=limit)]


def test_exact_name_first_and_nothing_unrelated(admin: Any, crowd: Any) -> None:
    hits = top(admin, "john smith", limit=25)
    assert hits[:2] == ["John Smith", "John Smith"]
    # Then the name's longer forms; never June Smith (no "john" in it).
    assert set(hits[2:]) <= {"John Smithson", "Johnny Smith", "Johnny Smithson"}
    assert {"John Smithson", "Johnny Smith"} <= set(hits)


@pytest.mark.parametrize(
    "query",
    [
        "jonh smth",  # a swap and a missing letter
        "jhon smiht",  # two swaps
        "jhn smth",  # a letter missing from each word
        "johhn smiith",  # a letter too many in each
        "jahn smoth",  # a wrong letter in each
        "jnoh sitmh",  # two letters out of place in each word
        "jhn smiht",
    ],
)
def test_one_and_two_letter_typos_in_each_word_find_the_person(
    admin: Any, crowd: Any, query: str
) -> None:
    assert top(admin, query)[0] == "John Smith"


def test_a_misspelt_surname_alone_finds_the_smiths(admin: Any, crowd: Any) -> None:
    hits = top(admin, "smth", limit=25)
    assert hits, "smth found nothing"
    # "smith" and "smyth" are each one letter away.
    assert all(h.endswith(("Smith", "Smyth")) for h in hits[:8]), hits
    # All the Smiths are matches of the list's search, not only the first page's.
    matching = selectors.customer_list(actor=admin, filters={"q": "smth"})
    smiths = sum(1 for _, last in crowd if last == "Smith")
    assert matching.filter(last_name="Smith").count() == smiths


def test_accents_are_ignored_both_ways(admin: Any, crowd: Any) -> None:
    assert top(admin, "emile smith")[0] == "Émile Smith"
    assert top(admin, "ÉMILE smith")[0] == "Émile Smith"
    assert top(admin, "émile smyth")[0] == "Émile Smyth"


def test_a_typo_before_digits_finds_the_record_first_in_search_and_list(
    admin: Any, crowd: Any
) -> None:
    assert top(admin, "Margaret Dikstra50000")[0] == "Margaret Dijkstra50000"
    page = selectors.customer_page(
        actor=admin, filters={"q": "Margaret Dikstra50000"}, sort=selectors.RELEVANCE
    )
    assert page.items[0].display_name == "Margaret Dijkstra50000"


def _all_pages(actor: Any, filters: dict[str, Any], sort: str, limit: int) -> list[Customer]:
    seen: list[Customer] = []
    cursor = None
    while True:
        page = selectors.customer_page(
            actor=actor, filters=filters, sort=sort, cursor=cursor, limit=limit
        )
        seen += page.items
        cursor = page.next_cursor
        if not cursor:
            return seen


def test_the_list_counts_and_pages_every_match_past_the_search_pool(
    admin: Any, crowd: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The list used to filter to the search's pool (200): "200 customers match" and no
    page past it. A pool of 5 here stands for it."""
    monkeypatch.setattr(search, "CANDIDATES", 5)
    expected = {c.pk for c in Customer.objects.all() if "smith" in c.search_text}
    assert len(expected) > 20
    count = selectors.capped_count(selectors.customer_list(actor=admin, filters={"q": "smith"}))
    assert (count.value, count.more) == (len(expected), False)
    for sort in (selectors.RELEVANCE, "name", "-created"):
        rows = _all_pages(admin, {"q": "smith"}, sort, limit=7)
        assert len(rows) == len(expected) and {c.pk for c in rows} == expected, sort
    # With another filter the ranked part keeps only what that filter keeps.
    Customer.objects.filter(pk__in=sorted(expected)[:3]).update(kind="organization")
    rows = _all_pages(admin, {"q": "smith", "kind": "person"}, selectors.RELEVANCE, limit=7)
    assert {c.pk for c in rows} == set(sorted(expected)[3:]) and len(rows) == len(expected) - 3


@pytest.mark.parametrize(("pool", "page_size"), [(7, 7), (6, 3), (7, 1)])
def test_pages_that_end_exactly_with_the_ranked_part_lose_no_match(
    admin: Any, crowd: Any, monkeypatch: pytest.MonkeyPatch, pool: int, page_size: int
) -> None:
    monkeypatch.setattr(search, "CANDIDATES", pool)
    expected = {c.pk for c in Customer.objects.all() if "smith" in c.search_text}
    rows = _all_pages(admin, {"q": "smith"}, selectors.RELEVANCE, limit=page_size)
    assert len(rows) == len(expected) and {c.pk for c in rows} == expected


def test_the_list_ranks_as_the_search_then_names_in_order(
    admin: Any, crowd: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "CANDIDATES", 30)
    ranked = top(admin, "john smith", limit=30)
    rows = _all_pages(admin, {"q": "john smith"}, selectors.RELEVANCE, limit=3)
    names = [c.display_name for c in rows]
    assert names[: len(ranked)] == ranked
    rest = rows[len(ranked) :]
    assert [c.sort_name for c in rest] == sorted(c.sort_name for c in rest)


def test_the_list_default_order_with_a_search_is_relevance(
    client: Any, admin: Any, crowd: Any
) -> None:
    client.force_login(admin)
    response = client.get("/customers/", {"q": "john smith"})
    assert response.status_code == 200
    first = response.context["page"].items[0]
    assert first.display_name == "John Smith"
    assert response.context["count"].value == 6  # 2 John Smith, Smithson, 3 Johnny


def test_the_search_page_counts_and_links_to_the_list(client: Any, admin: Any, crowd: Any) -> None:
    client.force_login(admin)
    response = client.get("/search/", {"q": "smith"})
    html = response.content.decode()
    expected = Customer.objects.filter(search_text__contains="smith").count()
    (part,) = [r for r in response.context["results"] if r.label == "customers"]
    assert part.total == str(expected)
    assert len(part.hits) == 25 < expected
    assert 'href="/customers/?q=smith"' in html
    assert "See all in the list" in html


def test_counts_and_pages_stay_inside_the_record_scope(admin: Any, crowd: Any, teams) -> None:
    rep = user_with(Scope.OWN, teams=[teams[0]])
    _bulk_people(rep, [("John", "Smith"), ("Jane", "Smith")])
    assert (
        selectors.capped_count(selectors.customer_list(actor=rep, filters={"q": "smith"})).value
        == 2
    )
    names = [c.display_name for c in _all_pages(rep, {"q": "smth"}, selectors.RELEVANCE, 1)]
    assert sorted(names) == ["Jane Smith", "John Smith"]
    assert selectors.search_results(actor=rep, query="smith").total == "2"


def test_past_the_count_cap_the_rest_is_read_through_the_name_index(
    admin: Any, crowd: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Beyond the cap SQLite walks the name index for the unranked rest rather than sort
    every match; the pages still hold every match once."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    monkeypatch.setattr(search, "CANDIDATES", 5)
    expected = {c.pk for c in Customer.objects.all() if "smith" in c.search_text}
    seen: list[int] = []
    cursor = None
    with CaptureQueriesContext(connection) as queries:
        while True:
            page = selectors.customer_page(
                actor=admin,
                filters={"q": "smith"},
                sort=selectors.RELEVANCE,
                cursor=cursor,
                limit=7,
                matches=selectors.CappedCount(value=10_000, more=True),
            )
            seen += [c.pk for c in page.items]
            cursor = page.next_cursor
            if not cursor:
                break
    assert len(seen) == len(set(seen)) and set(seen) == expected
    if connection.vendor == "sqlite":
        walk = next(q["sql"] for q in queries if "INDEXED BY" in q["sql"])
        with connection.cursor() as db:
            db.execute(f"EXPLAIN QUERY PLAN {walk}")
            plan = " / ".join(str(row[-1]) for row in db.fetchall())
        assert "customer_name" in plan and "TEMP B-TREE" not in plan, plan
