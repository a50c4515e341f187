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


sqlite_only = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="the SQLite typo step (FTS5 trigram pool)"
)


class _CountingCursor:
    """A cursor that remembers each statement's parameters and how many rows it returned."""

    def __init__(self, cursor):
        self.cursor, self.returned, self.params = cursor, [], []

    def execute(self, sql, params=()):
        self.params.append(list(params))
        return self.cursor.execute(sql, params)

    def fetchall(self):
        rows = self.cursor.fetchall()
        self.returned.append(len(rows))
        return rows

    def fetchone(self):
        return self.cursor.fetchone()


@pytest.fixture
def many_graces(admin):
    """Thirty customers who share "grace" (and "ace") with the query, one Grace Hopper."""
    for i in range(30):
        person(admin, "Grace", f"Turing{i}")
    return person(admin, "Grace", "Hopper")


@sqlite_only
def test_typo_step_reads_only_rows_holding_the_rarest_trigrams(admin, many_graces, monkeypatch):
    monkeypatch.setattr(search, "TYPO_POOL", 5)
    grams = ["gra", "rac", "ace", "hop", "ope", "per"]
    with connection.cursor() as raw:
        cursor = _CountingCursor(raw)
        frequencies = search._sqlite_trigram_frequencies(cursor, grams)
        assert frequencies["gra"] == 31 and frequencies["hop"] == 1 and frequencies["ope"] == 0
        pool = search.sqlite_typo_pool(
            cursor, grams, frequencies, share=0.6, scope=search._scope_where(admin)
        )
    # k = 4 of 6: only rows holding one of the 3 rarest are read. 31 rows hold "gra";
    # the one that also holds "hop" or "per" is the only one the read's MATCH selects.
    rarest = '"ope" OR "hop" OR "per"'
    assert rarest in cursor.params[-1]
    with connection.cursor() as raw:
        raw.execute("SELECT count(*) FROM customer_search WHERE customer_search MATCH %s", [rarest])
        assert raw.fetchone()[0] == 1
    assert pool == [(many_graces.pk, 5)]


@sqlite_only
def test_trigram_counts_stop_at_the_cap(admin, many_graces, monkeypatch):
    monkeypatch.setattr(search, "TRIGRAM_COUNT_CAP", 10)
    with connection.cursor() as cursor:
        assert search._sqlite_trigram_frequencies(cursor, ["gra", "hop"]) == {"gra": 10, "hop": 1}


@sqlite_only
def test_typo_pool_is_bounded_when_every_trigram_is_common(admin, many_graces, monkeypatch):
    monkeypatch.setattr(search, "TYPO_RARE", 0)  # the 31 rows holding them count as many
    monkeypatch.setattr(search, "TYPO_POOL", 7)
    grams = ["gra", "rac", "ace"]
    with connection.cursor() as raw:
        cursor = _CountingCursor(raw)
        frequencies = search._sqlite_trigram_frequencies(cursor, grams)
        pool = search.sqlite_typo_pool(
            cursor, grams, frequencies, share=0.6, scope=search._scope_where(admin)
        )
    assert cursor.returned == [7] and len(pool) == 7


postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the PostgreSQL typo step (sampled pigeonhole)"
)


@postgres_only
def test_postgres_trigram_frequencies_are_exact_on_a_small_table(admin, many_graces):
    with connection.cursor() as cursor:
        frequencies = search._postgres_trigram_frequencies(cursor, ["gra", "hop", "ope"])
    assert frequencies == {"gra": 31, "hop": 1, "ope": 0}


@postgres_only
def test_postgres_typo_pool_reads_only_rows_holding_the_rarest_trigrams(admin, many_graces):
    grams = ["gra", "rac", "ace", "hop", "ope", "per"]
    with connection.cursor() as raw:
        cursor = _CountingCursor(raw)
        frequencies = search._postgres_trigram_frequencies(cursor, grams)
        pool = search.postgres_typo_pool(
            cursor, grams, frequencies, share=0.6, scope=search._scope_where(admin)
        )
    # k = 4 of 6: the read is driven by the 3 rarest (ope, hop, per), after the six
    # shared-trigram patterns; the 30 Turings hold none of them, though they share
    # "gra", "rac" and "ace", so only one row is read.
    assert cursor.params[-1][6:9] == ["%ope%", "%hop%", "%per%"]
    with connection.cursor() as raw:
        raw.execute(
            "SELECT count(*) FROM customers_customer WHERE search_text LIKE %s "
            "OR search_text LIKE %s OR search_text LIKE %s",
            ["%ope%", "%hop%", "%per%"],
        )
        assert raw.fetchone()[0] == 1
    assert pool == [(many_graces.pk, 5)]


