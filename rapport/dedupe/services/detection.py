"""Duplicate detection runs (full and incremental) and review decisions on pairs.

A run reads every live person, scores candidate pairs with the engine and replaces the
*open* pairs with what it found, in one transaction; decided pairs (dismissed, merged) are
never reopened or rescored. Merge and unmerge (issue 5, "Review and merge") plug in here by
setting a pair's status to MERGED through `pair_decide`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from rapport.core import audit, registry
from rapport.core.models import AuditAction, Job
from rapport.core.permissions import acting_user, require
from rapport.customers.models import Customer, CustomerKind
from rapport.dedupe import engine, organizations
from rapport.dedupe.loader import load_persons, persons
from rapport.dedupe.models import DuplicatePair, DuplicateRun, PairStatus, RunMode, RunStatus

ProgressCallback = Callable[[str, int], None]
INSERT_BATCH = 5_000


def _noop(step: str, pct: int) -> None:
    return None


def validate_threshold(threshold: float) -> float:
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
    return threshold


def latest_run(*, mode: str | None = None, with_model: bool = False) -> DuplicateRun | None:
    runs = DuplicateRun.objects.filter(status=RunStatus.SUCCEEDED)
    if mode:
        runs = runs.filter(mode=mode)
    if with_model:
        runs = runs.exclude(model={})
    return runs.order_by("-started_at", "-id").first()


def last_attempt() -> DuplicateRun | None:
    """The newest finished run when it did not succeed (not trained, failed): the queue
    says why, since the pairs on show are older than it."""
    run = (
        DuplicateRun.objects.exclude(status=RunStatus.RUNNING)
        .order_by("-started_at", "-id")
        .defer("model")
        .first()
    )
    return run if run is not None and run.status != RunStatus.SUCCEEDED else None


def _decided_pairs() -> set[tuple[int, int]]:
    return set(
        DuplicatePair.objects.exclude(status=PairStatus.OPEN).values_list(
            "customer_a_id", "customer_b_id"
        )
    )


def _cluster_keys(groups: list[list[int]]) -> dict[int, int]:
    return {member: group[0] for group in groups for member in group}


def _insert_pairs(run: DuplicateRun, pairs: pd.DataFrame, keys: dict[int, int]) -> int:
    decided = _decided_pairs()
    now = timezone.now()
    rows = [
        DuplicatePair(
            customer_a_id=int(a),
            customer_b_id=int(b),
            probability=float(p),
            match_weight=float(w),
            details=d,
            cluster_key=keys.get(int(a)),
            run=run,
            created_at=now,
        )
        for a, b, p, w, d in zip(
            pairs["id_a"],
            pairs["id_b"],
            pairs["probability"],
            pairs["match_weight"],
            pairs["details"],
            strict=True,
        )
        if (int(a), int(b)) not in decided
    ]
    DuplicatePair.objects.bulk_create(rows, batch_size=INSERT_BATCH)
    return len(rows)


def _start(mode: str, threshold: float, job: Job | None) -> DuplicateRun:
    return DuplicateRun.objects.create(
        mode=mode,
        threshold=threshold,
        job=job,
        parameters={
            "engine_version": engine.ENGINE_VERSION,
            "review_threshold": engine.REVIEW_THRESHOLD,
        },
    )


def _fail(run: DuplicateRun, exc: BaseException) -> None:
    DuplicateRun.objects.filter(pk=run.pk).update(
        status=RunStatus.FAILED,
        finished_at=timezone.now(),
        error=f"{type(exc).__name__}: {exc}"[:4000],
    )


def run_full(
    *,
    threshold: float = engine.DEFAULT_THRESHOLD,
    progress: ProgressCallback = _noop,
    job: Job | None = None,
) -> tuple[DuplicateRun, engine.Detection]:
    """Retrain on everyone, rescore everyone, replace the open pairs."""
    validate_threshold(threshold)
    run = _start(RunMode.FULL, threshold, job)
    try:
        t = time.perf_counter()
        raw = load_persons()
        load_seconds = time.perf_counter() - t
        progress("loaded", 10)
        try:
            detection = engine.detect(raw, threshold=threshold, progress=progress)
        except engine.CannotTrain as exc:
            # Not a failure of the software: the data lacks what the model learns from.
            # Say so on the duplicates page and leave the open pairs as they were.
            DuplicateRun.objects.filter(pk=run.pk).update(
                status=RunStatus.UNTRAINED,
                finished_at=timezone.now(),
                records=len(raw),
                error=str(exc),
            )
            run.refresh_from_db()
            progress("not trained", 100)
            return run, engine.Detection(engine.empty_pairs(), [], {}, len(raw))
        detection = _with_organizations(detection, threshold)
        t = time.perf_counter()
        with transaction.atomic():
            DuplicatePair.objects.filter(status=PairStatus.OPEN).delete()
            stored = _insert_pairs(run, detection.pairs, _cluster_keys(detection.clusters))
            run.status = RunStatus.SUCCEEDED
            run.finished_at = timezone.now()
            run.records = detection.records
            run.pairs_found = stored
            run.clusters_found = len(detection.clusters)
            run.model = detection.model
            run.parameters = {
                **run.parameters,
                "plan": detection.plan,
                "timings": {
                    "load": round(load_seconds, 3),
                    **{k: round(v, 3) for k, v in detection.timings.items()},
                    "save": round(time.perf_counter() - t, 3),
                },
            }
            run.save()
    except BaseException as exc:
        _fail(run, exc)
        raise
    progress("saved", 100)
    return run, detection


def _with_organizations(detection: engine.Detection, threshold: float) -> engine.Detection:
    """Add duplicate organizations (scored by their own rules) to a person run's result."""
    t = time.perf_counter()
    found = organizations.detect(threshold=engine.REVIEW_THRESHOLD)
    if found.empty:
        return detection
    return dataclasses.replace(
        detection,
        pairs=pd.concat([p for p in (detection.pairs, found) if not p.empty], ignore_index=True),
        clusters=sorted(
            detection.clusters + engine.cluster(found, threshold=threshold), key=lambda g: g[0]
        ),
        timings={**detection.timings, "organizations": time.perf_counter() - t},
    )


