"""The import engine: streams rows, validates them in batches, and hands each batch to
`customers_bulk_upsert` (the customers app's one bulk write path), one transaction per
batch with the checkpoint, resumable.

How a contact import goes (docs/import-export.md is the user-facing account):

- Each row is validated with the customer normalisers (the same rules as every other
  write); every invalid field of a row is reported and the row is not written. Lookups
  that repeat (country names, dates, tag lists, e-mail domains) are cached for the run.
- Valid rows are collected into batches of `batch_size`. One batch is one transaction:
  the customers, their e-mails, phones, addresses, tags, custom fields, organizations and
  affiliations, the audit rows, the outbox events, the failed rows of the batch and the
  checkpoint (rows done, counts so far) commit together or not at all.
- If a batch fails in the database, it is retried row by row inside savepoints: a row that
  still fails is reported with the database's reason and leaves nothing behind; the
  others go in.
- A restarted import skips the rows its checkpoint says are committed and carries on, so
  a worker killed mid-import loses and doubles nothing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from itertools import chain, islice
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.db.models import F

from rapport.core.permissions import require
from rapport.customers import normalize
from rapport.customers.custom_fields import definitions, validate_custom_fields
from rapport.customers.models import (
    Customer,
    CustomerKind,
    CustomFieldDefinition,
)
from rapport.customers.services import (
    ContactRow,
    RowError,
    UpsertPlan,
    customers_bulk_upsert,
    person_template,
    prepare_created,
)
from rapport.dataquality.mapping import CUSTOMER_TYPE, ResolvedMapping
from rapport.dataquality.models import ImportRowError, ImportRun, UpsertBy
from rapport.dataquality.parallel import ValidationPool, default_processes

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 2000
# Files longer than this validate the rest of their rows in worker processes.
DEFAULT_PARALLEL_AFTER_ROWS = 4_000
MAX_ERRORS_IN_MEMORY = 10_000

ADDRESS_FIELDS = ("address_line1", "address_line2", "city", "postcode", "region", "country")


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    # Matched rows that change (or, in a dry run, would change) nothing.
    unchanged: int = 0
    failed: int = 0
    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    errors_truncated: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "errors": [e.as_dict() for e in self.errors],
        }


class RowValidator:
    """Turns the cells of one row into a ContactRow or a list of field errors.

    Values that repeat across a file are normalised once: the caches make a million-row
    file cost one lookup per distinct name, city, country, date, postcode, tag list,
    organization and e-mail domain (each cache is bounded). It reads no database, so it
    also runs in the validation worker processes (rapport.dataquality.parallel)."""

    def __init__(self, positions: dict[str, int], custom_defs: dict[str, CustomFieldDefinition]):
        self.positions = positions
        self.custom_defs = custom_defs
        self._country: dict[Any, Any] = {}
        self._date: dict[Any, Any] = {}
        self._name: dict[Any, Any] = {}
        self._text: dict[Any, Any] = {}
        self._postcode: dict[Any, Any] = {}
        self._tags: dict[str, list[str]] = {}
        self._domain: dict[str, str | None] = {}
        self.custom_positions = {f[3:]: i for f, i in positions.items() if f.startswith("cf:")}
        self._columns = [(name, positions.get(name)) for name in _CONTACT_COLUMNS]
        self._person: Customer | None = None

    def __getstate__(self) -> dict[str, Any]:
        # Sent to the validation workers: the settings, not the caches.
        return {"positions": self.positions, "custom_defs": self.custom_defs}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["positions"], state["custom_defs"])  # type: ignore[misc]

    @staticmethod
    def _cached(cache: dict[Any, Any], key: Any, fn: Callable[..., Any], *args: Any) -> Any:
        """fn(*args) (or its ValidationError, raised again), remembered under `key`."""
        try:
            value = cache[key]
        except KeyError:
            try:
                value = fn(*args)
            except ValidationError as exc:
                value = exc
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
            cache[key] = value
        if isinstance(value, ValidationError):
            raise value
        return value

    def _name_of(self, text: str) -> str:
        return self._cached(self._name, text, normalize.normalize_name, text)

    def _clean(self, text: str, max_length: int) -> str:
        if len(text) <= max_length and text.isprintable() and "  " not in text:
            return text  # what clean_text returns for stripped text like this, uncached
        return self._cached(self._text, (text, max_length), _clean_text, text, max_length)

    def email(self, text: str) -> str:
        """email-validator's result, with the domain validated once per distinct domain and
        plain ASCII local parts checked by the same dot-atom rule it applies."""
        local, at, domain = text.strip().rpartition("@")
        if at and 0 < len(local) <= 64 and _DOT_ATOM.match(local) and len(text) <= 254:
            normalized_domain = self._domain.get(domain)
            if domain not in self._domain:
                try:
                    normalized_domain = normalize.normalize_email(f"a@{domain}").split("@")[1]
                except ValidationError:
                    normalized_domain = None
                if len(self._domain) >= _CACHE_LIMIT:
                    self._domain.clear()
                self._domain[domain] = normalized_domain
            if normalized_domain is not None:
                return f"{local.lower()}@{normalized_domain}"
        return normalize.normalize_email(text)

    def tags(self, text: str) -> list[str]:
        cached = self._tags.get(text)
        if cached is None:
            parts = text.replace(",", ";").split(";")
            cleaned = {normalize.clean_text(p)[:50].lower() for p in parts}
            cached = sorted(p for p in cleaned if p)
            if len(self._tags) >= _CACHE_LIMIT:
                self._tags.clear()
            self._tags[text] = cached
        return cached

    def validate(self, number: int, cells: list[str]) -> ContactRow | list[RowError]:
        errors: list[RowError] = []
        width = len(cells)
        values: dict[str, str] = {}
        for name, i in self._columns:
            text = cells[i].strip() if i is not None and i < width else ""
            # Undo the export's formula neutralisation ('+4415…), so exports re-import.
            if text[:1] == "'" and text[1:2] in _FORMULA_STARTS:
                text = text[1:]
            values[name] = text
        row = ContactRow(row=number, raw=cells)

        def fail(name: str, exc: ValidationError) -> None:
            errors.append(RowError(number, name, " ".join(exc.messages)))

        # Field by field, in the order the errors are reported.
        if text := values["external_id"]:
            try:
                row.external_id = self._clean(text, 100)
            except ValidationError as exc:
                fail("external_id", exc)
        if text := values["rapport_id"]:
            if text.isascii() and text.isdigit() and 0 < int(text) < 2**63:
                row.rapport_id = int(text)
            else:
                errors.append(RowError(number, "rapport_id", f"{text!r} is not a Rapport ID."))
        if text := values["first_name"]:
            try:
                row.first_name = self._name_of(text)
            except ValidationError as exc:
                fail("first_name", exc)
        if text := values["last_name"]:
            try:
                row.last_name = self._name_of(text)
            except ValidationError as exc:
                fail("last_name", exc)
        if text := values["email"]:
            try:
                row.email = self.email(text)
            except ValidationError as exc:
                fail("email", exc)
        country = ""
        if text := values["country"]:
            try:
                country = self._cached(self._country, text, normalize.normalize_country, text)
            except ValidationError as exc:
                fail("country", exc)
        if text := values["phone"]:
            row.phone_raw = text[:50]
            try:
                row.phone = normalize.normalize_phone(text, region=country or None)
            except ValidationError as exc:
                fail("phone", exc)
        if text := values["birth_date"]:
            try:
                row.birth_date = self._cached(self._date, text, normalize.parse_birth_date, text)
            except ValidationError as exc:
                fail("birth_date", exc)
        if text := values["organization"]:
            try:
                row.organization = self._clean(text, 200)
            except ValidationError as exc:
                fail("organization", exc)
        if text := values["kind"]:
            if text.lower() == CustomerKind.ORGANIZATION:
                row.is_organization = True
                row.organization_name, row.organization = row.organization, None
                if row.first_name or row.last_name or row.birth_date:
                    errors.append(
                        RowError(
                            number,
                            "kind",
                            "An organization has no first or last name "
                            "or birth date; leave those cells empty.",
                        )
                    )
            elif text.lower() != CustomerKind.PERSON:
                errors.append(
                    RowError(number, "kind", f"{text!r} is not a kind: use person or organization.")
                )
        line1, line2, city = values["address_line1"], values["address_line2"], values["city"]
        postcode, region = values["postcode"], values["region"]
        if line1 or line2 or city or postcode or region or country or values["country"]:
            address = {"line1": "", "line2": "", "city": "", "region": "", "country": country}
            address["postcode"] = ""
            if postcode:
                try:
                    address["postcode"] = self._cached(
                        self._postcode,
                        (postcode, country),
                        normalize.normalize_postcode,
                        postcode,
                        country,
                    )
                except ValidationError as exc:
                    fail("postcode", exc)
            for key, name, text, limit in (
                ("line1", "address_line1", line1, 200),
                ("line2", "address_line2", line2, 200),
                ("region", "region", region, 100),
            ):
                if text:
                    try:
                        address[key] = self._clean(text, limit)
                    except ValidationError as exc:
                        fail(name, exc)
            if city:
                try:
                    address["city"] = self._name_of(city)
                except ValidationError as exc:
                    fail("city", exc)
            row.address = address
        if text := values["tags"]:
            row.tags = self.tags(text)
        if self.custom_positions:
            custom = {k: cells[i] if i < width else "" for k, i in self.custom_positions.items()}
            custom = {k: v for k, v in custom.items() if v.strip()}
            if custom:
                try:
                    row.custom = validate_custom_fields(
                        CUSTOMER_TYPE, custom, partial=True, known=self.custom_defs
                    )
                except ValidationError as exc:
                    for key, messages in exc.message_dict.items():
                        errors.append(RowError(number, f"cf:{key}", " ".join(messages)))
        if errors:
            return errors
        if not row.is_organization:  # an organization's row never creates (see _plan)
            prepare_created(row, self._person_template())
        return row

    def _person_template(self) -> Customer:
        if self._person is None:
            self._person = person_template()
        return self._person


@contextmanager
def _bulk_load_settings() -> Iterator[None]:
    """SQLite: let the write-ahead log grow to ~80 MB before it is copied back into the
    database file, instead of after every batch (4 MB by default): a page that many
    batches change (index and full-text pages) is written back once, not once a batch.
    Only this connection's setting; restored afterwards."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        (before,) = cursor.fetchone()
        cursor.execute(f"PRAGMA wal_autocheckpoint = {_WAL_PAGES_BETWEEN_CHECKPOINTS}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA wal_autocheckpoint = {int(before)}")


