"""Bulk actions on selected customers."""

from __future__ import annotations

from importlib import import_module

import pytest
from django.core.exceptions import ValidationError

from rapport.core.models import AuditLogEntry, Job, JobStatus, OutboxEvent
from rapport.core.permissions import Scope
from rapport.customers import services
from rapport.customers.models import Customer, CustomerTag
from rapport.customers.tests.factories import person
from rapport.identity.tests.factories import UserFactory, user_with

pytestmark = pytest.mark.django_db


def test_bulk_actions_respect_scope(teams, admin):
    north, south = teams
    rep = user_with(Scope.OWN, actions=("view", "create", "edit"), teams=[north])
    mine = [person(rep, f"Mine{i}", "Rep") for i in range(3)]
    others = [person(admin, f"Other{i}", "Admin", team_id=south.pk) for i in range(2)]
    ids = [c.pk for c in mine + others]

    result = services.customers_bulk_tag(actor=rep, customer_ids=ids, add=["VIP"])
    assert (result.done, result.skipped) == (3, 2)
    assert set(
        CustomerTag.objects.filter(tag__name="vip").values_list("customer_id", flat=True)
    ) == {c.pk for c in mine}
    assert AuditLogEntry.objects.filter(action="update", changes__tags__added=["vip"]).count() == 3
    assert OutboxEvent.objects.filter(type="customer.updated").count() == 3

    result = services.customers_bulk_tag(actor=rep, customer_ids=ids, remove=["vip"])
    assert result.done == 3 and not CustomerTag.objects.filter(tag__name="vip").exists()

    # An own-scope user may not give records away; nothing changes.
    result = services.customers_bulk_assign(actor=rep, customer_ids=ids, owner_id=admin.pk)
    assert (result.done, result.skipped) == (0, 5)
    assert Customer.objects.filter(owner=admin).count() == 2

    # No delete permission at all: everything skipped, nothing deleted.
    result = services.customers_bulk_delete(actor=rep, customer_ids=ids)
    assert (result.done, result.skipped) == (0, 5)

    result = services.customers_bulk_assign(actor=admin, customer_ids=ids, owner_id=rep.pk)
    assert result.done == 5 and Customer.objects.filter(owner=rep).count() == 5
    result = services.customers_bulk_delete(actor=admin, customer_ids=ids[:2])
    assert result.done == 2 and Customer.objects.count() == 3
    assert (
        AuditLogEntry.objects.filter(action="delete", object_type="customers.customer").count() == 2
    )
    assert OutboxEvent.objects.filter(type="customer.deleted").count() == 2


# --- Every customer a list filter matches: customers_bulk_matching(_start) ---


def _tagged(tag: str) -> set[int]:
    return set(CustomerTag.objects.filter(tag__name=tag).values_list("customer_id", flat=True))


def test_matching_tags_every_match_in_batches_and_reports_progress(admin, monkeypatch) -> None:
    # Patched where the function reads it (the module that defines it, in or out of a package).
    monkeypatch.setattr(import_module(services.customers_bulk_matching.__module__), "BULK_BATCH", 2)
    paris = [person(admin, "Ada", f"Paris{i}", tags=["paris"]) for i in range(5)]
    other = person(admin, "Grace", "Hopper")
    seen: list[int] = []

    result = services.customers_bulk_matching(
        actor=admin, filters={"tag": ["paris"]}, action="tag", tag="VIP, ", progress=seen.append
    )

    assert (result.done, result.skipped) == (5, 0)
    assert seen == [2, 2, 1]
    assert _tagged("vip") == {c.pk for c in paris}
    assert other.pk not in _tagged("vip")
    assert OutboxEvent.objects.filter(type="customer.updated").count() == 5


def test_matching_only_touches_what_the_actor_may_change(admin, teams) -> None:
    rep = user_with(Scope.OWN, teams=[teams[0]])
    mine = person(rep, "Ada", "Lovelace")
    theirs = person(admin, "Grace", "Hopper")
    boss = UserFactory()

    result = services.customers_bulk_matching(
        actor=rep, filters={}, action="assign", owner_id=boss.pk
    )

    # Handing a record to someone else is beyond an own-scope role: nothing moves.
    assert result.done == 0
    assert Customer.objects.get(pk=mine.pk).owner_id == rep.pk
    assert Customer.objects.get(pk=theirs.pk).owner_id == admin.pk
    result = services.customers_bulk_matching(actor=rep, filters={}, action="delete")
    assert result.done == 1
    assert list(Customer.objects.values_list("pk", flat=True)) == [theirs.pk]


def test_matching_untag_removes_the_tag(admin) -> None:
    ada = person(admin, tags=["old", "keep"])
    result = services.customers_bulk_matching(
        actor=admin, filters={"q": ["lovelace"]}, action="untag", tag="old"
    )
    assert result.done == 1
    assert set(ada.tags.values_list("name", flat=True)) == {"keep"}
    assert AuditLogEntry.objects.filter(
        object_id=str(ada.pk), action="update", changes__tags__removed=["old"]
    ).exists()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"action": "explode"}, "action"),
        ({"action": "tag", "tag": " , "}, "tags"),
        ({"action": "assign"}, "owner"),
        ({"action": "tag", "tag": "x", "filters": {"colour": ["red"]}}, "colour"),
    ],
)
def test_start_refuses_bad_requests_before_queueing(admin, kwargs, field) -> None:
    kwargs = {"filters": {}, **kwargs}
    with pytest.raises(ValidationError) as refused:
        services.customers_bulk_matching_start(actor=admin, **kwargs)
    assert field in refused.value.message_dict
    assert not Job.objects.exists()


def test_start_queues_a_job_that_runs_for_the_actor(
    admin, immediate_tasks, django_capture_on_commit_callbacks
) -> None:
    ada = person(admin, tags=["paris"])
    person(admin, "Grace", "Hopper")
    with django_capture_on_commit_callbacks(execute=True):
        job = services.customers_bulk_matching_start(
            actor=admin, filters={"tag": ["paris"]}, action="tag", tag="hot"
        )
    assert (job.kind, job.owner_id) == ("customers.bulk", admin.pk)
    assert job.params == {
        "filters": {"tag": ["paris"]},
        "action": "tag",
        "tag": "hot",
        "owner_id": None,
    }
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert (job.done, job.total, job.result) == (1, 1, {"done": 1, "skipped": 0})
    assert _tagged("hot") == {ada.pk}
