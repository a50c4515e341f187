"""Exports of contacts, and of every import target that can export (orders), to CSV or XLSX.

Rows are read in keyset batches over the primary key with the related rows of each
batch fetched in one query per relation, and written as they come: memory stays flat
whatever the number of rows. Every export goes through `customer_list(action="export")`
(record scope and the export permission), is audited, and neutralises cells a
spreadsheet would run as formulas.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.utils.translation import ngettext

from rapport.core import audit, registry, spreadsheets
from rapport.core.jobs import Progress, job_create
from rapport.core.models import AuditAction, AuditLogEntry, Job
from rapport.core.permissions import SystemActor, system_actor  # noqa: F401  (re-exported)
from rapport.customers import selectors as customer_selectors
from rapport.customers.models import (
    Address,
    Affiliation,
    Customer,
    CustomerKind,
    CustomerTag,
    CustomFieldDefinition,
)
from rapport.dataquality.choices import EXPORT_FORMATS
from rapport.dataquality.mapping import CUSTOMER_TYPE

BATCH = 2000
FORMULA_PREFIXES = spreadsheets.FORMULA_PREFIXES
# Exports take the customer list's own filters (and `cf_<key>` for custom fields), so an
# export from a list page holds exactly the rows the list shows.
FILTERS = tuple(customer_selectors.FILTERS)
FORMATS = EXPORT_FORMATS
CUSTOMER_EXPORT = "contacts"

CONTACT_COLUMNS = [
    "id",
    "external_id",
    "kind",
    "first_name",
    "last_name",
    "organization",
    "email",
    "phone",
    "birth_date",
    "address_line1",
    "address_line2",
    "city",
    "postcode",
    "region",
    "country",
    "tags",
    "lifecycle_stage",
    "owner_id",
    "team_id",
    "created_at",
    "updated_at",
]


# The writers below neutralise every cell (header names too); see core.spreadsheets.
neutralise = spreadsheets.neutralise


class ExportError(ValueError):
    """A bad export request (the message says what)."""


def parse_filters(raw: dict[str, Any], *, actor: Any = None) -> dict[str, Any]:
    """The list filters in `raw` (empty values dropped), checked by the customers selector:
    an unknown filter or a bad value is an ExportError saying which and why."""
    clean: dict[str, Any] = {}
    for key, value in raw.items():
        values = [str(v).strip() for v in (value if isinstance(value, list) else [value])]
        values = [v for v in values if v]
        if not values:
            continue
        if key not in customer_selectors.FILTERS and not key.startswith("cf_"):
            raise ExportError(f"Unknown filter {key!r}; use one of: {', '.join(FILTERS)}.")
        clean[key] = values if len(values) > 1 else values[0]
    try:
        customer_selectors.apply_filters(
            Customer.objects.none(), clean, actor=actor or system_actor()
        )
    except ValidationError as exc:
        raise ExportError(" ".join(exc.messages)) from exc
    return clean


def contacts_queryset(*, actor: Any, filters: dict[str, Any]) -> QuerySet[Customer]:
    """What `actor` may export, narrowed by the list filters."""
    return customer_selectors.customer_list(actor=actor, action="export", filters=filters)


def _system_queryset(filters: dict[str, str]) -> QuerySet[Customer]:
    """The CLI runs as the system: every customer, narrowed by the filters."""
    return contacts_queryset(actor=system_actor(), filters=filters)


@dataclass
class _Columns:
    custom: list[tuple[str, str]]  # (key, column name)

    @property
    def header(self) -> list[str]:
        return CONTACT_COLUMNS + [name for _, name in self.custom]


def _columns() -> _Columns:
    defs = CustomFieldDefinition.objects.filter(object_type=CUSTOMER_TYPE, is_active=True).order_by(
        "position", "label"
    )
    return _Columns(custom=[(d.key, f"cf:{d.key}") for d in defs])


def _fmt(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


def contact_rows(queryset: QuerySet[Customer], columns: _Columns) -> Iterator[list[Any]]:
    """Every row of the queryset, in keyset batches by id; related rows per batch."""
    last_id = 0
    qs = queryset.order_by("id")
    fields = (
        "id",
        "external_id",
        "kind",
        "first_name",
        "last_name",
        "organization_name",
        "primary_email",
        "primary_phone",
        "birth_date",
        "city",
        "country",
        "lifecycle_stage",
        "owner_id",
        "team_id",
        "created_at",
        "updated_at",
        "custom_fields",
    )
    while True:
        batch = list(qs.filter(id__gt=last_id).values_list(*fields)[:BATCH])
        if not batch:
            return
        ids = [r[0] for r in batch]
        last_id = ids[-1]
        addresses: dict[int, tuple[str, str, str, str]] = {}
        for cid, line1, line2, postcode, region in (
            Address.objects.filter(customer_id__in=ids)
            .order_by("customer_id", "-is_primary", "id")
            .values_list("customer_id", "line1", "line2", "postcode", "region")
        ):
            addresses.setdefault(cid, (line1, line2, postcode, region))
        tags: dict[int, list[str]] = {}
        for cid, name in (
            CustomerTag.objects.filter(customer_id__in=ids)
            .order_by("tag__name")
            .values_list("customer_id", "tag__name")
        ):
            tags.setdefault(cid, []).append(name)
        orgs: dict[int, str] = {}
        for pid, oname in (
            Affiliation.objects.filter(person_id__in=ids)
            .order_by("person_id", "-is_primary", "id")
            .values_list("person_id", "organization__organization_name")
        ):
            orgs.setdefault(pid, oname)
        for r in batch:
            (
                cid,
                ext,
                kind,
                first,
                last,
                org_name,
                email,
                phone,
                birth,
                city,
                country,
                stage,
                owner_id,
                team_id,
                created,
                updated,
                custom,
            ) = r
            line1, line2, postcode, region = addresses.get(cid, ("", "", "", ""))
            row = [
                cid,
                ext or "",
                kind,
                first,
                last,
                org_name if kind == CustomerKind.ORGANIZATION else orgs.get(cid, ""),
                email,
                phone,
                birth,
                line1,
                line2,
                city,
                postcode,
                region,
                country,
                ";".join(tags.get(cid, [])),
                stage,
                owner_id,
                team_id,
                created,
                updated,
            ]
            row += [(custom or {}).get(key) for key, _ in columns.custom]
            yield [_fmt(v) for v in row]


class _Echo:
    def write(self, value: str) -> str:
        return value


def stream_csv(rows: Iterator[list[Any]], header: list[str]) -> Iterator[str]:
    """CSV text chunk by chunk (for a streaming response or a file), neutralised."""
    writer = spreadsheets.csv_writer(_Echo())
    yield "\ufeff" + writer.writerow(header)
    buffer = io.StringIO()
    buffered = spreadsheets.csv_writer(buffer)
    for count, row in enumerate(rows, start=1):
        buffered.writerow(row)
        if count % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def write_export(
    *,
    rows: Iterator[list[Any]],
    header: list[str],
    target: Path,
    file_format: str,
    on_row: Any = None,
) -> int:
    """Write rows to `target` as CSV or XLSX (write-only, streamed); return the count."""
    count = 0

    def counted() -> Iterator[list[Any]]:
        nonlocal count
        for row in rows:
            count += 1
            if on_row is not None and count % 1000 == 0:
                on_row(1000)
            yield row

    target.parent.mkdir(parents=True, exist_ok=True)
    if file_format == "csv":
        with target.open("w", encoding="utf-8", newline="") as out:
            for chunk in stream_csv(counted(), header):
                out.write(chunk)
    elif file_format == "xlsx":
        spreadsheets.write_xlsx(target, sheet="Export", rows=itertools.chain([header], counted()))
    else:
        raise ExportError(f"Unknown format {file_format!r}; use csv or xlsx.")
    if on_row is not None and count % 1000:
        on_row(count % 1000)
    return count


def audit_export(
    *, actor: Any, object_type: str, filters: dict[str, str], count: int, file_format: str
) -> None:
    AuditLogEntry.objects.bulk_create(
        [
            audit.entry(
                actor=actor,
                action=AuditAction.EXPORT,
                object_type=object_type,
                object_id="",
                object_repr=ngettext("%(n)d row as %(f)s", "%(n)d rows as %(f)s", count)
                % {"n": count, "f": file_format},
                changes={"filters": filters, "rows": count, "format": file_format},
            )
        ]
    )


def export_contacts(
    *, actor: Any, filters: dict[str, str], target: Path, file_format: str, on_row: Any = None
) -> int:
    """Export what `actor` may export (None: the system, from the CLI) to `target`."""
    if file_format not in FORMATS:
        raise ExportError(f"Unknown format {file_format!r}; use csv or xlsx.")
    filters = parse_filters(filters, actor=actor)
    if actor is not None:
        from rapport.core.permissions import can

        if not can(actor, "export", Customer):
            raise PermissionDenied("Your role does not allow exporting customers.")
        queryset = contacts_queryset(actor=actor, filters=filters)
    else:
        queryset = _system_queryset(filters)
    columns = _columns()
    count = write_export(
        rows=contact_rows(queryset, columns),
        header=columns.header,
        target=target,
        file_format=file_format,
        on_row=on_row,
    )
    audit_export(
        actor=actor,
        object_type=CUSTOMER_TYPE,
        filters=filters,
        count=count,
        file_format=file_format,
    )
    return count


def export_targets() -> list[str]:
    """What `rapport export` takes: contacts, and every registered target with an export."""
    return [CUSTOMER_EXPORT] + [
        t.object_type
        for t in registry.import_targets()
        if t.export_rows is not None and t.object_type != CUSTOMER_EXPORT
    ]


def export_records(
    *,
    actor: Any,
    object_type: str,
    filters: dict[str, str],
    target: Path,
    file_format: str,
    on_row: Any = None,
) -> int:
    """Export another app's records (a registered import target's `export_rows`, in the
    import's columns) as `actor` (None: the system, from the CLI); audited."""
    if object_type == CUSTOMER_EXPORT:
        return export_contacts(
            actor=actor, filters=filters, target=target, file_format=file_format, on_row=on_row
        )
    if file_format not in FORMATS:
        raise ExportError(f"Unknown format {file_format!r}; use csv or xlsx.")
    try:
        export = registry.import_target(object_type).export_rows
    except LookupError:
        export = None
    if export is None:
        raise ExportError(
            f"Nothing can be exported as {object_type!r}; use one of: "
            f"{', '.join(export_targets())}."
        )
    try:
        header, rows = export(actor=actor or system_actor(), filters=filters)
    except ValidationError as exc:
        raise ExportError(" ".join(exc.messages)) from exc
    count = write_export(
        rows=rows, header=header, target=target, file_format=file_format, on_row=on_row
    )
    audit_export(
        actor=actor,
        object_type=registry.import_target(object_type).export_object_type or object_type,
        filters=filters,
        count=count,
        file_format=file_format,
    )
    return count


