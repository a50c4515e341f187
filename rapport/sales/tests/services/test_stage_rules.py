"""Stage rules fire exactly once per entry, on every path that puts a deal in a stage:
a create, a move (board or API), a PATCH of stage_id, a bulk import row."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from rapport.core.models import OutboxEvent
from rapport.sales import services
from rapport.sales.models import Deal
from rapport.sales.services.stage_rules import after_entry, check_entry, check_rule_fields
from rapport.sales.tests.factories import CustomerFactory, sales_user, stage

pytestmark = pytest.mark.django_db


def _rules(pipeline: Any, name: str, **data: Any) -> Any:
    target = stage(pipeline, name)
    return services.stage_update(actor=sales_user(), stage=target, data=services.StageInput(**data))


def _notified(deal: Deal) -> int:
    return OutboxEvent.objects.filter(type="deal.owner_notified", aggregate_id=str(deal.pk)).count()


def test_check_rule_fields_refuses_unknown_fields() -> None:
    assert check_rule_fields(["amount", "amount", " next_step "]) == ["amount", "next_step"]
    with pytest.raises(ValidationError):
        check_rule_fields(["customer"])


def test_required_fields_refuse_the_move_with_a_clear_error(pipeline: Any) -> None:
    _rules(pipeline, "Propose", required_fields=["amount", "expected_close_date"])
    user = sales_user()
    deal = services.deal_create(
        actor=user, customer=CustomerFactory(owner=user), data=services.DealInput(name="X")
    )
    with pytest.raises(ValidationError) as exc:
        services.deal_move_stage(actor=user, deal=deal, stage=stage(pipeline, "Propose"))
    errors = exc.value.message_dict
    assert errors["stage_id"] == ["To enter Propose, fill in: amount, expected close date."]
    deal.refresh_from_db()
    assert deal.stage.name == "Qualify"  # nothing moved
    # Fields given in the same update count.
    moved = services.deal_update(
        actor=user,
        deal=deal,
        data=services.DealInput(
            stage_id=stage(pipeline, "Propose").pk, amount="10", expected_close_date=_date()
        ),
    )
    assert moved.stage.name == "Propose"


def _date() -> Any:
    import datetime as dt

    return dt.date(2027, 3, 1)


def test_required_fields_apply_on_create_too(pipeline: Any) -> None:
    _rules(pipeline, "Propose", required_fields=["next_step"])
    user = sales_user()
    with pytest.raises(ValidationError):
        services.deal_create(
            actor=user,
            customer=CustomerFactory(owner=user),
            data=services.DealInput(name="X", stage_id=stage(pipeline, "Propose").pk),
        )
    assert not Deal.objects.exists()


def test_notify_fires_once_per_entry_on_move(pipeline: Any) -> None:
    _rules(pipeline, "Negotiate", notify_owner=True)
    user = sales_user()
    deal = services.deal_create(
        actor=user, customer=CustomerFactory(owner=user), data=services.DealInput(name="X")
    )
    services.deal_move_stage(actor=user, deal=deal, stage=stage(pipeline, "Negotiate"))
    services.deal_move_stage(actor=user, deal=deal, stage=stage(pipeline, "Negotiate"))  # no entry
    assert _notified(deal) == 1
    services.deal_move_stage(actor=user, deal=deal, stage=stage(pipeline, "Propose"))
    services.deal_move_stage(actor=user, deal=deal, stage=stage(pipeline, "Negotiate"))
    assert _notified(deal) == 2  # a second entry fires again
    event = OutboxEvent.objects.filter(type="deal.owner_notified").first()
    assert event is not None and event.data["recipient_id"] == deal.owner_id


def test_notify_fires_once_for_a_deal_created_in_the_stage(pipeline: Any) -> None:
    _rules(pipeline, "Negotiate", notify_owner=True)
    user = sales_user()
    deal = services.deal_create(
        actor=user,
        customer=CustomerFactory(owner=user),
        data=services.DealInput(name="X", stage_id=stage(pipeline, "Negotiate").pk),
    )
    assert _notified(deal) == 1


def test_notify_fires_once_for_every_imported_row(pipeline: Any) -> None:
    _rules(pipeline, "Negotiate", notify_owner=True)
    user = sales_user()
    customer = CustomerFactory(owner=user)
    result = services.deals_bulk_create(
        actor=user,
        rows=[
            (customer, services.DealInput(name=f"D{i}", stage_id=stage(pipeline, "Negotiate").pk))
            for i in range(5)
        ],
    )
    assert len(result.created) == 5
    assert [_notified(d) for d in result.created] == [1] * 5


def test_check_entry_and_after_entry_directly(pipeline: Any) -> None:
    target = _rules(pipeline, "Propose", required_fields=["next_step"], notify_owner=True)
    user = sales_user()
    deal = services.deal_create(
        actor=user, customer=CustomerFactory(owner=user), data=services.DealInput(name="X")
    )
    with pytest.raises(ValidationError):
        check_entry(deal, target)
    deal.next_step = "Call"
    check_entry(deal, target)
    after_entry(actor=user, deal=deal, stage=target, via="system")
    assert _notified(deal) == 1
