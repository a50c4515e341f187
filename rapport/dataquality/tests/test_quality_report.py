"""Cleansing: scores kept by imports, the "worst fields" report (counts, scope, page) and
the bulk fix-ups (what they change, what they leave, audit and events, scope, re-runs)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.urls import reverse

from rapport.core.jobs import job_create, run_job
from rapport.core.models import AuditLogEntry, Job, JobStatus, OutboxEvent
from rapport.core.permissions import Scope
from rapport.customers import quality
from rapport.customers.models import Address, Customer, EmailAddress, PhoneNumber
from rapport.customers.quality import Issue
from rapport.customers.selectors import with_quality_issue
from rapport.customers.services import CLEANSING_FIXES
from rapport.customers.tests.factories import organization, person
from rapport.dataquality import cleansing, selectors
from rapport.dataquality.services import run_import
from rapport.identity.tests.factories import TeamFactory, UserFactory, user_with

from .conftest import contact

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(db):
    return UserFactory(is_superuser=True, is_staff=True)


@pytest.fixture
def scoped_users(db):
    north = TeamFactory(name="North")
    return {
        "own": user_with(Scope.OWN, teams=[north]),
        "team": user_with(Scope.TEAM, teams=[north]),
        "all": user_with(Scope.ALL),
    }


def test_import_scores_created_and_updated_records_without_extra_queries(
    write_csv: Callable[..., Path],
) -> None:
    rows = [contact(1), contact(2, phone="", birth_date=""), contact(3, postcode="", city="")]
    run_import(actor=None, object_type="contacts", path=write_csv(rows), mapping=None)
    one, two, three = (Customer.objects.get(external_id=f"X0000{i}") for i in (1, 2, 3))
    assert (one.quality_score, one.quality_issues) == (100, 0)
    assert Issue(two.quality_issues) == Issue.PHONE_MISSING | Issue.BIRTH_DATE_MISSING
    assert two.quality_score == 75
    assert three.quality_issues == Issue.POSTCODE_MISSING | Issue.ADDRESS_INCOMPLETE
    # An update that fills the gaps raises the score; a stored legacy value the file
    # leaves alone is still seen.
    Customer.objects.filter(pk=one.pk).update(first_name="ADA")
    again = [
        contact(2, phone="", birth_date="1980-01-01"),
        contact(1, first_name="", birth_date="1980-01-01"),
    ]
    run_import(actor=None, object_type="contacts", path=write_csv(again), mapping=None)
    two.refresh_from_db()
    assert Issue(two.quality_issues) == Issue.PHONE_MISSING
    one.refresh_from_db()
    assert one.quality_issues & Issue.NAME_FORMAT


def test_imported_organizations_are_scored(write_csv: Callable[..., Path]) -> None:
    run_import(
        actor=None,
        object_type="contacts",
        path=write_csv([contact(1, organization="Acme SA")]),
        mapping=None,
    )
    org = Customer.objects.get(kind="organization")
    assert not org.quality_issues & Issue.UNSCORED
    assert org.quality_issues & Issue.WEBSITE_MISSING


@pytest.fixture
def messy(admin, scoped_users):
    """Records as an old system left them: written around the services."""
    own = scoped_users["own"]
    shouted = person(admin, "Ada", "Lovelace", emails=["ada@example.org"])
    Customer.objects.filter(pk=shouted.pk).update(first_name="ADA", last_name="  lovelace")
    national = person(admin, "Grace", "Hopper", emails=["grace@example.org"])
    PhoneNumber.objects.create(customer=national, e164="020 7946 0958", is_primary=True)
    Address.objects.create(
        customer=national, line1="1 Lane", city="London", postcode="sw1a1aa", country="uk"
    )
    upper = person(own, "Own", "Record", emails=["own@example.org"])
    EmailAddress.objects.filter(customer=upper).update(email="Own@Example.ORG")
    Address.objects.create(
        customer=upper, line1="2 Rue", city="Paris", postcode="75001", country="fr"
    )
    broken = person(admin, "Bad", "Phone")
    PhoneNumber.objects.create(customer=broken, e164="12", is_primary=True)
    for c in (shouted, national, upper, broken):
        email = EmailAddress.objects.filter(customer=c).first()
        phone = PhoneNumber.objects.filter(customer=c).first()
        Customer.objects.filter(pk=c.pk).update(
            primary_email=email.email if email else "", primary_phone=phone.e164 if phone else ""
        )
    quality.rescore()
    return {"shouted": shouted, "national": national, "upper": upper, "broken": broken}


def test_counts_come_from_one_aggregate_query_within_the_actor_scope(
    admin, scoped_users, messy, django_assert_num_queries
):
    with django_assert_num_queries(1):
        counts = selectors.quality_counts(actor=admin)
    assert counts["records"] == 4
    assert counts["issue:name_format"] == 1
    assert counts["issue:phone_format"] == 1
    assert counts["issue:phone_invalid"] == 1
    assert counts["issue:postcode_format"] == 1
    assert counts["issue:country_format"] == 2
    assert counts["issue:email_format"] == 1
    assert counts["unscored"] == 0
    own = selectors.quality_counts(actor=scoped_users["own"])
    assert own["records"] == 1
    assert own["issue:email_format"] == 1 and own["issue:phone_format"] == 0


def test_report_rows_are_worst_first_with_links_and_fixes(admin, messy):
    report = selectors.build_report(selectors.quality_counts(actor=admin), None)
    shares = [r.percent_bad for r in report.rows]
    assert shares == sorted(shares, reverse=True)
    phone = next(r for r in report.rows if r.field == "phone")
    assert (phone.missing, phone.invalid, phone.unformatted) == (2, 1, 1)
    assert phone.fix == "phones"
    assert phone.issues == {
        "missing": "phone_missing",
        "invalid": "phone_invalid",
        "format": "phone_format",
    }
    birth = next(r for r in report.rows if r.field == "birth_date")
    assert birth.applicable == 4 and birth.fix is None


def _run_fix(actor, fix):
    job = job_create(owner=actor, kind=cleansing.CLEANSE_JOB_KIND, title=fix, params={"fix": fix})
    return run_job(job.pk, cleansing.cleanse_execute)


def test_phone_fixup_changes_only_fixable_phones_with_audit_and_events(admin, messy):
    before_events = OutboxEvent.objects.filter(type="customer.updated").count()
    result = _run_fix(admin, "phones")
    assert result == {"fixed": 1, "unchanged": 0, "skipped": 0}
    national = Customer.objects.get(pk=messy["national"].pk)
    assert national.primary_phone == "+442079460958"  # parsed as a UK number
    assert not national.quality_issues & Issue.PHONE_FORMAT
    assert national.version == messy["national"].version + 1
    # Everything else about the record is as it was.
    address = national.addresses.get()
    assert (address.postcode, address.country) == ("sw1a1aa", "uk")
    assert Customer.objects.get(pk=messy["broken"].pk).primary_phone == "12"  # not guessable
    audit = AuditLogEntry.objects.get(object_id=str(national.pk), action="update")
    assert audit.changes["phones"] == [["020 7946 0958"], ["+442079460958"]]
    assert audit.changes["cleansing"] == [None, "phones"]
    events = OutboxEvent.objects.filter(type="customer.updated")
    assert events.count() == before_events + 1
    assert events.latest("id").data["changed_fields"] == ["phones"]
    # Safe to run again: nothing left to change, no new audit row.
    assert _run_fix(admin, "phones")["fixed"] == 0
    assert AuditLogEntry.objects.filter(object_id=str(national.pk), action="update").count() == 1
    # The fix-up left the viewer a fresh report.
    report, _ = selectors.latest_report(actor=admin)
    assert report is not None
    assert next(r for r in report.rows if r.field == "phone").unformatted == 0


@pytest.mark.parametrize(
    ("fix", "check"),
    [
        (
            "names",
            lambda m: Customer.objects.get(pk=m["shouted"].pk).display_name == "Ada Lovelace",
        ),
        ("countries", lambda m: Address.objects.get(customer=m["national"]).country == "GB"),
        ("postcodes", lambda m: Address.objects.get(customer=m["national"]).postcode == "SW1A 1AA"),
        (
            "emails",
            lambda m: Customer.objects.get(pk=m["upper"].pk).primary_email == "own@example.org",
        ),
    ],
)
def test_each_fixup_repairs_its_field(admin, messy, fix, check):
    _run_fix(admin, fix)
    assert check(messy)
    issue, _ = CLEANSING_FIXES[fix]
    assert not with_quality_issue(Customer.objects.all(), [issue.name]).exists()


def test_fixups_respect_record_scope(scoped_users, messy):
    own = scoped_users["own"]
    result = _run_fix(own, "countries")
    assert result["fixed"] == 1  # their own record only
    assert Address.objects.get(customer=messy["upper"]).country == "FR"
    assert Address.objects.get(customer=messy["national"]).country == "uk"  # not theirs


def test_a_merged_email_duplicate_is_removed_not_duplicated(admin):
    # The score looks at the primary e-mail; the fix-up cleans all of a record's e-mails.
    ada = person(admin, "Ada", "Lovelace", emails=["ada2@example.org", "ada@example.org"])
    EmailAddress.objects.filter(customer=ada, email="ada2@example.org").update(
        email="ADA@example.org"
    )
    Customer.objects.filter(pk=ada.pk).update(primary_email="ADA@example.org")
    quality.rescore()
    _run_fix(admin, "emails")
    assert list(EmailAddress.objects.filter(customer=ada).values_list("email", flat=True)) == [
        "ada@example.org"
    ]


def test_report_page_counts_links_and_starts_fixups(
    client, admin, messy, immediate_tasks, django_capture_on_commit_callbacks
):
    client.force_login(admin)
    page = client.get(reverse("dataquality:quality_report"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "?quality_issue=phone_format&amp;sort=quality" in html
    assert "Re-normalise phones to E.164" in html
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("dataquality:quality_fix", args=["phones"]))
    assert response.status_code == 302
    job = Job.objects.get(kind=cleansing.CLEANSE_JOB_KIND)
    assert job.status == JobStatus.SUCCEEDED and job.result["fixed"] == 1
    listing = client.get(reverse("customers:list") + "?quality_issue=phone_invalid").content
    assert b"Bad Phone" in listing and b"Grace Hopper" not in listing
    assert client.post(reverse("dataquality:quality_fix", args=["nonsense"])).status_code == 302


def test_large_scopes_are_counted_in_the_background_and_cached(
    client, admin, messy, settings, immediate_tasks, django_capture_on_commit_callbacks
):
    settings.DATA_QUALITY_REPORT_INLINE_LIMIT = 2
    client.force_login(admin)
    with django_capture_on_commit_callbacks(execute=True):
        first = client.get(reverse("dataquality:quality_report")).content.decode()
    assert "Data-quality report" in first  # the job's progress, no count yet
    jobs = Job.objects.filter(kind=selectors.REPORT_JOB_KIND)
    assert jobs.count() == 1 and jobs.get().params == {"scope_key": "all"}
    html = client.get(reverse("dataquality:quality_report")).content.decode()
    assert "Counted" in html  # the cached report, not a new count
    assert Job.objects.filter(kind=selectors.REPORT_JOB_KIND).count() == 1


def test_viewers_without_customer_access_get_no_report(client, db):
    client.force_login(UserFactory())
    assert client.get(reverse("dataquality:quality_report")).status_code == 403


def test_only_admins_rescore_everyone(
    client, scoped_users, admin, immediate_tasks, django_capture_on_commit_callbacks
):
    organization(admin)
    Customer.objects.update(quality_issues=Issue.UNSCORED)
    client.force_login(scoped_users["all"])
    assert client.post(reverse("dataquality:quality_rescore")).status_code == 403
    client.force_login(admin)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(reverse("dataquality:quality_rescore")).status_code == 302
    assert not Customer.objects.filter(quality_issues=Issue.UNSCORED).exists()


def test_rescore_command(admin, capsys):
    from django.core.management import call_command

    person(admin)
    Customer.objects.update(quality_issues=Issue.UNSCORED, quality_score=0)
    call_command("rescore", "--json")
    assert capsys.readouterr().out.strip() == '{"scored": 1, "changed": 1}'
    call_command("rescore")
    assert capsys.readouterr().out.strip() == "1 record scored, 0 scores changed."
