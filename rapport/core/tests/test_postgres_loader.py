"""The fast `timestamptz` loader returns exactly what Django's own loader returns."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import DataError, connection, transaction
from django.db.backends.postgresql.psycopg_any import register_tzloader

from rapport.core import postgres

pytestmark = pytest.mark.django_db

UTC = dt.UTC
TEXTS = [
    "2026-11-01 12:34:56.1234+00",  # PostgreSQL trims trailing zeros of the fraction
    "2026-11-01 12:34:56+00",  # and drops a zero fraction
    "2026-11-01 12:34:56.123456+00",
    "0099-01-01 00:00:00+00",
    "9999-12-31 23:59:59.999999+00",
]


def _load(sql: str, params: list[str], *, django_loader: bool) -> list[dt.datetime]:
    with connection.cursor() as cursor:
        if django_loader:
            # Django's loader, registered on this cursor only.
            register_tzloader(UTC, cursor.cursor)
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def test_sqlite_connections_are_left_alone():
    if connection.vendor == "postgresql":
        pytest.skip("the SQLite side of the switch")
    connection.ensure_connection()
    assert postgres.install(connection) is False


@pytest.fixture
def pg():
    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL loader")
    connection.ensure_connection()


def test_new_postgresql_connections_get_the_fast_loader(pg):
    from psycopg.postgres import types
    from psycopg.pq import Format

    loader = connection.connection.adapters.get_loader(types["timestamptz"].oid, Format.TEXT)
    assert loader.__name__ == "UtcTimestamptzLoader"
    assert loader.timezone is UTC  # Django's create_cursor keeps it, not its own


def test_values_equal_djangos_loader(pg):
    sql = "SELECT v::timestamptz FROM unnest(%s::text[]) AS v"
    fast = _load(sql, [TEXTS], django_loader=False)
    reference = _load(sql, [TEXTS], django_loader=True)
    assert fast == reference
    assert [v.tzinfo for v in fast] == [UTC] * len(TEXTS)
    assert [v.microsecond for v in fast] == [123400, 0, 123456, 0, 999999]
    assert [v.isoformat() for v in fast] == [v.isoformat() for v in reference]


def test_model_round_trip_keeps_microseconds(pg):
    from rapport.core.models import OutboxEvent

    moment = dt.datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)
    event = OutboxEvent.objects.create(type="test.loader", occurred_at=moment)
    event.refresh_from_db()
    assert event.occurred_at == moment and event.occurred_at.tzinfo is UTC


def test_what_it_cannot_parse_goes_to_djangos_loader(pg):
    for text in ["infinity", "0044-03-15 00:00:00+00 BC"]:
        for django_loader in (False, True):
            with pytest.raises(DataError), transaction.atomic():
                _load("SELECT %s::timestamptz", [text], django_loader=django_loader)


def test_another_session_time_zone_still_gives_the_right_instant(pg):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL TIME ZONE 'Europe/Paris'")
        cursor.execute("SELECT '2026-07-01 10:00:00+00'::timestamptz")
        (value,) = cursor.fetchone()
    assert value == dt.datetime(2026, 7, 1, 10, tzinfo=UTC)
    assert value.tzinfo is UTC
