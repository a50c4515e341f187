"""Issue 17, decision 0840: the search page's count stops early, a common name's pool
comes from the name index on PostgreSQL, and a query no row matches in every word
shows the rows matching some of them, closest corrections first."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rapport.customers import search
from rapport.customers.models import Customer
from rapport.customers.tests.test_search_ranking import FIRST, LAST, _bulk_people

pytestmark = pytest.mark.django_db


def _customers_part(client: Any, query: str) -> Any:
    response = client.get("/search/", {"q": query})
    assert response.status_code == 200
    (part,) = [r for r in response.context["results"] if r.label == "customers"]
    return part, response.content.decode()


def test_the_search_page_counts_exactly_up_to_its_cap(
    client: Any, admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _bulk_people(admin, [(f"Ann{n}", "Smith") for n in range(12)] + [("Bob", "Jones")])
    client.force_login(admin)
    monkeypatch.setattr(search, "SEARCH_COUNT_CAP", 12)
    part, _ = _customers_part(client, "smith")
    assert part.total == "12"  # exactly the cap: still exact
    monkeypatch.setattr(search, "SEARCH_COUNT_CAP", 10)
    part, html = _customers_part(client, "smith")
    assert part.total == "more than 10"
    assert "more than 10</strong> customers match" in html
    assert 'href="/customers/?q=smith"' in html  # the list counts further


def test_the_default_cap_is_a_few_hundred() -> None:
    from django.conf import settings

    assert 100 <= search.SEARCH_COUNT_CAP < settings.LIST_EXACT_COUNT_CAP


@pytest.fixture
def no_john_smith(admin: Any) -> None:
    """The crowd of the ranking tests without a single J… Sm… person: no row holds a
    correction of both words of "jonh smth"."""
    names = [
        (first, last)
        for first, last in itertools.product(FIRST, LAST)
        if not (first.startswith("J") and last.startswith("Sm"))
    ]
    _bulk_people(admin, [*names, ("Gerald", "Jones"), ("Gerald", "Smithers")])


def test_without_a_row_matching_every_word_the_closest_partial_matches_come_first(
    admin: Any, no_john_smith: None
) -> None:
    found = search.plan(actor=admin, query="jonh smth")
    assert found.mode == "some" and found.ids
    hits = [c.display_name for c in search.ranked(actor=admin, query="jonh smth", found=found)]
    # "smth" is one letter from "smith"/"smyth"; "jonh" two from "jones".
    smiths = [i for i, name in enumerate(hits) if name.endswith((" Smith", " Smyth"))]
    assert smiths and "Gerald Jones" in hits
    assert max(smiths) < hits.index("Gerald Jones"), hits
    assert hits[0].endswith((" Smith", " Smyth")), hits


def test_partial_matches_are_what_the_list_shows(admin: Any, no_john_smith: None) -> None:
    from rapport.customers import selectors

    found = search.plan(actor=admin, query="jonh smth")
    listed = selectors.customer_list(actor=admin, filters={"q": "jonh smth"})
    assert set(listed.values_list("pk", flat=True)) == set(found.ids)


def test_one_word_with_no_match_is_not_a_partial_match(admin: Any, no_john_smith: None) -> None:
    assert search.plan(actor=admin, query="zqxwv").mode == "none"
    assert search.plan(actor=admin, query="zqxwv qqzzy").mode == "none"


postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the PostgreSQL name-index pool"
)


@postgres_only
def test_a_common_first_name_is_pooled_from_the_name_index_alone(
    admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "CANDIDATES", 5)
    monkeypatch.setattr(search, "POOL", 5)
    _bulk_people(
        admin,
        [("Grace", f"Hopper{n}") for n in range(8)]
        + [("Ada", "Grace"), ("Graceland", "Smith"), ("Grace", "")],
    )
    with CaptureQueriesContext(connection) as queries:
        found = search.plan(actor=admin, query="Grace")
    assert found.mode == "exact" and len(found.ids) == 5
    assert not [q for q in queries if "search_text" in q["sql"]], "full-text arms were read"
    names = list(
        Customer.objects.filter(pk__in=found.ids)
        .order_by("sort_name")
        .values_list("display_name", flat=True)
    )
    # The name itself first, then names leading with the whole word, in name order.
    assert names == ["Grace ", "Grace Hopper0", "Grace Hopper1", "Grace Hopper2", "Grace Hopper3"]


@postgres_only
def test_too_few_whole_word_names_still_read_the_full_text_arms(
    admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "CANDIDATES", 5)
    _bulk_people(admin, [("Grace", "Hopper"), ("Ada", "Grace"), ("Graceland", "Smith")])
    found = search.plan(actor=admin, query="grace")
    names = {c.display_name for c in Customer.objects.filter(pk__in=found.ids)}
    assert names == {"Grace Hopper", "Ada Grace", "Graceland Smith"}
    assert [c.display_name for c in search.search_customers(actor=admin, query="grace")][:2] == [
        "Grace Hopper",
        "Ada Grace",
    ]


@postgres_only
def test_the_search_page_counts_while_pooling_without_a_count_query(
    client: Any, admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _bulk_people(admin, [(f"Ann{n}", "Smith") for n in range(12)] + [("Bob", "Jones")])
    client.force_login(admin)
    for cap, total in ((12, "12"), (11, "more than 11")):
        monkeypatch.setattr(search, "SEARCH_COUNT_CAP", cap)
        with CaptureQueriesContext(connection) as queries:
            part, _ = _customers_part(client, "smith")
        assert part.total == total
        assert not [q for q in queries if q["sql"].startswith("SELECT COUNT(*)")]
    # A term too short for the substring arm: counted by the list's own filter instead.
    monkeypatch.setattr(search, "SEARCH_COUNT_CAP", 500)
    with CaptureQueriesContext(connection) as queries:
        part, _ = _customers_part(client, "smith an")
    assert part.total == "12"
    assert [q for q in queries if q["sql"].startswith("SELECT COUNT(*)")]


@postgres_only
def test_a_name_pool_from_the_name_index_is_counted_by_the_list_filter(
    client: Any, admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "CANDIDATES", 3)
    _bulk_people(admin, [("Grace", f"Hopper{n}") for n in range(5)] + [("Ada", "Grace")])
    client.force_login(admin)
    part, _ = _customers_part(client, "grace")
    assert part.total == "6"


@postgres_only
def test_past_the_pool_a_long_term_is_pooled_from_its_substring_read_alone(
    client: Any, admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "POOL", 4)
    _bulk_people(admin, [(f"Ann{n}", "Hamilton") for n in range(6)] + [("Ann", "Hamm")])
    client.force_login(admin)
    # "ann" is too short to be read as a substring alone; "hamilton" is not.
    for query, gated, total in (("hamilton", True, "6"), ("ann", False, "7")):
        with CaptureQueriesContext(connection) as queries:
            part, _ = _customers_part(client, query)
        assert part.total == total, query
        if gated:  # every counted row joins the pool in the skipped arm's place
            assert len(part.hits) == int(total)
        pool = next(q["sql"] for q in queries if "WITH counted" in q["sql"])
        assert ("FROM counted) <=" in pool) is gated, query
