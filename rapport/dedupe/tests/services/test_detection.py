"""Duplicate detection end to end on the real database: planted duplicates are found,
household members are not paired, reruns keep decisions, incremental runs score new
records without retraining, and the CLI honours its contract."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import subprocess
import sys

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from rapport.core.models import Job
from rapport.customers.models import Address, Customer, CustomerKind
from rapport.customers.tests.factories import organization, person
from rapport.dedupe import engine, services
from rapport.dedupe.models import DuplicatePair, DuplicateRun, PairStatus, RunMode, RunStatus
from rapport.dedupe.tests.planted import build
from rapport.identity.tests.factories import RoleFactory, UserFactory, user_with

pytestmark = pytest.mark.django_db


def _found(threshold: float) -> set[tuple[int, int]]:
    return set(
        DuplicatePair.objects.filter(probability__gte=threshold).values_list(
            "customer_a_id", "customer_b_id"
        )
    )


def test_full_run_finds_planted_duplicates_and_not_household_members():
    planted = build()
    run, detection = services.run_full(threshold=0.9)

    assert run.status == RunStatus.SUCCEEDED
    assert run.records == len(planted.ids)
    found = _found(0.9)
    recall = len(found & planted.duplicate_pairs) / len(planted.duplicate_pairs)
    assert recall >= 0.95, sorted(planted.duplicate_pairs - found)
    # Same surname, home and city but another first name and birth date: not a duplicate.
    assert not (found & planted.household_pairs)
    false_pairs = found - planted.duplicate_pairs
    assert len(false_pairs) <= 1, false_pairs
    # Every stored pair is ordered, carries its comparison levels and belongs to this run.
    pair = DuplicatePair.objects.order_by("-probability").first()
    assert pair is not None and pair.customer_a_id < pair.customer_b_id
    assert {"name", "birth_date", "email", "phone", "location"} <= set(pair.details)
    assert pair.details["name"]["level"] and isinstance(pair.details["name"]["weight"], float)
    assert pair.run_id == run.pk
    assert pair.cluster_key == min(
        m for g in detection.clusters if pair.customer_a_id in g for m in g
    )
    assert run.model["comparisons"], "the trained model is kept for incremental runs"


def test_dismissed_pair_stays_dismissed_after_rerun():
    planted = build(people=120, duplicates=15, households=0)
    services.run_full()
    a, b = sorted(planted.duplicate_pairs)[0]
    pair = DuplicatePair.objects.get(customer_a_id=a, customer_b_id=b)
    admin = user_with("all")
    services.pair_decide(actor=admin, pair=pair, status=PairStatus.DISMISSED)
    other_open = DuplicatePair.objects.filter(status=PairStatus.OPEN).count()

    services.run_full()

    pair.refresh_from_db()
    assert pair.status == PairStatus.DISMISSED
    assert pair.decided_by == admin
    assert DuplicatePair.objects.filter(customer_a_id=a, customer_b_id=b).count() == 1
    # The other open pairs were replaced by the rerun's, not piled up.
    assert DuplicatePair.objects.filter(status=PairStatus.OPEN).count() == other_open
    assert DuplicateRun.objects.filter(status=RunStatus.SUCCEEDED).count() == 2


def test_pair_decision_requires_edit_rights_on_both_customers():
    planted = build(people=60, duplicates=5, households=0)
    services.run_full()
    pair = DuplicatePair.objects.first()
    assert pair is not None
    viewer = user_with("all", actions=("view",))
    with pytest.raises(PermissionError if False else Exception) as info:
        services.pair_decide(actor=viewer, pair=pair, status=PairStatus.DISMISSED)
    assert info.type.__name__ == "PermissionDenied"
    pair.refresh_from_db()
    assert pair.status == PairStatus.OPEN
    assert planted.ids


def test_incremental_run_finds_duplicate_of_new_record_without_full_rerun():
    build(people=150, duplicates=15, households=0)
    full, _ = services.run_full()
    original = Customer.objects.get(external_id="p-3")
    address = Address.objects.get(customer=original)
    newcomer = Customer.objects.create(
        kind=CustomerKind.PERSON,
        first_name=original.first_name,
        last_name=original.last_name[:-1] + "x",
        display_name="new",
        birth_date=original.birth_date,
        primary_email="someone.new@example.com",
        city=original.city,
        external_id="new-1",
    )
    Address.objects.create(
        customer=newcomer, line1=address.line1, postcode=address.postcode, city=address.city
    )

    run, _pairs = services.run_incremental()

    assert run.mode == RunMode.INCREMENTAL
    assert run.records == 1, "only the new record is scored"
    assert run.parameters["model_run"] == full.pk
    a, b = sorted([original.pk, newcomer.pk])
    stored = DuplicatePair.objects.get(customer_a_id=a, customer_b_id=b)
    assert stored.probability >= 0.9
    assert stored.run == run
    # The full run's pairs between older records are untouched.
    assert DuplicatePair.objects.filter(run=full).exists()
    assert DuplicateRun.objects.filter(mode=RunMode.FULL).count() == 1


def test_cli_json_shape_and_threshold_filter():
    planted = build(people=120, duplicates=15, households=0)
    out = io.StringIO()
    call_command("dedupe", "--json", "--threshold", "0.99", stdout=out)
    strict = json.loads(out.getvalue())
    out = io.StringIO()
    call_command("dedupe", "--json", "--threshold", "0.5", stdout=out)
    loose = json.loads(out.getvalue())

    assert set(strict) == {"pairs", "clusters"}
    assert strict["pairs"], "planted duplicates are printed"
    customers = {
        c.pk: c
        for c in Customer.objects.filter(pk__in=planted.ids).only("external_id", "display_name")
    }
    for item in strict["pairs"]:
        assert set(item) == {"a", "b", "probability", "match_weight"}
        assert item["probability"] >= 0.99
        # Both sides are named the same way: the customer id, the external id (a separate
        # field, never standing in for the id) and the display name.
        for side in (item["a"], item["b"]):
            assert set(side) == {"id", "external_id", "name"}
            customer = customers[side["id"]]
            assert side["external_id"] == customer.external_id
            assert side["name"] == customer.display_name
        assert item["a"]["id"] < item["b"]["id"]
    assert all(len(c) >= 2 for c in strict["clusters"])
    assert len(loose["pairs"]) >= len(strict["pairs"])
    ids = {p["a"]["id"] for p in loose["pairs"]} | {p["b"]["id"] for p in loose["pairs"]}
    assert {m["id"] for c in loose["clusters"] for m in c} <= ids
    assert len(planted.duplicate_pairs) == 15


def test_cli_reports_each_step_on_stderr_and_keeps_stdout_pure_json(capsys):
    build(people=120, duplicates=15, households=0)
    out = io.StringIO()
    call_command("dedupe", "--json", stdout=out)
    json.loads(out.getvalue())  # nothing but the JSON document on stdout
    steps = [line for line in capsys.readouterr().err.splitlines() if line.startswith("dedupe:")]
    # Piped (not a terminal): one line per step, the training blocks included, so a long
    # training never looks stuck.
    assert any("training block 1 of" in line for line in steps), steps
    assert any("scored" in line for line in steps)
    assert steps[-1].startswith("dedupe: 100%")
    assert len(steps) >= 8


def test_cli_rejects_bad_threshold_in_process():
    with pytest.raises(CommandError, match="between 0 and 1"):
        call_command("dedupe", "--threshold", "1.5")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--threshold", "1.5"], "threshold must be between 0 and 1"),
        (["--threshold", "abc"], "invalid probability 'abc'"),
        (["--frobnicate"], "unrecognized arguments: --frobnicate"),
    ],
)
def test_cli_bad_input_is_one_line_and_non_zero(args, message, tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path}/unused.sqlite3"}
    result = subprocess.run(
        [sys.executable, "-m", "rapport.config.cli", "dedupe", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


# --- Run bookkeeping, the threshold check and starting a run from the UI ---


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
