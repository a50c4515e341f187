"""The GDPR archive's page is for the person it describes: labels, not the codes the
JSON file keeps for computers."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest
from django.conf import settings

from rapport.customers import gdpr, services
from rapport.customers.services import AddressInput
from rapport.customers.tests.factories import person

pytestmark = pytest.mark.django_db


def test_the_archive_page_shows_labels_and_the_json_keeps_codes(admin):
    grace = person(
        admin,
        "Grace",
        "Hopper",
        emails=["grace@navy.example"],
        addresses=[AddressInput(line1="1 Cobol Street", city="Arlington", country="US")],
    )
    services.note_add(actor=admin, customer=grace, body="likes nanoseconds")
    services.consent_record(
        actor=admin,
        customer=grace,
        channel="email",
        purpose="marketing",
        status="granted",
        method="web form",
    )
    relative = gdpr.build_archive(grace.pk, "job-1")
    with zipfile.ZipFile(Path(settings.VAR_DIR) / "files" / relative) as archive:
        data = json.loads(archive.read("personal-data.json"))
        html = archive.read("personal-data.html").decode()
    consent = data["consents"][0]
    assert (consent["status"], consent["purpose"], consent["channel"]) == (
        "granted",
        "marketing",
        "email",
    )
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert "Granted: Marketing by E-mail" in text  # was "granted: marketing by email"
    assert "(Home)" in text and "(home)" not in text  # the address kind
    assert "(Work, primary)" in text  # the e-mail's kind
    assert "Note · System" in text  # the timeline's kind and channel
    assert "<th>Lifecycle stage</th><td>Lead</td>" in html and "lifecycle_stage" not in html
    assert f"<th>Owner</th><td>{admin}</td>" in html and "owner_id" not in html
    assert f"Created by {admin}" in text and f"Owner: — → {admin}" in text  # the history
    assert not re.search(r"\d{4}-\d\d-\d\dT", html)  # no ISO timestamps
