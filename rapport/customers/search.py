"""Global search over customers with each database's own full-text engine.

SQLite: an FTS5 table with the trigram tokenizer over `Customer.search_text`, kept in
sync by triggers (migration 0003). PostgreSQL: pg_trgm (ILIKE and word similarity on a
GIN trigram index) plus a `simple` tsvector index for whole-word prefixes. Both find
candidates inside the actor's record scope in SQL; rapidfuzz then re-ranks them so a
typo ("jhon smiht") still finds "John Smith". See docs/decisions/0201-search-on-each-database.md.

Every step reads a bounded set of rows before anything is ranked: a query made of
common trigrams ("grace", in a table where one row in ten has it) would otherwise cost
the whole match set. The exact step reads at most a pool of matches in index order. The
typo step, the same on both databases, estimates how many rows hold each of the query's
trigrams (SQLite: counts capped at `TRIGRAM_COUNT_CAP`; PostgreSQL, whose pg_trgm keeps
no counts: a fixed table sample), then, strictest share first, reads only rows holding
one of the n - k + 1 rarest (pigeonhole: a row sharing k of n trigrams holds one of
them) and ranks them by the trigrams they share when those rows are few, or takes the
first that share enough when they are many. On PostgreSQL, when too few of the query's
trigrams can be looked up (punctuation), close-then-loose word similarity serves instead.
Terms under three characters never drive a trigram scan.

`matching` is the exact step alone, as a queryset filter: the API's `q` parameter uses it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
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
# The typo step (both databases): shares of the query's trigrams a row must hold, tried
# in order until the tiers have found TYPO_ENOUGH. By the pigeonhole rule a tier reads
# only rows holding one of the query's n - k + 1 rarest trigrams. When those are in at
# most TYPO_RARE rows, all of them (at most TYPO_SCAN, room for a rough estimate) are
# ranked by the trigrams they share, in SQL: a rare surname with a typo finds its one
# record among thousands sharing the first name. Otherwise many rows match about equally
# and the read stops after TYPO_POOL rows, keeping those that share enough, unranked.
TYPO_SHARES = (0.8, 0.6, 0.4)
TYPO_POOL = 1000
TYPO_RARE = 15000
TYPO_SCAN = 30000
# SQLite: where the count of a trigram's rows stops (only which are rarest matters;
# counting 5,000 rows of each of 13 trigrams took 7 ms at 1M customers).
TRIGRAM_COUNT_CAP = 5000
# PostgreSQL: pg_trgm keeps no count of a trigram's rows, so they are estimated from a
# fixed sample of about this many table pages (TABLESAMPLE SYSTEM, REPEATABLE: the same
# pages each time; ~5,000 customers). Any n - k + 1 trigrams give the pigeonhole's
# guarantee: the estimate only makes the read cheap.
TRIGRAM_SAMPLE_PAGES = 200
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
        ids, _ = _typo_tiers(
            lambda share: sqlite_typo_pool(cursor, grams, frequencies, share=share, scope=scope),
            limit,
        )
    return ids


def _pigeonhole(
    grams: list[str],
    frequencies: Mapping[str, float],
    share: float,
    drivers: list[str] | None = None,
) -> tuple[int, list[str]]:
    """k, the trigrams a row must share with the query at `share`, and the n - k + 1
    rarest of `drivers` (default: all of `grams`): a row sharing k of the n holds one of
    them. Fewer come back when `drivers` has fewer."""
    n = len(grams)
    k = max(1, math.ceil(share * n))
    ordered = sorted(grams if drivers is None else drivers, key=lambda g: (frequencies[g], g))
    return k, ordered[: n - k + 1]


def _typo_tiers(
    read: Callable[[float], list[tuple[int, int]] | None], limit: int
) -> tuple[list[int], bool]:
    """The typo step's tiers, strictest share first, until TYPO_ENOUGH rows are found.

    `read(share)` gives (id, shared trigrams) of one tier, or None when it cannot be
    read. Returns the ids, most shared first, and whether the tiers ran to their end
    (False: a tier could not be read and the caller needs another way).
    """
    found: dict[int, int] = {}
    complete = False
    for share in TYPO_SHARES:
        pool = read(share)
        if pool is None:
            break
        for pk, shared in pool:
            found.setdefault(pk, shared)
        complete = len(found) >= TYPO_ENOUGH or share == TYPO_SHARES[-1]
        if complete:
            break
    # Most shared trigrams first; rapidfuzz re-ranks these afterwards.
    ranked = sorted(found.items(), key=lambda item: (-item[1], item[0]))
    return [pk for pk, _ in ranked[:limit]], complete


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
    its n - k + 1 rarest, so only rows holding one of those are read (at most
    `TYPO_SCAN`), and the trigrams each shares are counted in SQL. When each of the
    rarest is in fewer than `TRIGRAM_COUNT_CAP` rows and all together in at most
    `TYPO_RARE`, the rows are ranked by what they share and the best `CANDIDATES` kept: a
    typo in a rare surname finds its one record among thousands sharing the first name.
    Otherwise many rows match about equally: the read stops after the first `TYPO_POOL`
    rows in index order and keeps those that share enough.
    """
    k, rarest = _pigeonhole(grams, frequencies, share)
    counts = [frequencies[g] for g in rarest]
    few = max(counts) < TRIGRAM_COUNT_CAP and sum(counts) <= TYPO_RARE
    scope_sql, scope_params = scope
    shared = " + ".join("(instr(customers_customer.search_text, %s) > 0)" for _ in grams)
    # Only the scope condition Django compiled and fixed fragments are interpolated.
    sql = (
        f"SELECT id, shared FROM (SELECT customers_customer.id, {shared} AS shared "  # noqa: S608
        "FROM customer_search "
        'JOIN customers_customer ON "customers_customer"."id" = customer_search.rowid '
        f"WHERE customer_search MATCH %s AND ({scope_sql}) LIMIT %s) WHERE shared >= %s "
        + ("ORDER BY shared DESC, id " if few else "")
        + "LIMIT %s"
    )
    match = " OR ".join(_fts5_quote(g) for g in rarest)
    cursor.execute(
        sql, (*grams, match, *scope_params, TYPO_SCAN if few else TYPO_POOL, k, CANDIDATES)
    )
    return [(pk, count) for pk, count in cursor.fetchall()]


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
            grams = list(dict.fromkeys(g for t in long_terms for g in _trigrams(t)))
            frequencies = _postgres_trigram_frequencies(cursor, grams)
            ids, complete = _typo_tiers(
                lambda share: postgres_typo_pool(
                    cursor, grams, frequencies, share=share, scope=scope
                ),
                limit,
            )
            if not complete:
                # Too few of the query's trigrams can be looked up in the index.
                for threshold in TYPO_THRESHOLDS:
                    cursor.execute(f"SET LOCAL pg_trgm.word_similarity_threshold = {threshold:.2f}")
                    more = [pk for pk in pooled(cursor, [typo]) if pk not in ids]
                    if len(ids) + len(more) >= TYPO_ENOUGH:
                        break
                ids = (ids + more)[:limit]
        cursor.execute("RESET enable_seqscan")
        cursor.execute("RESET pg_trgm.word_similarity_threshold")
    return ids


