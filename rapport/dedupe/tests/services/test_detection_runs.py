"""Duplicate detection's bookkeeping: which run counts (`latest_run`, `last_attempt`),
what an incremental run rescores (`changed_since`), cluster keys after a partial rescore
(`recluster`), how the command line names records (`record_identities`), the threshold
check (`validate_threshold`) and starting a run from the UI (`detection_start`)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from rapport.core.models import Job
from rapport.customers.models import Customer
from rapport.customers.tests.factories import organization, person
from rapport.dedupe import engine, services
from rapport.dedupe.models import DuplicatePair, DuplicateRun, PairStatus, RunMode, RunStatus
from rapport.identity.tests.factories import RoleFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()


@pytest.fixture
def admin():
    return UserFactory(is_superuser=True)


def _run(mode: str, status: str, minutes_ago: int, model: dict | None = None) -> DuplicateRun:
    return DuplicateRun.objects.create(
        mode=mode,
        status=status,
        threshold=0.9,
        started_at=NOW - dt.timedelta(minutes=minutes_ago),
        model=model or {},
    )


def test_validate_threshold_accepts_probabilities_only() -> None:
    assert services.validate_threshold(0.0) == 0.0
    assert services.validate_threshold(1.0) == 1.0
    for bad in (-0.01, 1.5):
        with pytest.raises(ValueError, match="between 0 and 1"):
            services.validate_threshold(bad)
    with pytest.raises(ValueError):
        services.run_full(threshold=2.0)
    assert not DuplicateRun.objects.exists()


def test_latest_run_is_the_newest_success_of_the_mode_asked() -> None:
    assert services.latest_run() is None
    trained = _run(RunMode.FULL, RunStatus.SUCCEEDED, 60, model={"m": 0.9})
    _run(RunMode.FULL, RunStatus.SUCCEEDED, 30)  # full, but nothing learnt (kept old model)
    incremental = _run(RunMode.INCREMENTAL, RunStatus.SUCCEEDED, 10)
    _run(RunMode.FULL, RunStatus.FAILED, 1)
    assert services.latest_run() == incremental
    assert services.latest_run(mode=RunMode.FULL).started_at == NOW - dt.timedelta(minutes=30)
    assert services.latest_run(mode=RunMode.FULL, with_model=True) == trained


def test_last_attempt_names_a_newer_run_that_did_not_succeed() -> None:
    assert services.last_attempt() is None
    _run(RunMode.FULL, RunStatus.SUCCEEDED, 60)
    assert services.last_attempt() is None
    untrained = _run(RunMode.FULL, RunStatus.UNTRAINED, 30)
    assert services.last_attempt() == untrained
    _run(RunMode.FULL, RunStatus.RUNNING, 1)  # still running: not an attempt yet
    assert services.last_attempt() == untrained
    _run(RunMode.INCREMENTAL, RunStatus.SUCCEEDED, 0)
    assert services.last_attempt() is None


def test_changed_since_lists_live_persons_changed_since_then(admin) -> None:
    before = person(admin, "Ada", "Lovelace")
    Customer.objects.filter(pk=before.pk).update(updated_at=NOW - dt.timedelta(days=1))
    since = NOW - dt.timedelta(hours=1)
    changed = person(admin, "Grace", "Hopper")
    merged = person(admin, "Grace", "Hopper")
    Customer.objects.filter(pk=merged.pk).update(merged_into=changed)
    organization(admin, "Acme")  # organizations are scored by their own rules
    assert services.changed_since(since) == [changed.pk]


def test_recluster_regroups_open_pairs_and_leaves_decided_ones(admin) -> None:
    a, b, c, d, e = (person(admin, "Ada", f"Lovelace{i}") for i in range(5))

    def pair(x, y, p, status=PairStatus.OPEN, key=None):
        return DuplicatePair.objects.create(
            customer_a=x,
            customer_b=y,
            probability=p,
            match_weight=5,
            status=status,
            cluster_key=key,
        )

    ab, bc, weak = pair(a, b, 0.97), pair(b, c, 0.95), pair(a, c, 0.4, key=a.pk)
    de = pair(d, e, 0.99, status=PairStatus.DISMISSED, key=123)

    assert services.recluster(0.9) == 1
    keys = dict(DuplicatePair.objects.values_list("pk", "cluster_key"))
    assert keys[ab.pk] == keys[bc.pk] == a.pk  # one cluster, keyed by its smallest id
    assert keys[weak.pk] is None  # below the threshold: in no cluster
    assert keys[de.pk] == 123  # a reviewer's decision is not rescored

    # A stricter threshold splits the cluster.
    assert services.recluster(0.96) == 1
    keys = dict(DuplicatePair.objects.values_list("pk", "cluster_key"))
    assert (keys[ab.pk], keys[bc.pk]) == (a.pk, None)
    DuplicatePair.objects.filter(status=PairStatus.OPEN).delete()
    assert services.recluster(0.9) == 0


def test_record_identities_names_each_record_the_same_way(admin) -> None:
    ada = person(admin, "Ada", "Lovelace", external_id="CRM-1")
    grace = person(admin, "Grace", "Hopper")
    found = services.record_identities([grace.pk, ada.pk, ada.pk, 999_999])
    assert found == {
        ada.pk: {"id": ada.pk, "external_id": "CRM-1", "name": "Ada Lovelace"},
        grace.pk: {"id": grace.pk, "external_id": None, "name": "Grace Hopper"},
    }


def test_detection_start_queues_a_full_run_after_commit(
    admin, settings, django_capture_on_commit_callbacks
) -> None:
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    with django_capture_on_commit_callbacks(execute=True):
        job = services.detection_start(actor=admin)
    assert (job.kind, job.owner_id, job.params) == (
        "dedupe.full",
        admin.pk,
        {"threshold": engine.DEFAULT_THRESHOLD},
    )
    queued = DBTaskResult.objects.get()
    assert queued.task_path == "rapport.dedupe.tasks.dedupe_full"
    assert queued.args_kwargs["kwargs"] == {"job_id": str(job.pk)}
    assert not DuplicateRun.objects.exists()  # the worker runs it, not the request


def test_detection_start_is_for_administrators(django_capture_on_commit_callbacks) -> None:
    clerk = UserFactory(role=RoleFactory())
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(PermissionDenied),
    ):
        services.detection_start(actor=clerk)
    assert callbacks == []
    assert not Job.objects.exists()
    assert not DBTaskResult.objects.exists()
