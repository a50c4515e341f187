"""Report definitions and the one aggregate query each compiles to.

A definition names a registered source (`core.registry.ReportSource`), filters on its
whitelisted fields, up to two groupings (a date field by day, week, month, quarter or year)
and measures (count, sum or average of a whitelisted number). `run_report` compiles it to a
single `GROUP BY` query over the source's record-scoped queryset, so the database does the
counting and a user's figures only ever cover the records they may see. Field paths come
from the registry, never from the request; values reach the database as query parameters.
`drill_down` narrows the same queryset to the records behind one figure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import Avg, Count, F, Func, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, Trunc
from django.utils import timezone

from rapport.core import registry
from rapport.core.permissions import can
from rapport.core.registry import ReportField, ReportSource

# The most groups a report returns: the top ones by the first measure (date groupings:
# the earliest). A report with more says so instead of returning them all.
GROUP_CAP = 1000
MAX_GROUPS = 2
MAX_MEASURES = 4
MAX_FILTERS = 10

OPERATORS: dict[str, dict[str, str]] = {
    "category": {
        "eq": "is",
        "ne": "is not",
        "in": "is one of",
        "blank": "is empty",
        "not_blank": "is not empty",
    },
    "date": {"on_or_after": "on or after", "before": "before", "last_days": "in the last N days"},
    "number": {"gte": "at least", "lte": "at most", "eq": "equals"},
    "boolean": {"is": "is"},
}
NO_VALUE_OPERATORS = frozenset({"blank", "not_blank"})
BUCKETS = {"day": "Day", "week": "Week", "month": "Month", "quarter": "Quarter", "year": "Year"}
MEASURE_FUNCTIONS = {"count": "Count", "sum": "Sum", "avg": "Average"}
CHARTS = {"bar": "Bar chart", "line": "Line chart", "pie": "Pie chart", "table": "Table only"}
BLANK_LABEL = "(none)"


@dataclass(frozen=True)
class Filter:
    field: str
    op: str
    value: Any = ""


@dataclass(frozen=True)
class Grouping:
    field: str
    bucket: str = ""  # date fields only: one of BUCKETS


@dataclass(frozen=True)
class Measure:
    fn: str  # count, sum or avg
    field: str = ""  # sum and avg: a number field of the source

    @property
    def key(self) -> str:
        return self.fn if self.fn == "count" else f"{self.fn}:{self.field}"


@dataclass(frozen=True)
class ReportDefinition:
    source: str
    filters: tuple[Filter, ...] = ()
    groups: tuple[Grouping, ...] = ()
    measures: tuple[Measure, ...] = (Measure("count"),)
    chart: str = "bar"

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "filters": [{"field": f.field, "op": f.op, "value": f.value} for f in self.filters],
            "groups": [{"field": g.field, "bucket": g.bucket} for g in self.groups],
            "measures": [{"fn": m.fn, "field": m.field} for m in self.measures],
            "chart": self.chart,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReportDefinition:
        """Parse and validate a stored or posted definition; a ValidationError's keys name
        the part at fault ("filters.0.value") so a form can say it beside that field."""
        if not isinstance(data, Mapping):
            raise ValidationError({"source": "A report definition is an object."})
        errors: dict[str, str] = {}
        source = registry.report_source(str(data.get("source") or ""))
        if source is None:
            names = ", ".join(s.name for s in registry.report_sources())
            raise ValidationError(
                {"source": f"Unknown source {data.get('source')!r}. Choose one of: {names}."}
            )

        def items(key: str, limit: int) -> list[Mapping[str, Any]]:
            raw = data.get(key) or []
            if not isinstance(raw, list) or not all(isinstance(i, Mapping) for i in raw):
                errors[key] = f"{key} must be a list of objects."
                return []
            if len(raw) > limit:
                errors[key] = f"At most {limit} {key}."
                return []
            return raw

        filters = []
        for i, raw in enumerate(items("filters", MAX_FILTERS)):
            f = Filter(str(raw.get("field") or ""), str(raw.get("op") or ""), raw.get("value", ""))
            _check_filter(source, f, f"filters.{i}", errors)
            filters.append(f)
        groups = []
        for i, raw in enumerate(items("groups", MAX_GROUPS)):
            g = Grouping(str(raw.get("field") or ""), str(raw.get("bucket") or ""))
            _check_grouping(source, g, f"groups.{i}", errors)
            groups.append(g)
        measures = []
        if "measures" not in data:  # a count unless the definition says otherwise
            data = {**data, "measures": [{"fn": "count"}]}
        for i, raw in enumerate(items("measures", MAX_MEASURES)):
            m = Measure(str(raw.get("fn") or ""), str(raw.get("field") or ""))
            _check_measure(source, m, f"measures.{i}", errors)
            measures.append(m)
        if not measures and "measures" not in errors:
            errors["measures"] = "Choose at least one measure."
        chart = str(data.get("chart") or "bar")
        if chart not in CHARTS:
            errors["chart"] = f"Unknown chart type {chart!r}. Choose one of: {', '.join(CHARTS)}."
        if errors:
            raise ValidationError(errors)
        return cls(source.name, tuple(filters), tuple(groups), tuple(measures), chart)


def _dimension(source: ReportSource, name: str) -> ReportField | None:
    return next((d for d in source.dimensions if d.name == name), None)


def _number(source: ReportSource, name: str) -> ReportField | None:
    return next((n for n in source.numbers if n.name == name), None)


def _unknown(kind: str, name: str, source: ReportSource, choices: Sequence[str]) -> str:
    return (
        f"Unknown {kind} {name!r} for {source.label.lower()}. "
        f"Choose one of: {', '.join(choices) or 'none'}."
    )


def _check_filter(source: ReportSource, f: Filter, at: str, errors: dict[str, str]) -> None:
    dim = _dimension(source, f.field)
    if dim is None:
        names = [d.name for d in source.dimensions]
        errors[f"{at}.field"] = _unknown("field", f.field, source, names)
        return
    ops = OPERATORS[dim.kind]
    if f.op not in ops:
        errors[f"{at}.op"] = (
            f"{dim.label}: unknown operator {f.op!r}. Choose one of: {', '.join(ops)}."
        )
        return
    try:
        _filter_q(dim, f.op, f.value)
    except ValidationError as exc:
        errors[f"{at}.value"] = f"{dim.label}: {' '.join(exc.messages)}"


def _check_grouping(source: ReportSource, g: Grouping, at: str, errors: dict[str, str]) -> None:
    dim = _dimension(source, g.field)
    if dim is None:
        names = [d.name for d in source.dimensions]
        errors[f"{at}.field"] = _unknown("field", g.field, source, names)
    elif dim.kind == "date" and g.bucket not in BUCKETS:
        errors[f"{at}.bucket"] = f"{dim.label}: choose a date bucket ({', '.join(BUCKETS)})."
    elif dim.kind != "date" and g.bucket:
        errors[f"{at}.bucket"] = f"{dim.label} is not a date: it has no bucket."


def _check_measure(source: ReportSource, m: Measure, at: str, errors: dict[str, str]) -> None:
    if m.fn not in MEASURE_FUNCTIONS:
        choices = ", ".join(MEASURE_FUNCTIONS)
        errors[f"{at}.fn"] = f"Unknown measure {m.fn!r}. Choose one of: {choices}."
    elif m.fn == "count" and m.field:
        errors[f"{at}.field"] = "A count counts records: it takes no field."
    elif m.fn != "count" and _number(source, m.field) is None:
        names = [n.name for n in source.numbers]
        errors[f"{at}.field"] = _unknown("number field", m.field, source, names)


# --- values ---------------------------------------------------------------------------


def _parse_date(value: Any) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValidationError(f"{value!r} is not a date (YYYY-MM-DD).") from None


def _parse_number(value: Any) -> Decimal:
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValidationError(f"{value!r} is not a number.") from None
    if not number.is_finite():
        raise ValidationError(f"{value!r} is not a number.")
    return number


def _parse_bool(value: Any) -> bool:
    text = str(value).strip().lower()
    if text in ("true", "yes", "1"):
        return True
    if text in ("false", "no", "0"):
        return False
    raise ValidationError(f"{value!r} is not yes or no.")


def _model_field(model: type[models.Model], path: str) -> models.Field[Any, Any]:
    parts = path.split("__")
    for part in parts[:-1]:
        model = model._meta.get_field(part).related_model  # type: ignore[assignment]
    return model._meta.get_field(parts[-1])  # type: ignore[return-value]


def _is_datetime(source_model: type[models.Model], dim: ReportField) -> bool:
    return isinstance(_model_field(source_model, dim.path), models.DateTimeField)


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _day_bound(dim: ReportField, day: dt.date, datetime_field: bool) -> Any:
    return _start_of(day) if datetime_field else day


def _blank_q(dim: ReportField) -> Q:
    if dim.kind == "category":
        return Q(**{dim.path: ""}) | Q(**{f"{dim.path}__isnull": True})
    return Q(**{f"{dim.path}__isnull": True})


def _category_value(dim: ReportField, value: Any) -> str:
    text = str(value).strip()
    allowed = [v for v, _ in dim.choices]
    if dim.choices and text not in allowed:
        raise ValidationError(f"unknown value {text!r}. Choose one of: {', '.join(allowed)}.")
    return text


def _filter_q(dim: ReportField, op: str, value: Any, datetime_field: bool = True) -> Q:
    path = dim.path
    if op in NO_VALUE_OPERATORS:
        return ~_blank_q(dim) if op == "not_blank" else _blank_q(dim)
    if dim.kind == "category":
        if op == "in":
            values = value if isinstance(value, list) else str(value).split(",")
            values = [_category_value(dim, v) for v in values if str(v).strip()]
            if not values:
                raise ValidationError("give at least one value.")
            return Q(**{f"{path}__in": values})
        text = _category_value(dim, value)
        q = Q(**{path: text}) if text else _blank_q(dim)
        return ~q if op == "ne" else q
    if dim.kind == "date":
        if op == "last_days":
            try:
                days = int(str(value).strip())
            except ValueError:
                raise ValidationError(f"{value!r} is not a number of days.") from None
            if not 1 <= days <= 36600:
                raise ValidationError("give a number of days from 1 to 36600.")
            first = timezone.localdate() - dt.timedelta(days=days - 1)
            return Q(**{f"{path}__gte": _day_bound(dim, first, datetime_field)})
        day = _parse_date(value)
        lookup = "gte" if op == "on_or_after" else "lt"
        return Q(**{f"{path}__{lookup}": _day_bound(dim, day, datetime_field)})
    if dim.kind == "number":
        number = _parse_number(value)
        return Q(**{path if op == "eq" else f"{path}__{op}": number})
    return Q(**{path: _parse_bool(value)})


# --- running --------------------------------------------------------------------------


def _source_for(definition: ReportDefinition, actor: Any) -> ReportSource:
    source = registry.report_source(definition.source)
    if source is None:
        raise ValidationError({"source": f"Unknown source {definition.source!r}."})
    if not can(actor, "view", source.object_type):
        raise PermissionDenied(f"Your role does not include {source.label.lower()}.")
    return source


def filtered_queryset(definition: ReportDefinition, *, actor: Any) -> QuerySet[Any]:
    """The records the definition's filters keep, among those `actor` may see."""
    source = _source_for(definition, actor)
    queryset = source.queryset(actor=actor)
    for f in definition.filters:
        dim = _dimension(source, f.field)
        assert dim is not None  # validated by from_dict
        queryset = queryset.filter(_filter_q(dim, f.op, f.value, _is_datetime(queryset.model, dim)))
    return queryset


