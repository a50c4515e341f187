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

import functools
import math
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from rapidfuzz import process
from rapidfuzz.distance import OSA

from rapport.core.permissions import object_type_of, scope_filter, scope_queryset
from rapport.core.registry import SearchHit
from rapport.customers import normalize
from rapport.customers.models import Customer, CustomerKind, SearchWord

CANDIDATES = 200
# Typo tolerance (any shared trigram, re-ranked) kicks in only when exact substrings find none.
FUZZY_BELOW = 1
# The trigram step's rows must score at least this (out of ~108) to be shown.
MIN_SCORE = 42.0
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


@dataclass(frozen=True)
class Plan:
    """How a query matched, which the global search and the list share: `exact` (every
    term as a substring), `typo` (every term as one of its `corrections`), `trigram` (the
    trigram typo step: only its `ids` match) or `none`. `ids` are at most CANDIDATES
    matching rows, read in index order (plus exact name-prefix matches), not ranked."""

    mode: str
    ids: list[int] = field(default_factory=list)
    corrections: list[list[str]] = field(default_factory=list)


# --- Typos corrected against the words of customers' names -----------------------------
# A typo in a short word ("smth", "jonh") shares no trigram with the word meant, so the
# trigram step cannot find it. Each query word is corrected against the vocabulary of name
# words (SearchWord, kept by the services and the import), allowing edits by its length
# (optimal string alignment: swapping two letters is one edit), and the rows holding a
# correction of every word are read through the full-text index like exact matches. The
# closest corrections are tried first; all of them when those find too few rows.
CORRECTIONS = 12  # per word, closest first
VOCABULARY_TTL = 600.0  # seconds before a process rereads the whole vocabulary
_VOCABULARY_CACHE_KEY = "customers.search.vocabulary"


def max_edits(length: int) -> int:
    """Edits forgiven in a word of `length` letters: none under 3, one at 3, two from 4."""
    return 0 if length < 3 else 1 if length == 3 else 2


@dataclass
class _Vocabulary:
    by_length: dict[int, list[str]] = field(default_factory=dict)
    known: set[str] = field(default_factory=set)
    last_id: int = 0
    loaded_at: float = 0.0
    token: str | None = None


_VOCABULARY = _Vocabulary()


def _vocabulary() -> _Vocabulary:
    """The name words, cached in the process; each call reads only the words added since
    (by id, one indexed query). Reread whole every VOCABULARY_TTL seconds (PostgreSQL may
    commit ids out of order) and whenever the shared cache lost this process's token
    (cleared: a test's rolled-back words must not linger)."""
    state = _VOCABULARY
    token = cache.get(_VOCABULARY_CACHE_KEY)
    if token is None:
        token = uuid.uuid4().hex
        cache.set(_VOCABULARY_CACHE_KEY, token, None)
    if token != state.token or time.monotonic() - state.loaded_at > VOCABULARY_TTL:
        state.by_length, state.known, state.last_id = {}, set(), 0
        state.loaded_at, state.token = time.monotonic(), token
    rows = SearchWord.objects.filter(pk__gt=state.last_id).order_by("pk").values_list("pk", "word")
    for pk, word in rows:
        if word not in state.known:
            state.known.add(word)
            state.by_length.setdefault(len(word), []).append(word)
        state.last_id = pk
    return state


def forget_words(words: set[str], *, except_customer_id: int) -> int:
    """Drop from the vocabulary the words no other customer's name still holds (a GDPR
    erasure: the erased person's rare surname must not outlive them). A word found inside
    another customer's search text is kept: conservative, since a shared word identifies
    no one. Each check is an `exists()` over the search text, a scan where no index
    serves it, acceptable for an erasure's two or three words. Processes reread the
    vocabulary after commit."""
    gone = [
        word
        for word in sorted(words)
        if not Customer.objects.exclude(pk=except_customer_id)
        .filter(search_text__contains=word)
        .exists()
    ]
    if not gone:
        return 0
    deleted, _ = SearchWord.objects.filter(word__in=gone).delete()
    transaction.on_commit(lambda: cache.delete(_VOCABULARY_CACHE_KEY))
    return deleted


def corrections(word: str) -> list[tuple[str, int]]:
    """(known word, edits) within the edits `word`'s length forgives, closest first (then
    the same length, then the longest shared start); at most CORRECTIONS."""
    vocabulary = _vocabulary()
    limit = max_edits(len(word))
    found: dict[str, int] = {word: 0} if word in vocabulary.known else {}
    for length in range(len(word) - limit, len(word) + limit + 1):
        choices = vocabulary.by_length.get(length)
        if not limit or not choices:
            continue
        for known, distance, _ in process.extract(
            word, choices, scorer=OSA.distance, score_cutoff=limit, limit=None
        ):
            found.setdefault(known, int(distance))

    def shared_start(known: str) -> int:
        pairs = enumerate(zip(known, word, strict=False))
        return next((i for i, (a, b) in pairs if a != b), min(len(known), len(word)))

    ranked = sorted(
        found.items(),
        key=lambda item: (item[1], len(item[0]) != len(word), -shared_start(item[0]), item[0]),
    )
    return ranked[:CORRECTIONS]


