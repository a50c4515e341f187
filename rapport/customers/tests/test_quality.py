"""The data-quality score: what it counts, that every write keeps it current, the batch
recompute, the list filter and sort, and the badge on the 360 page."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from django.urls import reverse

from rapport.customers import quality, selectors, services
from rapport.customers.models import Address, Customer, CustomerKind, PhoneNumber
from rapport.customers.quality import Issue
from rapport.customers.services import AddressInput, CustomerInput, EmailInput, PhoneInput
from rapport.customers.tests.factories import organization, person

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 6, 1)


def _person(**fields):
    base = {
        "kind": CustomerKind.PERSON,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "organization_name": "",
        "birth_date": dt.date(1985, 12, 10),
        "website": "",
        "primary_email": "ada@example.org",
        "primary_phone": "+442079460958",
    }
    return SimpleNamespace(**{**base, **fields})


def _address(**fields):
    base = {"line1": "12 St James's Square", "city": "London", "postcode": "SW1Y 4LB"}
    return SimpleNamespace(**{**base, "country": "GB", **fields})


def test_a_complete_valid_person_scores_100():
    result = quality.assess(_person(), _address(), today=TODAY)
    assert (result.score, result.issues) == (100, 0)


@pytest.mark.parametrize(
    ("person", "address", "score", "issues"),
    [
        ({"primary_email": ""}, {}, 75, Issue.EMAIL_MISSING),
        ({"primary_email": "not-an-email"}, {}, 75, Issue.EMAIL_INVALID),
        ({"primary_email": "Ada@Example.ORG"}, {}, 87, Issue.EMAIL_FORMAT),  # 12 of 25
        ({"primary_phone": ""}, {}, 85, Issue.PHONE_MISSING),
        ({"primary_phone": "020 7946 0958"}, {}, 92, Issue.PHONE_FORMAT),  # national, GB
        ({"primary_phone": "+1 555"}, {}, 85, Issue.PHONE_INVALID),
        ({"last_name": ""}, {}, 80, Issue.NAME_MISSING),
        ({"last_name": "LOVELACE"}, {}, 90, Issue.NAME_FORMAT),
        ({"birth_date": None}, {}, 90, Issue.BIRTH_DATE_MISSING),
        ({"birth_date": dt.date(1850, 1, 1)}, {}, 90, Issue.BIRTH_DATE_IMPLAUSIBLE),
        ({}, {"postcode": ""}, 90, Issue.POSTCODE_MISSING),
        ({}, {"postcode": "sw1y4lb"}, 95, Issue.POSTCODE_FORMAT),
        ({}, {"postcode": "12345"}, 90, Issue.POSTCODE_INVALID),
        ({}, {"country": ""}, 95, Issue.COUNTRY_MISSING),
        ({}, {"country": "uk"}, 97, Issue.COUNTRY_FORMAT),
        ({}, {"country": "ZZ"}, 95, Issue.COUNTRY_INVALID),
        ({}, {"line1": ""}, 92, Issue.ADDRESS_INCOMPLETE),
    ],
)
def test_each_issue_costs_its_weight(person, address, score, issues):
    result = quality.assess(_person(**person), _address(**address), today=TODAY)
    assert Issue(result.issues) == issues
    assert result.score == score


def test_no_address_is_one_line_on_the_badge_but_three_fields_in_the_report():
    result = quality.assess(_person(), None, today=TODAY)
    assert result.score == 70
    assert result.issues == Issue.ADDRESS_MISSING | Issue.POSTCODE_MISSING | Issue.COUNTRY_MISSING
    assert [i.label for i in quality.describe(result.issues)] == ["No address"]


def test_countries_without_postcodes_do_not_miss_one():
    result = quality.assess(_person(), _address(postcode="", country="AE"), today=TODAY)
    assert not result.issues & Issue.POSTCODE_MISSING


def test_organizations_are_weighed_differently():
    org = SimpleNamespace(
        kind=CustomerKind.ORGANIZATION,
        first_name="",
        last_name="",
        organization_name="Analytical Engines Ltd",
        birth_date=None,
        website="",
        primary_email="info@engines.example",
        primary_phone="",
    )
    result = quality.assess(org, _address(), today=TODAY)
    # No birth date asked of an organization; a website and a phone are.
    assert Issue(result.issues) == Issue.WEBSITE_MISSING | Issue.PHONE_MISSING
    assert result.score == 75


def test_values_the_caller_just_normalised_are_not_checked_again():
    messy = _person(primary_email="Ada@Example.ORG", primary_phone="020 7946 0958")
    assert quality.assess(messy, _address(), normalized=quality.ALL_NORMALIZED).issues == 0
    assert quality.assess(messy, _address()).issues == Issue.EMAIL_FORMAT | Issue.PHONE_FORMAT


def test_create_and_update_keep_the_score_current(admin):
    ada = person(admin, "ada", "LOVELACE")
    assert ada.quality_score == 20  # a name and nothing else: no e-mail, phone, address…
    assert ada.quality_issues & Issue.EMAIL_MISSING
    ada = services.customer_update(
        actor=admin,
        customer=ada,
        data=CustomerInput(
            emails=[EmailInput(email="ADA@example.org")],
            phones=[PhoneInput(number="+44 20 7946 0958")],
            addresses=[
                AddressInput(
                    line1="12 St James's Sq", city="London", postcode="sw1y4lb", country="UK"
                )
            ],
            birth_date="1985-12-10",
        ),
    )
    stored = Customer.objects.get(pk=ada.pk)
    assert (stored.quality_score, stored.quality_issues) == (100, 0)
    services.customer_update(actor=admin, customer=stored, data=CustomerInput(phones=[]))
    assert Customer.objects.get(pk=ada.pk).quality_score == 85


def test_an_update_that_leaves_a_legacy_value_alone_still_sees_it(admin):
    ada = person(admin, emails=["ada@example.org"])
    # Written around the services (an old migration, raw SQL): not E.164.
    PhoneNumber.objects.create(customer=ada, e164="2025550147", is_primary=True)
    Customer.objects.filter(pk=ada.pk).update(primary_phone="2025550147")
    services.customer_update(
        actor=admin, customer=Customer.objects.get(pk=ada.pk), data=CustomerInput(job_title="Poet")
    )
    assert Customer.objects.get(pk=ada.pk).quality_issues & Issue.PHONE_FORMAT


def test_the_score_is_not_audited_as_a_change(admin):
    from rapport.core.models import AuditLogEntry

    ada = person(admin)
    services.customer_update(actor=admin, customer=ada, data=CustomerInput(job_title="Poet"))
    changes = AuditLogEntry.objects.filter(object_id=str(ada.pk), action="update").get().changes
    assert set(changes) == {"job_title"}


def test_erased_people_have_nothing_to_fix(admin):
    ada = person(admin)
    services.customer_erase(actor=admin, customer=ada)
    erased = Customer.objects.get(pk=ada.pk)
    assert (erased.quality_score, erased.quality_issues) == (100, 0)


def test_rescore_scores_the_unscored_and_writes_only_what_changed(
    admin, django_assert_max_num_queries
):
    people = [person(admin, f"P{i}", "Smith", emails=[f"p{i}@example.org"]) for i in range(7)]
    Customer.objects.filter(pk__in=[p.pk for p in people[:3]]).update(
        quality_score=0, quality_issues=Issue.UNSCORED
    )
    Address.objects.create(customer=people[5], line1="1 Main St", city="Springfield", country="us")
    # Two batches of four: per batch one read of customers and one of addresses, plus the
    # UPDATEs of the changed rows (one per distinct score and issues: here one or two).
    with django_assert_max_num_queries(8):
        scored, changed = quality.rescore(batch_size=4)
    assert (scored, changed) == (7, 4)
    assert not Customer.objects.filter(quality_issues__gte=Issue.UNSCORED).exists()
    assert Customer.objects.get(pk=people[5].pk).quality_issues & Issue.COUNTRY_FORMAT
    assert quality.rescore() == (7, 0)  # nothing left to change


def test_list_filters_and_sorts_by_quality(admin, scoped_users):
    good = person(
        admin,
        "Grace",
        "Hopper",
        emails=["grace@example.org"],
        phones=["+1 202 555 0147"],
        addresses=[
            AddressInput(line1="1 Navy Way", city="Arlington", postcode="22202", country="US")
        ],
        birth_date="1906-12-09",
    )
    poor = person(admin, "Bob", "")
    mine = person(scoped_users["own"], "Own", "Record")
    Customer.objects.filter(pk=mine.pk).update(quality_score=1)
    by_quality = selectors.customer_page(actor=admin, sort="quality").items
    assert [c.pk for c in by_quality][:2] == [poor.pk, mine.pk]
    assert selectors.customer_page(actor=admin, sort="-quality").items[0].pk == good.pk
    poor_ids = {c.pk for c in selectors.customer_list(actor=admin, filters={"quality_below": "50"})}
    assert poor_ids == {poor.pk, mine.pk}
    no_phone = selectors.customer_list(actor=admin, filters={"quality_issue": "phone_missing"})
    assert good.pk not in {c.pk for c in no_phone}
    assert poor.pk in {c.pk for c in no_phone}
    # Record scope applies as everywhere: the own-scope user sees only their own.
    own = selectors.customer_list(
        actor=scoped_users["own"], filters={"quality_issue": ["phone_missing", "email_missing"]}
    )
    assert [c.pk for c in own] == [mine.pk]
    with pytest.raises(Exception, match="Unknown data-quality issue"):
        list(selectors.customer_list(actor=admin, filters={"quality_issue": "phone_bad"}))


def test_the_360_page_shows_the_badge_with_what_is_missing(client, admin):
    ada = person(admin, emails=["ada@example.org"])
    org = organization(admin)
    client.force_login(admin)
    page = client.get(reverse("customers:detail", args=[ada.pk])).content.decode()
    assert f"Quality {ada.quality_score}" in page
    assert "No phone" in page and "No address" in page and "No birth date" in page
    assert "No postcode" not in page  # said once, as "No address"
    org_page = client.get(reverse("customers:detail", args=[org.pk])).content.decode()
    assert "No website" in org_page and "No birth date" not in org_page
    listing = client.get(reverse("customers:list") + "?sort=quality").content.decode()
    assert f'title="Data quality {org.quality_score} out of 100">{org.quality_score}<' in listing
