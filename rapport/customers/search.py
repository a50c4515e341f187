"""Global search over customers with each database's own full-text engine.

SQLite: an FTS5 table with the trigram tokenizer over `Customer.search_text`, kept in
sync by triggers (migration 0003). PostgreSQL: pg_trgm (ILIKE and word similarity on a
GIN trigram index) plus a `simple` tsvector index for whole-word prefixes. Both find
candidates inside the actor's record scope in SQL; rapidfuzz then re-ranks them so a
typo ("jhon smiht") still finds "John Smith". See docs/decisions/0201-search-on-each-database.md.

On PostgreSQL every step reads a bounded pool of candidates (`POOL`) before anything is
ranked, and the typo step first asks for a close word similarity (few rows share most of
a query's trigrams) before a loose one: a query made of common trigrams ("grace", in a
table where one row in ten has it) would otherwise make the database compute word
similarity for every such row. Terms under three characters never drive a trigram scan.

SQLite does the same with FTS5: the exact step reads at most `limit` matches unranked,
and the typo step counts each query trigram's rows (up to a cap), then reads only rows
holding one of the rarest trigrams (pigeonhole: a row sharing k of n trigrams holds one
of the n - k + 1 rarest), at most `TYPO_POOL`, strict share first, and counts the shared
trigrams in Python.

`matching` is the exact step alone, as a queryset filter: the API's `q` parameter uses it.
"""

from __future__ import annotations

import math
import re
from typing import Any

from django.db import connection, transaction
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL
from rapidfuzz import fuzz

from rapport.core.permissions import object_type_of, scope_filter, scope_queryset
from rapport.core.registry import SearchHit
from rapport.customers.models import Customer, CustomerKind

CANDIDATES = 200
# Typo tolerance (any shared trigram, re-ranked) kicks in only when exact substrings find none.
FUZZY_BELOW = 1
MIN_SCORE = 62
# PostgreSQL: rows each step reads (in index order) before ranking; more matching rows
# than this means the query is not selective, and typing more narrows it.
POOL = 300
# Word-similarity thresholds of the typo step, tried in order until one finds enough: a
# close one first (a row must share most of the query's trigrams, so common trigrams alone
# do not make a row a candidate), then a loose one for short names with a typo.
TYPO_THRESHOLDS = (0.6, 0.4)
TYPO_ENOUGH = 8
# Queries shorter than this (letters and digits) get no typo step at all.
TYPO_MIN_LENGTH = 4
# SQLite: the typo step's shares of the query's trigrams a row must hold, tried in order
# until the tiers have found TYPO_ENOUGH (the twin of TYPO_THRESHOLDS); the strictest tier
# reads only rows holding the query's rarest trigrams, so a rare surname with a typo is
# found before rows that share only common first names. Rows each tier reads at most, and
# where the count of a trigram's rows stops (only which are rarest matters; counting
# 5,000 rows of each of 13 trigrams took 7 ms at 1M customers).
TYPO_SHARES = (0.8, 0.6, 0.4)
TYPO_POOL = 1000
TRIGRAM_COUNT_CAP = 5000
# SQLite: an actor who sees at most this many customers (and not all) is searched by
# reading their rows, not through the full-text index.
SMALL_SCOPE = 5000


def _terms(query: str) -> list[str]:
    """Lower-cased search terms; a phone-like query becomes its significant digits."""
    text = query.strip().lower()
    digits = re.sub(r"\D", "", text)
    letters = re.sub(r"[\W\d_]", "", text)
    if len(digits) >= 5 and len(letters) == 0:
        # "+44 (0)20 7946-0958", "020 7946 0958" and "442079460958" share these digits.
        significant = digits.lstrip("0")
        if len(significant) > 10:  # with a country code: the subscriber number's tail
            significant = significant[-9:]
        return [significant]
    return [t for t in re.split(r"\s+", text) if t]


def _trigrams(term: str) -> list[str]:
    return [term[i : i + 3] for i in range(len(term) - 2)]


def _fts5_quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _scope_where(actor: Any) -> tuple[str, tuple[Any, ...]] | None:
    """The actor's record scope as a WHERE fragment on `customers_customer` (None: nothing).

    Joined per candidate rather than `id IN (all visible ids)`, which would list every
    visible customer (100k ids: +20 ms per search) before matching.
    """
    scoped = scope_queryset(
        Customer.objects.filter(merged_into__isnull=True), actor=actor, action="view"
    )
    if scoped.query.is_empty():
        return None
    compiler = scoped.query.get_compiler(using=scoped.db)
    sql, params = compiler.compile(scoped.query.where)
    return (sql or "1 = 1"), tuple(params)


