"""GDPR erasure's shared tools: what counts as the person's value, JSON scrubbing, the
SQL prefilter on JSON columns (escaped on SQLite), stored files rewritten or deleted, and
the audit log's guard, which the sanctioned redaction path leaves in place."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from rapport.core import audit, registry
from rapport.core.gdpr import REDACTED, ErasureContext, scrub_files, sweep
from rapport.core.models import AuditLogEntry, OutboxEvent


def _ctx() -> ErasureContext:
    ctx = ErasureContext(actor=None, customer_id=1, label="Erased customer #1")
    ctx.add_identifiers("zoe@example.com", "+4915112345678", "Zoë  Ångström", "Al Li", "Zoë")
    return ctx


def test_identifiers_match_as_whole_words_and_short_or_lone_values_never():
    ctx = _ctx()
    assert ctx.matches("Mail to ZOE@example.com bounced")
    assert ctx.matches("Dear Zoë\nÅngström,")  # case and line breaks do not hide it
    assert ctx.matches("tel:+4915112345678")
    assert ctx.matches("Al Li") and not ctx.matches("Sal Lim")  # not inside other words
    assert not ctx.matches("Zoë")  # too short to point at one person
    assert not ctx.matches("Zoë Smith") and not ctx.matches("")


def test_scrub_replaces_only_the_persons_strings_anywhere_in_json():
    data = {
        "customer": {"name": "Zoë Ångström", "city": "Paris", "emails": ["zoe@example.com"]},
        "zoe@example.com": 1,
        "total": 12.5,
    }
    scrubbed, changed = _ctx().scrub(data)
    assert changed
    assert scrubbed["customer"] == {"name": REDACTED, "city": "Paris", "emails": [REDACTED]}
    assert "zoe@example.com" not in scrubbed and scrubbed["total"] == 12.5
    assert _ctx().scrub({"city": "Paris"}) == ({"city": "Paris"}, False)
    # The person's own payload goes whole, by id, even with no identifier left in it.
    person = {"id": 1, "kind": "person", "first_name": "Zoë", "emails": []}
    other = {"id": 2, "kind": "person", "first_name": "Zoë", "emails": []}
    assert _ctx().scrub({"restored": person, "survivor": other}) == (
        {"restored": {"id": 1, "erased": True}, "survivor": other},
        True,
    )


def test_gdpr_contributors_are_registered_by_every_app_that_holds_personal_data():
    keys = {c.key for c in registry.gdpr_contributors()}
    assert {
        "customers",
        "commerce",
        "dedupe",
        "dataquality",
        "integrations",
        "core.audit",
        "core.outbox",
        "core.jobs",
        "core.files",
    } <= keys
    order = [c.key for c in registry.gdpr_contributors()]
    # The logs go last, so they see every record the apps said was the person's; webhook
    # deliveries follow the events the outbox blanked.
    assert order[0] == "customers" and order[-1] == "core.audit"
    assert order.index("core.outbox") < order.index("integrations")


@pytest.mark.django_db
def test_sweep_finds_non_ascii_values_in_json_columns_and_leaves_other_rows():
    mine = OutboxEvent.objects.create(type="customer.updated", data={"n": "Zoë Ångström"})
    other = OutboxEvent.objects.create(type="customer.updated", data={"n": "Zoltan"})
    assert sweep(OutboxEvent.objects.all(), _ctx(), json_fields=["data"]) == 1
    mine.refresh_from_db()
    other.refresh_from_db()
    assert mine.data == {"n": REDACTED} and other.data == {"n": "Zoltan"}
    # Found by the person's id when no identifier is left in it.
    renamed = OutboxEvent.objects.create(
        type="customer.updated", data={"customer": {"id": 1, "kind": "person", "n": "Zo"}}
    )
    assert sweep(OutboxEvent.objects.all(), _ctx(), json_fields=["data"]) == 1
    renamed.refresh_from_db()
    assert renamed.data == {"customer": {"id": 1, "erased": True}}


@pytest.mark.django_db
def test_the_audit_log_stays_append_only_beside_the_sanctioned_redaction():
    row = audit.entry(
        actor=None,
        action="update",
        object_type="customers.customer",
        object_id=7,
        changes={"email": ["zoe@example.com", "new@example.com"]},
    )
    row.save(force_insert=True)
    assert audit.redact_personal_values(_ctx()) == 1
    row.refresh_from_db()
    assert row.changes == {"email": [REDACTED, "new@example.com"]}
    with pytest.raises(TypeError):
        AuditLogEntry.objects.filter(pk=row.pk).update(changes={})
    with pytest.raises(TypeError):
        AuditLogEntry.objects.filter(pk=row.pk).delete()
    with pytest.raises(TypeError):
        row.save()


def test_stored_files_lose_the_persons_rows_and_keep_everything_else(tmp_path: Path):
    ctx = _ctx()
    report = tmp_path / "imports" / "run" / "errors.csv"
    report.parent.mkdir(parents=True)
    report.write_bytes(
        "row;email;reason\n2;zoe@example.com;bad phone\n3;bob@example.com;bad phone\n".encode(
            "utf-8-sig"
        )
    )
    book = Workbook()
    sheet = book.active
    for row in (["name", "email"], ["Zoë Ångström", "z@x.io"], ["Bob", "bob@example.com"]):
        sheet.append(row)
    book.save(tmp_path / "export.xlsx")
    with zipfile.ZipFile(tmp_path / "archive.zip", "w") as archive:
        archive.writestr("data.json", '{"email": "zoe@example.com"}')
    (tmp_path / "unrelated.csv").write_text("name\nBob\n")

    assert sorted(scrub_files(ctx, tmp_path)) == [
        "archive.zip",
        "export.xlsx",
        "imports/run/errors.csv",
    ]
    raw = report.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the encoding Excel needs is kept
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows == [["row", "email", "reason"], ["3", "bob@example.com", "bad phone"]]
    kept = [[c.value for c in r] for r in load_workbook(tmp_path / "export.xlsx").active.rows]
    assert kept == [["name", "email"], ["Bob", "bob@example.com"]]
    assert not (tmp_path / "archive.zip").exists()
    assert (tmp_path / "unrelated.csv").read_text() == "name\nBob\n"


def test_every_app_with_rows_about_customers_has_a_gdpr_contributor():
    """A new app that links rows to a customer must say what erasure does with them."""
    from django.apps import apps

    customer = apps.get_model("customers", "Customer")
    contributing = {c.key.split(".")[0] for c in registry.gdpr_contributors()}
    holding = {
        model._meta.app_label
        for model in apps.get_models()
        for f in model._meta.get_fields()
        if f.is_relation and f.concrete and f.related_model is customer
    }
    assert holding and holding <= contributing, holding - contributing


@pytest.mark.django_db
def test_a_sweep_of_the_audit_log_without_the_sanctioned_updater_is_refused():
    audit.entry(
        actor=None, action="update", object_type="x.y", object_id=1, object_repr="zoe@example.com"
    ).save(force_insert=True)
    with pytest.raises(TypeError):
        sweep(AuditLogEntry.objects.all(), _ctx(), text_fields=["object_repr"])
