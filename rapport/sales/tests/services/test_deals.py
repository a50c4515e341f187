"""deal_create / deal_update / deal_move_stage / deal_win / deal_lose / deal_delete /
deals_bulk_create, with the stage history each stage entry writes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from rapport.core.errors import Conflict
from rapport.core.models import OutboxEvent
from rapport.core.permissions import Scope
from rapport.customers.models import Interaction
from rapport.sales import services
from rapport.sales.models import Deal, DealStageChange, DealStatus
from rapport.sales.services.deals import first_open_stage
from rapport.sales.tests.factories import CustomerFactory, make_pipeline, sales_user, stage

pytestmark = pytest.mark.django_db


def _deal(user: Any, customer: Any = None, **fields: Any) -> Deal:
    customer = customer or CustomerFactory(owner=user)
    return services.deal_create(
        actor=user, customer=customer, data=services.DealInput(name="Rollout", **fields)
    )


def test_deal_create_in_the_default_pipelines_first_stage(pipeline: Any) -> None:
    user = sales_user()
    customer = CustomerFactory(owner=user)
    deal = _deal(user, customer, amount="1200.50")
    assert deal.pipeline_id == pipeline.pk and deal.stage.name == "Qualify"
    assert deal.amount == Decimal("1200.50") and deal.currency == "EUR"
    assert deal.probability == 10 and deal.status == DealStatus.OPEN
    assert deal.customer_id == customer.pk  # a link to the hub's customer, not a copy
    history = list(DealStageChange.objects.filter(deal=deal))
    assert len(history) == 1 and history[0].from_stage_id is None
    assert OutboxEvent.objects.filter(type="deal.created").count() == 1
    assert Interaction.objects.filter(customer=customer, kind="deal").count() == 1


def test_deal_create_validates_money(pipeline: Any) -> None:
    user = sales_user()
    with pytest.raises(ValidationError) as exc:
        _deal(user, amount="12.345", currency="XXQ")
    assert {"amount", "currency"} <= set(exc.value.message_dict)
    with pytest.raises(ValidationError):
        _deal(user, amount=1.5)  # floats are refused


def test_deal_create_refuses_a_customer_the_actor_cannot_see(pipeline: Any) -> None:
    rep = sales_user(Scope.OWN)
    with pytest.raises(PermissionDenied):
        _deal(rep, CustomerFactory(owner=sales_user()))


def test_deal_create_without_any_pipeline_says_so(db: Any) -> None:
    user = sales_user()
    with pytest.raises(ValidationError) as exc:
        _deal(user)
    assert "pipeline" in str(exc.value)


def test_deal_update_changes_fields_and_refuses_stale_versions(pipeline: Any) -> None:
    user = sales_user()
    deal = _deal(user)
    deal = services.deal_update(
        actor=user,
        deal=deal,
        data=services.DealInput(next_step="Call CFO", amount="99"),
        expected_version=1,
    )
    assert deal.next_step == "Call CFO" and deal.amount == Decimal("99.00")
    with pytest.raises(Conflict):
        services.deal_update(
            actor=user, deal=deal, data=services.DealInput(next_step="x"), expected_version=1
        )


def test_deal_update_with_a_stage_is_a_stage_entry(pipeline: Any) -> None:
    user = sales_user()
    deal = _deal(user)
    target = stage(pipeline, "Propose")
    deal = services.deal_update(actor=user, deal=deal, data=services.DealInput(stage_id=target.pk))
    assert deal.stage_id == target.pk and deal.probability == 50
    assert DealStageChange.objects.filter(deal=deal).count() == 2
    assert OutboxEvent.objects.filter(type="deal.stage_changed").count() == 1


def test_deal_update_refuses_a_stage_of_another_pipeline(pipeline: Any) -> None:
    other = make_pipeline("Renewals", default=False)
    user = sales_user()
    deal = _deal(user)
    with pytest.raises(ValidationError):
        services.deal_update(
            actor=user,
            deal=deal,
            data=services.DealInput(pipeline_id=pipeline.pk, stage_id=stage(other, "Propose").pk),
        )


def test_deal_move_stage_keeps_history_with_time_in_stage(pipeline: Any) -> None:
    user = sales_user()
    deal = _deal(user, amount="500")
    Deal.objects.filter(pk=deal.pk).update(
        stage_entered_at=deal.stage_entered_at - dt.timedelta(days=3)
    )
    deal = services.deal_move_stage(actor=user, deal=deal, stage=stage(pipeline, "Negotiate"))
    last = DealStageChange.objects.filter(deal=deal).order_by("-id").first()
    assert last is not None
    assert last.from_stage.name == "Qualify" and last.to_stage.name == "Negotiate"
    assert last.changed_by_id == user.pk and last.amount == Decimal("500.00")
    assert last.seconds_in_previous is not None and last.seconds_in_previous >= 3 * 86400 - 5
    # The same stage again is no entry.
    services.deal_move_stage(actor=user, deal=deal, stage=stage(pipeline, "Negotiate"))
    assert DealStageChange.objects.filter(deal=deal).count() == 2


def test_deal_move_to_another_pipeline(pipeline: Any) -> None:
    other = make_pipeline("Renewals", default=False)
    user = sales_user()
    deal = _deal(user)
    deal = services.deal_move_stage(actor=user, deal=deal, stage=stage(other, "Propose"))
    assert deal.pipeline_id == other.pk


def test_deal_move_stage_refused_outside_scope(pipeline: Any) -> None:
    owner, other = sales_user(Scope.OWN), sales_user(Scope.OWN)
    deal = _deal(owner)
    with pytest.raises(PermissionDenied):
        services.deal_move_stage(actor=other, deal=deal, stage=stage(pipeline, "Propose"))


def test_deal_win_and_lose(pipeline: Any) -> None:
    user = sales_user()
    deal = services.deal_win(actor=user, deal=_deal(user, amount="10"))
    assert deal.status == DealStatus.WON and deal.closed_at is not None and deal.probability == 100
    assert OutboxEvent.objects.filter(type="deal.won").count() == 1
    with pytest.raises(ValidationError):
        services.deal_lose(actor=user, deal=_deal(user), reason="")
    lost = services.deal_lose(actor=user, deal=_deal(user), reason="Price")
    assert lost.status == DealStatus.LOST and lost.lost_reason == "Price"
    assert lost.stage.is_lost
    assert OutboxEvent.objects.filter(type="deal.lost").count() == 1
    reopened = services.deal_move_stage(actor=user, deal=lost, stage=first_open_stage(pipeline))
    assert reopened.status == DealStatus.OPEN and reopened.closed_at is None


def test_deal_delete(pipeline: Any) -> None:
    user = sales_user()
    deal = _deal(user)
    services.deal_delete(actor=user, deal=deal)
    assert not Deal.objects.exists() and not DealStageChange.objects.exists()


def test_deals_bulk_create_reports_bad_rows_and_keeps_good_ones(pipeline: Any) -> None:
    user = sales_user()
    customer = CustomerFactory(owner=user)
    result = services.deals_bulk_create(
        actor=user,
        rows=[
            (customer, services.DealInput(name="A", amount="1")),
            (customer, services.DealInput(name="B", amount="-1")),
            (customer, services.DealInput(name="C", stage_id=stage(pipeline, "Propose").pk)),
        ],
    )
    assert [d.name for d in result.created] == ["A", "C"]
    assert list(result.errors) == [1] and "amount" in result.errors[1]
    assert DealStageChange.objects.filter(via="import").count() == 2


def test_default_pipeline(pipeline: Any) -> None:
    make_pipeline("Other", default=False)
    assert services.default_pipeline() == pipeline