def changed_since(since: dt.datetime) -> list[int]:
    return list(persons().filter(updated_at__gte=since).values_list("id", flat=True))


def run_incremental(
    *,
    threshold: float = engine.DEFAULT_THRESHOLD,
    progress: ProgressCallback = _noop,
    job: Job | None = None,
) -> tuple[DuplicateRun, pd.DataFrame]:
    """Score only records created or changed since the last run, against everyone, with
    the model of the last full run. Without a trained model yet, runs a full detection."""
    validate_threshold(threshold)
    trained = latest_run(mode=RunMode.FULL, with_model=True)
    if trained is None:
        run, detection = run_full(threshold=threshold, progress=progress, job=job)
        return run, detection.pairs
    previous = latest_run()
    assert previous is not None  # the trained full run at least
    since = previous.started_at
    run = _start(RunMode.INCREMENTAL, threshold, job)
    try:
        changed = changed_since(since)
        progress("changed records found", 10)
        pairs = engine.empty_pairs()
        if changed:
            raw = load_persons()
            progress("loaded", 30)
            pairs = engine.detect_new(raw, changed, model=trained.model, threshold=threshold)
        changed_orgs = list(
            Customer.objects.filter(
                kind=CustomerKind.ORGANIZATION, updated_at__gte=since
            ).values_list("id", flat=True)
        )
        if changed_orgs:
            org_pairs = organizations.detect(
                threshold=engine.REVIEW_THRESHOLD, changed=changed_orgs
            )
            pairs = (
                pd.concat([p for p in (pairs, org_pairs) if not p.empty])
                if not org_pairs.empty
                else pairs
            )
            changed = [*changed, *changed_orgs]
        progress("scored", 80)
        with transaction.atomic():
            for start in range(0, len(changed), 5_000):
                chunk = changed[start : start + 5_000]
                DuplicatePair.objects.filter(status=PairStatus.OPEN).filter(
                    Q(customer_a_id__in=chunk) | Q(customer_b_id__in=chunk)
                ).delete()
            stored = _insert_pairs(run, pairs, {})
            clusters = recluster(threshold)
            run.status = RunStatus.SUCCEEDED
            run.finished_at = timezone.now()
            run.records = len(changed)
            run.pairs_found = stored
            run.clusters_found = clusters
            run.parameters = {**run.parameters, "since": since.isoformat(), "model_run": trained.pk}
            run.save()
    except BaseException as exc:
        _fail(run, exc)
        raise
    progress("saved", 100)
    return run, pairs


