"""GDPR erasure reaches every copy: one marker planted in every field of a person, the
system driven so that copies spread through every app (webhook deliveries, events, audit
rows, an export file, an import with an error report, a merge, orders, the timeline, the
GDPR archive), then erasure, then every text column of every table and every stored file
is searched for the marker. It lives in `config` because it drives every app."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from rapport.commerce import services as commerce_services
from rapport.commerce.tests.factories import ProductFactory
from rapport.core import outbox
from rapport.core.models import AuditLogEntry, Job, OutboxEvent
from rapport.customers import services
from rapport.customers.models import Customer
from rapport.customers.services import AddressInput, CustomerInput
from rapport.customers.tests.api_support import ApiClient
from rapport.customers.tests.factories import organization, person
from rapport.dataquality import exporting
from rapport.dataquality import services as import_services
from rapport.dedupe.services import customer_merge
from rapport.identity.tests.factories import UserFactory, api_key_for
from rapport.integrations import services as webhook_services
from rapport.integrations.models import WebhookDelivery
from rapport.integrations.tests.receiver import running_receiver

pytestmark = pytest.mark.django_db(transaction=True)

MARK = "quokkamarker"
PHONE = "15199887766"  # a phone holds no letters: its digits are the marker there
OTHER = "wombatstranger"  # someone else's data: erasure must leave it alone


@pytest.fixture
def admin():
    return UserFactory(is_superuser=True)


@pytest.fixture
def receiver():
    with running_receiver() as r:
        yield r


def _plant(admin: Any) -> Customer:
    services.custom_field_define(actor=admin, key="nickname", label="Nickname", field_type="text")
    org = organization(admin, "Acme Zoo")
    grace = person(
        admin,
        f"{MARK}first",
        f"{MARK}last",
        emails=[f"{MARK}@example.com"],
        phones=[f"+49 {PHONE}"],
        addresses=[
            AddressInput(
                line1=f"1 {MARK} Street",
                line2=f"Flat {MARK}",
                city=f"{MARK}ville",
                postcode="10115",
                region=f"{MARK}shire",
                country="DE",
            )
        ],
        external_id=f"{MARK}-ext",
        birth_date="1906-12-09",
        job_title=f"{MARK} keeper",
        website=f"https://{MARK}.example",
        industry=f"{MARK} industry",
        source=f"{MARK} source",
        custom_fields={"nickname": f"{MARK} nick"},
    )
    services.affiliation_create(actor=admin, person=grace, organization=org, title=f"{MARK} title")
    services.relationship_create(
        actor=admin, from_customer=grace, to_customer=org, kind="employer", note=f"{MARK} note"
    )
    services.note_add(actor=admin, customer=grace, body=f"{MARK} secret note\nsecond line")
    services.consent_record(
        actor=admin,
        customer=grace,
        channel="email",
        purpose="marketing",
        status="granted",
        method="web form",
        text_shown=f"{MARK} wording",
        evidence=f"{MARK} evidence",
    )
    services.customer_update(
        actor=admin, customer=grace, data=CustomerInput(job_title=f"{MARK} head keeper")
    )
    return Customer.objects.get(pk=grace.pk)


def _spread(admin: Any, grace: Customer, receiver: Any) -> dict[str, Any]:
    """Drive every app so that copies of the person's data land everywhere they can."""
    files = Path(settings.VAR_DIR) / "files"
    # Someone else, whose data must survive in the same tables and files.
    stranger = person(admin, OTHER, "Person", emails=[f"{OTHER}@example.com"])
    # A duplicate record of the person, created over the API with an Idempotency-Key (the
    # response is stored for replays), then merged into it.
    _, raw_key = api_key_for(admin, ["customers.customer:read", "customers.customer:write"])
    created = ApiClient(raw_key).post(
        "/persons",
        {
            "first_name": f"{MARK}first",
            "last_name": f"{MARK}last",
            "emails": [{"email": f"{MARK}.twin@example.com"}],
        },
        **{"Idempotency-Key": "twin-1"},
    )
    assert created.status_code == 201, created.content
    twin = Customer.objects.get(pk=created.json()["id"])
    customer_merge(actor=admin, survivor=grace, loser=twin)
    # Orders and a shipment, with a tracking scan that quotes the street.
    product = ProductFactory()
    order = commerce_services.order_create(
        actor=admin,
        customer=grace,
        data=commerce_services.OrderInput(
            lines=[commerce_services.LineInput(product_id=product.pk, quantity=2)], currency="EUR"
        ),
    )
    shipment = commerce_services.shipment_create(
        actor=admin,
        order=order,
        data=commerce_services.ShipmentInput(carrier="DHL", tracking_number="T1"),
    )
    commerce_services.shipment_update_status(
        actor=admin, shipment=shipment, status="in_transit", location=f"near 1 {MARK} Street"
    )
    # An export file of every customer, as CSV and as XLSX.
    for file_format in ("csv", "xlsx"):
        exporting.export_start(
            actor=admin, object_type="customers.customer", filters={}, file_format=file_format
        )
    # An import whose error report holds a row about the person (and one about the stranger).
    upload = (
        "external_id,first_name,last_name,email,phone\n"
        f"{MARK}-ext,{MARK}first,{MARK}last,{MARK}@example.com,not a phone\n"
        f"{OTHER}-ext,{OTHER},Person,{OTHER}@example.com,not a phone either\n"
    )
    run = import_services.import_upload(
        actor=admin,
        object_type="contacts",
        upload=SimpleUploadedFile("people.csv", upload.encode(), content_type="text/csv"),
    )
    import_services.import_start(actor=admin, run=run, dry_run=True)
    run.refresh_from_db()
    import_services.import_start(actor=admin, run=run, dry_run=False)
    # The person's GDPR archive.
    services.customer_export_personal_data(actor=admin, customer=grace)
    # Webhooks: every event so far, delivered to a real receiver.
    outbox.dispatch_pending()
    webhook_services.send_due()
    jobs = {job.kind: job for job in Job.objects.all()}
    assert {"export", "import", "import.dry_run", "customers.personal_data_export"} <= set(jobs)
    assert all(job.status == "succeeded" for job in jobs.values()), [j.error for j in jobs.values()]
    assert jobs["import"].result_file, "the import wrote an error report"
    assert WebhookDelivery.objects.filter(status="succeeded").count() > 10
    return {"stranger": stranger, "files": files}


