"""Record scope (own / team / all) on leads and deals: lists, detail pages, the API, the
board and search agree."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from rapport.sales import selectors
from rapport.sales.search import search
from rapport.sales.tests.conftest import World, api_for

pytestmark = pytest.mark.django_db

EXPECTED = {"rep": {"rep"}, "manager": {"rep", "north"}, "boss": {"rep", "north", "south"}}


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("who", sorted(EXPECTED))
def test_selectors(world: World, who: str) -> None:
    user = getattr(world, who)
    deals = set(selectors.deal_list(actor=user).values_list("pk", flat=True))
    leads = set(selectors.lead_list(actor=user).values_list("pk", flat=True))
    assert deals == {world.deals[k].pk for k in EXPECTED[who]}
    assert leads == {world.leads[k].pk for k in EXPECTED[who]}


@pytest.mark.parametrize("who", sorted(EXPECTED))
def test_pages_and_board(world: World, who: str) -> None:
    client = _client(getattr(world, who))
    board = client.get("/sales/board/").content.decode()
    deals = client.get("/sales/deals/").content.decode()
    leads = client.get("/sales/leads/").content.decode()
    for key in ("rep", "north", "south"):
        visible = key in EXPECTED[who]
        assert (f'data-deal="{world.deals[key].pk}"' in board) == visible
        assert (f"Deal {key}" in deals) == visible
        assert (f"Lead {key.capitalize()}" in leads) == visible
        status = 200 if visible else 404
        assert client.get(f"/sales/deals/{world.deals[key].pk}/").status_code == status
        assert client.get(f"/sales/leads/{world.leads[key].pk}/").status_code == status
    count = len(EXPECTED[who])
    assert f"{count} deal{'s' if count != 1 else ''}<" in board  # the totals are scoped too


@pytest.mark.parametrize("who", sorted(EXPECTED))
def test_api(world: World, who: str) -> None:
    api = api_for(getattr(world, who))
    deals = {d["id"] for d in api.get("/deals").json()["items"]}
    leads = {d["id"] for d in api.get("/leads").json()["items"]}
    assert deals == {world.deals[k].pk for k in EXPECTED[who]}
    assert leads == {world.leads[k].pk for k in EXPECTED[who]}
    for key in ("rep", "north", "south"):
        status = 200 if key in EXPECTED[who] else 404
        assert api.get(f"/deals/{world.deals[key].pk}").status_code == status
        stage_id = world.pipeline.stages.get(name="Propose").pk
        moved = api.post(f"/deals/{world.deals[key].pk}/move", {"stage_id": stage_id})
        assert moved.status_code == status


def test_search_is_scoped(world: World) -> None:
    assert {h.title for h in search(actor=world.rep, query="Deal")} == {"Deal rep"}
    assert {h.kind for h in search(actor=world.boss, query="south")} == {"Lead", "Deal"}
    assert search(actor=world.rep, query="south") == []
    assert len(search(actor=world.boss, query="Deal")) == 3


def test_a_search_with_a_nul_character_finds_nothing_instead_of_failing(world: World) -> None:
    """PostgreSQL refuses NUL in a text value: the search drops it (found by schemathesis)."""
    filters = selectors.DealFilters(q="ab\x00c")
    assert list(selectors.deal_list(actor=world.admin, filters=filters)) == []
    leads = selectors.LeadFilters(q="ab\x00c")
    assert list(selectors.lead_list(actor=world.admin, filters=leads)) == []
