"""deals_mover: a customer merge moves the deals, and the undo moves them back."""

from __future__ import annotations

from typing import Any

import pytest

from rapport.sales import services
from rapport.sales.models import Deal
from rapport.sales.services.merging import deals_mover
from rapport.sales.tests.factories import CustomerFactory, sales_user

pytestmark = pytest.mark.django_db


def test_deals_move_to_the_survivor_and_back(pipeline: Any) -> None:
    user = sales_user()
    loser, survivor = CustomerFactory(owner=user), CustomerFactory(owner=user)
    deal = services.deal_create(actor=user, customer=loser, data=services.DealInput(name="X"))
    moved = deals_mover(actor=user, source=loser, target=survivor)
    assert moved == [deal.pk]
    assert Deal.objects.get(pk=deal.pk).customer_id == survivor.pk
    deals_mover(actor=user, source=survivor, target=loser, ids=moved)
    assert Deal.objects.get(pk=deal.pk).customer_id == loser.pk
