"""The churn model page (metrics, calibration plot, features, empty and insufficient
states, the train button), the 360° panel with reasons, record scope, the segment
fields and GDPR."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from rapport.analytics import churn_selectors, churn_services
from rapport.analytics.models import ChurnScore
from rapport.analytics.tests import churn_world
from rapport.commerce.tests.factories import CustomerFactory
from rapport.core import registry
from rapport.core.permissions import Scope
from rapport.customers import selectors as customer_selectors
from rapport.identity.tests.factories import TeamFactory, UserFactory, user_with


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin(db):
    return UserFactory(is_superuser=True)


@pytest.fixture
def scored(admin):
    customers = churn_world.build(now=timezone.now())
    run = churn_services.churn_model_train(actor=admin)
    churn_services.churn_scores_refresh(actor=admin, run=run)
    return customers


def test_model_page_empty_state(admin):
    html = client_for(admin).get("/analytics/churn/").content.decode()
    assert "No churn model yet" in html
    assert "Train the model" in html


def test_model_page_says_what_is_missing(admin):
    churn_world.build(12, now=timezone.now())
    churn_services.churn_model_train(actor=admin)
    response = client_for(admin).get("/analytics/churn/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Not enough history yet" in html
    assert "needs at least 50 active customers with 10 churned" in html


def test_model_page_shows_metrics_plot_and_features(admin, scored, django_assert_max_num_queries):
    client = client_for(admin)
    with django_assert_max_num_queries(12):
        response = client.get("/analytics/churn/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-metric="roc_auc"' in html
    assert '<svg class="churn-plot"' in html and '<circle class="point"' in html
    assert "Days since last order" in html
    assert "Precision and recall by threshold" in html
    assert "?churn_risk_band=high" in html


def test_model_page_and_button_need_the_grant(scored):
    rep = user_with(Scope.ALL)
    client = client_for(rep)
    assert client.get("/analytics/churn/").status_code == 403
    assert client.post("/analytics/churn/train/").status_code == 403


def test_train_button_starts_a_job(admin, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr("rapport.core.registry.enqueue", lambda *a, **kw: None)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(admin).post("/analytics/churn/train/")
    assert response.status_code == 302
    assert "?job=" in response["Location"]
    page = client_for(admin).get(response["Location"]).content.decode()
    assert "Train the churn model and score" in page


def test_panel_shows_risk_and_reasons_in_words(admin, scored):
    score = ChurnScore.objects.filter(customer__in=scored).order_by("-probability").first()
    html = client_for(admin).get(f"/customers/{score.customer_id}/").content.decode()
    assert 'data-panel="churn-risk"' in html
    assert "chance of no order in the next 180 days" in html
    assert "Mainly because of:" in html
    risk = churn_selectors.customer_risk(actor=admin, customer_id=score.customer_id)
    assert risk.reasons
    assert risk.reasons[0].text.lower() in html.lower()


def test_panel_hidden_for_a_customer_without_score(admin, scored):
    lapsed = CustomerFactory()
    html = client_for(admin).get(f"/customers/{lapsed.pk}/").content.decode()
    assert 'data-panel="churn-risk"' not in html


def test_rep_sees_risk_only_for_customers_they_may_see(db):
    north = TeamFactory(name="North")
    rep = user_with(Scope.OWN, teams=[north])
    manager = user_with(Scope.TEAM, teams=[north])
    other = UserFactory()
    mine = churn_world.build(80, owner=rep, team=north, now=timezone.now())
    theirs = churn_world.build(80, seed=9, owner=other, now=timezone.now())
    admin = UserFactory(is_superuser=True)
    run = churn_services.churn_model_train(actor=admin)
    churn_services.churn_scores_refresh(actor=admin, run=run)
    assert churn_selectors.customer_risk(actor=rep, customer_id=mine[0].pk) is not None
    assert churn_selectors.customer_risk(actor=rep, customer_id=theirs[0].pk) is None
    assert churn_selectors.customer_risk(actor=manager, customer_id=mine[1].pk) is not None
    assert churn_selectors.customer_risk(actor=manager, customer_id=theirs[1].pk) is None
    # The segment field counts only what the rep may see.
    visible = customer_selectors.customer_list(actor=rep, filters={"churn_risk_min": "0"})
    assert set(visible.values_list("pk", flat=True)) <= {c.pk for c in mine}
    assert visible.count() == ChurnScore.objects.filter(customer__in=mine).count()


def test_segment_fields_filter_by_risk(admin, scored):
    fields = registry.segment_fields("customers.customer")
    assert {"churn_risk_min", "churn_risk_below", "churn_risk_band"} <= set(fields)
    high = customer_selectors.customer_list(actor=admin, filters={"churn_risk_min": "60"})
    assert set(high.values_list("pk", flat=True)) == set(
        ChurnScore.objects.filter(probability__gte=0.6).values_list("customer_id", flat=True)
    )
    band = customer_selectors.customer_list(actor=admin, filters={"churn_risk_band": "high"})
    assert set(band.values_list("pk", flat=True)) == set(high.values_list("pk", flat=True))
    low = customer_selectors.customer_list(actor=admin, filters={"churn_risk_below": "30"})
    assert all(c.churn_score.probability < 0.3 for c in low)
    response = client_for(admin).get("/customers/?churn_risk_min=abc")
    assert "Give a churn risk in percent, 0 to 100." in response.content.decode()


def test_gdpr_export_and_erase(admin, scored):
    contributor = {c.key: c for c in registry.gdpr_contributors()}["analytics.churn"]
    customer_id = ChurnScore.objects.first().customer_id
    exported = contributor.export(customer_id=customer_id)
    assert 0 <= exported["churn_risk"]["probability"] <= 1

    class Ctx:
        pass

    ctx = Ctx()
    ctx.customer_id = customer_id
    assert contributor.erase(ctx=ctx) == 1
    assert not ChurnScore.objects.filter(customer_id=customer_id).exists()
