"""Cleansing in bulk: the data-quality report computed in the background, and the
mechanical fix-ups (phones to E.164, name casing, ISO countries, postcodes, e-mails) run
as jobs with progress over the records the user may edit.

Starting a job is the service (checks access, creates the job, enqueues after commit);
the job bodies below run in the worker. Each fix-up batch goes through
`customers.services.customers_bulk_cleanse`, which audits every changed record and emits
its events, so the bulk path leaves the same trail as an edit by hand.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import ngettext

from rapport.core import registry
from rapport.core.jobs import Progress, job_create, run_job
from rapport.core.models import Job, JobStatus
from rapport.core.permissions import acting_user, can, require, system_actor
from rapport.customers import quality
from rapport.customers import selectors as customer_selectors
from rapport.customers import services as customer_services
from rapport.customers.models import Customer
from rapport.dataquality import selectors

CLEANSE_JOB_KIND = "dataquality.cleanse"
RESCORE_JOB_KIND = "customers.quality_rescore"
CLEANSE_BATCH = 500


def _counted(singular: str, plural: str, n: int) -> str:
    """ "1 record fixed", "1,200 records fixed": the right plural, the number grouped."""
    return ngettext(singular, plural, n) % f"{n:,}"


def _actor_of(job: Job) -> Any:
    """Whom a job acts for: its owner, or the system for scheduled and CLI jobs."""
    if job.owner_id is None:
        return system_actor()
    return get_user_model().objects.get(pk=job.owner_id)


# --- The report --------------------------------------------------------------------------


def report_refresh(*, actor: Any) -> Job:
    """Recompute the report for the actor's scope in the background (one aggregate query
    over their customers; at a million rows that is a second or more of a full scan)."""
    require(actor, "view", Customer)
    key = selectors.report_scope_key(actor=actor)
    _, running = selectors.latest_report(actor=actor)
    if running is not None:
        return running  # one at a time per scope: a second click waits for the first
    with transaction.atomic():
        job = job_create(
            owner=actor,
            kind=selectors.REPORT_JOB_KIND,
            title="Data-quality report",
            params={"scope_key": key},
        )
    _enqueue_after_commit("report_job", job)
    return job


def report_execute(job: Job, progress: Progress) -> dict[str, Any]:
    actor = _actor_of(job)
    counts = selectors.quality_counts(actor=actor)
    progress.set_total(counts["records"])
    progress.advance(counts["records"])
    # Only the newest report of a scope is worth keeping (this one, once it succeeds).
    Job.objects.filter(
        kind=selectors.REPORT_JOB_KIND,
        params__scope_key=job.params.get("scope_key"),
        status=JobStatus.SUCCEEDED,
    ).exclude(pk=job.pk).delete()
    return {"counts": counts, "computed_at": timezone.now().isoformat()}


def report_now(*, actor: Any) -> selectors.QualityReport:
    """Compute the report in this process and keep it as the scope's latest (small scopes,
    the end of a fix-up job, the hourly refresh)."""
    require(actor, "view", Customer)
    job = job_create(
        owner=acting_user(actor),
        kind=selectors.REPORT_JOB_KIND,
        title="Data-quality report",
        params={"scope_key": selectors.report_scope_key(actor=actor)},
    )
    result = run_job(job.pk, report_execute)
    job.refresh_from_db(fields=["finished_at"])
    return selectors.build_report(result["counts"], job.finished_at)


# --- Fix-ups -----------------------------------------------------------------------------


def cleanse_start(*, actor: Any, fix: str) -> Job:
    """Start a fix-up job over every record the actor may edit that has the fix's issue."""
    if fix not in customer_services.CLEANSING_FIXES:
        raise ValidationError({"fix": f"Unknown fix-up {fix!r}."})
    if not can(actor, "edit", Customer):
        raise PermissionDenied("Your role does not allow editing customers.")
    _, label = customer_services.CLEANSING_FIXES[fix]
    with transaction.atomic():
        job = job_create(owner=actor, kind=CLEANSE_JOB_KIND, title=label, params={"fix": fix})
    _enqueue_after_commit("cleanse_job", job)
    return job


def _targets(actor: Any, fix: str) -> Any:
    issue, _ = customer_services.CLEANSING_FIXES[fix]
    editable = customer_selectors.customer_list(actor=actor, action="edit").filter(
        erased_at__isnull=True
    )
    return customer_selectors.with_quality_issue(editable, [issue.name or ""])


def cleanse_execute(job: Job, progress: Progress) -> dict[str, Any]:
    """Fix the job's records in keyset batches by id, one transaction each. Stopped and
    run again, it picks up the records that still have the issue: the fixed ones no
    longer do, and a value the normalisers cannot fix is passed over, not retried."""
    actor = _actor_of(job)
    fix = job.params["fix"]
    targets = _targets(actor, fix)
    progress.set_total(targets.order_by().count())
    fixed = skipped = last = 0
    while True:
        ids = list(
            targets.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:CLEANSE_BATCH]
        )
        if not ids:
            break
        result = customer_services.customers_bulk_cleanse(actor=actor, customer_ids=ids, fix=fix)
        fixed += result.done
        skipped += result.skipped
        last = ids[-1]
        progress.advance(len(ids), message=_counted("%s record fixed", "%s records fixed", fixed))
    if job.owner_id is not None:
        report_now(actor=actor)  # the report the user returns to shows the result
    return {"fixed": fixed, "unchanged": progress.done - fixed - skipped, "skipped": skipped}


# --- Rescoring everything ------------------------------------------------------------------


def rescore_start(*, actor: Any) -> Job:
    """Recompute every customer's score (administrators: it reads every record)."""
    if not getattr(actor, "is_admin", False):
        raise PermissionDenied("Only administrators may rescore every customer.")
    with transaction.atomic():
        job = job_create(owner=actor, kind=RESCORE_JOB_KIND, title="Recompute data-quality scores")
    _enqueue_after_commit("rescore_job", job)
    return job


def rescore_scheduled() -> dict[str, Any]:
    """The daily recompute (and the first one after an upgrade), as a job anyone can see
    on the tasks page."""
    job = job_create(owner=None, kind=RESCORE_JOB_KIND, title="Recompute data-quality scores")
    return run_job(job.pk, rescore_execute)


def rescore_execute(job: Job, progress: Progress) -> dict[str, Any]:
    progress.set_total(Customer.objects.count())
    changed_total = 0

    def on_batch(seen: int, changed: int) -> None:
        nonlocal changed_total
        changed_total += changed
        progress.advance(
            seen, message=_counted("%s score changed", "%s scores changed", changed_total)
        )

    scored, changed = quality.rescore(on_batch=on_batch)
    return {"scored": scored, "changed": changed}


def _enqueue_after_commit(task_name: str, job: Job) -> None:
    def enqueue() -> None:
        registry.enqueue(f"dataquality.{task_name}", job_id=str(job.pk))

    transaction.on_commit(enqueue)
