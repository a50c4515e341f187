"""Lifetime value on the pages: the 360° panel and card, the customer equity page (record
scope, links to the customers behind each figure, constant queries, admin actions) and
the CLV segment fields."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.test import Client

from rapport.analytics import clv_services
from rapport.analytics.models.clv import ClvFit, ClvSettings, CustomerClv
from rapport.core.permissions import Scope
from rapport.customers import selectors as customer_selectors
from rapport.customers.models import Customer
from rapport.identity.tests.factories import UserFactory, user_with

from .clv_world import CALIBRATION_END, build

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def fitted():
    rep, other = user_with(Scope.OWN), user_with(Scope.OWN)
    world = build(45, owners=[rep, other, None])
    fit = clv_services.clv_fit_run(calibration_end=CALIBRATION_END)
    assert fit.error == ""
    return world, fit, rep


def test_panel_shows_value_and_what_drives_it(fitted):
    world, fit, _rep = fitted
    customer = world.customers[0]
    value = CustomerClv.objects.get(fit=fit, customer=customer)
    html = client_for(user_with(Scope.ALL)).get(customer.get_absolute_url()).content.decode()
    assert 'data-panel="clv"' in html
    assert f"{value.clv:,.2f} EUR" in html
    assert "What drives it" in html
    assert f"Bought on {value.frequency + 1} different day" in html


def test_no_panel_before_any_fit():
    """Issue 17: no placeholder panel until the app has something to show."""
    customer = Customer.objects.create(display_name="New")
    html = client_for(user_with(Scope.ALL)).get(customer.get_absolute_url()).content.decode()
    assert 'data-panel="clv"' not in html and "Lifetime value" not in html


def test_panel_for_a_customer_without_orders_before_the_fit(fitted):
    customer = Customer.objects.create(display_name="Late")
    html = client_for(user_with(Scope.ALL)).get(customer.get_absolute_url()).content.decode()
    assert "No lifetime value: this customer had no counted order" in html


def test_equity_page_totals_and_links_to_the_customers_behind(fitted):
    _world, fit, _ = fitted
    html = client_for(user_with(Scope.ALL)).get("/analytics/equity/").content.decode()
    total = CustomerClv.objects.filter(fit=fit).aggregate(t=Sum("clv"))["t"]
    assert f"{total:,.2f} EUR" in html
    assert f"/customers/?clv_fit={fit.pk}" in html
    assert f"lifecycle_stage=customer&amp;clv_fit={fit.pk}" in html
    assert "clv_cohort=" in html


def test_equity_respects_record_scope(fitted):
    _world, fit, rep = fitted
    own = CustomerClv.objects.filter(fit=fit, customer__owner=rep)
    expected = own.aggregate(t=Sum("clv"))["t"]
    from rapport.analytics import clv_selectors

    equity = clv_selectors.equity(actor=rep, fit=fit)
    assert equity.customers == own.count() == 15
    assert equity.total == Decimal(expected).quantize(Decimal("0.01"))
    assert [row.key for row in equity.by_owner] == [str(rep.pk)]
    assert sum(r.customers for r in equity.by_cohort) == 15
    assert equity.over_time[-1].customers == 15


def test_equity_page_queries_do_not_grow_with_customers(django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(user_with(Scope.ALL))
    build(40)
    assert clv_services.clv_fit_run(calibration_end=CALIBRATION_END).error == ""
    with CaptureQueriesContext(connection) as small:
        assert "By acquisition cohort" in client.get("/analytics/equity/").content.decode()
    build(80, seed=4, prefix="more")
    assert clv_services.clv_fit_run(calibration_end=CALIBRATION_END).error == ""
    with django_assert_max_num_queries(len(small)):
        assert "By acquisition cohort" in client.get("/analytics/equity/").content.decode()
    assert len(small) <= 13


def test_equity_page_empty_state_and_failed_fit():
    client = client_for(user_with(Scope.ALL))
    assert "No lifetime values yet" in client.get("/analytics/equity/").content.decode()
    clv_services.clv_fit_run(calibration_end=CALIBRATION_END)
    html = client.get("/analytics/equity/").content.decode()
    assert "could not be made" in html and "nothing to fit" in html


def test_equity_page_needs_the_customer_grant():
    assert client_for(UserFactory()).get("/analytics/equity/").status_code == 403


def test_fit_now_and_settings_are_for_admins(django_capture_on_commit_callbacks):
    rep = client_for(user_with(Scope.ALL))
    assert rep.post("/analytics/equity/fit/").status_code == 403
    assert (
        rep.post(
            "/analytics/equity/settings/", {"horizon_weeks": 26, "discount_rate": 5}
        ).status_code
        == 403
    )
    assert not ClvSettings.objects.filter(horizon_weeks=26).exists()
    admin = client_for(UserFactory(is_superuser=True))
    with django_capture_on_commit_callbacks(execute=False):
        response = admin.post("/analytics/equity/fit/")
    assert response.status_code == 302 and "/jobs/" in response["Location"]
    response = admin.post(
        "/analytics/equity/settings/", {"horizon_weeks": 26, "discount_rate": "5"}, follow=True
    )
    assert "Lifetime value settings saved" in response.content.decode()
    assert ClvSettings.objects.get().discount_rate == pytest.approx(0.05)
    response = admin.post(
        "/analytics/equity/settings/", {"horizon_weeks": "x", "discount_rate": "5"}, follow=True
    )
    assert "whole weeks" in response.content.decode()


def test_segment_fields_filter_on_the_latest_fit(fitted):
    _world, fit, _ = fitted
    actor = user_with(Scope.ALL)
    values = CustomerClv.objects.filter(fit=fit)
    threshold = sorted(v.clv for v in values)[30]
    matched = customer_selectors.customer_list(actor=actor, filters={"clv_min": str(threshold)})
    assert set(matched.values_list("pk", flat=True)) == set(
        values.filter(clv__gte=threshold).values_list("customer_id", flat=True)
    )
    low = customer_selectors.customer_list(actor=actor, filters={"p_alive_below": "0.5"})
    assert set(low.values_list("pk", flat=True)) == set(
        values.filter(p_alive__lt=0.5).values_list("customer_id", flat=True)
    )
    first = values.order_by("first_purchase").first()
    month = first.first_purchase.strftime("%Y-%m")
    cohort = customer_selectors.customer_list(actor=actor, filters={"clv_cohort": month})
    assert first.customer_id in set(cohort.values_list("pk", flat=True))
    everyone = customer_selectors.customer_list(actor=actor, filters={"clv_fit": str(fit.pk)})
    assert everyone.count() == 45
    for bad in (
        {"p_alive_min": "2"},
        {"clv_min": "lots"},
        {"clv_cohort": "March"},
        {"clv_fit": "999"},
    ):
        with pytest.raises(ValidationError):
            list(customer_selectors.customer_list(actor=actor, filters=bad))


def test_segment_fields_match_nobody_before_a_fit():
    Customer.objects.create(display_name="Someone")
    actor = user_with(Scope.ALL)
    assert not customer_selectors.customer_list(actor=actor, filters={"clv_min": "0"}).exists()
    assert ClvFit.objects.count() == 0