def recluster(threshold: float) -> int:
    """Recompute cluster keys of the open pairs at `threshold`, writing only changed rows."""
    rows = list(
        DuplicatePair.objects.filter(status=PairStatus.OPEN).values_list(
            "id", "customer_a_id", "customer_b_id", "probability", "cluster_key"
        )
    )
    if not rows:
        return 0
    frame = pd.DataFrame(rows, columns=["pk", "id_a", "id_b", "probability", "cluster_key"])
    groups = engine.cluster(frame, threshold=threshold)
    keys = _cluster_keys(groups)
    changed = []
    for pk, a, _b, probability, old in rows:
        new = keys.get(a) if probability >= threshold else None
        if new != old:
            changed.append(DuplicatePair(pk=pk, cluster_key=new))
    DuplicatePair.objects.bulk_update(changed, ["cluster_key"], batch_size=INSERT_BATCH)
    return len(groups)


@transaction.atomic
def pair_decide(*, actor: Any, pair: DuplicatePair, status: str) -> DuplicatePair:
    """Record a reviewer's decision on a pair (dismissed: not duplicates; merged)."""
    if status not in (PairStatus.DISMISSED, PairStatus.MERGED, PairStatus.OPEN):
        raise ValueError(f"unknown pair status {status!r}")
    a = Customer.objects.get(pk=pair.customer_a_id)
    b = Customer.objects.get(pk=pair.customer_b_id)
    require(actor, "edit", a)
    require(actor, "edit", b)
    before = pair.status
    pair.status = status
    pair.decided_at = timezone.now() if status != PairStatus.OPEN else None
    pair.decided_by = actor if status != PairStatus.OPEN else None
    pair.save(update_fields=["status", "decided_at", "decided_by"])
    audit.record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=pair,
        object_type="dedupe.duplicatepair",
        changes={"status": [before, status]},
    )
    return pair


def record_identities(ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Customer id -> {"id", "external_id" (None when it has none), "name"}: how the
    command line names each side of a pair, always the same way."""
    id_list = sorted(set(ids))
    found: dict[int, dict[str, Any]] = {}
    for start in range(0, len(id_list), 10_000):
        chunk = id_list[start : start + 10_000]
        rows = Customer.objects.filter(pk__in=chunk).values_list(
            "id", "external_id", "display_name"
        )
        for pk, ext, name in rows:
            found[pk] = {"id": pk, "external_id": ext or None, "name": name}
    return found


def external_ids(ids: Iterable[int]) -> dict[int, str]:
    """Customer id -> external id (the id as text for records without one)."""
    id_list = sorted(set(ids))
    found: dict[int, str] = {}
    for start in range(0, len(id_list), 10_000):
        chunk = id_list[start : start + 10_000]
        for pk, ext in Customer.objects.filter(pk__in=chunk).values_list("id", "external_id"):
            found[pk] = ext if ext else str(pk)
    return found


@transaction.atomic
def detection_start(*, actor: Any) -> Job:
    """Queue a full detection run now (admins), as a job the user can watch."""
    from rapport.core.jobs import job_create

    if not getattr(actor, "is_admin", False):
        raise PermissionDenied("Only an administrator may start duplicate detection.")
    job = job_create(
        owner=acting_user(actor),
        kind="dedupe.full",
        title="Duplicate detection (full)",
        params={"threshold": engine.DEFAULT_THRESHOLD},
    )
    transaction.on_commit(lambda: registry.enqueue("dedupe.dedupe_full", job_id=str(job.pk)))
    return job