def _text_of(value: Any) -> str:
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode("latin-1")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _tables_holding(*needles: str) -> dict[str, set[str]]:
    """{needle: tables} for every table, every column, every row (what a DBA could read)."""
    found: dict[str, set[str]] = {n: set() for n in needles}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            # Table names come from the database itself, quoted.
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            for row in cursor.fetchall():
                text = " ".join(_text_of(v) for v in row if v is not None).casefold()
                for needle in needles:
                    if needle in text:
                        found[needle].add(table)
    return found


def _search_index_bytes() -> bytes:
    """SQLite: the FTS5 index's segments, where terms are stored as prefix-compressed
    trigrams (so the whole marker never shows in them; its trigrams do)."""
    if connection.vendor != "sqlite":
        return b""
    with connection.cursor() as cursor:
        cursor.execute("SELECT block FROM customer_search_data")
        return b"".join(bytes(r[0]) for r in cursor.fetchall() if r[0] is not None)


def _files_holding(root: Path, *needles: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {n: set() for n in needles}
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        raw = path.read_bytes()
        texts = [raw.decode("utf-8", errors="ignore")]
        if zipfile.is_zipfile(io.BytesIO(raw)):  # archives and XLSX workbooks
            with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                texts += [
                    archive.read(n).decode("utf-8", errors="ignore") for n in archive.namelist()
                ]
        text = " ".join(texts).casefold()
        for needle in needles:
            if needle in text:
                found[needle].add(str(path.relative_to(root)))
    return found


def test_erasure_leaves_the_marker_in_no_table_and_no_file(admin, receiver, immediate_tasks):
    if connection.vendor == "sqlite":
        # Earlier transactional tests in this process leave delete-marked segments in the
        # FTS5 index (a flush deletes rows, the index keeps them until a merge); a merge
        # would prefix-compress this test's trigrams against theirs. Start from an index
        # of this database's rows alone, so the byte checks below see whole trigrams.
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO customer_search(customer_search) VALUES ('rebuild')")
    receiver_endpoint, _ = webhook_services.endpoint_create(
        actor=admin, url=receiver.url(), event_types=["*"]
    )
    grace = _plant(admin)
    spread = _spread(admin, grace, receiver)
    var = Path(settings.VAR_DIR)

    before = _tables_holding(MARK, PHONE, OTHER)
    # The check below can fail: the marker really spread to every kind of copy.
    assert {
        "customers_customer",
        "customers_emailaddress",
        "customers_address",
        "customers_interaction",
        "customers_consentrecord",
        "customers_relationship",
        "customers_affiliation",
        "core_auditlogentry",
        "core_outboxevent",
        "core_job",
        "integrations_webhookdelivery",
        "dataquality_importrowerror",
        "dedupe_customermerge",
        "commerce_shipmentevent",
        "core_idempotencyrecord",
    } <= before[MARK], before[MARK]
    assert "customers_phonenumber" in before[PHONE]
    files_before = _files_holding(var, MARK, OTHER)
    index_before = _search_index_bytes()
    if connection.vendor == "sqlite":
        assert b"okk" in index_before and b"mba" in index_before
    kinds = {Path(p).suffix for p in files_before[MARK]}
    assert {".csv", ".xlsx", ".zip"} <= kinds, files_before[MARK]

    services.customer_erase(actor=admin, customer=grace)
    outbox.dispatch_pending()
    webhook_services.send_due()

    after = _tables_holding(MARK, PHONE, OTHER)
    assert after[MARK] == set() and after[PHONE] == set()
    assert _files_holding(var, MARK)[MARK] == set()
    if connection.vendor == "sqlite":  # "quokka" has the only "okk" in this database
        index_after = _search_index_bytes()
        assert b"okk" not in index_after and b"mba" in index_after
    # Nothing of the stranger went with it: tables and files still hold them.
    assert after[OTHER] == before[OTHER]
    assert _files_holding(var, OTHER)[OTHER] == {
        p for p in files_before[OTHER] if not p.endswith(".zip")
    }
    # The person's row stays, anonymous, with the fact of erasure in the audit log.
    erased = Customer.objects.get(pk=grace.pk)
    assert erased.display_name == f"Erased customer #{grace.pk}" and erased.birth_date is None
    fact = AuditLogEntry.objects.get(action="erase", object_id=str(grace.pk))
    assert fact.changes["redacted"]["core.audit"] > 0
    assert fact.changes["redacted"]["integrations"] > 0
    assert OutboxEvent.objects.filter(type="customer.erased").count() == 2  # and the twin
    assert spread["stranger"].pk != grace.pk and receiver_endpoint.pk


def test_replaying_an_old_delivery_after_erasure_sends_no_personal_data(admin, receiver):
    webhook_services.endpoint_create(actor=admin, url=receiver.url(), event_types=["*"])
    grace = person(admin, f"{MARK}first", f"{MARK}last", emails=[f"{MARK}@example.com"])
    services.customer_update(actor=admin, customer=grace, data=CustomerInput(job_title="Keeper"))
    outbox.dispatch_pending()
    webhook_services.send_due()
    created = WebhookDelivery.objects.get(event_type="customer.created")
    assert MARK in receiver.requests[0].body.decode()  # the check below can fail

    services.customer_erase(actor=admin, customer=grace)
    created.refresh_from_db()
    assert MARK not in json.dumps(created.payload)
    assert created.payload["type"] == "customer.created" and created.payload["data"]["erased"]
    sent = len(receiver.requests)
    webhook_services.delivery_replay(actor=admin, delivery=created)
    webhook_services.send_due()
    assert len(receiver.requests) == sent + 1
    assert MARK not in receiver.requests[-1].body.decode()


def test_the_archive_holds_every_apps_data_about_the_person(admin, immediate_tasks):
    grace = _plant(admin)
    product = ProductFactory(name="Eucalyptus tea")
    order = commerce_services.order_create(
        actor=admin,
        customer=grace,
        data=commerce_services.OrderInput(
            lines=[commerce_services.LineInput(product_id=product.pk, quantity=3)],
            currency="EUR",
            number="SO-77",
        ),
    )
    commerce_services.shipment_create(
        actor=admin,
        order=order,
        data=commerce_services.ShipmentInput(carrier="DHL", tracking_number="TRACK-9"),
    )
    twin = person(admin, f"{MARK}first", f"{MARK}last", emails=[f"{MARK}.twin@example.com"])
    customer_merge(actor=admin, survivor=grace, loser=twin)

    job = services.customer_export_personal_data(actor=admin, customer=grace)
    job.refresh_from_db()
    with zipfile.ZipFile(Path(settings.VAR_DIR) / "files" / job.result_file) as archive:
        data = json.loads(archive.read("personal-data.json"))
        html = archive.read("personal-data.html").decode()
    assert [o["number"] for o in data["orders"]] == ["SO-77"]
    assert data["orders"][0]["lines"][0]["name"] == "Eucalyptus tea"
    assert data["orders"][0]["lines"][0]["quantity"] == 3
    assert [s["tracking_number"] for s in data["shipments"]] == ["TRACK-9"]
    assert [m["loser_id"] for m in data["merges"]] == [twin.pk]
    assert data["profile"]["emails"][0]["email"].startswith(MARK)
    assert "SO-77" in html and "TRACK-9" in html and "Eucalyptus tea" in html