def _small_scope(actor: Any) -> list[tuple[int, str]] | None:
    """(id, search_text) of every customer `actor` may see, when that is at most
    `SMALL_SCOPE` rows and not every customer; None otherwise.

    A rep who sees only their own few thousand customers is better served by reading
    them (one index range, ~2 ms) than by the full-text index, whose pools would hold the
    whole table's matches before the scope drops them (0.5-1 s at 1M customers).
    """
    condition = scope_filter(actor, object_type_of(Customer), "view")
    if not condition:  # an all-records grant (Q()), or none (the caller found no scope)
        return None
    scoped = Customer.objects.filter(condition, merged_into__isnull=True)
    rows = list(scoped.order_by().values_list("pk", "search_text")[: SMALL_SCOPE + 1])
    return rows if len(rows) <= SMALL_SCOPE else None


def _candidates_in(rows: list[tuple[int, str]], terms: list[str], limit: int) -> list[int]:
    """The SQLite steps' rules applied to rows already read: every long term as a
    substring, else the rows sharing the most trigrams (at least the loosest share)."""
    long_terms = [t for t in terms if len(t) >= 3]
    if not long_terms:
        return []
    exact = [pk for pk, text in rows if all(t in text for t in long_terms)]
    if len(exact) >= FUZZY_BELOW or len(re.sub(r"\W", "", "".join(terms))) < TYPO_MIN_LENGTH:
        return exact[:limit]
    grams = list(dict.fromkeys(g for t in long_terms for g in _trigrams(t)))
    k = max(1, math.ceil(min(TYPO_SHARES) * len(grams)))
    shared = [(pk, sum(1 for g in grams if g in text)) for pk, text in rows]
    ranked = sorted((item for item in shared if item[1] >= k), key=lambda i: (-i[1], i[0]))
    return [pk for pk, _ in ranked[:limit]]


def _sqlite_candidates(actor: Any, terms: list[str], limit: int) -> list[int]:
    scope = _scope_where(actor)
    if scope is None:
        return []
    scope_sql, scope_params = scope
    long_terms = [t for t in terms if len(t) >= 3]
    if not long_terms:
        return []
    small = _small_scope(actor)
    if small is not None:
        return _candidates_in(small, terms, limit)
    # Every term as a substring first: at most `limit` rows in index order, unranked
    # (bm25 over every match of a common word, "grace" in a tenth of a million rows, took
    # 170 ms); the Python re-ranking orders them.
    exact = " AND ".join(_fts5_quote(t) for t in long_terms)
    with connection.cursor() as cursor:
        # Only the scope condition Django compiled is interpolated; values are params.
        sql = (
            "SELECT customer_search.rowid FROM customer_search "  # noqa: S608
            'JOIN customers_customer ON "customers_customer"."id" = customer_search.rowid '
            f"WHERE customer_search MATCH %s AND ({scope_sql}) LIMIT %s"
        )
        cursor.execute(sql, (exact, *scope_params, limit))
        ids = [pk for (pk,) in cursor.fetchall()]
        if len(ids) >= FUZZY_BELOW or len(re.sub(r"\W", "", "".join(terms))) < TYPO_MIN_LENGTH:
            return ids
        grams = list(dict.fromkeys(g for t in long_terms for g in _trigrams(t)))
        frequencies = _sqlite_trigram_frequencies(cursor, grams)
        found: dict[int, int] = {}
        for share in TYPO_SHARES:
            for pk, shared in sqlite_typo_pool(
                cursor, grams, frequencies, share=share, scope=scope
            ):
                found.setdefault(pk, shared)
            if len(found) >= TYPO_ENOUGH:
                break
    # Most shared trigrams first; rapidfuzz re-ranks these afterwards.
    ranked = sorted(found.items(), key=lambda item: (-item[1], item[0]))
    return [pk for pk, _ in ranked[:limit]]


