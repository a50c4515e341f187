"""No table carries an index that another index of the same table already provides.

A B-tree on (a) answers nothing that a B-tree on (a, b, …) cannot: every lookup, range
and join on `a` can use the longer one. The shorter one is pure write cost: every insert
of a bulk import and every timeline entry pays for it. Django adds such indexes without
asking (a ForeignKey gets one even when a composite index or unique constraint starts
with the same column), so this test reads the real schema of the test database, on
SQLite and on PostgreSQL, and names each redundant index with the one that covers it.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.db import connection

pytestmark = pytest.mark.django_db


def _btree_indexes(table: str) -> list[tuple[str, tuple[str, ...], bool]]:
    """(name, columns, unique) of the table's plain B-tree indexes and unique constraints:
    not partial, not on expressions, not GIN/GiST (PostgreSQL full-text and trigram)."""
    with connection.cursor() as cursor:
        constraints: dict[str, dict[str, Any]] = connection.introspection.get_constraints(
            cursor, table
        )
    pattern_ops = _pattern_ops_indexes(table)
    found = []
    for name, info in constraints.items():
        if name in pattern_ops:
            continue  # PostgreSQL's LIKE 'prefix%' index beside Django's plain one
        columns = tuple(info.get("columns") or ())
        if info.get("primary_key") or not columns or None in columns:
            continue
        if not (info.get("index") or info.get("unique")):
            continue
        if info.get("type") not in (None, "idx", "btree"):
            continue
        found.append((name, columns, bool(info.get("unique"))))
    return found


def _pattern_ops_indexes(table: str) -> set[str]:
    """PostgreSQL indexes with a varchar/text_pattern_ops operator class: another access
    path (prefix LIKE in any collation) than a plain B-tree on the same column."""
    if connection.vendor != "postgresql":
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = %s AND indexdef LIKE %s",
            [table, "%pattern_ops%"],
        )
        return {name for (name,) in cursor.fetchall()}


def _partial_index_names() -> set[str]:
    names: set[str] = set()
    for model in apps.get_models():
        for index in model._meta.indexes:
            if index.condition is not None:
                names.add(index.name)
    return names


def _redundant_in(table: str, partial: set[str]) -> list[str]:
    indexes = [i for i in _btree_indexes(table) if i[0] not in partial]
    redundant = []
    for name, columns, unique in indexes:
        if unique:
            continue  # a unique constraint is a rule, not only an access path
        for other, other_columns, _ in indexes:
            # Two equal column lists: the later name is reported, the other one kept.
            covers = len(other_columns) > len(columns) or other < name
            if other != name and other_columns[: len(columns)] == columns and covers:
                redundant.append(f"{table}.{name} {columns} is covered by {other}")
                break
    return redundant


def test_no_index_is_a_leading_prefix_of_another_on_the_same_table():
    partial = _partial_index_names()
    tables = sorted(  # ours: Django's and other packages' tables are theirs to index
        {
            model._meta.db_table
            for model in apps.get_models()
            if model._meta.managed and model.__module__.startswith("rapport.")
        }
    )
    redundant = [line for table in tables for line in _redundant_in(table, partial)]
    assert redundant == []


def test_the_check_reports_an_index_that_a_longer_one_covers():
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE index_probe (a integer, b integer, c integer)")
        cursor.execute("CREATE INDEX index_probe_a ON index_probe (a)")
        cursor.execute("CREATE INDEX index_probe_ab ON index_probe (a, b)")
        cursor.execute("CREATE INDEX index_probe_b ON index_probe (b)")
        cursor.execute("CREATE UNIQUE INDEX index_probe_c ON index_probe (c)")
    assert _redundant_in("index_probe", set()) == [
        "index_probe.index_probe_a ('a',) is covered by index_probe_ab"
    ]


@pytest.mark.parametrize("scope", ["owner_id", "team_id"])
@pytest.mark.parametrize(
    "model_path", ["customers.Customer", "commerce.Order", "commerce.Shipment"]
)
def test_scoped_reads_in_id_order_walk_an_index_without_sorting(model_path, scope):
    """The API lists in id order under an own/team scope: (owner, id) and (team, id) give
    a page without sorting every record of the owner (what the dropped FK indexes gave on
    SQLite, whose index rows end in the rowid)."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's planner uses indexes on an empty table; PostgreSQL's does not")
    model = apps.get_model(model_path)
    queryset = model.objects.filter(**{scope: 1}).order_by("id")[:51]
    plan = queryset.explain()
    assert "USING" in plan and "TEMP B-TREE" not in plan, plan


def test_a_batch_of_external_ids_is_looked_up_through_their_unique_index():
    """An import batch asks for 2,000 external ids among the live customers. With an
    index over every live record's NULL merged_into, SQLite's planner chose it and read
    all live customers once per batch (an import slower with every row already in)."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's planner; PostgreSQL's picks by its statistics")
    from rapport.customers.models import Customer

    ids = [f"C{i:08d}" for i in range(2000)]
    plan = Customer.objects.filter(merged_into__isnull=True, external_id__in=ids).explain()
    assert "(external_id=?)" in plan, plan
