"""A C-speed `timestamptz` loader for PostgreSQL connections in UTC (Django's is pure Python).

Django registers its own loader for `timestamptz` on every psycopg 3 connection: a subclass
of psycopg's *Python* `TimestamptzLoader` that parses the text and then replaces the tzinfo
with the connection's time zone. That bypasses psycopg's C loader, and at about 5 µs a value
it was a fifth of the CPU of `GET /api/v1/persons` (three timestamps a row, 50 rows a page).
Rapport's connections run in UTC (`USE_TZ`, no per-database `TIME_ZONE`), where PostgreSQL
prints a timestamptz as ISO 8601 with a `+00` offset, which `datetime.fromisoformat` (C)
parses straight to an aware UTC datetime: the same value Django's loader returns. Anything
it does not parse (`infinity`, BC dates, a non-ISO `DateStyle`) goes to Django's loader.
See docs/decisions/0406-postgresql-timestamp-loader.md.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

UTC = dt.UTC


@functools.cache
def _loader_class() -> type:
    from django.db.backends.postgresql.psycopg_any import BaseTzLoader

    class UtcTimestamptzLoader(BaseTzLoader):
        # Django's `create_cursor` compares this with the connection's time zone and
        # re-registers its own loader on the cursor when they differ.
        timezone = UTC

        def load(self, data: Any) -> dt.datetime:
            try:
                value = dt.datetime.fromisoformat(bytes(data).decode())
            except ValueError:
                return super().load(data)
            # A UTC session always prints `+00`; any other offset is still the same instant.
            return value if value.tzinfo is UTC else value.astimezone(UTC)

    return UtcTimestamptzLoader


def install(connection: Any) -> bool:
    """Register the fast loader on a new Django PostgreSQL connection; True when done."""
    if connection.vendor != "postgresql" or connection.timezone is not UTC:
        return False
    connection.connection.adapters.register_loader("timestamptz", _loader_class())
    return True


def on_connection_created(sender: Any, connection: Any, **kwargs: Any) -> None:
    install(connection)