def _sqlite_trigram_frequencies(cursor: Any, grams: list[str]) -> dict[str, int]:
    """How many rows hold each trigram, counted up to `TRIGRAM_COUNT_CAP` (one statement).

    Only the order matters (rarest first), so each count stops at the cap: a trigram in a
    tenth of a million rows costs as much to count as one in a thousand.
    """
    counts = ", ".join(
        "(SELECT count(*) FROM (SELECT 1 FROM customer_search "
        "WHERE customer_search MATCH %s LIMIT %s))"
        for _ in grams
    )
    params: list[Any] = []
    for gram in grams:
        params += [_fts5_quote(gram), TRIGRAM_COUNT_CAP]
    cursor.execute(f"SELECT {counts}", params)  # fixed fragments only
    return dict(zip(grams, cursor.fetchone(), strict=True))


def sqlite_typo_pool(
    cursor: Any,
    grams: list[str],
    frequencies: dict[str, int],
    *,
    share: float,
    scope: tuple[str, tuple[Any, ...]],
) -> list[tuple[int, int]]:
    """(id, shared trigrams) of visible rows sharing at least `share` of `grams`.

    Pigeonhole: a row sharing at least k of the query's n trigrams holds at least one of
    its n - k + 1 rarest, so only rows holding one of those are read, in index order with
    no ranking, at most `TYPO_POOL` of them; the shared trigrams are counted here.
    """
    n = len(grams)
    k = max(1, math.ceil(share * n))
    rarest = sorted(grams, key=lambda g: (frequencies[g], g))[: n - k + 1]
    scope_sql, scope_params = scope
    sql = (
        "SELECT customers_customer.id, customers_customer.search_text "  # noqa: S608
        "FROM customer_search "
        'JOIN customers_customer ON "customers_customer"."id" = customer_search.rowid '
        f"WHERE customer_search MATCH %s AND ({scope_sql}) LIMIT %s"
    )
    match = " OR ".join(_fts5_quote(g) for g in rarest)
    cursor.execute(sql, (match, *scope_params, TYPO_POOL))
    pool = []
    for pk, text in cursor.fetchall():
        shared = sum(1 for g in grams if g in text)
        if shared >= k:
            pool.append((pk, shared))
    return pool


def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _postgres_candidates(actor: Any, terms: list[str], limit: int) -> list[int]:
    scope = _scope_where(actor)
    if scope is None:
        return []
    scope_sql, scope_params = scope
    query = " ".join(terms)
    long_terms = [t for t in terms if len(t) >= 3]
    words = [w for w in (re.sub(r"[^\w]", "", t) for t in terms) if w]
    # Each arm reads at most POOL rows of one index (no ORDER BY inside, so the scan stops
    # early); only the pooled rows are ranked. The scope is applied inside each arm.
    exact: list[tuple[str, list[Any]]] = []
    if words:
        exact.append(
            (
                "to_tsvector('simple', search_text) @@ to_tsquery('simple', %s)",
                [" & ".join(f"{w}:*" for w in words)],
            )
        )
    if long_terms:  # a LIKE pattern under three characters has no trigram to look up
        exact.append(
            (
                " AND ".join("search_text ILIKE %s" for _ in long_terms),
                [_like(t) for t in long_terms],
            )
        )
    typo = ("%s <%% search_text", [query])
    compact = re.sub(r"\W", "", query)

    def pooled(cursor: Any, arms: list[tuple[str, list[Any]]]) -> list[int]:
        selects, params = [], []
        for condition, arm_params in arms:
            selects.append(
                f"(SELECT id FROM customers_customer WHERE {condition} "  # noqa: S608
                f"AND ({scope_sql}) LIMIT %s)"
            )
            params += [*arm_params, *scope_params, POOL]
        # Only Django-compiled scope SQL and fixed fragments are interpolated.
        sql = (
            f"WITH pool AS MATERIALIZED ({' UNION '.join(selects)}) "  # noqa: S608
            'SELECT c.id FROM "customers_customer" c JOIN pool ON pool.id = c.id '
            "ORDER BY word_similarity(%s, c.search_text) DESC, c.id LIMIT %s"
        )
        cursor.execute(sql, (*params, query, limit))
        return [pk for (pk,) in cursor.fetchall()]

    ids: list[int] = []
    with transaction.atomic(), connection.cursor() as cursor:
        # No sequential scans for these statements: with LIMIT and no ORDER BY the planner
        # may hope to find POOL rows early in the heap, and for a rare term it then reads
        # the whole table; the indexes always answer.
        cursor.execute("SET LOCAL enable_seqscan = off")
        if exact:
            ids = pooled(cursor, exact)
        if len(ids) < FUZZY_BELOW and len(compact) >= TYPO_MIN_LENGTH:
            for threshold in TYPO_THRESHOLDS:
                cursor.execute(f"SET LOCAL pg_trgm.word_similarity_threshold = {threshold:.2f}")
                ids = pooled(cursor, [typo])
                if len(ids) >= TYPO_ENOUGH:
                    break
        cursor.execute("RESET enable_seqscan")
        cursor.execute("RESET pg_trgm.word_similarity_threshold")
    return ids


