"""The sales API: CRUD with cursors, ETag/If-Match, idempotency keys, problem details, and
the actions (convert, disqualify, move, win, lose, stage history)."""

from __future__ import annotations

from typing import Any

import pytest

from rapport.core.models import OutboxEvent
from rapport.sales import services
from rapport.sales.models import Deal, DealStageChange, Lead
from rapport.sales.tests.conftest import api_for
from rapport.sales.tests.factories import CustomerFactory, sales_user, stage

pytestmark = pytest.mark.django_db


@pytest.fixture
def user(db: Any) -> Any:
    return sales_user()


@pytest.fixture
def api(user: Any) -> Any:
    return api_for(user)


def test_lead_create_is_idempotent_and_a_known_person_is_not_duplicated(api: Any) -> None:
    body = {"first_name": "Jo", "last_name": "Berg", "email": "jo@x.example", "utm_source": "ads"}
    first = api.post("/leads", body, HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == 201 and first["ETag"]
    replay = api.post("/leads", body, HTTP_IDEMPOTENCY_KEY="k1")
    assert replay.json()["id"] == first.json()["id"]
    again = api.post("/leads", {**body, "message": "hello again"})
    assert again.json()["id"] == first.json()["id"] and again.json()["touches"] == 2
    assert Lead.objects.count() == 1


def test_lead_validation_is_a_problem_details_answer(api: Any) -> None:
    response = api.post("/leads", {"email": "nope"})
    assert response.status_code in (400, 422)
    problem = response.json()
    assert problem["status"] == response.status_code and "email" in str(problem)


def test_lead_list_cursor_and_filters(api: Any, user: Any) -> None:
    for i in range(3):
        services.lead_create(actor=user, data=services.LeadInput(last_name=f"L{i}"))
    page = api.get("/leads?limit=2")
    assert len(page.json()["items"]) == 2 and page.json()["next_cursor"]
    rest = api.get(f"/leads?limit=2&cursor={page.json()['next_cursor']}")
    assert len(rest.json()["items"]) == 1
    assert api.get("/leads?status=bogus").status_code in (400, 422)


def test_lead_patch_with_a_stale_etag_is_refused(api: Any, user: Any) -> None:
    lead = services.lead_create(actor=user, data=services.LeadInput(last_name="X"))
    etag = api.get(f"/leads/{lead.pk}")["ETag"]
    assert api.patch(f"/leads/{lead.pk}", {"title": "CTO"}, HTTP_IF_MATCH=etag).status_code == 200
    assert api.patch(f"/leads/{lead.pk}", {"title": "CEO"}, HTTP_IF_MATCH=etag).status_code == 412


def test_convert_and_disqualify_actions(api: Any, user: Any, pipeline: Any) -> None:
    lead = services.lead_create(
        actor=user,
        data=services.LeadInput(first_name="Ann", last_name="Lee", organization_name="Acme"),
    )
    response = api.post(f"/leads/{lead.pk}/convert", {"amount": "1500.00"})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["lead"]["status"] == "converted" and body["organization_id"]
    assert body["deal"]["amount"] == "1500.00"
    other = services.lead_create(actor=user, data=services.LeadInput(last_name="Spam"))
    bad = api.post(f"/leads/{other.pk}/disqualify", {"reason": ""})
    assert bad.status_code in (400, 422)
    ok = api.post(f"/leads/{other.pk}/disqualify", {"reason": "Spam"})
    assert ok.json()["status"] == "disqualified"


def test_deal_crud_and_move(api: Any, user: Any, pipeline: Any) -> None:
    customer = CustomerFactory(owner=user)
    created = api.post(
        "/deals",
        {"customer_id": customer.pk, "name": "Big", "amount": "99.90"},
        HTTP_IDEMPOTENCY_KEY="d1",
    )
    assert created.status_code == 201, created.json()
    deal_id = created.json()["id"]
    assert created.json()["stage_id"] == stage(pipeline, "Qualify").pk
    bad = api.post("/deals", {"customer_id": customer.pk, "amount": "12.345"})
    assert bad.status_code in (400, 422)
    etag = api.get(f"/deals/{deal_id}")["ETag"]
    moved = api.post(
        f"/deals/{deal_id}/move", {"stage_id": stage(pipeline, "Negotiate").pk}, HTTP_IF_MATCH=etag
    )
    assert moved.status_code == 200 and moved.json()["probability"] == 80
    stale = api.post(
        f"/deals/{deal_id}/move", {"stage_id": stage(pipeline, "Propose").pk}, HTTP_IF_MATCH=etag
    )
    assert stale.status_code == 412
    history = api.get(f"/deals/{deal_id}/stage-history").json()
    assert [h["via"] for h in history] == ["api", "api"]
    assert api.post(f"/deals/{deal_id}/lose", {"reason": "Budget"}).json()["status"] == "lost"
    assert api.post(f"/deals/{deal_id}/win", {}).json()["status"] == "won"
    assert api.delete(f"/deals/{deal_id}").status_code == 204


def test_deal_patch_of_stage_id_fires_rules_once(api: Any, user: Any, pipeline: Any) -> None:
    services.stage_update(
        actor=user,
        stage=stage(pipeline, "Negotiate"),
        data=services.StageInput(notify_owner=True, required_fields=["next_step"]),
    )
    deal = services.deal_create(
        actor=user, customer=CustomerFactory(owner=user), data=services.DealInput(name="X")
    )
    refused = api.patch(f"/deals/{deal.pk}", {"stage_id": stage(pipeline, "Negotiate").pk})
    assert refused.status_code in (400, 422)
    assert "To enter Negotiate, fill in: next step." in str(refused.json())
    ok = api.patch(
        f"/deals/{deal.pk}", {"stage_id": stage(pipeline, "Negotiate").pk, "next_step": "Call"}
    )
    assert ok.status_code == 200
    assert OutboxEvent.objects.filter(type="deal.owner_notified").count() == 1
    assert DealStageChange.objects.filter(deal=deal, via="api").count() == 1


def test_deal_create_via_api_in_a_notifying_stage_fires_once(
    api: Any, user: Any, pipeline: Any
) -> None:
    services.stage_update(
        actor=user, stage=stage(pipeline, "Propose"), data=services.StageInput(notify_owner=True)
    )
    response = api.post(
        "/deals",
        {"customer_id": CustomerFactory(owner=user).pk, "stage_id": stage(pipeline, "Propose").pk},
    )
    assert response.status_code == 201
    assert OutboxEvent.objects.filter(type="deal.owner_notified").count() == 1


def test_pipelines_and_stages(api: Any, pipeline: Any) -> None:
    listed = api.get("/pipelines").json()["items"]
    assert [p["name"] for p in listed] == ["Sales"]
    detail = api.get(f"/pipelines/{pipeline.pk}").json()
    assert [s["name"] for s in detail["stages"]][:2] == ["Qualify", "Propose"]
    created = api.post("/pipelines", {"name": "Renewals", "currency": "usd"})
    assert created.status_code == 201, created.json()
    assert created.json()["currency"] == "USD"
    new_id = created.json()["id"]
    stage_ = api.post(f"/pipelines/{new_id}/stages", {"name": "Open", "probability": 30})
    assert stage_.status_code == 201, stage_.json()
    bad = api.post(f"/pipelines/{new_id}/stages", {"name": "X", "probability": 300})
    assert bad.status_code in (400, 422)
    only = api.get(f"/stages?pipeline_id={new_id}").json()
    assert [s["name"] for s in only] == ["Open"]
    etag = stage_["ETag"]
    changed = api.patch(f"/stages/{stage_.json()['id']}", {"probability": 40}, HTTP_IF_MATCH=etag)
    assert changed.json()["probability"] == 40
    stale = api.patch(f"/stages/{stage_.json()['id']}", {"probability": 45}, HTTP_IF_MATCH=etag)
    assert stale.status_code == 412
    assert api.delete(f"/stages/{stage_.json()['id']}").status_code == 204


def test_a_key_without_the_deal_scope_is_refused(user: Any, pipeline: Any) -> None:
    api = api_for(user, ["sales.lead:read"])
    assert api.get("/deals").status_code == 403
    assert api.get("/leads").status_code == 200
    assert api.post("/leads", {"last_name": "X"}).status_code == 403
    assert Deal.objects.count() == 0