def _postgres_trigram_frequencies(cursor: Any, grams: list[str]) -> dict[str, float]:
    """Each trigram's rows in the table, estimated from a fixed sample of about
    `TRIGRAM_SAMPLE_PAGES` table pages.

    They choose which trigrams drive the read and whether that read is small enough: a
    rough estimate costs speed, never results. The table's size in pages is the file's
    (statistics may not exist yet after a bulk load).
    """
    if not grams:
        return {}
    cursor.execute(
        "SELECT pg_relation_size(%s::regclass) / current_setting('block_size')::int",
        [Customer._meta.db_table],
    )
    pages = int(cursor.fetchone()[0])
    percent = 100.0 if pages <= TRIGRAM_SAMPLE_PAGES else 100.0 * TRIGRAM_SAMPLE_PAGES / pages
    counts = ", ".join("count(*) FILTER (WHERE search_text LIKE %s)" for _ in grams)
    cursor.execute(
        f"SELECT {counts} FROM customers_customer "  # noqa: S608  (fixed fragments only)
        "TABLESAMPLE SYSTEM (%s) REPEATABLE (7)",
        [*(_like(g) for g in grams), percent],
    )
    return {g: count * 100.0 / percent for g, count in zip(grams, cursor.fetchone(), strict=True)}


def postgres_typo_pool(
    cursor: Any,
    grams: list[str],
    frequencies: dict[str, float],
    *,
    share: float,
    scope: tuple[str, tuple[Any, ...]],
) -> list[tuple[int, int]] | None:
    """(id, shared trigrams) of visible rows sharing at least `share` of `grams`; None
    when the query has too few trigrams that the GIN index can look up.

    The pigeonhole of the SQLite step: a row sharing k of the n trigrams holds one of any
    n - k + 1 of them, so only rows holding one of the rarest are read (a bitmap OR of
    their GIN entries, at most `TYPO_SCAN` rows). When those are estimated in at most
    `TYPO_RARE` rows, they are ranked by the trigrams they share and the best
    `CANDIDATES` kept; otherwise those sharing k among the first `TYPO_POOL` read.
    pg_trgm indexes letters and digits only: a trigram with punctuation ("a.b") would
    make the index hand over every row, so only all-alphanumeric ones drive the read.
    """
    k, rarest = _pigeonhole(grams, frequencies, share, drivers=[g for g in grams if g.isalnum()])
    if len(rarest) < len(grams) - k + 1:
        return None
    few = sum(frequencies[g] for g in rarest) <= TYPO_RARE
    scope_sql, scope_params = scope
    holds = " OR ".join("search_text LIKE %s" for _ in rarest)
    shared = " + ".join("(search_text LIKE %s)::int" for _ in grams)
    # Only Django-compiled scope SQL and fixed fragments are interpolated.
    sql = (
        f"SELECT id, shared FROM (SELECT id, {shared} AS shared "  # noqa: S608
        f"FROM customers_customer WHERE ({holds}) AND ({scope_sql}) LIMIT %s) s "
        "WHERE shared >= %s " + ("ORDER BY shared DESC, id " if few else "") + "LIMIT %s"
    )
    cursor.execute(
        sql,
        [
            *(_like(g) for g in grams),
            *(_like(g) for g in rarest),
            *scope_params,
            TYPO_SCAN if few else TYPO_POOL,
            k,
            CANDIDATES,
        ],
    )
    return [(pk, count) for pk, count in cursor.fetchall()]


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


def purge_deleted_terms() -> None:
    """Rewrite the SQLite FTS5 index so the terms of replaced rows are gone from disk.

    An FTS5 delete only appends a tombstone: an erased person's trigrams stay in older
    segments (unreadable through MATCH, readable in the file) until segments merge.
    'optimize' merges them all now. PostgreSQL's GIN entries of the old row version go
    with the dead tuple at the next (auto)vacuum.
    """
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO customer_search(customer_search) VALUES ('optimize')")