def matching(queryset: QuerySet[Customer], query: str) -> QuerySet[Customer]:
    """`queryset` narrowed to customers whose search text contains every term of `query`.

    Global search's exact step as a plain filter (no typo tolerance, no ranking), for lists
    that keep their own order and keyset pages (the API's `q`). Served by the full-text
    index: FTS5 trigram MATCH on SQLite, the trigram GIN index (LIKE) on PostgreSQL.
    """
    terms = _terms(query)
    if connection.vendor == "sqlite":
        long_terms = [t for t in terms if len(t) >= 3]
        if long_terms:
            match = " AND ".join(_fts5_quote(t) for t in long_terms)
            queryset = queryset.filter(
                pk__in=RawSQL(
                    "SELECT rowid FROM customer_search WHERE customer_search MATCH %s", (match,)
                )
            )
        terms = [t for t in terms if len(t) < 3]  # trigrams cannot serve these
    for term in terms:
        # search_text is lower-case; on PostgreSQL LIKE uses the trigram index.
        queryset = queryset.filter(search_text__contains=term)
    return queryset


def candidate_ids(*, actor: Any, query: str, limit: int = CANDIDATES) -> list[int]:
    """Ids of visible customers that may match `query`, best first (before re-ranking)."""
    terms = _terms(query)
    if not terms:
        return []
    if connection.vendor == "postgresql":
        return _postgres_candidates(actor, terms, limit)
    if connection.vendor == "sqlite":
        return _sqlite_candidates(actor, terms, limit)
    # Any other database: a plain (slow) substring scan, still within scope.
    qs = scope_queryset(Customer.objects.all(), actor=actor)
    for term in terms:
        qs = qs.filter(search_text__contains=term)
    return list(qs.values_list("pk", flat=True)[:limit])


def _score(terms: list[str], text: str, name: str) -> float:
    """Exact substrings beat typos; whole words, the name itself and its start rank higher."""
    query = " ".join(terms)
    name = name.lower()
    if all(t in text for t in terms):
        words = set(text.split())
        whole = sum(1 for t in terms if t in words)
        in_name = 8.0 if all(t in name for t in terms) else 0.0
        return 100.0 + 5.0 * whole + in_name + (10.0 if name.startswith(query) else 0.0)
    closeness = max(fuzz.partial_ratio(query, text), fuzz.token_set_ratio(query, text))
    # Between equally close texts, the one whose own name is closer comes first.
    return closeness + 0.05 * fuzz.token_set_ratio(query, name)


def search_customers(*, actor: Any, query: str, limit: int = 8) -> list[Customer]:
    """The best-matching visible customers, typo-tolerant, best first."""
    terms = _terms(query)
    ids = candidate_ids(actor=actor, query=query)
    if not ids:
        return []
    rows = Customer.objects.filter(pk__in=ids).only(
        "id",
        "kind",
        "display_name",
        "primary_email",
        "primary_phone",
        "city",
        "country",
        "search_text",
        "organization_name",
    )
    scored = [(c, _score(terms, c.search_text, c.display_name)) for c in rows]
    # With exact hits, only close typos keep company; without, anything plausible shows.
    floor = 85 if any(s >= 100 for _, s in scored) else MIN_SCORE
    scored = [(c, s) for c, s in scored if s >= floor]
    scored.sort(key=lambda cs: (-cs[1], cs[0].display_name.lower(), cs[0].pk))
    return [c for c, _ in scored[:limit]]


def search_provider(*, actor: Any, query: str, limit: int = 8) -> list[SearchHit]:
    """The customers' contribution to the shell's search box and Ctrl-K palette."""
    hits = []
    for customer in search_customers(actor=actor, query=query, limit=limit):
        place = ", ".join(p for p in [customer.city, customer.country] if p)
        subtitle = " · ".join(
            p for p in [customer.primary_email, customer.primary_phone, place] if p
        )
        hits.append(
            SearchHit(
                title=customer.display_name,
                subtitle=subtitle,
                url=customer.get_absolute_url(),
                kind="Organization" if customer.kind == CustomerKind.ORGANIZATION else "Person",
            )
        )
    return hits
