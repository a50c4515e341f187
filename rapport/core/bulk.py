"""Plain INSERTs of many model instances, without the ORM's per-value SQL compilation.

`QuerySet.bulk_create` compiles every value of every row through the field machinery;
at a million rows with seven inserted objects each that is most of an import's time.
Here each field gets one converter, chosen once per call: text, numbers and foreign keys
go through as they are (read straight from the instances' `__dict__`), dates, datetimes,
JSON and UUIDs through the database backend's own adapters (`get_db_prep_save`).

SQLite gets `executemany`, or multi-row INSERT … RETURNING id when the caller needs the
new primary keys. PostgreSQL gets `COPY … FROM STDIN` (a fraction of the server's and the
client's cost of INSERTs); when the caller needs the keys they are drawn from the table's
sequence first (one query) and copied in with the rows.

Model instances must be complete (defaults filled in by their constructors or by
`clone`, auto_now fields set by the caller); no signals are sent, as with bulk_create.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.base import ModelState

# SQLite ≥ 3.32 accepts 32,766 variables per statement (Django assumes 999 to be safe
# with old builds; the builds we support are newer).
_SQLITE_MAX_PARAMS = 32_000

_PASS_THROUGH = (
    models.CharField,
    models.TextField,
    models.IntegerField,
    models.BooleanField,
    models.DecimalField,
    models.FloatField,
)

M = TypeVar("M", bound=models.Model)


class Prepared(str):
    """A value already in the form the database stores (JSON text, a UUID's hex digits):
    converters pass it through. Lets the validation workers encode a row's JSON."""

    __slots__ = ()


def clone(template: M, **values: Any) -> M:
    """A new unsaved instance with `template`'s field values, then `values` on top.

    What `Model(**kwargs)` gives, for a fraction of its cost (no per-field default lookup,
    no descriptors, no init signals — bulk inserts send none either). Give foreign keys by
    their attname (`customer_id=…`), and a fresh value for every mutable field that differs
    per instance (a JSON dict or list is shared with the template otherwise)."""
    obj = template.__class__.__new__(template.__class__)
    state = template.__dict__.copy()
    state.update(values)
    state["_state"] = ModelState()
    obj.__dict__ = state
    return obj


def _memoised(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    # The same few values repeat (one `now` per batch, birth dates, one IP address).
    memo: dict[Any, Any] = {}

    def adapt(value: Any) -> Any:
        try:
            return memo[value]
        except KeyError:
            if len(memo) > 100_000:
                memo.clear()
            memo[value] = adapted = convert(value)
            return adapted
        except TypeError:  # unhashable
            return convert(value)

    return adapt


def _converter(
    field: models.Field[Any, Any], connection: BaseDatabaseWrapper
) -> Callable[[Any], Any] | None:
    """None when the value goes to the driver as it is."""
    if isinstance(field, models.ForeignKey):
        return None
    if isinstance(field, models.JSONField | models.UUIDField):

        def adapt(value: Any, f: models.Field[Any, Any] = field) -> Any:
            if type(value) is Prepared:
                return value
            return f.get_db_prep_save(value, connection)

        return adapt
    # DateTimeField subclasses DateField; both need the backend's adapter (SQLite stores
    # text).
    if isinstance(field, models.DateField):
        return _memoised(lambda value, f=field: f.get_db_prep_save(value, connection))  # type: ignore[misc]
    if isinstance(field, _PASS_THROUGH):
        return None
    return _memoised(lambda value, f=field: f.get_db_prep_save(value, connection))  # type: ignore[misc]


def _fields(model: type[models.Model], *, with_pk: bool) -> list[models.Field[Any, Any]]:
    return [
        f
        for f in model._meta.concrete_fields
        if with_pk or not (f.primary_key and isinstance(f, models.AutoField | models.BigAutoField))
    ]


def _rows(
    objs: Sequence[models.Model],
    fields: list[models.Field[Any, Any]],
    connection: BaseDatabaseWrapper,
) -> list[tuple[Any, ...]]:
    attnames = [f.attname for f in fields]
    converters = [(i, c) for i, f in enumerate(fields) if (c := _converter(f, connection))]
    # One C call per row reads every column (a single column needs a tuple made by hand).
    getter = operator.itemgetter(*attnames)
    single = len(attnames) == 1
    rows: list[tuple[Any, ...]] = []
    append = rows.append
    for obj in objs:
        try:
            values = getter(obj.__dict__)
        except KeyError:  # a deferred field: go through the descriptors
            values = tuple(getattr(obj, name) for name in attnames)
        if single:
            values = (values,)
        if converters:
            values = list(values)
            for i, convert in converters:
                values[i] = convert(values[i])
            values = tuple(values)
        append(values)
    return rows


def _mark_saved(objs: Sequence[models.Model], alias: str) -> None:
    for obj in objs:
        obj._state.adding = False
        obj._state.db = alias


def insert(
    objs: Sequence[models.Model], *, returning_ids: bool = False, using: str = DEFAULT_DB_ALIAS
) -> None:
    """INSERT `objs` (all of one model); with `returning_ids`, set their primary keys."""
    if not objs:
        return
    connection = connections[using]
    model = type(objs[0])
    meta = model._meta
    pk = meta.pk
    assert pk is not None
    quote = connection.ops.quote_name
    if connection.vendor == "postgresql":
        if returning_ids:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                    [meta.db_table, pk.column, len(objs)],
                )
                for obj, (new_id,) in zip(objs, cursor.fetchall(), strict=True):
                    obj.pk = new_id
        fields = _fields(model, with_pk=returning_ids)
        _copy(connection, model, fields, _rows(objs, fields, connection))
        _mark_saved(objs, using)
        return

    fields = _fields(model, with_pk=False)
    rows = _rows(objs, fields, connection)
    if not returning_ids:
        _executemany(connection, model, fields, rows)
        _mark_saved(objs, using)
        return
    head = f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)})"
    width = len(fields)
    placeholder = "(" + ", ".join(["%s"] * width) + ")"
    with connection.cursor() as cursor:
        per_statement = max(1, min(1000, _SQLITE_MAX_PARAMS // width))
        pk_column = quote(pk.column)
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            sql = f"{head} VALUES {', '.join([placeholder] * len(chunk))} RETURNING {pk_column}"
            cursor.execute(sql, [value for row in chunk for value in row])
            ids = [r[0] for r in cursor.fetchall()]
            # SQLite returns the rows of a multi-row VALUES in order (Django's
            # bulk_create relies on the same behaviour).
            for obj, new_id in zip(objs[start : start + per_statement], ids, strict=True):
                obj.pk = new_id
    _mark_saved(objs, using)


def _copy(
    connection: BaseDatabaseWrapper,
    model: type[models.Model],
    fields: list[models.Field[Any, Any]],
    rows: Iterable[tuple[Any, ...]],
) -> None:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    # Django's cursor wrapper passes `copy` through to psycopg's cursor.
    sql = f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN"
    # COPY goes around Django's cursor wrapper: its errors are wrapped here, so a
    # refused row raises django.db.DatabaseError as an INSERT's would.
    with (
        connection.wrap_database_errors,
        connection.cursor() as cursor,
        cursor.copy(sql) as copy,
    ):
        for row in rows:
            copy.write_row(row)


def _executemany(
    connection: BaseDatabaseWrapper,
    model: type[models.Model],
    fields: list[models.Field[Any, Any]],
    rows: list[tuple[Any, ...]],
) -> None:
    quote = connection.ops.quote_name
    head = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)})"
    )
    placeholder = "(" + ", ".join(["%s"] * len(fields)) + ")"
    with connection.cursor() as cursor:
        cursor.executemany(f"{head} VALUES {placeholder}", rows)