_LETTERS = re.compile(r"[^\W\d_]{3,}")


def _corrected_terms(terms: list[str]) -> tuple[list[list[str]], list[list[str]]] | None:
    """Per term of three characters or more, its corrections as whole terms (the first
    run of letters replaced: "dikstra50000" -> "dijkstra50000"), the closest ones and all
    of them; None when no term has a correction. A term without a known correction is
    kept as it is (part of an e-mail, digits)."""
    closest: list[list[str]] = []
    every: list[list[str]] = []
    corrected = False
    for term in terms:
        if len(term) < 3:
            continue  # no trigram to look up; the ranking still weighs it
        run = _LETTERS.search(term)
        found = corrections(run.group()) if run else []
        if run is None or not found:
            closest.append([term])
            every.append([term])
            continue
        whole = [(term[: run.start()] + w + term[run.end() :], d) for w, d in found]
        corrected = corrected or any(d for _, d in whole)
        best = min(d for _, d in whole)
        closest.append([t for t, d in whole if d == best])
        every.append([t for t, _ in whole])
    return (closest, every) if corrected else None


def _fts5_any(alternatives: list[list[str]]) -> str:
    """An FTS5 query: one of each group's strings, for every group."""
    return " AND ".join(
        "(" + " OR ".join(_fts5_quote(a) for a in group) + ")" for group in alternatives
    )


def _terms(query: str) -> list[str]:
    """Lower-cased search terms; a phone-like query becomes its significant digits."""
    text = normalize.fold_accents(query.strip())  # as search_text: "émile" is "emile"
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


def _candidates_in(rows: list[tuple[int, str]], terms: list[str], limit: int) -> Plan:
    """The SQLite steps' rules applied to rows already read: every long term as a
    substring, else every term as one of its corrections, else the rows sharing the most
    trigrams (at least the loosest share)."""
    long_terms = [t for t in terms if len(t) >= 3]
    if not long_terms:
        return Plan("none")
    exact = [pk for pk, text in rows if all(t in text for t in long_terms)]
    if len(exact) >= FUZZY_BELOW or len(re.sub(r"\W", "", "".join(terms))) < TYPO_MIN_LENGTH:
        return Plan("exact" if exact else "none", exact[:limit])
    tiers = _corrected_terms(terms)
    if tiers is not None:
        for tier in tiers:
            ids = [pk for pk, text in rows if all(any(a in text for a in g) for g in tier)]
            if len(ids) >= TYPO_ENOUGH or (ids and tier is tiers[1]):
                return Plan("typo", ids[:limit], tier)
    grams = list(dict.fromkeys(g for t in long_terms for g in _trigrams(t)))
    k = max(1, math.ceil(min(TYPO_SHARES) * len(grams)))
    shared = [(pk, sum(1 for g in grams if g in text)) for pk, text in rows]
    ranked = sorted((item for item in shared if item[1] >= k), key=lambda i: (-i[1], i[0]))
    ids = [pk for pk, _ in ranked[:limit]]
    return Plan("trigram" if ids else "none", ids)


def _name_prefix_sql(terms: list[str]) -> tuple[str, list[Any]] | None:
    """Rows whose name starts with the query, read from the name index (sort_name, id):
    exact and near-exact names join the pool however many rows match the terms."""
    key = normalize.name_sort_key(" ".join(terms))
    if len(key) < 3:
        return None
    return "sort_name >= %s AND sort_name < %s", [key, key + "\U0010ffff"]


NAME_PREFIX_POOL = 50


