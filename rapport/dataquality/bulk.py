"""Plain INSERTs of many model instances, without the ORM's per-value SQL compilation.

`QuerySet.bulk_create` compiles every value of every row through the field machinery;
at a million rows with seven inserted objects each that is most of an import's time.
Here each field gets one converter, chosen once per model: text, numbers and foreign
keys go through as they are, dates, datetimes, JSON and UUIDs through the database
backend's own adapters (`get_db_prep_save`). Rows are sent with `executemany`, or as
multi-row INSERT … RETURNING id when the caller needs the new primary keys.

Model instances must be complete (defaults filled in by their constructors, auto_now
fields set by the caller); no signals are sent, as with bulk_create.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection, models

# SQLite ≥ 3.32 accepts 32,766 variables per statement (Django assumes 999 to be safe
# with old builds; the builds we support are newer).
_SQLITE_MAX_PARAMS = 32_000
_PG_MAX_PARAMS = 60_000

_PASS_THROUGH = (
    models.CharField,
    models.TextField,
    models.IntegerField,
    models.BooleanField,
    models.DecimalField,
    models.FloatField,
)


def _identity(value: Any) -> Any:
    return value


def _converter(field: models.Field[Any, Any]) -> Callable[[Any], Any]:
    if isinstance(field, models.ForeignKey):
        return _identity
    # DateTimeField subclasses DateField; both need the backend's adapter (SQLite stores
    # text). The same few values repeat (one `now` per batch, birth dates), so the
    # adapted form is remembered.
    if isinstance(field, models.DateField):
        memo: dict[Any, Any] = {}

        def adapt(value: Any, f: models.Field[Any, Any] = field) -> Any:
            try:
                return memo[value]
            except KeyError:
                if len(memo) > 100_000:
                    memo.clear()
                memo[value] = adapted = f.get_db_prep_save(value, connection)
                return adapted

        return adapt
    if isinstance(field, models.JSONField | models.UUIDField):
        return lambda value, f=field: f.get_db_prep_save(value, connection)  # type: ignore[misc]
    if isinstance(field, _PASS_THROUGH):
        return _identity
    return lambda value, f=field: f.get_db_prep_save(value, connection)  # type: ignore[misc]


def _plan(
    model: type[models.Model], vendor: str
) -> tuple[str, list[str], list[Callable[[Any], Any]], str]:
    meta = model._meta
    pk = meta.pk
    assert pk is not None
    fields = [
        f
        for f in meta.concrete_fields
        if not (f.primary_key and isinstance(f, models.AutoField | models.BigAutoField))
    ]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    attnames = [f.attname for f in fields]
    converters = [_converter(f) for f in fields]
    return f"INSERT INTO {quote(meta.db_table)} ({columns})", attnames, converters, quote(pk.column)


def _rows(objs: Sequence[models.Model], attnames: list[str], converters: list[Any]) -> list[Any]:
    pairs = list(zip(attnames, converters, strict=True))
    return [tuple(conv(getattr(obj, name)) for name, conv in pairs) for obj in objs]


def insert(objs: Sequence[models.Model], *, returning_ids: bool = False) -> None:
    """INSERT `objs` (all of one model); with `returning_ids`, set their primary keys."""
    if not objs:
        return
    model = type(objs[0])
    head, attnames, converters, pk_column = _plan(model, connection.vendor)
    rows = _rows(objs, attnames, converters)
    width = len(attnames)
    placeholder = "(" + ", ".join(["%s"] * width) + ")"
    with connection.cursor() as cursor:
        if not returning_ids:
            cursor.executemany(f"{head} VALUES {placeholder}", rows)
        else:
            limit = _SQLITE_MAX_PARAMS if connection.vendor == "sqlite" else _PG_MAX_PARAMS
            per_statement = max(1, min(1000, limit // width))
            for start in range(0, len(rows), per_statement):
                chunk = rows[start : start + per_statement]
                sql = f"{head} VALUES {', '.join([placeholder] * len(chunk))} RETURNING {pk_column}"
                cursor.execute(sql, [value for row in chunk for value in row])
                ids = [r[0] for r in cursor.fetchall()]
                # Both databases return the rows of a multi-row VALUES in order (Django's
                # bulk_create relies on the same behaviour).
                for obj, pk in zip(objs[start : start + per_statement], ids, strict=True):
                    obj.pk = pk
                    obj._state.adding = False
                    obj._state.db = connection.alias
    if not returning_ids:
        for obj in objs:
            obj._state.adding = False
            obj._state.db = connection.alias
