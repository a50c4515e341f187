"""churn_model_train, churn_scores_refresh and churn_train_start: the time split, the run
they store, what happens with too little data, who may call them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from rapport.analytics import churn_features, churn_model, churn_services
from rapport.analytics.models import ChurnModelRun, ChurnRunStatus, ChurnScore
from rapport.analytics.tests import churn_world
from rapport.commerce.tests.factories import CustomerFactory
from rapport.core.models import AuditLogEntry, Job, OutboxEvent
from rapport.core.permissions import Scope, system_actor
from rapport.identity.tests.factories import UserFactory, user_with


@pytest.fixture
def admin(db):
    return UserFactory(is_superuser=True)


def test_train_uses_a_time_split_and_stores_a_loadable_model(admin, monkeypatch):
    now = timezone.now()
    churn_world.build(now=now)
    calls = []
    real_extract = churn_features.extract

    def spy(cutoff, **kwargs):
        calls.append((cutoff, kwargs.get("label_until")))
        return real_extract(cutoff, **kwargs)

    monkeypatch.setattr(churn_features, "extract", spy)
    run = churn_services.churn_model_train(actor=admin, now=now)

    window = dt.timedelta(days=180)
    # Fitted on features at now-2W labelled up to now-W; checked on the period after.
    assert calls == [(now - 2 * window, now - window), (now - window, now)]
    assert (run.train_cutoff, run.eval_cutoff, run.observed_until) == (
        now - 2 * window,
        now - window,
        now,
    )
    assert run.status == ChurnRunStatus.TRAINED, run.message
    assert run.metrics["roc_auc"] > 0.8
    assert set(run.metrics["compared"]) == {"gradient boosting", "logistic regression"}
    assert run.estimator in run.metrics["compared"]
    assert 0 < run.train_churned < run.train_size
    fitted = churn_model.Fitted.loads(ChurnModelRun.objects.get(pk=run.pk).model_blob)
    assert fitted.names == churn_features.FEATURE_NAMES
    entry = AuditLogEntry.objects.get(object_type="analytics.churnmodelrun", object_id=str(run.pk))
    assert entry.actor_id == admin.pk
    assert OutboxEvent.objects.filter(type="churn_model.trained").count() == 1


@pytest.mark.parametrize(
    "setup",
    ["nothing", "one customer", "no churner"],
)
def test_too_little_data_gives_a_clear_run_not_a_crash(admin, setup):
    now = timezone.now()
    if setup == "one customer":
        churn_world.build(1, now=now)
    elif setup == "no churner":
        customers = churn_world.build(120, now=now)
        # Keep only the loyal half's orders: nobody churns.
        from rapport.commerce.models import Order

        Order.objects.filter(customer__in=customers[1::2]).delete()
    run = churn_services.churn_model_train(actor=admin, now=now)
    assert run.status == ChurnRunStatus.INSUFFICIENT
    assert run.model_blob is None
    assert "needs at least 50 active customers with 10 churned and 10 retained" in run.message
    assert churn_services.churn_scores_refresh(actor=admin) == 0


def test_scores_refresh_scores_active_customers_with_reasons(admin):
    now = timezone.now()
    customers = churn_world.build(now=now)
    lapsed = CustomerFactory()  # no orders: never scored
    run = churn_services.churn_model_train(actor=admin, now=now)
    stale = ChurnScore.objects.create(customer=lapsed, run=run, probability=0.5)

    scored = churn_services.churn_scores_refresh(actor=admin, now=now)

    active = churn_features.extract(now)
    assert scored == len(active) == ChurnScore.objects.count()
    assert not ChurnScore.objects.filter(pk=stale.pk).exists()
    loyal = ChurnScore.objects.get(customer=customers[0])
    gone = ChurnScore.objects.filter(customer__in=customers[1::2]).order_by("-probability").first()
    assert gone is not None and gone.probability > loyal.probability
    assert 1 <= len(gone.reasons) <= 3
    assert {"feature", "value", "delta"} <= set(gone.reasons[0])
    assert all(r["delta"] >= churn_model.REASON_MIN_DELTA for r in gone.reasons)
    run.refresh_from_db()
    assert (run.scored_count, run.scored_at) == (scored, now)
    assert OutboxEvent.objects.filter(type="churn_scores.refreshed").count() == 1
    # Scoring again upserts: one row per customer.
    assert churn_services.churn_scores_refresh(actor=admin, now=now) == scored
    assert ChurnScore.objects.count() == scored


def test_only_roles_granted_the_churn_model_train_and_score(db):
    rep = user_with(Scope.ALL)  # may see every customer, not the model
    with pytest.raises(PermissionDenied):
        churn_services.churn_model_train(actor=rep)
    with pytest.raises(PermissionDenied):
        churn_services.churn_scores_refresh(actor=rep)
    with pytest.raises(PermissionDenied):
        churn_services.churn_train_start(actor=rep)
    assert churn_services.churn_model_train(actor=system_actor()).pk


def test_train_start_queues_a_job_for_the_admin(
    admin, django_capture_on_commit_callbacks, monkeypatch
):
    queued = []
    monkeypatch.setattr(
        "rapport.core.registry.enqueue", lambda name, **kw: queued.append((name, kw))
    )
    with django_capture_on_commit_callbacks(execute=True):
        job = churn_services.churn_train_start(actor=admin)
    assert Job.objects.get(pk=job.pk).owner == admin
    assert queued == [("analytics.churn_train_job", {"job_id": str(job.pk)})]