# SQLite stores datetimes as UTC text; with the site in UTC a bucket is plain string
# arithmetic in SQL. Django's Trunc calls a Python function per row there (seconds per
# million rows), so it is kept for sites in another time zone only.
_SQLITE_BUCKETS = {
    "day": "date({col})",
    "week": "date({col}, '-6 days', 'weekday 1')",  # back to the ISO week's Monday
    "month": "strftime('%Y-%m-01', {col})",
    "quarter": (
        "strftime('%Y', {col}) || '-' || substr('0' || "
        "(((CAST(strftime('%m', {col}) AS INTEGER) - 1) / 3) * 3 + 1), -2) || '-01'"
    ),
    "year": "strftime('%Y-01-01', {col})",
}


class _Bucket(Func):
    """The first day of a date bucket: Django's Trunc, or SQLite's own date functions
    when the site's time zone is UTC (the same days: tests compare both with SQL)."""

    def __init__(self, path: str, bucket: str) -> None:
        super().__init__(F(path), output_field=models.DateTimeField())
        self.bucket = bucket

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> Any:  # type: ignore[override]
        return compiler.compile(Trunc(self.source_expressions[0], self.bucket))

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        if timezone.get_current_timezone_name() != "UTC":
            return self.as_sql(compiler, connection, **extra)
        column, params = compiler.compile(self.source_expressions[0])
        template = _SQLITE_BUCKETS[self.bucket]
        return template.replace("{col}", column), tuple(params) * template.count("{col}")

    def resolve_expression(self, *args: Any, **kwargs: Any) -> Any:
        resolved = super().resolve_expression(*args, **kwargs)
        resolved.bucket = self.bucket
        return resolved


