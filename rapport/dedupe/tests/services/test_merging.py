"""Merging two customers: survivorship, every related row moves, unmerge restores exactly."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from rapport.commerce import services as commerce
from rapport.commerce.models import Order, Shipment
from rapport.commerce.services import LineInput, OrderInput, ShipmentInput
from rapport.core import registry
from rapport.core.errors import Conflict
from rapport.core.models import AuditAction, AuditLogEntry, OutboxEvent
from rapport.core.permissions import Scope
from rapport.customers import services
from rapport.customers.models import (
    Address,
    Affiliation,
    ConsentRecord,
    Customer,
    CustomerTag,
    EmailAddress,
    Interaction,
    PhoneNumber,
    Relationship,
)
from rapport.customers.services import AddressInput, CustomerInput
from rapport.customers.tests.factories import organization, person
from rapport.dedupe import services as dedupe
from rapport.dedupe import system_checks
from rapport.dedupe.models import CustomerMerge, DuplicatePair, MergeStatus, PairStatus
from rapport.dedupe.services import customer_merge, customer_unmerge, plan_merge
from rapport.identity.tests.factories import UserFactory, user_with

pytestmark = pytest.mark.django_db

ALL_TYPES = ("customers.customer", "commerce.order", "commerce.shipment", "commerce.product")


@pytest.fixture
def admin():
    return UserFactory(is_superuser=True, is_staff=True)


def _order(actor: Any, customer: Customer, sku: str) -> Order:
    return commerce.order_create(
        actor=actor,
        customer=customer,
        data=OrderInput(
            currency="EUR", lines=[LineInput(sku=sku, name="Tea", quantity=1, unit_price="9.50")]
        ),
    )


def _world(admin: Any) -> dict[str, Any]:
    """Two records of one person, each with every kind of related row, plus neighbours."""
    keep = person(
        admin,
        "Ada",
        "Lovelace",
        emails=["ada@example.com"],
        phones=["+44 20 7946 0000"],
        external_id="crm-1",
        tags=["vip", "newsletter"],
    )
    dup = person(
        admin,
        "Ada",
        "Lovelace-King",
        emails=["ADA@example.com", "countess@example.org"],
        phones=["+44 20 7946 0999"],
        job_title="Analyst",
        birth_date=dt.date(1985, 12, 10),
        tags=["vip", "poet"],
        addresses=[AddressInput(line1="12 St James's Sq", city="London", country="GB")],
        custom_fields={},
    )
    babbage = person(admin, "Charles", "Babbage")
    org = organization(admin, "Analytical Engines Ltd")
    services.relationship_create(
        actor=admin, from_customer=dup, to_customer=babbage, kind="partner", note="engines"
    )
    services.relationship_create(
        actor=admin, from_customer=keep, to_customer=babbage, kind="partner"
    )
    services.relationship_create(actor=admin, from_customer=dup, to_customer=keep, kind="household")
    services.relationship_create(
        actor=admin, from_customer=babbage, to_customer=dup, kind="referred_by"
    )
    services.affiliation_create(actor=admin, person=dup, organization=org, title="Programmer")
    services.note_add(actor=admin, customer=dup, body="Met at the Analytical Society")
    services.consent_record(
        actor=admin,
        customer=dup,
        channel="email",
        purpose="marketing",
        status="granted",
        method="web form",
        text_shown="Yes, send me news",
    )
    order = _order(admin, dup, "TEA-1")
    commerce.shipment_create(
        actor=admin,
        order=order,
        data=ShipmentInput(carrier="DHL", tracking_number="JD0001", status="in_transit"),
    )
    return {"keep": keep, "dup": dup, "babbage": babbage, "org": org, "order": order}


def _state(customer: Customer) -> dict[str, Any]:
    """Everything about a customer that a merge touches, comparable before and after."""
    c = Customer.objects.get(pk=customer.pk)
    audited = services._audited(c)
    return {
        "fields": audited,
        "search_text": c.search_text,
        "merged_into": c.merged_into_id,
        "emails": sorted(
            EmailAddress.objects.filter(customer=c).values_list("pk", "email", "is_primary")
        ),
        "phones": sorted(
            PhoneNumber.objects.filter(customer=c).values_list("pk", "e164", "is_primary")
        ),
        "tags": sorted(CustomerTag.objects.filter(customer=c).values_list("pk", "tag_id")),
        "relationships": sorted(
            Relationship.objects.filter(from_customer=c).values_list(
                "pk", "to_customer_id", "kind", "note"
            )
        )
        + sorted(
            Relationship.objects.filter(to_customer=c).values_list("pk", "from_customer_id", "kind")
        ),
        "affiliations": sorted(
            Affiliation.objects.filter(person=c).values_list("pk", "organization_id", "title")
        ),
        "consents": sorted(ConsentRecord.objects.filter(customer=c).values_list("pk", flat=True)),
        "orders": sorted(Order.objects.filter(customer=c).values_list("pk", flat=True)),
        "shipments": sorted(Shipment.objects.filter(customer=c).values_list("pk", flat=True)),
        # The merge's own timeline entries stay (they are history); every other one returns.
        "timeline": sorted(
            Interaction.objects.filter(customer=c)
            .exclude(kind="merge")
            .values_list("pk", flat=True)
        ),
    }


def test_merge_moves_every_related_row_to_the_survivor(admin):
    w = _world(admin)
    keep, dup = w["keep"], w["dup"]
    merge = customer_merge(actor=admin, survivor=keep, loser=dup)

    keep.refresh_from_db()
    dup.refresh_from_db()
    assert dup.merged_into_id == keep.pk
    # Contact points: the union, the same e-mail only once, the survivor's stays primary.
    assert sorted(keep.emails.values_list("email", flat=True)) == [
        "ada@example.com",
        "countess@example.org",
    ]
    assert keep.primary_email == "ada@example.com"
    assert keep.emails.filter(is_primary=True).count() == 1
    assert keep.phones.count() == 2 and keep.phones.filter(is_primary=True).count() == 1
    assert sorted(keep.tags.values_list("name", flat=True)) == ["newsletter", "poet", "vip"]
    assert keep.city == "London"  # the only address came along
    # Relationships: kept both ways; the one between the two records is gone (not a
    # self-link) and the same partner link is not doubled.
    assert Relationship.objects.filter(from_customer=keep, to_customer=w["babbage"]).count() == 1
    assert Relationship.objects.filter(from_customer=w["babbage"], to_customer=keep).count() == 1
    assert not Relationship.objects.filter(from_customer=keep, to_customer=keep).exists()
    assert Affiliation.objects.filter(person=keep, organization=w["org"]).exists()
    assert ConsentRecord.objects.filter(customer=keep).count() == 1
    assert Order.objects.get(pk=w["order"].pk).customer_id == keep.pk
    assert Shipment.objects.get(order=w["order"]).customer_id == keep.pk
    # Nothing points at the merged-away record any more (but its own history).
    for rule in registry.merge_rules():
        if rule.strategy == registry.MergeStrategy.KEEP:
            continue
        from django.apps import apps

        model = apps.get_model(rule.model)
        assert not model._default_manager.filter(**{rule.field: dup.pk}).exists(), rule.key
    # Survivorship (most complete: the duplicate has more): empty fields filled, and the
    # survivor's external id stays.
    assert keep.job_title == "Analyst"
    assert keep.birth_date == dt.date(1985, 12, 10)
    assert keep.last_name == "Lovelace-King"
    assert keep.external_id == "crm-1"
    # The merge is on the timeline, in the audit log and in the outbox.
    entry = Interaction.objects.get(customer=keep, kind="merge")
    assert "Lovelace-King" in entry.summary and entry.data["merge_id"] == merge.pk
    assert AuditLogEntry.objects.filter(action=AuditAction.MERGE, object_id=str(keep.pk)).exists()
    event = OutboxEvent.objects.get(type="customer.merged")
    assert event.data["loser_id"] == dup.pk and event.data["survivor"]["id"] == keep.pk
    assert merge.summary["Orders"] == 1


def test_unmerge_restores_the_exact_prior_state(admin):
    w = _world(admin)
    keep, dup = w["keep"], w["dup"]
    before = {name: _state(w[name]) for name in ("keep", "dup", "babbage", "org")}
    pair = DuplicatePair.objects.create(
        customer_a=keep, customer_b=dup, probability=0.97, match_weight=12
    )

    merge = customer_merge(actor=admin, survivor=keep, loser=dup, rule="most_recent")
    assert DuplicatePair.objects.get(pk=pair.pk).status == PairStatus.MERGED
    assert _state(keep) != before["keep"]

    undone = customer_unmerge(actor=admin, merge=merge)
    assert undone.status == MergeStatus.UNDONE
    for name in ("keep", "dup", "babbage", "org"):
        assert _state(w[name]) == before[name], name
    assert DuplicatePair.objects.get(pk=pair.pk).status == PairStatus.OPEN
    assert OutboxEvent.objects.filter(type="customer.unmerged").count() == 1
    assert Interaction.objects.filter(customer=dup, kind="merge", data__undone=True).exists()
    with pytest.raises(ValidationError, match="already undone"):
        customer_unmerge(actor=admin, merge=merge)


def _addresses(customer: Customer) -> list[tuple[Any, ...]]:
    return sorted(
        Address.objects.filter(customer=customer).values_list(
            "pk", "kind", "line1", "line2", "city", "postcode", "region", "country", "is_primary"
        )
    )


def test_the_same_address_and_contact_points_are_kept_once_and_come_back_on_undo(admin):
    home = AddressInput(line1="12 High Street", city="London", postcode="SW1A 1AA", country="GB")
    keep = person(admin, "Ada", "Lovelace", emails=["ada@example.com"], addresses=[home])
    dup = person(admin, "Ada", "Lovelace", emails=["countess@example.org"])
    # The loser's copy of the survivor's home, typed differently (rows written around the
    # services, so not normalised on write), an e-mail that differs only in case, the same
    # phone in another spelling, and an address of its own that must come along.
    Address.objects.create(
        customer=dup,
        line1="12, high  STREET",
        city="LONDON",
        postcode="sw1a1aa",
        country="gb",
        is_primary=True,
    )
    Address.objects.create(customer=dup, line1="1 Dorset Street", city="London", country="GB")
    EmailAddress.objects.create(customer=dup, email="ADA@Example.com ")
    PhoneNumber.objects.create(customer=keep, e164="+442079460000", is_primary=True)
    PhoneNumber.objects.create(customer=dup, e164="+44 20 7946 0000")
    # The same place as another kind of address is a second role, not a duplicate.
    Address.objects.create(
        customer=dup, kind="work", line1="12 High Street", city="London", country="GB"
    )
    for customer in (keep, dup):
        services.refresh_derived_fields(customer)
        customer.save()
    before = {"keep": _addresses(keep), "dup": _addresses(dup)}
    states = {"keep": _state(keep), "dup": _state(dup)}

    merge = customer_merge(actor=admin, survivor=keep, loser=dup)

    places = sorted((a.kind, a.line1) for a in Address.objects.filter(customer=keep).order_by("pk"))
    assert places == [
        ("home", "1 Dorset Street"),
        ("home", "12 High Street"),
        ("work", "12 High Street"),
    ]
    assert sorted(keep.emails.values_list("email", flat=True)) == [
        "ada@example.com",
        "countess@example.org",
    ]
    assert list(keep.phones.values_list("e164", flat=True)) == ["+442079460000"]
    assert merge.summary["Addresses"] == 2

    customer_unmerge(actor=admin, merge=merge)
    assert _addresses(keep) == before["keep"]
    assert _addresses(dup) == before["dup"]
    assert _state(keep) == states["keep"]
    assert _state(dup) == states["dup"]


def test_the_external_id_moves_to_a_survivor_without_one_and_back_on_unmerge(admin):
    keep = person(admin, "Grace", "Hopper")
    dup = person(admin, "Grace", "Hopper", external_id="erp-7")
    merge = customer_merge(actor=admin, survivor=keep, loser=dup)
    keep.refresh_from_db()
    assert keep.external_id == "erp-7"
    customer_unmerge(actor=admin, merge=merge)
    assert Customer.objects.get(pk=keep.pk).external_id is None
    assert Customer.objects.get(pk=dup.pk).external_id == "erp-7"


def test_per_field_choices_override_the_rule_and_bad_choices_are_refused(admin):
    keep = person(admin, "Ada", "Lovelace", job_title="Countess")
    dup = person(admin, "Augusta Ada", "King", job_title="Mathematician")
    plan = plan_merge(survivor=keep, loser=dup, choices={"first_name": "loser"})
    chosen = {f.name: f for f in plan.fields}
    assert chosen["first_name"].value == "Augusta Ada"
    assert chosen["job_title"].value == "Countess"
    with pytest.raises(ValidationError) as exc:
        plan_merge(survivor=keep, loser=dup, choices={"password": "loser", "last_name": "both"})
    assert set(exc.value.message_dict) == {"choices.password", "choices.last_name"}

    customer_merge(
        actor=admin, survivor=keep, loser=dup, choices={"first_name": "loser", "job_title": "loser"}
    )
    keep.refresh_from_db()
    assert (keep.first_name, keep.last_name, keep.job_title) == (
        "Augusta Ada",
        "Lovelace",
        "Mathematician",
    )
    assert keep.display_name == "Augusta Ada Lovelace"


def test_most_recent_rule_takes_the_newer_records_values(admin):
    keep = person(admin, "Ada", "Lovelace", job_title="Countess")
    dup = person(admin, "Ada", "Lovelace", job_title="Mathematician")
    Customer.objects.filter(pk=keep.pk).update(updated_at=dup.updated_at - dt.timedelta(days=1))
    keep.refresh_from_db()
    plan = plan_merge(survivor=keep, loser=dup, rule="most_recent")
    assert plan.preferred == "loser"
    assert {f.name: f.value for f in plan.fields}["job_title"] == "Mathematician"
    older = plan_merge(survivor=keep, loser=dup, rule="most_complete")
    assert {f.name: f.value for f in older.fields}["job_title"] == "Countess"


def test_a_later_edit_of_the_survivor_survives_the_unmerge(admin):
    keep = person(admin, "Ada", "Lovelace")
    dup = person(admin, "Ada", "Lovelace", job_title="Analyst", language="en")
    merge = customer_merge(actor=admin, survivor=keep, loser=dup)
    keep.refresh_from_db()
    services.customer_update(actor=admin, customer=keep, data=CustomerInput(job_title="Poet"))
    customer_unmerge(actor=admin, merge=merge)
    keep.refresh_from_db()
    assert keep.job_title == "Poet"  # edited after the merge: kept
    assert keep.language == ""  # came from the merge: restored
    row = AuditLogEntry.objects.filter(action=AuditAction.UNMERGE, object_id=str(keep.pk)).get()
    assert row.changes["kept"] == [None, ["job_title"]]


def test_merge_refuses_what_it_must(admin):
    keep = person(admin, "Ada", "Lovelace")
    dup = person(admin, "Ada", "Lovelace")
    org = organization(admin, "Lovelace Ltd")
    with pytest.raises(ValidationError, match="itself"):
        customer_merge(actor=admin, survivor=keep, loser=keep)
    with pytest.raises(ValidationError, match="person and an organization"):
        customer_merge(actor=admin, survivor=keep, loser=org)
    with pytest.raises(Conflict):
        customer_merge(actor=admin, survivor=keep, loser=dup, loser_version=dup.version - 1)
    customer_merge(actor=admin, survivor=keep, loser=dup)
    with pytest.raises(ValidationError, match="already merged"):
        customer_merge(actor=admin, survivor=keep, loser=dup)


def test_merge_needs_edit_on_the_survivor_and_delete_on_the_other(admin):
    rep = user_with(Scope.OWN, actions=("view", "create", "edit"))
    mine = person(rep, "Ada", "Lovelace")
    also_mine = person(rep, "Ada", "Lovelace")
    theirs = person(admin, "Ada", "Lovelace")
    with pytest.raises(PermissionDenied):
        customer_merge(actor=rep, survivor=mine, loser=also_mine)  # no delete right
    manager = user_with(Scope.OWN)
    own_a = person(manager, "Ada", "Lovelace")
    own_b = person(manager, "Ada", "Lovelace")
    with pytest.raises(PermissionDenied):
        customer_merge(actor=manager, survivor=own_a, loser=theirs)  # not theirs to merge away
    customer_merge(actor=manager, survivor=own_a, loser=own_b)
    assert Customer.objects.get(pk=own_b.pk).merged_into_id == own_a.pk
    assert CustomerMerge.objects.count() == 1


def test_a_failure_midway_leaves_nothing_half_merged(admin, monkeypatch):
    w = _world(admin)
    before = {name: _state(w[name]) for name in ("keep", "dup")}

    def broken(**kwargs: Any) -> list[int]:
        raise RuntimeError("ERP unreachable")

    rules = {r.key: r for r in registry.merge_rules()}
    order_rule = rules["commerce.order.customer"]
    monkeypatch.setitem(
        registry._registry.merge_rules,
        order_rule.key,
        registry.MergeRule(order_rule.model, order_rule.field, order_rule.strategy, mover=broken),
    )
    with pytest.raises(RuntimeError):
        customer_merge(actor=admin, survivor=w["keep"], loser=w["dup"])
    assert {name: _state(w[name]) for name in ("keep", "dup")} == before
    assert not CustomerMerge.objects.exists()


def test_every_relation_to_the_customer_has_a_merge_rule():
    # Fails when an app adds a foreign key to Customer and does not say how it merges.
    relations = system_checks.customer_relations()
    assert "commerce.order.customer" in relations
    assert "customers.interaction.customer" in relations
    assert system_checks.unhandled(relations, registry.merge_rules()) == []
    call_command("check")


def test_the_check_names_a_relation_without_a_rule(monkeypatch):
    monkeypatch.delitem(registry._registry.merge_rules, "customers.consentrecord.customer")
    assert system_checks.unhandled(system_checks.customer_relations(), registry.merge_rules()) == [
        "customers.consentrecord.customer"
    ]
    with pytest.raises(SystemCheckError, match=r"consentrecord\.customer points at the customer"):
        call_command("check")


def test_merge_history_forgets_an_erased_person(admin):
    keep = person(admin, "Ada", "Lovelace", emails=["ada@example.com"])
    dup = person(admin, "Ada", "Lovelace", emails=["countess@example.org"], job_title="Analyst")
    merge = customer_merge(actor=admin, survivor=keep, loser=dup)
    assert "countess@example.org" in str(merge.rows_before)
    services.customer_erase(actor=admin, customer=keep)
    merge.refresh_from_db()
    assert merge.erased_at is not None and merge.rows_before == [] and merge.survivor_changes == {}
    assert Customer.objects.get(pk=dup.pk).erased_at is not None  # the same person
    with pytest.raises(ValidationError, match="erased"):
        customer_unmerge(actor=admin, merge=merge)


def test_money_on_moved_orders_is_untouched(admin):
    keep = person(admin, "Ada", "Lovelace")
    dup = person(admin, "Ada", "Lovelace")
    order = _order(admin, dup, "TEA-2")
    merge = customer_merge(actor=admin, survivor=keep, loser=dup)
    moved = Order.objects.get(pk=order.pk)
    assert moved.customer_id == keep.pk and moved.total == Decimal("9.50")
    customer_unmerge(actor=admin, merge=merge)
    assert Order.objects.get(pk=order.pk).customer_id == dup.pk


def test_undo_is_refused_cleanly_when_a_linked_record_was_deleted_since(admin):
    from rapport.customers.models import Tag

    keep = person(admin, "Ada", "Lovelace")
    dup = person(admin, "Ada", "Lovelace", tags=["poet"])
    merge = customer_merge(actor=admin, survivor=keep, loser=dup)
    Tag.objects.filter(name="poet").delete()
    with pytest.raises(ValidationError, match="was deleted since"):
        customer_unmerge(actor=admin, merge=merge)
    assert CustomerMerge.objects.get(pk=merge.pk).status == MergeStatus.MERGED
    assert Customer.objects.get(pk=dup.pk).merged_into_id == keep.pk


def test_integrations_that_still_send_a_merged_away_external_id_reach_the_survivor(admin, tmp_path):
    import json
    from io import StringIO

    from rapport.customers.selectors import follow_merges
    from rapport.customers.tests.api_support import ApiClient
    from rapport.identity.tests.factories import api_key_for

    a = person(admin, "Ada", "Lovelace", external_id="crm-a")
    b = person(admin, "Ada", "Lovelace", external_id="erp-b")
    c = person(admin, "Ada", "Lovelace")
    customer_merge(actor=admin, survivor=b, loser=c)
    customer_merge(actor=admin, survivor=a, loser=b)  # a chain: c -> b -> a
    assert follow_merges([a.pk, b.pk, c.pk]) == {a.pk: a.pk, b.pk: a.pk, c.pk: a.pk}

    # The ERP still knows the record merged away by its external id: the order goes to
    # the survivor, not to a record no list shows.
    path = tmp_path / "orders.csv"
    path.write_text(
        "external_id,customer_external_id,ordered_at,total,currency\n"
        "O-77,erp-b,2026-03-01,5.00,EUR\n"
    )
    out = StringIO()
    call_command("import", "orders", str(path), "--json", stdout=out)
    assert json.loads(out.getvalue())["created"] == 1
    assert Order.objects.get(external_id="O-77").customer_id == a.pk

    # So does a contacts import upserting by it: the survivor is updated, nobody created.
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("external_id,first_name,last_name\nerp-b,Augusta Ada,Lovelace\n")
    out = StringIO()
    call_command("import", "contacts", str(contacts), "--json", stdout=out)
    summary = json.loads(out.getvalue())
    assert (summary["created"], summary["updated"], summary["failed"]) == (0, 1, 0), summary
    assert Customer.objects.get(pk=a.pk).first_name == "Augusta Ada"
    assert Customer.objects.get(pk=a.pk).external_id == "crm-a"

    # A bulk upsert matching on that external id updates the survivor.
    _, raw = api_key_for(admin, ["customers.customer:read", "customers.customer:write"])
    response = ApiClient(raw).post(
        "/persons/bulk-upsert",
        {"match_on": "external_id", "rows": [{"external_id": "erp-b", "job_title": "Poet"}]},
    )
    assert response.status_code == 200, response.content
    assert Customer.objects.get(pk=a.pk).job_title == "Poet"
    assert Customer.objects.get(pk=b.pk).job_title == ""


# --- What other code reads of a merge, and its GDPR scrub ---


def test_completeness_counts_the_filled_fields_people_care_about(admin) -> None:
    bare = dedupe.completeness(Customer(kind="person"))  # defaults count (lifecycle stage)
    named = Customer(kind="person", first_name="Ada", last_name="Lovelace")
    assert dedupe.completeness(named) == bare + 2
    fuller = Customer(
        kind="person",
        first_name="Ada",
        last_name="Lovelace",
        primary_email="ada@example.com",
        city="London",
        custom_fields={"tier": "gold", "empty": ""},
    )
    assert dedupe.completeness(fuller) == dedupe.completeness(named) + 3
    # The "most complete" rule prefers the fuller record's values.
    survivor = person(admin, "Ada", "")
    loser = person(admin, "Ada", "Lovelace", emails=["ada@example.com"])
    assert dedupe.completeness(loser) > dedupe.completeness(survivor)
    assert dedupe.plan_merge(survivor=survivor, loser=loser).preferred == "loser"


def test_related_counts_names_the_rows_a_merge_would_move(admin) -> None:
    ada = person(admin, emails=["ada@example.com", "ada@work.example"], tags=["vip"])
    for sku in ("A", "B"):
        commerce.order_create(
            actor=admin,
            customer=ada,
            data=OrderInput(currency="EUR", lines=[LineInput(sku=sku, name="T", unit_price="1")]),
        )
    counts = dedupe.related_counts(ada)
    assert counts["Orders"] == 2
    assert sum(n for label, n in counts.items() if "mail" in label.lower()) == 2
    assert "Shipments" not in counts  # they move with their order, not on their own
    assert all(n > 0 for n in counts.values())
    assert dedupe.plan_merge(survivor=person(admin, "Grace", "Hopper"), loser=ada).moves == (counts)


def test_merge_payload_is_what_the_merged_event_and_the_api_carry(admin) -> None:
    survivor = person(admin, "Ada", "")
    loser = person(admin, "Ada", "Lovelace", emails=["ada@example.com"])
    a, b = sorted([survivor, loser], key=lambda c: c.pk)
    pair = DuplicatePair.objects.create(
        customer_a=a, customer_b=b, probability=0.97, match_weight=9
    )
    merge = dedupe.customer_merge(actor=admin, survivor=survivor, loser=loser)
    payload = dedupe.merge_payload(merge)
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
    undone = dedupe.customer_unmerge(actor=admin, merge=merge)
    assert dedupe.merge_payload(undone)["undone_at"] == undone.undone_at.isoformat()


def test_scrub_for_erasure_empties_the_merge_history_once_and_forbids_undo(admin) -> None:
    survivor = person(admin, "Ada", "Lovelace")
    loser = person(admin, "Ada", "Lovelace", emails=["ada@example.com"])
    other = dedupe.customer_merge(
        actor=admin, survivor=person(admin, "Grace", "Hopper"), loser=person(admin, "G", "Hopper")
    )
    merge = dedupe.customer_merge(actor=admin, survivor=survivor, loser=loser)
    assert merge.rows_before or merge.survivor_changes  # what an undo would restore

    assert dedupe.scrub_for_erasure(customer_id=loser.pk) == 1

    merge.refresh_from_db()
    assert (merge.survivor_changes, merge.loser_changes, merge.choices) == ({}, {}, {})
    assert (merge.rows_before, merge.rows_deleted) == ([], [])
    assert merge.erased_at is not None
    assert (merge.survivor_id, merge.loser_id) == (survivor.pk, loser.pk)  # the fact stays
    assert dedupe.scrub_for_erasure(customer_id=survivor.pk) == 0  # already scrubbed
    with pytest.raises(ValidationError, match="erased"):
        dedupe.customer_unmerge(actor=admin, merge=merge)
    assert CustomerMerge.objects.get(pk=other.pk).erased_at is None
