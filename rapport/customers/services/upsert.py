"""The bulk customer write: many contact rows created or updated at once, with what a
single create or update means (validation, one primary e-mail and phone, audit rows,
`customer.created`/`customer.updated` events, search words, quality scores) in one
transaction. The contact import calls it per batch; the API's and other apps' bulk work
call it too, so no other module builds customer rows, audit rows or customer events.

The rows come validated (`ContactRow`, made by dataquality's row validator from a file's
cells); `prepare_created` (run by the validation, in worker processes for a large file)
makes what a created customer's records will hold, so the writer only fills in the id,
owner and time. Writes are plain INSERTs (core.bulk); a batch's queries are a constant
few whatever its size (docs/decisions/0501, 0502, 0850).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field, fields
from types import SimpleNamespace
from typing import Any, cast

from django.db import transaction
from django.utils import timezone

from rapport.core import audit, bulk, outbox
from rapport.core.api_helpers import json_dumps
from rapport.core.models import AuditAction, AuditLogEntry, OutboxEvent
from rapport.core.permissions import can, require
from rapport.customers import normalize, quality
from rapport.customers.models import (
    Address,
    AddressKind,
    Affiliation,
    ContactKind,
    Customer,
    CustomerKind,
    CustomerTag,
    EmailAddress,
    PhoneNumber,
    Tag,
)
from rapport.customers.schemas import (
    ADDRESS_FIELDS as _ADDRESS_OUT,
)
from rapport.customers.schemas import (
    CUSTOMER_SCALAR_FIELDS,
    EMAIL_FIELDS,
    PHONE_FIELDS,
    contact_point_json,
    customer_json,
    json_datetime,
)
from rapport.customers.selectors import follow_merges
from rapport.customers.services.derived import (
    display_name_for,
    remember_search_words,
    search_text_for,
)
from rapport.customers.services.inputs import CUSTOMER_TYPE, one_primary

# How a row finds the stored customer it updates (dataquality's UpsertBy has the same
# values).
MATCH_EXTERNAL_ID = "external_id"
MATCH_EMAIL = "email"


# The customer fields an import may change (what the audit row of an update compares).
AUDITED = (
    "organization_name",
    "first_name",
    "last_name",
    "birth_date",
    "external_id",
    "custom_fields",
    "primary_email",
    "primary_phone",
    "city",
    "country",
    "owner_id",
)


@dataclass(frozen=True)
class RowError:
    row: int
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "message": self.message}


@dataclass
class ContactRow:
    """A validated row: None means "the file says nothing; keep what is stored"."""

    row: int
    raw: list[str]
    external_id: str | None = None
    rapport_id: int | None = None  # the `id` of a Rapport export: match only
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    phone_raw: str = ""
    organization: str | None = None
    # A row whose kind is "organization" (a Rapport export's organizations): its
    # organization cell is the record's own name, and it only updates an organization.
    organization_name: str | None = None
    is_organization: bool = False
    birth_date: dt.date | None = None
    address: dict[str, str] | None = None
    tags: list[str] = field(default_factory=list)
    custom: dict[str, Any] = field(default_factory=dict)
    # What the customer gets if the row creates one (see prepare_created).
    display_name: str = ""
    search_text: str = ""
    # The created customer's data-quality score and issues, and the day they were
    # assessed on (a birth date is checked against "today").
    quality: tuple[int, int, dt.date] | None = None
    # Its audit row's changes and its customer.created payload as JSON text, but for the
    # values only the writing process knows (id, owner, batch time): see _CreatedRecords.
    audit_json: str = "{}"
    payload_json: str = "{}"
    event_id: str = field(default="", compare=False)  # a random UUID's hex digits

    def key(self, upsert_by: str) -> str | None:
        return self.email if upsert_by == MATCH_EMAIL else self.external_id

    def __reduce__(self) -> tuple[Any, tuple[tuple[Any, ...]]]:
        # Sent back by the validation workers as a plain tuple: unpickling a dataclass
        # instance (its __dict__ rebuilt key by key) cost the writing process ~12 µs a
        # row, a tuple ~5 µs.
        return _contact_row, (tuple(self.__dict__.values()),)


def _contact_row(values: tuple[Any, ...]) -> ContactRow:
    row = ContactRow.__new__(ContactRow)
    row.__dict__.update(zip(_CONTACT_ROW_FIELDS, values, strict=True))
    return row


_CONTACT_ROW_FIELDS = tuple(f.name for f in fields(ContactRow))


def prepare_created(row: ContactRow, template: Customer | None = None) -> None:
    """Fill in what the row's customer and its audit row and event get if the row creates
    one (an update recomputes them from the stored record). Run by the validation, not
    the writer, because validation runs in parallel with the writes (in worker processes
    for a large file). `template` is `person_template()`, made once per validator."""
    person = _NewPerson(
        first_name=row.first_name or "",
        last_name=row.last_name or "",
        external_id=row.external_id,
        primary_email=row.email or "",
        primary_phone=row.phone or "",
    )
    row.display_name = display_name_for(cast(Customer, person))
    person.display_name = row.display_name
    row.search_text = search_text_for(
        cast(Customer, person),
        [row.email] if row.email else [],
        [row.phone] if row.phone else [],
        [row.organization] if row.organization else [],
    )
    _CreatedRecords.prepare(row, _new_customer(template or person_template(), row))


def person_template() -> Customer:
    """The customer `prepare_created` copies: owner, team and times are the writer's (None
    and a placeholder here); the other fields get the model's defaults, as the writer's
    template does."""
    return Customer(
        kind=CustomerKind.PERSON,
        source="import",
        created_at=_PLACEHOLDER_TIME,
        updated_at=_PLACEHOLDER_TIME,
        lifecycle_changed_at=_PLACEHOLDER_TIME,
    )


def _new_customer(template: Customer, row: ContactRow, **values: Any) -> Customer:
    """The customer a row creates, as a copy of a template (bulk.clone)."""
    address = row.address or {}
    return bulk.clone(
        template,
        first_name=row.first_name or "",
        last_name=row.last_name or "",
        birth_date=row.birth_date,
        external_id=row.external_id,
        custom_fields=row.custom,
        primary_email=row.email or "",
        primary_phone=row.phone or "",
        city=address.get("city", ""),
        country=address.get("country", ""),
        display_name=row.display_name,
        sort_name=normalize.name_sort_key(row.display_name),
        search_text=row.search_text,
        **values,
    )


def _has_address(row: ContactRow) -> bool:
    return bool(row.address) and any(row.address.values())  # type: ignore[union-attr]


# The JSON text of the records the import writes itself, as the ORM would write it
# (JSONField's converter is bypassed: bulk.Prepared).
def _json(data: dict[str, Any]) -> str:
    return json_dumps(data).decode()


def _joined(head: str, text: str) -> bulk.Prepared:
    """The JSON object `text` with the members `head` ('"a":1,"b":2', or '') put first."""
    return bulk.Prepared("{" + ",".join([m for m in (head, text[1:-1]) if m]) + "}")


# The template customer of the validation has no owner or team and this time.
_PLACEHOLDER_TIME = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


class _CreatedRecords:
    """The audit row's changes and the customer.created payload of a created customer,
    made as JSON text by the validation (`prepare`, per row, in a worker process for a
    large file: text is what costs the writing process least to receive) and completed by
    the writing process (`changes`, `payload`) with the members only it knows: the new
    id, the owner and team, the batch's time, put first in the payload.

    The result is the JSON of `_created_changes(customer)` and `_PayloadMaker.created(...)`
    of the saved customer (tests/test_import_prepared_records.py holds them equal). Key
    order is the writer's keys first; JSON objects are unordered (PostgreSQL's jsonb keeps
    no order at all)."""

    @staticmethod
    def prepare(row: ContactRow, customer: Customer) -> None:
        today = dt.date.today()
        address = SimpleNamespace(**row.address) if _has_address(row) else None  # type: ignore[arg-type]
        result = quality.assess(customer, address, normalized=quality.ALL_NORMALIZED, today=today)
        row.quality = (result.score, result.issues, today)
        customer.quality_score, customer.quality_issues = result.score, result.issues
        changes = _created_changes(customer)  # owner_id is None here: left out
        del changes["source"]  # the writer adds it after owner_id
        row.audit_json = _json(changes)
        payload = _PayloadMaker().created(customer, row, has_address=_has_address(row))
        for name in _WRITER_KEYS:
            del payload[name]
        row.payload_json = _json(payload)
        row.event_id = uuid.uuid4().hex

    def __init__(self, *, owner_id: int | None, team_id: int | None, now: dt.datetime) -> None:
        stamp = json_datetime(now)
        known = {
            "lifecycle_changed_at": stamp,
            "owner_id": owner_id,
            "team_id": team_id,
            "created_at": stamp,
            "updated_at": stamp,
        }
        self._known = _json(known)[1:-1]
        owner = {"owner_id": [None, owner_id]} if owner_id is not None else {}
        self._changes_tail = _json({**owner, "source": [None, "import"]})

    def changes(self, row: ContactRow) -> bulk.Prepared:
        return _joined(row.audit_json[1:-1], self._changes_tail)

    def payload(self, row: ContactRow, cid: int) -> bulk.Prepared:
        return _joined(f'"id":{int(cid)},{self._known}', row.payload_json)


@dataclass
class _NewPerson:
    """What display_name_for and search_text_for read of a person about to be created."""

    first_name: str
    last_name: str
    external_id: str | None
    primary_email: str
    primary_phone: str
    kind: str = CustomerKind.PERSON
    organization_name: str = ""
    display_name: str = ""


@dataclass
class UpsertPlan:
    """What a bulk upsert did (or, in a dry run, would do) with its rows."""

    creates: list[ContactRow] = field(default_factory=list)
    updates: list[tuple[ContactRow, Customer]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    failed_rows: dict[int, list[str]] = field(default_factory=dict)
    # Of `updates`, those already up to date (set by the write or the dry run's compare).
    unchanged: int = 0


def customers_bulk_upsert(
    *,
    actor: Any,
    rows: list[ContactRow],
    match_on: str = MATCH_EXTERNAL_ID,
    owner_id: int | None = None,
    team_id: int | None = None,
    dry_run: bool = False,
) -> UpsertPlan:
    """Create or update a customer per row, in one transaction: non-empty values
    overwrite, None keeps what is stored (see `_BulkUpsert.apply_updates`). A row that
    cannot go in (ambiguous match, an organization's row matching nothing, no access to
    the matched record, nothing to name a person by) is in the plan's `errors` and
    `failed_rows`; the others are written. A database error fails the whole call (the
    caller may retry row by row). The rows must not hold the same record twice.

    `actor` None is the system (the command line) with full access. With `dry_run`
    nothing is written: the plan says what would be created, updated and unchanged."""
    if actor is not None:
        require(actor, "create", Customer)
    for row in rows:
        # The import's validation prepares each row (in parallel with the writes); any
        # other caller's rows are prepared here.
        if not row.event_id and not row.is_organization:
            prepare_created(row)
    upsert = _BulkUpsert(actor=actor, match_on=match_on, owner_id=owner_id, team_id=team_id)
    if dry_run:
        plan = upsert.plan(rows, lock=False)
        upsert.compare(plan)
        return plan
    with transaction.atomic():
        plan = upsert.plan(rows, lock=True)
        upsert.write(plan)
    return plan


class _BulkUpsert:
    def __init__(
        self, *, actor: Any, match_on: str, owner_id: int | None, team_id: int | None
    ) -> None:
        self.actor = actor
        self.upsert_by = match_on
        self.owner_id = owner_id
        self.team_id = team_id
        self._now = timezone.now()

    def plan(self, batch: list[ContactRow], *, lock: bool) -> UpsertPlan:
        plan = UpsertPlan()
        if not batch:
            return plan
        base = Customer.objects.filter(merged_into__isnull=True)
        if lock:
            base = base.select_for_update()
        external_ids = {r.external_id for r in batch if r.external_id}
        by_external: dict[str, Customer] = {}
        if external_ids:
            by_external = {c.external_id: c for c in base.filter(external_id__in=external_ids)}  # type: ignore[misc]
        # External ids of records merged away: the row goes to the record they live on.
        via_merge = self._merged_away(external_ids - by_external.keys(), base)
        by_external.update(via_merge)
        # Rows of a Rapport export with no external id match by the export's own id.
        rapport_ids = {r.rapport_id for r in batch if r.rapport_id and not r.external_id}
        by_pk: dict[int, Customer] = {}
        if rapport_ids and self.upsert_by != MATCH_EMAIL:
            by_pk = {c.pk: c for c in base.filter(pk__in=rapport_ids)}
        by_email: dict[str, list[Customer]] = {}
        if self.upsert_by == MATCH_EMAIL:
            emails = {r.email for r in batch if r.email}
            for c in base.filter(primary_email__in=emails, kind=CustomerKind.PERSON).order_by("id"):
                by_email.setdefault(c.primary_email, []).append(c)

        def fail(row: ContactRow, name: str, message: str) -> None:
            plan.errors.append(RowError(row.row, name, message))
            plan.failed_rows[row.row] = row.raw

        for row in batch:
            match: Customer | None = None
            if self.upsert_by == MATCH_EMAIL:
                found = by_email.get(row.email or "", [])
                if len(found) > 1:
                    fail(
                        row,
                        "email",
                        f"{len(found)} customers have the e-mail {row.email}; "
                        "merge them first or import by external_id.",
                    )
                    continue
                match = found[0] if found else None
                clash = by_external.get(row.external_id or "")
                if clash is not None and (match is None or clash.pk != match.pk):
                    fail(
                        row,
                        "external_id",
                        f"Another customer already has external_id {row.external_id!r}.",
                    )
                    continue
            else:
                match = by_external.get(row.external_id or "")
                if match is None and row.rapport_id and not row.external_id:
                    match = by_pk.get(row.rapport_id)
                    if match is None:
                        fail(
                            row,
                            "rapport_id",
                            f"No customer has the Rapport ID {row.rapport_id} (deleted, merged "
                            "or from another Rapport); map the id column to nothing to create "
                            "new records.",
                        )
                        continue
            if row.external_id in via_merge:
                row.external_id = None  # the survivor keeps its own; the id stays on the tombstone
            if row.is_organization:
                if match is None:
                    fail(
                        row,
                        "kind",
                        "An import updates organizations but does not create them: create "
                        "this one in Rapport first, or map the kind column to nothing.",
                    )
                    continue
                if match.kind != CustomerKind.ORGANIZATION:
                    fail(
                        row,
                        "kind",
                        "This row is an organization; the record it matches is a person.",
                    )
                    continue
            if match is None:
                if not (row.first_name or row.last_name or row.email or row.phone):
                    fail(row, "last_name", "A person needs a name, an e-mail or a phone number.")
                    continue
                plan.creates.append(row)
                continue
            if match.kind != CustomerKind.PERSON and not row.is_organization:
                fail(row, "external_id", "This external_id belongs to an organization.")
                continue
            if self.actor is not None and not can(self.actor, "edit", match):
                fail(row, "external_id", "You may not edit the customer this row matches.")
                continue
            plan.updates.append((row, match))
        return plan

    @staticmethod
    def _merged_away(external_ids: set[str], live: Any) -> dict[str, Customer]:
        if not external_ids:
            return {}
        merged = dict(
            Customer.objects.filter(
                external_id__in=external_ids, merged_into__isnull=False
            ).values_list("external_id", "pk")
        )
        if not merged:
            return {}
        survivor_of = follow_merges(merged.values())
        survivors = {c.pk: c for c in live.filter(pk__in=set(survivor_of.values()))}
        return {
            str(ext): survivors[survivor_of[pk]]
            for ext, pk in merged.items()
            if survivor_of[pk] in survivors
        }

    def compare(self, plan: UpsertPlan) -> None:
        """A dry run's count of the matched rows that would change nothing: the real
        import's own update rule (apply_updates) run on the batch's stored records in
        memory, with nothing written. Organizations are looked up, not created (a new one
        is a change either way); the queries are a constant few per batch."""
        if not plan.updates:
            return
        self._now = timezone.now()
        names = {r.organization for r, _ in plan.updates if r.organization}
        changed = self.apply_updates(
            plan.updates,
            {},
            self._existing_organizations(names),
            [],
            [],
            [],
            [],
            [],
            [],
            {},
            write=False,
        )
        plan.unchanged = len(plan.updates) - len(changed)

    # --- writing ----------------------------------------------------------------------

    def write(self, plan: UpsertPlan) -> None:
        if not plan.creates and not plan.updates:
            return
        now = timezone.now()
        self._now = now
        audit_rows: list[AuditLogEntry] = []
        events: list[OutboxEvent] = []
        rows = plan.creates + [r for r, _ in plan.updates]
        org_ids = self._organizations(rows, audit_rows, events)
        tag_ids = self._tags({t for r in rows for t in r.tags})
        owner_id = self.owner_id if self.owner_id is not None else getattr(self.actor, "pk", None)

        # Creates ---------------------------------------------------------------------
        # Every new row starts as a copy of one template per model (bulk.clone): the
        # constructor's per-field work is done once per batch, not once per object.
        person = Customer(
            kind=CustomerKind.PERSON,
            owner_id=owner_id,
            team_id=self.team_id,
            source="import",
            created_at=now,
            updated_at=now,
            lifecycle_changed_at=now,
        )
        # The validation made the quality score, the audit changes and the event payload
        # of each row (in a worker process for a large file); a score assessed on another
        # day (the import ran past midnight) is assessed again, against today.
        today = dt.date.today()
        new: list[tuple[ContactRow, Customer]] = []
        stale: list[tuple[Customer, dict[str, str] | None]] = []
        for row in plan.creates:
            customer = _new_customer(person, row)
            assessed = row.quality
            if assessed is not None and assessed[2] == today:
                customer.quality_score, customer.quality_issues = assessed[0], assessed[1]
            else:
                stale.append((customer, row.address))
            new.append((row, customer))
        quality.apply_batch(stale, normalized=quality.ALL_NORMALIZED)
        bulk.insert([c for _, c in new], returning_ids=True)
        remember_search_words(c for _, c in new)  # search's typo vocabulary

        # The created customers' other rows go in as tuples (bulk.RowMaker), updates'
        # rows as instances.
        emails: list[EmailAddress] = []
        phones: list[PhoneNumber] = []
        addresses: list[Address] = []
        links: list[CustomerTag] = []
        affiliations: list[Affiliation] = []
        loaded: dict[int, dict[str, list[Any]]] = {}
        email_rows = bulk.RowMaker(
            EmailAddress(kind=ContactKind.WORK, is_primary=True), ("customer_id", "email")
        )
        phone_rows = bulk.RowMaker(
            PhoneNumber(kind=ContactKind.MOBILE, is_primary=True),
            ("customer_id", "e164", "raw"),
        )
        address_rows = bulk.RowMaker(
            Address(kind=AddressKind.HOME, is_primary=True), ("customer_id", *_ADDRESS_KEYS)
        )
        tag_rows = bulk.RowMaker(CustomerTag(), ("customer_id", "tag_id"))
        member_rows = bulk.RowMaker(
            Affiliation(created_at=now, updated_at=now), ("person_id", "organization_id")
        )
        created_audit = audit.entry(
            actor=self.actor,
            action=AuditAction.CREATE,
            object_type=CUSTOMER_TYPE,
            object_id="",
        )
        audit_of_new = bulk.RowMaker(created_audit, ("object_id", "object_repr", "changes"))
        created_event = outbox.build("customer.created", {}, aggregate=new[0][1] if new else None)
        event_of_new = bulk.RowMaker(created_event, ("event_id", "aggregate_id", "data"))
        records = _CreatedRecords(owner_id=owner_id, team_id=self.team_id, now=now)
        new_rows: dict[bulk.RowMaker, list[tuple[Any, ...]]] = {
            m: [] for m in (email_rows, phone_rows, address_rows, tag_rows, member_rows)
        }
        new_audit: list[tuple[Any, ...]] = []
        new_events: list[tuple[Any, ...]] = []
        for row, customer in new:
            cid = customer.pk
            if row.email:
                new_rows[email_rows].append(email_rows.row(cid, row.email))
            if row.phone:
                new_rows[phone_rows].append(phone_rows.row(cid, row.phone, row.phone_raw))
            if _has_address(row):
                address = row.address or {}
                new_rows[address_rows].append(
                    address_rows.row(cid, *[address[k] for k in _ADDRESS_KEYS])
                )
            for name in row.tags:
                new_rows[tag_rows].append(tag_rows.row(cid, tag_ids[name]))
            if row.organization:
                new_rows[member_rows].append(member_rows.row(cid, org_ids[row.organization]))
            new_audit.append(
                audit_of_new.row(str(cid), customer.display_name[:255], records.changes(row))
            )
            new_events.append(
                event_of_new.row(
                    bulk.Prepared(row.event_id or uuid.uuid4().hex),
                    str(cid),
                    records.payload(row, cid),
                )
            )
        for maker, tuples in new_rows.items():
            bulk.insert_rows(maker, tuples)
        # Audit rows and events in the order of the changes: organizations, then the
        # created persons, then the updated ones.
        bulk.insert(audit_rows)
        bulk.insert_rows(audit_of_new, new_audit)
        audit_rows = []
        if events:
            bulk.insert(events)
        bulk.insert_rows(event_of_new, new_events)
        emitted = bool(events or new_events)
        events = []

        # Updates ---------------------------------------------------------------------
        changed: list[Customer] = []
        if plan.updates:
            changed = self.apply_updates(
                plan.updates,
                tag_ids,
                org_ids,
                emails,
                phones,
                addresses,
                links,
                affiliations,
                audit_rows,
                loaded,
            )
            plan.unchanged = len(plan.updates) - len(changed)

        # Plain inserts: every link is new (tags and organizations a contact already has
        # were filtered out above, and a batch never holds the same contact twice); a
        # concurrent writer's clash fails the batch, which is then retried row by row.
        for objs in (emails, phones, addresses, links, affiliations, audit_rows):
            bulk.insert(objs)

        for customer in changed:
            events.append(
                outbox.build(
                    "customer.updated",
                    {
                        **self._payload(customer, loaded[customer.pk]),
                        "changed_fields": loaded[customer.pk]["changed_fields"],
                    },
                    aggregate=customer,
                )
            )
        if events:
            bulk.insert(events)
        if events or emitted:
            # Built by outbox.build (type checked, consumers listed); inserted like the
            # other rows, then emit_many([]) schedules the dispatcher once for this
            # transaction (bulk_create of the events cost as much as the customers).
            outbox.emit_many([])

    def apply_updates(
        self,
        updates: list[tuple[ContactRow, Customer]],
        tag_ids: dict[str, int],
        org_ids: dict[str, int],
        emails: list[EmailAddress],
        phones: list[PhoneNumber],
        addresses: list[Address],
        links: list[CustomerTag],
        affiliations: list[Affiliation],
        audit_rows: list[AuditLogEntry],
        loaded: dict[int, dict[str, list[Any]]],
        *,
        write: bool = True,
    ) -> list[Customer]:
        """Non-empty cells overwrite; empty cells keep what is stored. A new e-mail or
        phone becomes the primary one (the old ones stay, no longer primary); the address
        columns replace the primary address; tags and organizations are added. Returns
        the customers that change: the rest are unchanged. With `write=False` (a dry run)
        the same decisions are made in memory and nothing is saved; `tag_ids` and
        `org_ids` may then lack the names that do not exist yet."""
        ids = [c.pk for _, c in updates]
        stored_emails: dict[int, list[EmailAddress]] = {i: [] for i in ids}
        for e in EmailAddress.objects.filter(customer_id__in=ids).order_by("-is_primary", "id"):
            stored_emails[e.customer_id].append(e)
        stored_phones: dict[int, list[PhoneNumber]] = {i: [] for i in ids}
        for p in PhoneNumber.objects.filter(customer_id__in=ids).order_by("-is_primary", "id"):
            stored_phones[p.customer_id].append(p)
        stored_addresses: dict[int, list[Address]] = {i: [] for i in ids}
        for a in Address.objects.filter(customer_id__in=ids).order_by("-is_primary", "id"):
            stored_addresses[a.customer_id].append(a)
        stored_tags: dict[int, set[str]] = {i: set() for i in ids}
        for cid, name in CustomerTag.objects.filter(customer_id__in=ids).values_list(
            "customer_id", "tag__name"
        ):
            stored_tags[cid].add(name)
        stored_orgs: dict[int, dict[int, str]] = {i: {} for i in ids}
        for pid, oid, oname in Affiliation.objects.filter(person_id__in=ids).values_list(
            "person_id", "organization_id", "organization__organization_name"
        ):
            stored_orgs[pid][oid] = oname

        changed_customers: list[Customer] = []
        demoted: list[Any] = []
        changed_addresses: list[Address] = []
        for row, customer in updates:
            before = audit.snapshot(customer, AUDITED)
            if row.organization_name is not None:
                customer.organization_name = row.organization_name
            if row.first_name is not None:
                customer.first_name = row.first_name
            if row.last_name is not None:
                customer.last_name = row.last_name
            if row.birth_date is not None:
                customer.birth_date = row.birth_date
            if row.external_id is not None:
                customer.external_id = row.external_id
            if row.custom:
                customer.custom_fields = {**customer.custom_fields, **row.custom}
            if self.owner_id is not None and customer.owner_id is None:
                customer.owner_id = self.owner_id
            cid = customer.pk
            contact_changed = False
            mine_emails = stored_emails[cid]
            # A new e-mail or phone becomes the primary one (one_primary, the rule of
            # every customer write); the old ones stay, no longer primary.
            if row.email and (not mine_emails or mine_emails[0].email != row.email):
                contact_changed = True
                existing = next((e for e in mine_emails if e.email == row.email), None)
                if existing is None:
                    existing = EmailAddress(
                        customer=customer, email=row.email, kind=ContactKind.WORK, is_primary=True
                    )
                    emails.append(existing)
                else:
                    mine_emails.remove(existing)
                mine_emails.insert(0, existing)
                demoted += one_primary(mine_emails, existing)
            mine_phones = stored_phones[cid]
            if row.phone and (not mine_phones or mine_phones[0].e164 != row.phone):
                contact_changed = True
                found = next((p for p in mine_phones if p.e164 == row.phone), None)
                if found is None:
                    found = PhoneNumber(
                        customer=customer,
                        e164=row.phone,
                        raw=row.phone_raw,
                        kind=ContactKind.MOBILE,
                        is_primary=True,
                    )
                    phones.append(found)
                else:
                    mine_phones.remove(found)
                mine_phones.insert(0, found)
                demoted += one_primary(mine_phones, found)
            mine_addresses = stored_addresses[cid]
            if row.address and any(row.address.values()):
                primary = mine_addresses[0] if mine_addresses else None
                if primary is None:
                    primary = Address(
                        customer=customer, kind=AddressKind.HOME, is_primary=True, **row.address
                    )
                    addresses.append(primary)
                    mine_addresses.insert(0, primary)
                    contact_changed = True
                elif any(getattr(primary, k) != v for k, v in row.address.items()):
                    for k, v in row.address.items():
                        setattr(primary, k, v)
                    changed_addresses.append(primary)
                    contact_changed = True
            tags_now = stored_tags[cid]
            new_tags = [t for t in row.tags if t not in tags_now]
            for name in new_tags:
                # Id 0: a tag a dry run would create (no stored row has id 0).
                links.append(CustomerTag(customer=customer, tag_id=tag_ids.get(name, 0)))
                tags_now.add(name)
            orgs = stored_orgs[cid]
            oid = org_ids.get(row.organization or "", 0)  # 0: as for tags
            new_org = bool(row.organization) and oid not in orgs
            if row.organization and new_org:
                affiliations.append(
                    Affiliation(
                        person=customer,
                        organization_id=oid,
                        created_at=self._now,
                        updated_at=self._now,
                        is_primary=not orgs,
                    )
                )
                orgs[oid] = row.organization

            customer.primary_email = mine_emails[0].email if mine_emails else ""
            customer.primary_phone = mine_phones[0].e164 if mine_phones else ""
            customer.city = mine_addresses[0].city if mine_addresses else ""
            customer.country = mine_addresses[0].country if mine_addresses else ""
            customer.display_name = display_name_for(customer)
            customer.sort_name = normalize.name_sort_key(customer.display_name)
            changes = audit.diff(before, audit.snapshot(customer, AUDITED))
            if new_tags:
                changes["tags"] = [sorted(tags_now - set(new_tags)), sorted(tags_now)]
            if new_org:
                changes["organizations"] = [[], [row.organization]]
            if not changes and not contact_changed:
                continue  # matched and already up to date: counted, not audited or emitted
            customer.search_text = search_text_for(
                customer,
                [e.email for e in mine_emails],
                [p.e164 for p in mine_phones],
                list(orgs.values()),
            )
            customer.version += 1
            customer.updated_at = self._now
            changed_customers.append(customer)
            loaded[cid] = {
                "emails": mine_emails,
                "phones": mine_phones,
                "addresses": mine_addresses,
                "tags": [SimpleNamespace(name=t) for t in sorted(tags_now)],
                "changed_fields": sorted(changes) or ["contact_points"],
            }
            audit_rows.append(
                audit.entry(
                    actor=self.actor,
                    action=AuditAction.UPDATE,
                    object_type=CUSTOMER_TYPE,
                    object_id=cid,
                    object_repr=customer.display_name,
                    changes=changes or {"contact_points": [None, "changed by import"]},
                )
            )
        if not write:
            return changed_customers
        if changed_customers:
            # Data-quality score: stored values the file left alone are checked too.
            quality.apply_batch(
                (c, (loaded[c.pk]["addresses"] or [None])[0]) for c in changed_customers
            )
            remember_search_words(changed_customers)
            Customer.objects.bulk_update(
                changed_customers,
                [
                    "quality_score",
                    "quality_issues",
                    "organization_name",
                    "first_name",
                    "last_name",
                    "birth_date",
                    "external_id",
                    "custom_fields",
                    "owner",
                    "primary_email",
                    "primary_phone",
                    "city",
                    "country",
                    "display_name",
                    "sort_name",
                    "search_text",
                    "version",
                    "updated_at",
                ],
                batch_size=500,
            )
        emails_demoted = [d for d in demoted if isinstance(d, EmailAddress) and d.pk]
        phones_demoted = [d for d in demoted if isinstance(d, PhoneNumber) and d.pk]
        # The old primaries lose the flag and the new ones (when already stored) gain it.
        if emails_demoted:
            EmailAddress.objects.bulk_update(emails_demoted, ["is_primary"], batch_size=500)
        if phones_demoted:
            PhoneNumber.objects.bulk_update(phones_demoted, ["is_primary"], batch_size=500)
        if changed_addresses:
            Address.objects.bulk_update(
                changed_addresses,
                ["line1", "line2", "city", "postcode", "region", "country"],
                batch_size=500,
            )
        return changed_customers

    def _tags(self, names: set[str]) -> dict[str, int]:
        if not names:
            return {}
        found = dict(Tag.objects.filter(name__in=names).values_list("name", "id"))
        missing = names - found.keys()
        if missing:
            Tag.objects.bulk_create([Tag(name=n) for n in sorted(missing)], ignore_conflicts=True)
            found = dict(Tag.objects.filter(name__in=names).values_list("name", "id"))
        return found

    def _organizations(
        self,
        rows: list[ContactRow],
        audit_rows: list[AuditLogEntry],
        events: list[OutboxEvent],
    ) -> dict[str, int]:
        """The organization of each name in the batch, created when none has that name."""
        names = {r.organization for r in rows if r.organization}
        if not names:
            return {}
        found = self._existing_organizations(names)
        missing = sorted(names - found.keys())
        if missing:
            owner_id = (
                self.owner_id if self.owner_id is not None else getattr(self.actor, "pk", None)
            )
            orgs = []
            for name in missing:
                org = Customer(
                    kind=CustomerKind.ORGANIZATION,
                    organization_name=name,
                    owner_id=owner_id,
                    team_id=self.team_id,
                    source="import",
                    created_at=self._now,
                    updated_at=self._now,
                    lifecycle_changed_at=self._now,
                )
                org.display_name = display_name_for(org)
                org.sort_name = normalize.name_sort_key(org.display_name)
                org.search_text = search_text_for(org)
                orgs.append(org)
            quality.apply_batch((org, None) for org in orgs)
            bulk.insert(orgs, returning_ids=True)
            remember_search_words(orgs)
            for org in orgs:
                found[org.organization_name] = org.pk
                audit_rows.append(
                    audit.entry(
                        actor=self.actor,
                        action=AuditAction.CREATE,
                        object_type=CUSTOMER_TYPE,
                        object_id=org.pk,
                        object_repr=org.display_name,
                        changes={
                            "kind": [None, "organization"],
                            "organization_name": [None, org.organization_name],
                            "source": [None, "import"],
                        },
                    )
                )
                events.append(
                    outbox.build(
                        "customer.created",
                        self._payload(
                            org, {"emails": [], "phones": [], "addresses": [], "tags": []}
                        ),
                        aggregate=org,
                    )
                )
        return found

    @staticmethod
    def _existing_organizations(names: set[str]) -> dict[str, int]:
        """The stored organization of each of these names that has one (one query)."""
        found: dict[str, int] = {}
        if not names:
            return found
        for pk, name in (
            Customer.objects.filter(
                kind=CustomerKind.ORGANIZATION,
                organization_name__in=names,
                merged_into__isnull=True,
            )
            .order_by("-id")
            .values_list("id", "organization_name")
        ):
            found[name] = pk  # the oldest wins (ordered newest first)
        return found

    @staticmethod
    def _payload(customer: Customer, bits: dict[str, list[Any]]) -> dict[str, Any]:
        """`customer_payload` of the saved customer, from the rows in hand (validating
        through the schema per row would cost more than the insert)."""
        return customer_json(
            _scalars(customer),
            tags=[t.name for t in bits["tags"]],
            emails=[contact_point_json(e, EMAIL_FIELDS) for e in bits["emails"]],
            phones=[contact_point_json(p, PHONE_FIELDS) for p in bits["phones"]],
            addresses=[contact_point_json(a, _ADDRESS_OUT) for a in bits["addresses"]],
        )


def _scalars(customer: Customer) -> dict[str, Any]:
    values = customer.__dict__
    if all(name in values for name in CUSTOMER_SCALAR_FIELDS):
        return values
    # A scalar that is not a plain field: through the descriptors.
    return {name: getattr(customer, name) for name in CUSTOMER_SCALAR_FIELDS}


def _created_changes(customer: Customer) -> dict[str, Any]:
    """The audit row's changes for a created customer: audit.snapshot's non-empty AUDITED
    values as [None, value], and the source (plain strings and ids as they are)."""
    values = customer.__dict__
    changes: dict[str, Any] = {}
    for name in AUDITED:
        value = values[name]
        if value is not None and type(value) is not str and type(value) is not int:
            value = audit.snapshot(customer, [name])[name]
        if value not in (None, "", [], {}):
            changes[name] = [None, value]
    changes["source"] = [None, "import"]
    return changes


class _PayloadMaker:
    """`_payload` for the customers a batch creates, from the validated row; the batch's
    few distinct datetimes are converted once."""

    def __init__(self) -> None:
        self._stamps: dict[dt.datetime, str] = {}

    def _stamp(self, value: dt.datetime) -> str:
        text = self._stamps.get(value)
        if text is None:
            text = self._stamps[value] = json_datetime(value)
        return text

    def created(self, customer: Customer, row: ContactRow, *, has_address: bool) -> dict[str, Any]:
        address = {"kind": _HOME, "is_primary": True, **(row.address or {})}
        return customer_json(
            _scalars(customer),
            tags=row.tags,
            emails=[dict(zip(EMAIL_FIELDS, (row.email, _WORK, True), strict=True))]
            if row.email
            else [],
            phones=[dict(zip(PHONE_FIELDS, (row.phone, _MOBILE, True), strict=True))]
            if row.phone
            else [],
            addresses=[{name: address[name] for name in _ADDRESS_OUT}] if has_address else [],
            stamp=self._stamp,
        )


_WORK = str(ContactKind.WORK.value)
_MOBILE = str(ContactKind.MOBILE.value)
_HOME = str(AddressKind.HOME.value)


# The payload's values that the writing process fills in, in the payload's order.
_WRITER_KEYS = ("id", "lifecycle_changed_at", "owner_id", "team_id", "created_at", "updated_at")
assert tuple(n for n in CUSTOMER_SCALAR_FIELDS if n in _WRITER_KEYS) == _WRITER_KEYS
assert AUDITED[-1] == "owner_id"  # the audit changes' last key before "source"
_ADDRESS_KEYS = ("line1", "line2", "city", "postcode", "region", "country")
