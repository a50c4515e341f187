"""GDPR: a person's data archive (JSON + HTML, zipped, by a background job, for its
requester only) and erasure that leaves no personal data but keeps the row and the fact."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse

from rapport.core.models import AuditLogEntry, Job, JobStatus, OutboxEvent
from rapport.customers import search, services
from rapport.customers.models import (
    Address,
    ConsentRecord,
    Customer,
    EmailAddress,
    Interaction,
    PhoneNumber,
)
from rapport.customers.services import AddressInput, CustomerInput
from rapport.customers.tests.factories import organization, person
from rapport.identity.tests.factories import UserFactory, user_with

pytestmark = pytest.mark.django_db(transaction=True)

SECRET_BITS = [
    "Grace",
    "Hopper",
    "grace@navy.example",
    "4915112345678",
    "Cobol Street",
    "MARK-1",
    "cobol-secret-note",
]


@pytest.fixture
def grace(admin):
    services.custom_field_define(actor=admin, key="rank", label="Rank", field_type="text")
    org = organization(admin, "US Navy")
    grace = person(
        admin,
        "Grace",
        "Hopper",
        emails=["grace@navy.example"],
        phones=["+49 151 12345678"],
        addresses=[AddressInput(line1="1 Cobol Street", city="Arlington", country="US")],
        external_id="MARK-1",
        birth_date="1906-12-09",
        custom_fields={"rank": "Rear admiral"},
    )
    services.affiliation_create(actor=admin, person=grace, organization=org, title="Officer")
    services.note_add(actor=admin, customer=grace, body="cobol-secret-note: likes nanoseconds")
    services.consent_record(
        actor=admin,
        customer=grace,
        channel="email",
        purpose="marketing",
        status="granted",
        method="web form",
        evidence="203.0.113.9",
    )
    grace = services.customer_update(
        actor=admin, customer=grace, data=CustomerInput(job_title="Programmer")
    )
    return grace


def test_export_builds_a_zip_with_everything_for_its_requester_only(
    client, admin, grace, immediate_tasks
):
    exporter = user_with("all", actions=("view", "export"))
    client.force_login(exporter)
    response = client.post(reverse("customers:gdpr_export", args=[grace.pk]))
    job = Job.objects.get(kind="customers.personal_data_export")
    assert response.status_code == 302 and response["Location"] == reverse(
        "core:job_detail", args=[job.pk]
    )
    assert job.status == JobStatus.SUCCEEDED and job.owner == exporter

    path = Path(settings.VAR_DIR) / "files" / job.result_file
    with zipfile.ZipFile(path) as archive:
        assert set(archive.namelist()) == {"personal-data.json", "personal-data.html"}
        data = json.loads(archive.read("personal-data.json"))
        html = archive.read("personal-data.html").decode()
    assert data["profile"]["emails"][0]["email"] == "grace@navy.example"
    assert data["profile"]["phones"][0]["e164"] == "+4915112345678"
    assert data["profile"]["addresses"][0]["line1"] == "1 Cobol Street"
    assert data["custom_fields"] == [{"field": "Rank", "key": "rank", "value": "Rear admiral"}]
    assert data["affiliations"][0]["organization"] == "US Navy"
    assert data["consents"][0]["evidence"] == "203.0.113.9"
    assert any("cobol-secret-note" in e["body"] for e in data["timeline"])
    assert {h["action"] for h in data["history"]} >= {"create", "update"}
    assert "Grace Hopper" in html and "1 Cobol Street" in html

    assert AuditLogEntry.objects.filter(action="export", object_id=str(grace.pk)).count() == 1
    download = reverse("core:job_download", args=[job.pk])
    assert client.get(download).status_code == 200
    client.force_login(UserFactory())
    assert client.get(download).status_code == 404
    client.force_login(admin)
    assert client.get(download).status_code == 200

    # Erasing the person deletes the archive too: it holds everything erasure removes.
    services.customer_erase(actor=admin, customer=grace)
    assert not path.exists()
    assert client.get(download).status_code == 404


def test_export_needs_the_export_permission(admin, grace):
    viewer = user_with("all", actions=("view",))
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.customer_export_personal_data(actor=viewer, customer=grace)
    assert not Job.objects.exists()


def _everything_stored_about(customer_id: int) -> str:
    """Every row that mentions the customer, as text (what a DBA could read)."""
    c = Customer.objects.filter(pk=customer_id).values()[0]
    parts = [json.dumps(c, default=str)]
    for model in (EmailAddress, PhoneNumber, Address, Interaction, ConsentRecord):
        parts += [
            json.dumps(list(model.objects.filter(customer_id=customer_id).values()), default=str)
        ]
    parts += [json.dumps(list(AuditLogEntry.objects.values("changes", "object_repr")), default=str)]
    parts += [json.dumps(list(OutboxEvent.objects.values("data")), default=str)]
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT search_text FROM customer_search WHERE rowid = %s", [customer_id]
            )
            parts += [str(cursor.fetchall())]
    return "\n".join(parts).lower()


def test_erasure_leaves_no_personal_data_but_keeps_the_row_and_the_fact(admin, grace):
    before = _everything_stored_about(grace.pk)
    assert all(bit.lower() in before for bit in SECRET_BITS)  # the check below can fail

    erased = services.customer_erase(actor=admin, customer=grace)

    after = _everything_stored_about(grace.pk)
    leaks = [bit for bit in SECRET_BITS if bit.lower() in after]
    assert leaks == []
    assert erased.display_name == f"Erased customer #{grace.pk}"
    assert erased.erased_at is not None and erased.birth_date is None and erased.external_id is None
    assert Interaction.objects.filter(customer=grace).count() == 2  # note + consent stay, emptied
    fact = AuditLogEntry.objects.get(action="erase", object_id=str(grace.pk))
    assert fact.actor_id == admin.pk and "grace" not in json.dumps(fact.changes).lower()
    assert OutboxEvent.objects.filter(type="customer.erased").count() == 1
    assert search.search_customers(actor=admin, query="Grace Hopper") == []
    assert search.search_customers(actor=admin, query="+49 151 12345678") == []


def test_erasure_needs_delete_permission_and_a_person(admin, grace):
    from django.core.exceptions import PermissionDenied, ValidationError

    editor = user_with("all", actions=("view", "edit"))
    with pytest.raises(PermissionDenied):
        services.customer_erase(actor=editor, customer=grace)
    org = Customer.objects.get(organization_name="US Navy")
    with pytest.raises(ValidationError):
        services.customer_erase(actor=admin, customer=org)
    services.customer_erase(actor=admin, customer=grace)
    with pytest.raises(ValidationError):
        services.customer_erase(actor=admin, customer=grace)


def test_erase_page_asks_for_confirmation(client, admin, grace):
    client.force_login(admin)
    url = reverse("customers:gdpr_erase", args=[grace.pk])
    assert client.get(url).status_code == 200
    assert client.post(url, {"confirm": "yes"}).status_code == 400
    assert Customer.objects.get(pk=grace.pk).erased_at is None
    assert client.post(url, {"confirm": "ERASE"}).status_code == 302
    assert Customer.objects.get(pk=grace.pk).erased_at is not None


def test_erasure_drops_the_persons_own_name_words_from_the_typo_vocabulary(admin, grace):
    from rapport.customers.models import SearchWord

    person(admin, "Grace", "Kelly")  # "grace" is someone else's name too
    assert {"grace", "hopper"} <= set(SearchWord.objects.values_list("word", flat=True))

    services.customer_erase(actor=admin, customer=grace)

    words = set(SearchWord.objects.values_list("word", flat=True))
    assert "hopper" not in words
    assert {"grace", "kelly"} <= words
    assert search.search_customers(actor=admin, query="Grace Kely")[0].last_name == "Kelly"