# --- background exports (the UI) --------------------------------------------------------


def export_start(*, actor: Any, object_type: str, filters: dict[str, str], file_format: str) -> Job:
    from django.db import transaction

    from rapport.core.permissions import can

    if object_type != CUSTOMER_TYPE:
        raise ValidationError({"object_type": "Only customers can be exported for now."})
    if file_format not in FORMATS:
        raise ValidationError({"format": "Choose CSV or XLSX."})
    if not can(actor, "export", Customer):
        raise PermissionDenied("Your role does not allow exporting customers.")
    try:
        clean = parse_filters(filters, actor=actor)
    except ExportError as exc:
        raise ValidationError(str(exc)) from exc
    job = job_create(
        owner=actor,
        kind="export",
        title=f"Export customers ({file_format.upper()})",
        params={"object_type": object_type, "filters": clean, "format": file_format},
    )
    transaction.on_commit(lambda: registry.enqueue("dataquality.export_file", job_id=str(job.pk)))
    return job


def execute_export(job: Job, progress: Progress) -> dict[str, Any]:
    params = job.params
    actor = job.owner
    if actor is None:
        raise PermissionDenied("An export needs the user who asked for it.")
    relative = f"exports/{job.pk}/customers-{job.created_at:%Y%m%d-%H%M}.{params['format']}"
    target = Path(settings.VAR_DIR) / "files" / relative
    progress.set_total(contacts_queryset(actor=actor, filters=params["filters"]).count())
    count = export_contacts(
        actor=actor,
        filters=params["filters"],
        target=target,
        file_format=params["format"],
        on_row=progress.advance,
    )
    Job.objects.filter(pk=job.pk).update(result_file=relative)
    return {"rows": count, "format": params["format"]}