def _sqlite_candidates(actor: Any, terms: list[str], limit: int) -> Plan:
    scope = _scope_where(actor)
    if scope is None:
        return Plan("none")
    scope_sql, scope_params = scope
    long_terms = [t for t in terms if len(t) >= 3]
    if not long_terms:
        return Plan("none")
    small = _small_scope(actor)
    if small is not None:
        return _candidates_in(small, terms, limit)
    table = '"customers_customer"'
    # Every term as a substring first: at most `limit` rows in index order, unranked
    # (bm25 over every match of a common word, "grace" in a tenth of a million rows, took
    # 170 ms); the Python re-ranking orders them.
    exact = " AND ".join(_fts5_quote(t) for t in long_terms)
    with connection.cursor() as cursor:

        def pooled(match: str) -> list[int]:
            # Only the scope condition Django compiled is interpolated; values are params.
            sql = (
                "SELECT customer_search.rowid FROM customer_search "  # noqa: S608
                f'JOIN {table} ON {table}."id" = customer_search.rowid '
                f"WHERE customer_search MATCH %s AND ({scope_sql}) LIMIT %s"
            )
            cursor.execute(sql, (match, *scope_params, limit))
            return [pk for (pk,) in cursor.fetchall()]

        ids = pooled(exact)
        if ids:
            prefix = _name_prefix_sql(terms)
            if prefix is not None:
                cursor.execute(
                    f"SELECT id FROM {table} WHERE {prefix[0]} AND ({scope_sql}) LIMIT %s",  # noqa: S608
                    (*prefix[1], *scope_params, NAME_PREFIX_POOL),
                )
                ids = list(dict.fromkeys([pk for (pk,) in cursor.fetchall()] + ids))
        if len(ids) >= FUZZY_BELOW or len(re.sub(r"\W", "", "".join(terms))) < TYPO_MIN_LENGTH:
            return Plan("exact" if ids else "none", ids)
        tiers = _corrected_terms(terms)
        if tiers is not None:
            for tier in tiers:
                ids = pooled(_fts5_any(tier))
                if len(ids) >= TYPO_ENOUGH or (ids and tier is tiers[1]):
                    return Plan("typo", ids, tier)
        grams = list(dict.fromkeys(g for t in long_terms for g in _trigrams(t)))
        frequencies = _sqlite_trigram_frequencies(cursor, grams)
        ids, _ = _typo_tiers(
            lambda share: sqlite_typo_pool(cursor, grams, frequencies, share=share, scope=scope),
            limit,
        )
    return Plan("trigram" if ids else "none", ids)


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


def _postgres_candidates(actor: Any, terms: list[str], limit: int) -> Plan:
    scope = _scope_where(actor)
    if scope is None:
        return Plan("none")
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
    prefix = _name_prefix_sql(terms)
    if exact and prefix is not None:
        exact.append(prefix)
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
    plan: Plan | None = None
    with transaction.atomic(), connection.cursor() as cursor:
        # No sequential scans for these statements: with LIMIT and no ORDER BY the planner
        # may hope to find POOL rows early in the heap, and for a rare term it then reads
        # the whole table; the indexes always answer.
        cursor.execute("SET LOCAL enable_seqscan = off")
        if exact:
            ids = pooled(cursor, exact)
            plan = Plan("exact", ids) if ids else None
        tiers = _corrected_terms(terms) if not ids and len(compact) >= TYPO_MIN_LENGTH else None
        for tier in tiers or ():
            condition = " AND ".join(
                "(" + " OR ".join("search_text LIKE %s" for _ in group) + ")" for group in tier
            )
            ids = pooled(cursor, [(condition, [_like(a) for group in tier for a in group])])
            if len(ids) >= TYPO_ENOUGH or (ids and tier is tiers[1]):  # type: ignore[index]
                plan = Plan("typo", ids, tier)
                break
        if plan is None and len(compact) >= TYPO_MIN_LENGTH:
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
            plan = Plan("trigram" if ids else "none", ids)
        cursor.execute("RESET enable_seqscan")
        cursor.execute("RESET pg_trgm.word_similarity_threshold")
    return plan or Plan("none")


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


def plan(*, actor: Any, query: str, limit: int | None = None) -> Plan:
    """How `query` matches the customers `actor` may see, with at most `limit` of them
    (default CANDIDATES)."""
    limit = CANDIDATES if limit is None else limit
    terms = _terms(query)
    if not terms:
        return Plan("none")
    if connection.vendor == "postgresql":
        return _postgres_candidates(actor, terms, limit)
    if connection.vendor == "sqlite":
        return _sqlite_candidates(actor, terms, limit)
    # Any other database: a plain (slow) substring scan, still within scope.
    qs = scope_queryset(Customer.objects.all(), actor=actor)
    for term in terms:
        qs = qs.filter(search_text__contains=term)
    ids = list(qs.values_list("pk", flat=True)[:limit])
    return Plan("exact" if ids else "none", ids)


def candidate_ids(*, actor: Any, query: str, limit: int | None = None) -> list[int]:
    """Ids of visible customers that may match `query`, best first (before re-ranking)."""
    return plan(actor=actor, query=query, limit=limit).ids