class RowMaker:
    """Database-ready rows of one model that differ from a template instance only in a
    few fields: the template's values are converted once, and a row is a copy with the
    varying values put in (converted by the field's converter unless `Prepared`). For
    rows whose primary key nobody needs back; `insert_rows` writes them.

    What `insert([clone(template, **values), ...])` would write, without an instance per
    row (dataquality/tests/test_import_prepared_records.py holds the two equal)."""

    def __init__(
        self, template: models.Model, varying: Sequence[str], *, using: str = DEFAULT_DB_ALIAS
    ) -> None:
        connection = connections[using]
        self.model = type(template)
        self.fields = _fields(self.model, with_pk=False)
        attnames = [f.attname for f in self.fields]
        self._base = list(_rows([template], self.fields, connection)[0])
        self._slots = [
            (attnames.index(name), _converter(self.fields[attnames.index(name)], connection))
            for name in varying
        ]
        self.using = using

    def row(self, *values: Any) -> tuple[Any, ...]:
        row = self._base.copy()
        for (slot, convert), value in zip(self._slots, values, strict=True):
            row[slot] = value if convert is None else convert(value)
        return tuple(row)


def insert_rows(maker: RowMaker, rows: list[tuple[Any, ...]]) -> None:
    """INSERT rows made by `maker.row`."""
    if not rows:
        return
    connection = connections[maker.using]
    if connection.vendor == "postgresql":
        _copy(connection, maker.model, maker.fields, rows)
    else:
        _executemany(connection, maker.model, maker.fields, rows)
