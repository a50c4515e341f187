"""What people read instead of internal codes: object-type and field labels, names for
foreign keys, dates in the active locale's format, durations in words.

The audit log stores field keys and raw values (`owner_id → 1`, ISO timestamps) on
purpose: they are the record of what changed. This module turns a page of them into
what a person reads, in a constant number of queries per page.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.apps import apps
from django.db import models
from django.utils import formats, timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.text import capfirst
from django.utils.translation import ngettext

from rapport.core import registry
from rapport.core.models import AuditLogEntry

EMPTY = "—"


def duration(seconds: int | float | None) -> str:
    """86400 → "1 day", 90 → "1 minute 30 seconds": the two largest units, in words."""
    if seconds is None:
        return EMPTY
    remaining = int(seconds)
    if remaining <= 0:
        return ngettext("%(n)d second", "%(n)d seconds", 0) % {"n": 0}
    parts: list[str] = []
    for size, singular, plural in (
        (86400, "%(n)d day", "%(n)d days"),
        (3600, "%(n)d hour", "%(n)d hours"),
        (60, "%(n)d minute", "%(n)d minutes"),
        (1, "%(n)d second", "%(n)d seconds"),
    ):
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(ngettext(singular, plural, count) % {"n": count})
        if len(parts) == 2:
            break
    return " ".join(parts)


def when(value: dt.datetime | dt.date | None) -> str:
    """A date or time in the active locale's format, in the current time zone."""
    if value is None:
        return EMPTY
    if isinstance(value, dt.datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return formats.date_format(value, "DATETIME_FORMAT")
    return formats.date_format(value, "DATE_FORMAT")


def language_name(code: str | None) -> str:
    """A BCP 47 tag as a name: "en" → "English", "fr-CA" → "French (fr-CA)"; unknown
    tags stay as they are (Django's table of languages, no guessing)."""
    from django.conf.locale import LANG_INFO

    if not code:
        return ""
    tag = code.strip()
    exact = LANG_INFO.get(tag.lower())
    if exact and "name" in exact:
        return str(exact["name"])
    base = LANG_INFO.get(tag.split("-")[0].lower())
    if base and "name" in base:
        return f"{base['name']} ({tag})"
    return tag


def words(value: str | None) -> str:
    """A code-like value ("demo-duplicate", "trade_fair") as words; other text unchanged."""
    text = value or ""
    if text and " " not in text and ("-" in text or "_" in text):
        return capfirst(text.replace("_", " ").replace("-", " "))
    return text


@cache
def _model(object_type: str) -> type[models.Model] | None:
    try:
        return apps.get_model(object_type)
    except (LookupError, ValueError):
        return None


def object_type_label(object_type: str) -> str:
    """ "customers.customer" → "Customer": the registry's label, else the model's name."""
    registered = next((o for o in registry.object_types() if o.name == object_type), None)
    if registered:
        return registered.label
    model = _model(object_type)
    return capfirst(str(model._meta.verbose_name)) if model else object_type


def object_type_plural(object_type: str) -> str:
    """ "customers.customer" → "Customers"."""
    registered = next((o for o in registry.object_types() if o.name == object_type), None)
    if registered:
        return registered.label_plural
    model = _model(object_type)
    return capfirst(str(model._meta.verbose_name_plural)) if model else object_type


def _field(model: type[models.Model] | None, key: str) -> models.Field[Any, Any] | None:
    if model is None:
        return None
    try:
        found = model._meta.get_field(key)  # also finds a foreign key by its `owner_id`
    except Exception:  # not a column: a derived key such as `tags` or `two_factor`
        return None
    return found if isinstance(found, models.Field) else None


def field_label(model: type[models.Model] | None, key: str) -> str:
    found = _field(model, key)
    if found is not None and found.verbose_name:
        return capfirst(str(found.verbose_name))
    return capfirst(key.removesuffix("_id").replace("_", " "))


@dataclass
class Change:
    label: str
    before: str
    after: str


@dataclass
class AuditRow:
    entry: AuditLogEntry
    object_label: str
    changes: list[Change] = field(default_factory=list)

    # The first few changes show; the rest fold under "N more changes" (a created
    # record lists every field, which made the log one endless page).
    SHOWN = 4

    @property
    def shown(self) -> list[Change]:
        return self.changes[: self.SHOWN]

    @property
    def folded(self) -> list[Change]:
        return self.changes[self.SHOWN :]

    @property
    def folded_label(self) -> str:
        n = len(self.folded)
        return ngettext("%(n)d more change", "%(n)d more changes", n) % {"n": n}


def _plain(value: Any) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return EMPTY
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(
            f"{capfirst(str(k).replace('_', ' '))}: {_plain(v)}" for k, v in value.items()
        )
    return str(value)


def _display(found: models.Field[Any, Any] | None, value: Any, names: dict[Any, str]) -> str:
    if value is None or value == "":
        return EMPTY
    if found is None:
        return _plain(value)
    if found.is_relation:
        return names.get(str(value), f"#{value}")
    if found.choices:
        return str(dict(found.flatchoices).get(value, value))
    if isinstance(found, models.DateTimeField) and isinstance(value, str):
        parsed = parse_datetime(value)
        return when(parsed) if parsed else value
    if isinstance(found, models.DateField) and isinstance(value, str):
        parsed_date = parse_date(value)
        return when(parsed_date) if parsed_date else value
    return _plain(value)


def choice_label(field_path: str, value: Any) -> str:
    """("customers.address.kind", "home") → "Home": the field's choice label; a value
    the field does not list, or a field without choices, shows as it is."""
    object_type, _, key = field_path.rpartition(".")
    found = _field(_model(object_type), key)
    if found is not None and found.choices:
        return str(dict(found.flatchoices).get(value, value))
    return "" if value is None else str(value)


def value_label(model: type[models.Model] | None, key: str, value: Any) -> str:
    """A stored value of `model.key` as people read it: choice labels, local dates, Yes/No,
    lists joined. Foreign keys need names the caller has; they show as "#id" here."""
    if isinstance(value, list):  # a many-to-many's names (tags), already readable
        return _plain(value)
    return _display(_field(model, key), value, {})


def audit_rows(entries: Iterable[AuditLogEntry], *, actor: Any) -> list[AuditRow]:
    """A page of audit entries as people read them. Foreign keys become names with one
    query per related model on the page, narrowed to the records `actor` may see (others
    stay "#id")."""
    from rapport.core.models import OwnedModel
    from rapport.core.permissions import scope_queryset

    entries = list(entries)
    wanted: dict[type[models.Model], set[str]] = defaultdict(set)
    for entry in entries:
        model = _model(entry.object_type)
        for key, change in (entry.changes or {}).items():
            found = _field(model, key)
            if found is not None and found.is_relation and found.related_model:
                related = found.related_model
                assert isinstance(related, type)
                wanted[related].update(str(v) for v in change if v not in (None, ""))
    names: dict[type[models.Model], dict[str, str]] = {}
    for related, ids in wanted.items():
        qs = related._default_manager.filter(pk__in=[i for i in ids if i.isdigit()])
        if issubclass(related, OwnedModel):
            qs = scope_queryset(qs, actor=actor)
        names[related] = {str(obj.pk): str(obj) for obj in qs}
    rows = []
    for entry in entries:
        model = _model(entry.object_type)
        row = AuditRow(entry=entry, object_label=object_type_label(entry.object_type))
        for key, change in (entry.changes or {}).items():
            found = _field(model, key)
            lookup = names.get(found.related_model, {}) if found and found.is_relation else {}  # type: ignore[arg-type]
            before, after = (
                [*change, None, None][:2] if isinstance(change, list) else (None, change)
            )
            row.changes.append(
                Change(
                    label=field_label(model, key),
                    before=_display(found, before, lookup),
                    after=_display(found, after, lookup),
                )
            )
        rows.append(row)
    return rows
