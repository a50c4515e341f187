"""The pieces of a merge that other code reads: the "most complete" score
(`completeness`), what the merged-away record brings along (`related_counts`), the
merge's public shape (`merge_payload`) and the GDPR scrub of merge history
(`scrub_for_erasure`)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from rapport.commerce import services as commerce
from rapport.commerce.services import LineInput, OrderInput
from rapport.core.models import OutboxEvent
from rapport.customers.models import Customer
from rapport.customers.tests.factories import person
from rapport.dedupe import services
from rapport.dedupe.models import CustomerMerge, DuplicatePair, MergeStatus
from rapport.identity.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin():
    return UserFactory(is_superuser=True, is_staff=True)


def test_completeness_counts_the_filled_fields_people_care_about(admin) -> None:
    bare = services.completeness(Customer(kind="person"))  # defaults count (lifecycle stage)
    named = Customer(kind="person", first_name="Ada", last_name="Lovelace")
    assert services.completeness(named) == bare + 2
    fuller = Customer(
        kind="person",
        first_name="Ada",
        last_name="Lovelace",
        primary_email="ada@example.com",
        city="London",
        custom_fields={"tier": "gold", "empty": ""},
    )
    assert services.completeness(fuller) == services.completeness(named) + 3
    # The "most complete" rule prefers the fuller record's values.
    survivor = person(admin, "Ada", "")
    loser = person(admin, "Ada", "Lovelace", emails=["ada@example.com"])
    assert services.completeness(loser) > services.completeness(survivor)
    assert services.plan_merge(survivor=survivor, loser=loser).preferred == "loser"


def test_related_counts_names_the_rows_a_merge_would_move(admin) -> None:
    ada = person(admin, emails=["ada@example.com", "ada@work.example"], tags=["vip"])
    for sku in ("A", "B"):
        commerce.order_create(
            actor=admin,
            customer=ada,
            data=OrderInput(currency="EUR", lines=[LineInput(sku=sku, name="T", unit_price="1")]),
        )
    counts = services.related_counts(ada)
    assert counts["Orders"] == 2
    assert sum(n for label, n in counts.items() if "mail" in label.lower()) == 2
    assert "Shipments" not in counts  # they move with their order, not on their own
    assert all(n > 0 for n in counts.values())
    assert services.plan_merge(survivor=person(admin, "Grace", "Hopper"), loser=ada).moves == (
        counts
    )


def test_merge_payload_is_what_the_merged_event_and_the_api_carry(admin) -> None:
    survivor = person(admin, "Ada", "")
    loser = person(admin, "Ada", "Lovelace", emails=["ada@example.com"])
    a, b = sorted([survivor, loser], key=lambda c: c.pk)
    pair = DuplicatePair.objects.create(
        customer_a=a, customer_b=b, probability=0.97, match_weight=9
    )
    merge = services.customer_merge(actor=admin, survivor=survivor, loser=loser)
    payload = services.merge_payload(merge)
    assert payload == {
        "id": merge.pk,
        "survivor_id": survivor.pk,
        "loser_id": loser.pk,
        "status": MergeStatus.MERGED,
        "rule": "most_complete",
        "choices": {},
        "automatic": False,
        "changed_fields": sorted(merge.survivor_changes),
        "moved": merge.summary,
        "merged_at": merge.merged_at.isoformat(),
        "undone_at": None,
        "pair_id": pair.pk,
    }
    assert "last_name" in payload["changed_fields"]  # filled from the fuller record
    event = OutboxEvent.objects.get(type="customer.merged")
    assert {k: event.data[k] for k in payload} == payload
    undone = services.customer_unmerge(actor=admin, merge=merge)
    assert services.merge_payload(undone)["undone_at"] == undone.undone_at.isoformat()


def test_scrub_for_erasure_empties_the_merge_history_once_and_forbids_undo(admin) -> None:
    survivor = person(admin, "Ada", "Lovelace")
    loser = person(admin, "Ada", "Lovelace", emails=["ada@example.com"])
    other = services.customer_merge(
        actor=admin, survivor=person(admin, "Grace", "Hopper"), loser=person(admin, "G", "Hopper")
    )
    merge = services.customer_merge(actor=admin, survivor=survivor, loser=loser)
    assert merge.rows_before or merge.survivor_changes  # what an undo would restore

    assert services.scrub_for_erasure(customer_id=loser.pk) == 1

    merge.refresh_from_db()
    assert (merge.survivor_changes, merge.loser_changes, merge.choices) == ({}, {}, {})
    assert (merge.rows_before, merge.rows_deleted) == ([], [])
    assert merge.erased_at is not None
    assert (merge.survivor_id, merge.loser_id) == (survivor.pk, loser.pk)  # the fact stays
    assert services.scrub_for_erasure(customer_id=survivor.pk) == 0  # already scrubbed
    with pytest.raises(ValidationError, match="erased"):
        services.customer_unmerge(actor=admin, merge=merge)
    assert CustomerMerge.objects.get(pk=other.pk).erased_at is None