@postgres_only
def test_postgres_typo_pool_takes_the_first_rows_when_its_rarest_trigrams_are_common(
    admin, many_graces, monkeypatch
):
    monkeypatch.setattr(search, "TYPO_RARE", 0.5)
    monkeypatch.setattr(search, "TYPO_POOL", 7)
    grams = ["gra", "rac", "ace"]
    with connection.cursor() as cursor:
        frequencies = search._postgres_trigram_frequencies(cursor, grams)
        scope = search._scope_where(admin)
        pool = search.postgres_typo_pool(cursor, grams, frequencies, share=0.6, scope=scope)
        assert pool is not None and len(pool) == 7  # of 31 rows sharing all three
        # Punctuation cannot drive a trigram index read: too few indexable trigrams.
        punctuated = ["a.b", ".bc", "bc@", "c@d"]
        counts = dict.fromkeys(punctuated, 0.0)
        assert search.postgres_typo_pool(cursor, punctuated, counts, share=0.6, scope=scope) is None
    # Word similarity then serves the search.
    assert top(admin, "grace hoper")[0] == "Grace Hopper"


@postgres_only
def test_postgres_typo_pool_respects_record_scope(scoped_users, admin, many_graces):
    own = scoped_users["own"]
    grams = ["gra", "rac", "ace", "hop", "ope", "per"]
    with connection.cursor() as cursor:
        frequencies = search._postgres_trigram_frequencies(cursor, grams)
        pool = search.postgres_typo_pool(
            cursor, grams, frequencies, share=0.6, scope=search._scope_where(own)
        )
    assert pool == []


@pytest.mark.parametrize("query", ["grace hoper", "grace hopr", "grcae hopper"])
def test_a_typo_finds_its_record_among_many_sharing_common_trigrams(admin, many_graces, query):
    assert top(admin, query)[0] == "Grace Hopper"


def test_a_typo_in_a_rare_surname_finds_its_record_among_many_sharing_the_rest(admin, monkeypatch):
    """When the rows holding the query's rarest trigrams are few, all are ranked by what
    they share: the one record is found though 40 others that share just enough come
    first in index order (a first-rows pool of 5 would hold only those)."""
    monkeypatch.setattr(search, "TYPO_POOL", 5)
    # The trigram step alone: the name-word corrections would find "liskov" first.
    monkeypatch.setattr(search, "CORRECTIONS", 0)
    for _ in range(40):
        person(admin, "Ken", "Liskov49 499")  # ken kov ov4 v49 499: 5 of the query's 8
    target = person(admin, "Ken", "Liskov499999")  # ... and 999: 6 of 8
    assert top(admin, "ken likov499999")[0] == target.display_name
    # Forced to treat those rows as many, the step takes the first five, not the best.
    monkeypatch.setattr(search, "TYPO_RARE", -1)
    assert target.display_name not in top(admin, "ken likov499999")


def test_a_typo_ranks_the_closest_record_first(admin, people):
    person(admin, "Ada", "Lovell")
    found = top(admin, "ada lovleace")
    assert found[0] == "Ada Lovelace"


@sqlite_only
def test_a_small_scope_is_searched_by_reading_its_rows(admin, scoped_users, people):
    from django.test.utils import CaptureQueriesContext

    own = scoped_users["own"]
    person(own, "Grace", "Hopper")
    person(own, "Grace", "Turing")
    with CaptureQueriesContext(connection) as queries:
        assert top(own, "grace hoper")[0] == "Grace Hopper"
        assert top(own, "turing") == ["Grace Turing"]
        assert top(own, "lovelace") == []  # Ada is not theirs
    assert not any("customer_search" in q["sql"] for q in queries)
    # An actor who sees everyone still goes through the full-text index.
    with CaptureQueriesContext(connection) as queries:
        assert top(admin, "lovelace")[0] == "Ada Lovelace"
    assert any("customer_search" in q["sql"] for q in queries)
