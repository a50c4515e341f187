"""Global search finds orders by number / external id and parcels by tracking number,
within record scope."""

from __future__ import annotations

import pytest

from rapport.commerce.search import search
from rapport.core.selectors import global_search

pytestmark = pytest.mark.django_db


def test_order_number_external_id_and_tracking_number(world) -> None:
    boss = world.boss
    hits = search(actor=boss, query="ORD-SOUTH")
    assert [h.title for h in hits] == ["Order ORD-SOUTH"]
    assert hits[0].url == world.orders["south"].get_absolute_url()
    parcel = search(actor=boss, query="TRK-north")
    assert parcel[0].title == "Parcel DHL TRK-north"
    assert "ORD-NORTH" in parcel[0].subtitle
    assert search(actor=boss, query="or") == []


def test_search_respects_record_scope(world) -> None:
    assert search(actor=world.rep, query="ORD-SOUTH") == []
    assert search(actor=world.rep, query="TRK-south") == []
    assert [h.title for h in search(actor=world.rep, query="ORD-REP")] == ["Order ORD-REP"]
    # Registered with the shell's global search.
    assert any(h.kind == "Order" for h in global_search(actor=world.rep, query="ORD-REP"))