def matches(queryset: QuerySet[Customer], found: Plan, query: str) -> QuerySet[Customer]:
    """`queryset` narrowed to every customer that matches as `found` says, not only the
    pooled ones: the list's `q`, so its count and pages cover all the matches."""
    if found.mode == "exact":
        return matching(queryset, query)
    if found.mode == "typo":
        if connection.vendor == "sqlite":
            return queryset.filter(
                pk__in=RawSQL(
                    "SELECT rowid FROM customer_search WHERE customer_search MATCH %s",
                    (_fts5_any(found.corrections),),
                )
            )
        for group in found.corrections:
            any_of = Q()
            for alternative in group:
                any_of |= Q(search_text__contains=alternative)
            queryset = queryset.filter(any_of)
        return queryset
    return queryset.filter(pk__in=found.ids)


_WORDS = re.compile(r"[^\W_]+")


@functools.lru_cache(maxsize=64)
def _query_key(terms: tuple[str, ...]) -> str:
    return normalize.name_sort_key(" ".join(terms))


# A typo match keeps company only with matches nearly as close as the best one.
TYPO_SPREAD = 15.0


def _term_score(term: str, name: str, name_words: list[str], text: str) -> tuple[float, bool]:
    """How well one term matches (0-1) and whether it matches as it is typed."""
    if term in name_words:
        return 1.0, True
    if any(w.startswith(term) for w in name_words):
        return 0.9, True
    if term in name:
        return 0.8, True
    if term in text:
        return 0.75, True
    best = 0.0
    for word in [*name_words, *_WORDS.findall(text)]:
        # Between equally many edits, a swap or a wrong letter beats a missing one.
        closeness = OSA.normalized_similarity(term, word) + 0.02 * (len(word) == len(term))
        best = max(best, min(closeness, 1.0))
    return 0.7 * best, False


def score(
    terms: list[str], text: str, name: str, *, name_key: str | None = None
) -> tuple[float, bool]:
    """(relevance, every term found as typed). Whole words of the name beat their starts,
    which beat other substrings of the name, then of the e-mails, phones and
    organizations, then corrected words by their edits; the name being the query, or
    starting with it, adds to that. So "john smith" puts John Smith before John
    Smithson, and both before Johnny Smith."""
    if not terms:
        return 0.0, False
    folded = normalize.fold_accents(name)
    name_words = _WORDS.findall(folded)
    parts = [_term_score(t, folded, name_words, text) for t in terms]
    value = 100.0 * sum(p for p, _ in parts) / len(parts)
    query_key = _query_key(tuple(terms))
    if name_key is None:
        name_key = normalize.name_sort_key(name)
    if query_key and name_key == query_key:
        value += 8.0
    elif query_key and name_key.startswith(query_key):
        value += 4.0
    return value, all(found for _, found in parts)


def ranked(*, actor: Any, query: str, found: Plan | None = None) -> list[Customer]:
    """The pooled matches of `query` (`found`, or planned here), best first: with exact
    matches only those (the same rows the list counts), with typos only those nearly as
    close as the best."""
    terms = _terms(query)
    found = found if found is not None else plan(actor=actor, query=query)
    if not found.ids:
        return []
    rows = Customer.objects.filter(pk__in=found.ids).only(
        "id",
        "kind",
        "display_name",
        "sort_name",
        "primary_email",
        "primary_phone",
        "city",
        "country",
        "search_text",
        "organization_name",
    )
    scored: list[tuple[Customer, float]] = []
    for customer in rows:
        value, as_typed = score(
            terms, customer.search_text, customer.display_name, name_key=customer.sort_name
        )
        if found.mode == "exact" and not as_typed:
            continue
        scored.append((customer, value))
    if found.mode != "exact" and scored:
        # Corrected words are within the edits their length forgives already; the
        # trigram step's rows must also be plausibly close on their own.
        best = max(v for _, v in scored)
        floor = best - TYPO_SPREAD if found.mode == "typo" else max(best - TYPO_SPREAD, MIN_SCORE)
        scored = [(c, v) for c, v in scored if v >= floor]
    scored.sort(key=lambda cv: (-cv[1], cv[0].sort_name, cv[0].pk))
    return [c for c, _ in scored]


def search_customers(*, actor: Any, query: str, limit: int = 8) -> list[Customer]:
    """The best-matching visible customers, typo-tolerant, best first."""
    return ranked(actor=actor, query=query)[:limit]


def customer_hit(customer: Customer) -> SearchHit:
    place = ", ".join(p for p in [customer.city, customer.country] if p)
    subtitle = " · ".join(p for p in [customer.primary_email, customer.primary_phone, place] if p)
    return SearchHit(
        title=customer.display_name,
        subtitle=subtitle,
        url=customer.get_absolute_url(),
        kind="Organization" if customer.kind == CustomerKind.ORGANIZATION else "Person",
    )


def search_provider(*, actor: Any, query: str, limit: int = 8) -> list[SearchHit]:
    """The customers' contribution to the shell's search box and Ctrl-K palette."""
    return [customer_hit(c) for c in search_customers(actor=actor, query=query, limit=limit)]


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