def _group_expression(model: type[models.Model], dim: ReportField, bucket: str) -> Any:
    if dim.kind == "date":
        return _Bucket(dim.path, bucket)
    field_ = _model_field(model, dim.path)
    if dim.kind == "category" and ("__" in dim.path or field_.null):
        # NULL (no team) and "" (no country) are one group, "(none)", as in the filters.
        return Coalesce(F(dim.path), Value(""), output_field=models.CharField())
    return F(dim.path)


def _aggregate(source: ReportSource, measure: Measure) -> Any:
    if measure.fn == "count":
        return Count("*")
    number = _number(source, measure.field)
    assert number is not None
    return (Sum if measure.fn == "sum" else Avg)(number.path)


def _as_number(value: Any) -> float | int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    return float(value)


@dataclass(frozen=True)
class ResultColumn:
    key: str
    label: str
    numeric: bool = False


@dataclass(frozen=True)
class ResultRow:
    keys: tuple[str, ...]  # each group's value as a drill-down parameter ("" = none)
    labels: tuple[str, ...]  # each group's value as shown
    values: tuple[float | int, ...]  # one per measure


@dataclass
class ReportResult:
    definition: ReportDefinition
    source: ReportSource
    group_columns: list[ResultColumn]
    measure_columns: list[ResultColumn]
    rows: list[ResultRow] = field(default_factory=list)
    truncated: bool = False  # more than GROUP_CAP groups: only the first are here

    @property
    def columns(self) -> list[ResultColumn]:
        return [*self.group_columns, *self.measure_columns]

    def table(self) -> list[list[Any]]:
        """The header row and one row per group, as exports write them."""
        head = [c.label for c in self.columns]
        return [head, *([*r.labels, *r.values] for r in self.rows)]