_WAL_PAGES_BETWEEN_CHECKPOINTS = 20_000


def _clean_text(text: str, max_length: int) -> str:
    return normalize.clean_text(text, max_length=max_length)


_CACHE_LIMIT = 100_000
_CONTACT_COLUMNS = (
    "external_id",
    "rapport_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "organization",
    "kind",
    "birth_date",
    *ADDRESS_FIELDS,
    "tags",
)


_FORMULA_STARTS = frozenset("=+-@\t\r")
_DOT_ATOM = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")


class ContactImporter:
    """Upserts contacts from rows; see the module docstring for the guarantees."""

    def __init__(
        self,
        *,
        actor: Any,
        resolved: ResolvedMapping,
        upsert_by: str = UpsertBy.EXTERNAL_ID,
        owner_id: int | None = None,
        team_id: int | None = None,
        dry_run: bool = False,
        run: ImportRun | None = None,
        batch_size: int | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> None:
        self.actor = actor
        self.resolved = resolved
        self.upsert_by = upsert_by
        self.owner_id = owner_id
        self.team_id = team_id
        self.dry_run = dry_run
        self.run = run
        configured: int = getattr(settings, "IMPORT_BATCH_SIZE", DEFAULT_BATCH_SIZE)
        self.batch_size = batch_size or configured
        self.on_progress = on_progress
        if actor is not None:
            # The system (CLI) acts with full access; a user needs create access at least.
            require(actor, "create", Customer)
        custom_defs = definitions(CUSTOMER_TYPE)
        self.validator = RowValidator(resolved.positions, custom_defs)
        self.result = ImportResult()
        if run is not None:
            self.result.created = run.created
            self.result.updated = run.updated
            self.result.unchanged = run.unchanged
            self.result.failed = run.failed
            self.result.rows = run.rows_committed

    # --- the loop ---------------------------------------------------------------------

    def execute(self, rows: Iterable[tuple[int, list[str]]]) -> ImportResult:
        skip = self.result.rows
        batch: list[ContactRow] = []
        keys: set[str] = set()
        failed: list[tuple[list[RowError], list[str]]] = []
        consumed = 0
        # A restarted import skips the rows its checkpoint says are committed.
        outcomes = self._outcomes(islice(rows, skip, None))
        with closing(outcomes), _bulk_load_settings():
            for _number, cells, outcome in outcomes:
                consumed += 1
                if isinstance(outcome, list):
                    failed.append((outcome, cells))
                else:
                    row_keys = self._keys(outcome)
                    if row_keys & keys:
                        # The same record twice in a batch: commit the first before the
                        # second so that the second updates it (last row wins, as in a
                        # spreadsheet).
                        self._commit(batch, failed, consumed - 1)
                        batch, keys, failed, consumed = [], set(), [], 1
                    batch.append(outcome)
                    keys |= row_keys
                if consumed >= self.batch_size:
                    self._commit(batch, failed, consumed)
                    batch, keys, failed, consumed = [], set(), [], 0
            if consumed:
                self._commit(batch, failed, consumed)
        return self.result

    def _outcomes(
        self, rows: Iterator[tuple[int, list[str]]]
    ) -> Generator[tuple[int, list[str], ContactRow | list[RowError]], None, None]:
        """Each row with its validation outcome, in file order. Past the first
        IMPORT_PARALLEL_AFTER_ROWS rows (a file that is worth it), the rest are validated
        in IMPORT_VALIDATION_PROCESSES worker processes while this one writes."""
        serial = getattr(settings, "IMPORT_PARALLEL_AFTER_ROWS", DEFAULT_PARALLEL_AFTER_ROWS)
        processes = getattr(settings, "IMPORT_VALIDATION_PROCESSES", default_processes())
        head = list(islice(rows, serial))
        following = next(rows, None) if processes > 0 else None
        if following is None:  # a short file, or no workers: all rows validated here
            for number, cells in chain(head, rows):
                yield number, cells, self.validator.validate(number, cells)
            return
        pool = ValidationPool(
            self.validator,
            processes=processes,
            overrides={"PHONE_DEFAULT_REGION": settings.PHONE_DEFAULT_REGION},
        )
        try:
            # The workers start on the rest of the file now, while the first rows are
            # validated and written here.
            rest = pool.outcomes(chain([following], rows))
            for number, cells in head:
                yield number, cells, self.validator.validate(number, cells)
            yield from rest
        except BaseException:
            pool.close()
            raise
        pool.close(wait=True)

    def _keys(self, row: ContactRow) -> set[str]:
        keys = set()
        if row.external_id:
            keys.add(f"x:{row.external_id}")
        if row.rapport_id:
            keys.add(f"i:{row.rapport_id}")
        if row.email and self.upsert_by == UpsertBy.EMAIL:
            keys.add(f"e:{row.email}")
        return keys

    def _commit(
        self,
        batch: list[ContactRow],
        failed: list[tuple[list[RowError], list[str]]],
        consumed: int,
    ) -> None:
        errors = [e for errs, _ in failed for e in errs]
        failed_raw = {errs[0].row: raw for errs, raw in failed}
        if self.dry_run:
            plan = self._upsert(batch, dry_run=True)
            self._tally(plan, consumed, errors, failed_raw)
            return
        try:
            with transaction.atomic():
                plan = self._upsert(batch)
                self._tally(plan, consumed, errors, failed_raw)
        except DatabaseError:
            logger.warning("Import batch failed in the database; retrying row by row")
            self._commit_row_by_row(batch, consumed, errors, failed_raw)

    def _upsert(self, rows: list[ContactRow], *, dry_run: bool = False) -> UpsertPlan:
        return customers_bulk_upsert(
            actor=self.actor,
            rows=rows,
            match_on=self.upsert_by,
            owner_id=self.owner_id,
            team_id=self.team_id,
            dry_run=dry_run,
        )

    def _commit_row_by_row(
        self,
        batch: list[ContactRow],
        consumed: int,
        errors: list[RowError],
        failed_raw: dict[int, list[str]],
    ) -> None:
        with transaction.atomic():
            merged = UpsertPlan()
            for row in batch:
                try:
                    plan = self._upsert([row])  # its own savepoint
                except DatabaseError as exc:
                    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                    merged.errors.append(
                        RowError(row.row, "", f"The database refused this row: {message}"[:500])
                    )
                    merged.failed_rows[row.row] = row.raw
                    continue
                merged.creates += plan.creates
                merged.updates += plan.updates
                merged.unchanged += plan.unchanged
                merged.errors += plan.errors
                merged.failed_rows.update(plan.failed_rows)
            self._tally(merged, consumed, errors, failed_raw)

    def _tally(
        self,
        plan: UpsertPlan,
        consumed: int,
        errors: list[RowError],
        failed_raw: dict[int, list[str]],
    ) -> None:
        """Count the batch and, in a real run, save its failed rows and the checkpoint
        (inside the batch's transaction)."""
        all_errors = sorted(errors + plan.errors, key=lambda e: e.row)
        raw = {**failed_raw, **plan.failed_rows}
        created, failed = len(plan.creates), len(raw)
        updated, unchanged = len(plan.updates) - plan.unchanged, plan.unchanged
        if self.run is not None and not self.dry_run:
            ImportRowError.objects.bulk_create(
                [
                    ImportRowError(
                        run=self.run,
                        row=e.row,
                        field=e.field,
                        message=e.message,
                        values=raw.get(e.row, []),
                    )
                    for e in all_errors
                ],
                batch_size=1000,
            )
            ImportRun.objects.filter(pk=self.run.pk).update(
                rows_committed=F("rows_committed") + consumed,
                created=F("created") + created,
                updated=F("updated") + updated,
                unchanged=F("unchanged") + unchanged,
                failed=F("failed") + failed,
            )
        self.result.created += created
        self.result.updated += updated
        self.result.unchanged += unchanged
        self.result.failed += failed
        self.result.rows += consumed
        room = MAX_ERRORS_IN_MEMORY - len(self.result.errors)
        if room < len(all_errors):
            self.result.errors_truncated = True
        self.result.errors.extend(all_errors[: max(room, 0)])
        if self.on_progress is not None:
            self.on_progress(consumed)
