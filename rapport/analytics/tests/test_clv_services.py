"""Lifetime value from the database: the SQL features equal the NumPy definition, a fit
stores every customer's values and the equity, a fit the data cannot support is stored
as failed with its reason, and the admin-only actions."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from rapport.analytics import clv_services
from rapport.analytics.clv import summary
from rapport.analytics.clv_features import customer_features
from rapport.analytics.models.clv import ClvFit, ClvFitStatus, ClvSettings, CustomerClv
from rapport.core.models import AuditLogEntry, Job, JobStatus, OutboxEvent
from rapport.identity.tests.factories import UserFactory

from .clv_world import CALIBRATION_END, build

pytestmark = pytest.mark.django_db
EPOCH = dt.date(1970, 1, 1)


def test_sql_features_equal_the_numpy_definition():
    world = build(40)
    features = customer_features(calibration_end=CALIBRATION_END, currency="EUR", batch=7)
    ids, expected = summary.summarise_transactions(
        [c for c, _, _ in world.counted],
        [(d - EPOCH).days for _, d, _ in world.counted],
        [a for _, _, a in world.counted],
        calibration_end_day=(CALIBRATION_END - EPOCH).days,
    )
    assert features.customer_ids.tolist() == ids.tolist()
    assert features.summary.frequency.tolist() == expected.frequency.tolist()
    np.testing.assert_allclose(features.summary.recency, expected.recency)
    np.testing.assert_allclose(features.summary.T, expected.T)
    np.testing.assert_allclose(features.summary.monetary, expected.monetary, atol=1e-9)
    assert np.any(features.summary.frequency > 0)


def test_orders_on_one_day_are_one_purchase_and_others_do_not_count():
    world = build(8)
    shopper = world.customers[0]  # index 0: a same-day order, cancelled, returned and USD ones
    features = customer_features(calibration_end=CALIBRATION_END, currency="EUR")
    row = features.customer_ids.tolist().index(shopper.pk)
    own = [(d, a) for c, d, a in world.counted if c == shopper.pk]
    days = sorted({d for d, _ in own})
    assert features.summary.frequency[row] == len(days) - 1
    first_day_spend = sum(a for d, a in own if d == days[0])
    if len(days) > 1:
        repeat = sum(a for _, a in own) - first_day_spend
        assert features.summary.monetary[row] == pytest.approx(repeat / (len(days) - 1))


def test_fit_run_stores_every_customers_value_and_the_equity():
    build(80)
    fit = clv_services.clv_fit_run(calibration_end=CALIBRATION_END)
    assert fit.status == ClvFitStatus.SUCCEEDED, fit.error
    values = CustomerClv.objects.filter(fit=fit)
    assert values.count() == fit.customers == 80
    assert fit.repeat_customers == values.filter(frequency__gt=0).count()
    total = sum(v.clv for v in values)
    assert abs(fit.equity - total) <= 0.01 * fit.customers
    assert all(0 <= v.p_alive <= 1 and v.clv >= 0 for v in values)
    assert all(x is not None and np.isfinite(x) for x in (fit.r, fit.alpha, fit.a, fit.b, fit.p))
    assert (fit.horizon_weeks, fit.discount_rate, fit.currency) == (52, 0.10, "EUR")
    assert OutboxEvent.objects.filter(type="clv.fitted").count() == 1


def test_fit_without_orders_is_stored_as_failed_with_the_reason():
    fit = clv_services.clv_fit_run(calibration_end=CALIBRATION_END)
    assert fit.status == ClvFitStatus.FAILED
    assert "nothing to fit" in fit.error
    assert not CustomerClv.objects.exists()


def test_compute_refuses_a_bad_horizon():
    with pytest.raises(ValidationError):
        clv_services.compute(calibration_end=CALIBRATION_END, horizon_weeks=0, discount_rate=0.1)


def test_fit_start_is_for_admins_and_runs_the_task(
    immediate_tasks, django_capture_on_commit_callbacks
):
    build(40)
    with pytest.raises(PermissionDenied):
        clv_services.clv_fit_start(actor=UserFactory())
    admin = UserFactory(is_superuser=True)
    with django_capture_on_commit_callbacks(execute=True):
        job = clv_services.clv_fit_start(actor=admin)
    job = Job.objects.get(pk=job.pk)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.result["fitted"] is True
    fit = ClvFit.objects.get(pk=job.result["fit"])
    assert fit.requested_by_id == admin.pk and fit.job_id == job.pk


def test_settings_update_is_validated_audited_and_used_by_the_next_fit():
    build(40)
    admin = UserFactory(is_superuser=True)
    with pytest.raises(PermissionDenied):
        clv_services.clv_settings_update(actor=UserFactory(), horizon_weeks=26, discount_rate=0.05)
    with pytest.raises(ValidationError, match="horizon"):
        clv_services.clv_settings_update(actor=admin, horizon_weeks=0, discount_rate=0.05)
    with pytest.raises(ValidationError, match="discount rate"):
        clv_services.clv_settings_update(actor=admin, horizon_weeks=26, discount_rate=1.5)
    row = clv_services.clv_settings_update(actor=admin, horizon_weeks=26, discount_rate=0.05)
    assert ClvSettings.objects.get().horizon_weeks == 26
    assert AuditLogEntry.objects.filter(object_id=str(row.pk), action="update").exists()
    fit = clv_services.clv_fit_run(calibration_end=CALIBRATION_END)
    assert (fit.horizon_weeks, fit.discount_rate) == (26, 0.05)
    short = sum(v.clv for v in CustomerClv.objects.filter(fit=fit))
    clv_services.clv_settings_update(actor=admin, horizon_weeks=104, discount_rate=0.05)
    longer = clv_services.clv_fit_run(calibration_end=CALIBRATION_END)
    assert sum(v.clv for v in CustomerClv.objects.filter(fit=longer)) > short


def test_erasing_a_person_removes_their_values():
    world = build(30)
    clv_services.clv_fit_run(calibration_end=CALIBRATION_END)
    target = world.customers[0]
    assert clv_services.erase_customer_values(customer_id=target.pk) == 1
    assert not CustomerClv.objects.filter(customer=target).exists()
    assert CustomerClv.objects.count() == 29