def measure_label(source: ReportSource, measure: Measure) -> str:
    if measure.fn == "count":
        return f"Number of {source.label.lower()}"
    number = _number(source, measure.field)
    label = number.label if number else measure.field
    return f"{MEASURE_FUNCTIONS[measure.fn]} of {label.lower()}"


def group_label(source: ReportSource, grouping: Grouping) -> str:
    dim = _dimension(source, grouping.field)
    label = dim.label if dim else grouping.field
    return f"{label} ({BUCKETS[grouping.bucket].lower()})" if grouping.bucket else label


def _key_and_label(dim: ReportField, bucket: str, value: Any) -> tuple[str, str]:
    if value is None or value == "":
        return "", BLANK_LABEL
    if dim.kind == "date":
        if isinstance(value, str):  # SQLite's own buckets: "YYYY-MM-DD"
            value = dt.date.fromisoformat(value[:10])
        if isinstance(value, dt.datetime):
            # PostgreSQL's date_trunc(... AT TIME ZONE ...) is naive and already local.
            value = value.date() if timezone.is_naive(value) else timezone.localtime(value).date()
        day = value
        return day.isoformat(), bucket_label(day, bucket)
    if dim.kind == "boolean":
        return ("true", "Yes") if value else ("false", "No")
    if dim.kind == "number":
        return str(value), str(value)
    labels = dict(dim.choices)
    return str(value), labels.get(str(value), str(value))


def bucket_label(day: dt.date, bucket: str) -> str:
    if bucket == "year":
        return str(day.year)
    if bucket == "quarter":
        return f"Q{(day.month - 1) // 3 + 1} {day.year}"
    if bucket == "month":
        return day.strftime("%b %Y")
    if bucket == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return day.isoformat()


def run_report(definition: ReportDefinition, *, actor: Any) -> ReportResult:
    """The report's figures, computed by one aggregate query in the database."""
    source = _source_for(definition, actor)
    queryset = filtered_queryset(definition, actor=actor).order_by()
    model = queryset.model
    dims = [_dimension(source, g.field) for g in definition.groups]
    result = ReportResult(
        definition=definition,
        source=source,
        group_columns=[
            ResultColumn(f"g{i}", group_label(source, g)) for i, g in enumerate(definition.groups)
        ],
        measure_columns=[
            ResultColumn(f"m{i}", measure_label(source, m), numeric=True)
            for i, m in enumerate(definition.measures)
        ],
    )
    aggregates = {f"m{i}": _aggregate(source, m) for i, m in enumerate(definition.measures)}
    if not definition.groups:
        totals = queryset.aggregate(**aggregates)
        values = tuple(_as_number(totals[f"m{i}"]) for i in range(len(definition.measures)))
        result.rows = [ResultRow((), (), values)]
        return result
    groups = {
        f"g{i}": _group_expression(model, dim, g.bucket)  # type: ignore[arg-type]
        for i, (dim, g) in enumerate(zip(dims, definition.groups, strict=True))
    }
    names = list(groups)
    # A time series oldest first; else the biggest groups first, so the cap keeps the top.
    series = dims[0] is not None and dims[0].kind == "date"
    ordering = names if series else ["-m0", *names]
    grouped = queryset.values(**groups).annotate(**aggregates).order_by(*ordering)
    rows = list(grouped[: GROUP_CAP + 1])
    result.truncated = len(rows) > GROUP_CAP
    for row in rows[:GROUP_CAP]:
        pairs = [
            _key_and_label(dim, g.bucket, row[f"g{i}"])  # type: ignore[arg-type]
            for i, (dim, g) in enumerate(zip(dims, definition.groups, strict=True))
        ]
        result.rows.append(
            ResultRow(
                keys=tuple(k for k, _ in pairs),
                labels=tuple(label for _, label in pairs),
                values=tuple(_as_number(row[f"m{i}"]) for i in range(len(definition.measures))),
            )
        )
    return result


