"""`customers_bulk_cleanse`: one mechanical fix-up over many customers, written the way a
person editing each record would (normalisers, audit row, version, `customer.updated`),
within the actor's rights, and idempotent."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from rapport.core.models import AuditLogEntry, OutboxEvent
from rapport.core.permissions import Scope
from rapport.customers import services
from rapport.customers.models import Address, Customer, EmailAddress, PhoneNumber
from rapport.customers.services import AddressInput
from rapport.customers.tests.factories import person
from rapport.identity.tests.factories import user_with

pytestmark = pytest.mark.django_db


def _updates(customer: Customer) -> list[AuditLogEntry]:
    return list(
        AuditLogEntry.objects.filter(
            object_type="customers.customer", object_id=str(customer.pk), action="update"
        )
    )


def test_names_are_fixed_audited_versioned_and_announced(admin) -> None:
    ada = person(admin, "Ada", "Lovelace")
    tidy = person(admin, "Grace", "Hopper")
    Customer.objects.filter(pk=ada.pk).update(first_name="  ada ", last_name="LOVELACE")

    result = services.customers_bulk_cleanse(
        actor=admin, customer_ids=[ada.pk, tidy.pk], fix="names"
    )

    assert (result.done, result.skipped) == (1, 0)
    ada.refresh_from_db()
    assert (ada.first_name, ada.last_name, ada.display_name) == ("Ada", "Lovelace", "Ada Lovelace")
    assert ada.version == 2
    [row] = _updates(ada)
    assert row.changes["first_name"] == ["  ada ", "Ada"]
    assert row.changes["last_name"] == ["LOVELACE", "Lovelace"]
    assert row.changes["cleansing"] == [None, "names"]
    [event] = OutboxEvent.objects.filter(type="customer.updated")
    assert event.aggregate_id == str(ada.pk)
    assert event.data["changed_fields"] == ["first_name", "last_name"]
    assert not _updates(tidy)
    # Running it again changes nothing more.
    again = services.customers_bulk_cleanse(actor=admin, customer_ids=[ada.pk], fix="names")
    assert again.done == 0
    assert len(_updates(ada)) == 1


def test_emails_are_normalised_and_duplicates_folded_into_one(admin) -> None:
    ada = person(admin, emails=["ada@example.com", "ada.work@example.com"])
    first, second = EmailAddress.objects.filter(customer=ada).order_by("id")
    # A legacy row: upper case, and a second one that is the same address once normalised.
    EmailAddress.objects.filter(pk=first.pk).update(email="Ada@Example.COM")
    EmailAddress.objects.filter(pk=second.pk).update(email="ada@example.com", is_primary=False)

    result = services.customers_bulk_cleanse(actor=admin, customer_ids=[ada.pk], fix="emails")

    assert result.done == 1
    assert list(EmailAddress.objects.filter(customer=ada).values_list("email", flat=True)) == [
        "ada@example.com"
    ]
    ada.refresh_from_db()
    assert ada.primary_email == "ada@example.com"
    [row] = _updates(ada)
    assert row.changes["emails"] == [
        ["Ada@Example.COM", "ada@example.com"],
        ["ada@example.com"],
    ]


def test_phones_are_read_in_the_country_of_the_address(admin) -> None:
    ada = person(
        admin,
        phones=["+33 6 12 34 56 78"],
        addresses=[AddressInput(line1="1 Rue de Rivoli", city="Paris", country="FR")],
    )
    PhoneNumber.objects.filter(customer=ada).update(e164="06 12 34 56 78")
    result = services.customers_bulk_cleanse(actor=admin, customer_ids=[ada.pk], fix="phones")
    assert result.done == 1
    assert PhoneNumber.objects.get(customer=ada).e164 == "+33612345678"


def test_countries_and_postcodes_are_normalised(admin) -> None:
    ada = person(
        admin,
        addresses=[
            AddressInput(line1="10 Downing St", city="London", postcode="SW1A 2AA", country="GB")
        ],
    )
    Address.objects.filter(customer=ada).update(country="uk", postcode="sw1a2aa")
    assert (
        services.customers_bulk_cleanse(actor=admin, customer_ids=[ada.pk], fix="countries").done
        == 1
    )
    assert (
        services.customers_bulk_cleanse(actor=admin, customer_ids=[ada.pk], fix="postcodes").done
        == 1
    )
    address = Address.objects.get(customer=ada)
    assert (address.country, address.postcode) == ("GB", "SW1A 2AA")
    assert sorted(r.changes["cleansing"][1] for r in _updates(ada)) == ["countries", "postcodes"]


def test_records_the_actor_may_not_edit_are_skipped_and_left_alone(admin, teams) -> None:
    rep = user_with(Scope.OWN, teams=[teams[0]])
    mine = person(rep, "Ada", "Lovelace")
    theirs = person(admin, "Grace", "Hopper")
    Customer.objects.filter(pk__in=[mine.pk, theirs.pk]).update(first_name="lower")

    result = services.customers_bulk_cleanse(
        actor=rep, customer_ids=[mine.pk, theirs.pk], fix="names"
    )

    assert (result.done, result.skipped) == (1, 1)
    assert Customer.objects.get(pk=mine.pk).first_name == "Lower"
    assert Customer.objects.get(pk=theirs.pk).first_name == "lower"
    assert not _updates(theirs)


def test_an_unknown_fix_is_refused(admin) -> None:
    ada = person(admin)
    with pytest.raises(ValidationError) as refused:
        services.customers_bulk_cleanse(actor=admin, customer_ids=[ada.pk], fix="everything")
    assert "fix" in refused.value.message_dict
