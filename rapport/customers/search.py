"""Global search over customers with each database's own full-text engine.

SQLite: an FTS5 table with the trigram tokenizer over `Customer.search_text`, kept in
sync by triggers (migration 0003). PostgreSQL: pg_trgm (ILIKE and word similarity on a
GIN trigram index) plus a `simple` tsvector index for whole-word prefixes. Both find
candidates inside the actor's record scope in SQL; rapidfuzz then re-ranks them so a
typo ("jhon smiht") still finds "John Smith". See docs/decisions/0201-search-on-each-database.md.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import connection, transaction
from rapidfuzz import fuzz

from rapport.core.permissions import scope_queryset
from rapport.core.registry import SearchHit
from rapport.customers.models import Customer, CustomerKind

CANDIDATES = 200
# Typo tolerance (any shared trigram, re-ranked) kicks in only when exact substrings find none.
FUZZY_BELOW = 1
MIN_SCORE = 62


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


def _sqlite_candidates(actor: Any, terms: list[str], limit: int) -> list[int]:
    scope = _scope_where(actor)
    if scope is None:
        return []
    scope_sql, scope_params = scope
    long_terms = [t for t in terms if len(t) >= 3]
    if not long_terms:
        return []
    ids: list[int] = []
    # Every term as a substring first, then any of their trigrams (typos).
    exact = " AND ".join(_fts5_quote(t) for t in long_terms)
    fuzzy = " OR ".join(sorted({_fts5_quote(g) for t in long_terms for g in _trigrams(t)}))
    with connection.cursor() as cursor:
        for match in (exact, fuzzy):
            # Only the scope condition Django compiled is interpolated; values are params.
            sql = (
                "SELECT customer_search.rowid FROM customer_search "  # noqa: S608
                'JOIN customers_customer ON "customers_customer"."id" = customer_search.rowid '
                f"WHERE customer_search MATCH %s AND ({scope_sql}) "
                "ORDER BY customer_search.rank LIMIT %s"
            )
            cursor.execute(sql, (match, *scope_params, limit))
            for (pk,) in cursor.fetchall():
                if pk not in ids:
                    ids.append(pk)
            if len(ids) >= FUZZY_BELOW:
                break
    return ids[:limit]


def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _postgres_candidates(actor: Any, terms: list[str], limit: int) -> list[int]:
    scope = _scope_where(actor)
    if scope is None:
        return []
    scope_sql, scope_params = scope
    query = " ".join(terms)
    substrings = " AND ".join("search_text ILIKE %s" for _ in terms)
    words = [re.sub(r"[^\w]", "", t) for t in terms]
    tsquery = " & ".join(f"{w}:*" for w in words if w)
    # One arm per index (trigram ILIKE, simple tsvector, trigram word similarity), so each
    # is an index scan; an OR of them in one WHERE ends as a scan of every row.
    exact: list[tuple[str, list[Any]]] = [
        (f"SELECT id FROM customers_customer WHERE {substrings}", [_like(t) for t in terms]),  # noqa: S608
    ]
    if tsquery:
        exact.append(
            (
                "SELECT id FROM customers_customer "
                "WHERE to_tsvector('simple', search_text) @@ to_tsquery('simple', %s)",
                [tsquery],
            )
        )
    fuzzy = [("SELECT id FROM customers_customer WHERE %s <%% search_text", [query])]
    ids: list[int] = []
    with transaction.atomic(), connection.cursor() as cursor:
        # For these statements only: a lower word-similarity threshold lets one-letter
        # typos in short names through the index (rapidfuzz drops what is too far off),
        # and no sequential scans: on small tables the planner underprices them, and word
        # similarity computed for every row costs far more than it thinks.
        cursor.execute("SET LOCAL pg_trgm.word_similarity_threshold = 0.4")
        cursor.execute("SET LOCAL enable_seqscan = off")
        for arms in (exact, exact + fuzzy):
            sql = (
                f"WITH matches AS ({' UNION '.join(a for a, _ in arms)}) "  # noqa: S608
                'SELECT "customers_customer"."id" FROM "customers_customer" '
                f'WHERE "customers_customer"."id" IN (SELECT id FROM matches) AND ({scope_sql}) '
                'ORDER BY word_similarity(%s, "customers_customer"."search_text") DESC, '
                '"customers_customer"."id" LIMIT %s'
            )
            params = [p for _, arm_params in arms for p in arm_params]
            cursor.execute(sql, (*params, *scope_params, query, limit))
            ids = [pk for (pk,) in cursor.fetchall()]
            if len(ids) >= FUZZY_BELOW:
                break
        cursor.execute("RESET enable_seqscan")
        cursor.execute("RESET pg_trgm.word_similarity_threshold")
    return ids


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