def _next_bucket(day: dt.date, bucket: str) -> dt.date:
    if bucket == "day":
        return day + dt.timedelta(days=1)
    if bucket == "week":
        return day + dt.timedelta(days=7)
    months = {"month": 1, "quarter": 3, "year": 12}[bucket]
    month = day.month - 1 + months
    return dt.date(day.year + month // 12, month % 12 + 1, 1)


def drill_down(definition: ReportDefinition, *, actor: Any, keys: Sequence[str]) -> QuerySet[Any]:
    """The records behind one figure: the report's filtered records whose groups have the
    values `keys` (as `ResultRow.keys` gives them; fewer keys: a coarser figure)."""
    if len(keys) > len(definition.groups):
        raise ValidationError("More group values than the report has groupings.")
    source = _source_for(definition, actor)
    queryset = filtered_queryset(definition, actor=actor)
    for grouping, key in zip(definition.groups, keys, strict=False):
        dim = _dimension(source, grouping.field)
        assert dim is not None
        if key == "":
            queryset = queryset.filter(_blank_q(dim))
        elif dim.kind == "date":
            start = _parse_date(key)
            datetime_field = _is_datetime(queryset.model, dim)
            queryset = queryset.filter(
                **{
                    f"{dim.path}__gte": _day_bound(dim, start, datetime_field),
                    f"{dim.path}__lt": _day_bound(
                        dim, _next_bucket(start, grouping.bucket), datetime_field
                    ),
                }
            )
        elif dim.kind == "number":
            queryset = queryset.filter(**{dim.path: _parse_number(key)})
        elif dim.kind == "boolean":
            queryset = queryset.filter(**{dim.path: _parse_bool(key)})
        else:
            queryset = queryset.filter(**{dim.path: key})
    return queryset


# --- labels for the drill-down page ---------------------------------------------------


def key_label(dim: ReportField, bucket: str, key: str) -> str:
    """How a group value from a drill-down link reads ("Mar 2026", "Paid", "(none)")."""
    if key == "":
        return BLANK_LABEL
    if dim.kind == "date":
        try:
            return bucket_label(dt.date.fromisoformat(key), bucket)
        except ValueError:
            return key
    if dim.kind == "boolean":
        return "Yes" if key == "true" else "No"
    return dict(dim.choices).get(key, key)


def figure_labels(definition: ReportDefinition, keys: Sequence[str]) -> list[tuple[str, str]]:
    """(grouping, value) pairs naming the figure a drill-down shows the records of."""
    source = registry.report_source(definition.source)
    if source is None:
        return []
    pairs = []
    for grouping, key in zip(definition.groups, keys, strict=False):
        dim = _dimension(source, grouping.field)
        if dim is not None:
            pairs.append((group_label(source, grouping), key_label(dim, grouping.bucket, key)))
    return pairs


def filter_labels(definition: ReportDefinition) -> list[str]:
    """The report's filters in words: "Status is one of Paid, Delivered"."""
    source = registry.report_source(definition.source)
    if source is None:
        return []
    out = []
    for f in definition.filters:
        dim = _dimension(source, f.field)
        if dim is None:
            continue
        op = OPERATORS[dim.kind].get(f.op, f.op)
        if f.op in NO_VALUE_OPERATORS:
            out.append(f"{dim.label} {op}")
            continue
        values = f.value if isinstance(f.value, list) else [f.value]
        labels = dict(dim.choices)
        shown = ", ".join(labels.get(str(v), str(v)) for v in values)
        if f.op == "last_days":
            out.append(f"{dim.label} in the last {shown} days")
        else:
            out.append(f"{dim.label} {op} {shown}")
    return out


def field_display(dim: ReportField, obj: Any) -> str:
    """The value of `dim` on a record, as a list cell shows it."""
    value: Any = obj
    for part in dim.path.split("__"):
        value = getattr(value, part, None)
        if value is None:
            return ""
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return dict(dim.choices).get(str(value), str(value))
