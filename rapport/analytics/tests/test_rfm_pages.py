"""RFM pages, panel and segment fields: record scope (a rep's grid counts only their own
customers and their drill-down lists no one else), query counts and the recompute job."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.utils import timezone

from rapport.analytics import rfm, rfm_panels, rfm_selectors
from rapport.analytics.models import RfmScore
from rapport.commerce.models import Order
from rapport.commerce.tests.factories import CustomerFactory
from rapport.core.models import Job, JobStatus
from rapport.core.permissions import Scope
from rapport.customers import selectors as customer_selectors
from rapport.identity.tests.factories import TeamFactory, UserFactory, user_with

pytestmark = pytest.mark.django_db


def _buy(customer: Any, days_ago: int, total: int) -> None:
    Order.objects.create(
        customer=customer,
        currency="EUR",
        total=Decimal(total),
        status="delivered",
        ordered_at=timezone.now() - dt.timedelta(days=days_ago),
    )


def _customer(name: str, owner: Any, team: Any, purchases: list[tuple[int, int]]) -> Any:
    customer = CustomerFactory(display_name=name, owner=owner, team=team)
    for days_ago, total in purchases:
        _buy(customer, days_ago, total)
    return customer


@pytest.fixture
def world() -> dict[str, Any]:
    north, south = TeamFactory(name="North"), TeamFactory(name="South")
    rep = user_with(Scope.OWN, teams=[north])
    manager = user_with(Scope.TEAM, teams=[north])
    boss = user_with(Scope.ALL)
    other = UserFactory()
    _customer("Rep Best", rep, north, [(1, 500), (10, 500), (20, 500)])
    _customer("Rep Gone", rep, north, [(700, 20)])
    _customer("North Mid", other, north, [(60, 100), (90, 100)])
    _customer("South Top", other, south, [(2, 900), (4, 900), (8, 900), (16, 900)])
    _customer("South Old", other, south, [(400, 60)])
    rfm.score_all()
    return {"rep": rep, "manager": manager, "boss": boss}


VISIBLE = {
    "rep": {"Rep Best", "Rep Gone"},
    "manager": {"Rep Best", "Rep Gone", "North Mid"},
    "boss": {"Rep Best", "Rep Gone", "North Mid", "South Top", "South Old"},
}


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("who", ["rep", "manager", "boss"])
def test_overview_counts_only_visible_customers(world: dict[str, Any], who: str) -> None:
    user = world[who]
    overview = rfm_selectors.rfm_overview(actor=user)
    assert overview.customers == len(VISIBLE[who])
    assert sum(c.customers for row in overview.rows for c in row) == len(VISIBLE[who])
    visible = RfmScore.objects.filter(customer__display_name__in=VISIBLE[who])
    assert overview.revenue == sum(s.monetary for s in visible)
    html = _client(user).get("/analytics/rfm/").content.decode()
    assert f"data-rfm-total>{len(VISIBLE[who])}<" in html


@pytest.mark.parametrize("who", ["rep", "manager", "boss"])
def test_drill_down_lists_only_visible_customers(world: dict[str, Any], who: str) -> None:
    client = _client(world[who])
    html = client.get("/analytics/rfm/customers/").content.decode()
    for name in VISIBLE["boss"]:
        assert (name in html) == (name in VISIBLE[who]), name


def test_every_cell_and_segment_links_to_its_customers(world: dict[str, Any]) -> None:
    client = _client(world["boss"])
    html = client.get("/analytics/rfm/").content.decode()
    for score in RfmScore.objects.select_related("customer"):
        cell_url = f"/analytics/rfm/customers/?r={score.r_score}&amp;f={score.f_score}"
        assert cell_url in html
        cell = client.get(cell_url.replace("&amp;", "&")).content.decode()
        assert score.customer.display_name in cell
        segment = client.get(f"/analytics/rfm/customers/?segment={score.segment}")
        assert score.customer.display_name in segment.content.decode()
    # A cell lists its own customers only.
    best = RfmScore.objects.get(customer__display_name="South Top")
    html = client.get(f"/analytics/rfm/customers/?r={best.r_score}&f={best.f_score}").content
    assert b"South Old" not in html


def test_bad_filter_is_said_on_the_page(world: dict[str, Any]) -> None:
    response = _client(world["boss"]).get("/analytics/rfm/customers/?segment=vip&r=9")
    assert response.status_code == 200
    assert b"Select a valid choice" in response.content


def test_the_list_makes_the_same_queries_for_few_rows_and_many(
    world: dict[str, Any], django_assert_num_queries: Any
) -> None:
    client = _client(world["boss"])
    client.get("/analytics/rfm/customers/")
    with django_assert_num_queries(5):
        client.get("/analytics/rfm/customers/")
    for n in range(20):
        _customer(f"Extra {n}", None, None, [(n + 1, 10 * (n + 1))])
    rfm.score_all()
    with django_assert_num_queries(5):
        assert b"Extra 19" in client.get("/analytics/rfm/customers/").content


def test_overview_and_empty_states() -> None:
    boss = user_with(Scope.ALL)
    html = _client(boss).get("/analytics/rfm/").content.decode()
    assert "No RFM scores yet" in html
    listing = _client(boss).get("/analytics/rfm/customers/").content.decode()
    assert "No scored customers yet" in listing


def test_a_user_without_customers_gets_403() -> None:
    user = user_with(Scope.ALL, object_types=("commerce.order",))
    assert _client(user).get("/analytics/rfm/").status_code == 403
    assert _client(user).get("/analytics/rfm/customers/").status_code == 403


@pytest.mark.parametrize("who", ["rep", "boss"])
def test_panel_on_the_360_page_respects_scope(world: dict[str, Any], who: str) -> None:
    south = customer_selectors.customer_list(actor=world["boss"]).get(display_name="South Top")
    context = rfm_panels.customer_panel_context(actor=world[who], customer=south)
    if who == "rep":
        assert context is None
        return
    assert context is not None and context["rfm"].segment == "champions"
    page = _client(world[who]).get(south.get_absolute_url()).content.decode()
    assert 'data-rfm-segment="champions"' in page


def test_segment_fields_filter_the_customer_list(world: dict[str, Any]) -> None:
    boss = world["boss"]
    champions = customer_selectors.customer_list(actor=boss, filters={"rfm_segment": "champions"})
    rows = RfmScore.objects.filter(segment="champions")
    expected = set(rows.values_list("customer__display_name", flat=True))
    assert set(champions.values_list("display_name", flat=True)) == expected
    assert "South Top" in expected
    top = RfmScore.objects.get(customer__display_name="South Top")
    cell = customer_selectors.customer_list(
        actor=boss, filters={"rfm_r": str(top.r_score), "rfm_f": str(top.f_score)}
    )
    assert "South Top" in set(cell.values_list("display_name", flat=True))
    # Scope still applies: the rep's champions are theirs only.
    rep = world["rep"]
    mine = customer_selectors.customer_list(actor=rep, filters={"rfm_segment": "champions"})
    assert set(mine.values_list("display_name", flat=True)) <= VISIBLE["rep"]
    with pytest.raises(Exception, match="Unknown RFM segment"):
        list(customer_selectors.customer_list(actor=boss, filters={"rfm_segment": "vip"}))
    with pytest.raises(Exception, match="whole number from 1 to 5"):
        list(customer_selectors.customer_list(actor=boss, filters={"rfm_r": "7"}))
    page = _client(boss).get("/customers/?rfm_segment=champions").content.decode()
    assert "South Top" in page and "South Old" not in page


def test_recompute_runs_a_job_for_administrators(
    world: dict[str, Any], immediate_tasks: None, django_capture_on_commit_callbacks: Any
) -> None:
    with pytest.raises(PermissionDenied):
        rfm.rfm_recompute_start(actor=world["boss"])
    admin = UserFactory(is_superuser=True)
    RfmScore.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        response = _client(admin).post("/analytics/rfm/recompute/")
    assert response.status_code == 302
    job = Job.objects.get(kind=rfm.RFM_JOB_KIND)
    assert job.status == JobStatus.SUCCEEDED
    assert job.result["scored"] == 5 == RfmScore.objects.count()
    assert str(job.pk) in response.url
    assert _client(world["boss"]).post("/analytics/rfm/recompute/").status_code == 403


def test_scheduled_run_scores_everyone(world: dict[str, Any]) -> None:
    RfmScore.objects.all().delete()
    result = rfm.rfm_scheduled()
    assert result["scored"] == 5
    assert Job.objects.get(kind=rfm.RFM_JOB_KIND, owner=None).status == JobStatus.SUCCEEDED


def test_gdpr_export_and_erase(world: dict[str, Any]) -> None:
    from rapport.analytics.models import Recommendation
    from rapport.core import registry
    from rapport.core.gdpr import ErasureContext

    contributor = next(c for c in registry.gdpr_contributors() if c.key == "analytics.rfm")
    score = RfmScore.objects.select_related("customer").get(customer__display_name="South Top")
    exported = contributor.export(customer_id=score.pk)
    assert exported is not None and exported["rfm"]["segment"] == "champions"
    assert contributor.export(customer_id=0) is None
    ctx = ErasureContext(actor=None, customer_id=score.pk, label="Erased")
    assert contributor.erase(ctx=ctx) == 1
    assert not RfmScore.objects.filter(pk=score.pk).exists()
    assert not Recommendation.objects.filter(customer_id=score.pk).exists()
