"""Writes of churn prediction: train the model on a time split, score every active
customer, and start either as a background job.

The time split: with W the churn window, the model is fitted on features as of
`now - 2W` labelled by orders in [now - 2W, now - W), and evaluated on features as of
`now - W` labelled by orders in [now - W, now): the evaluation period is entirely after
everything the fit saw. The model kept for scoring is then refitted on the later period
(the same recipe, the freshest labels), and scores features as of now.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import numpy as np
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from rapport.analytics import churn_features, churn_model, churn_selectors
from rapport.analytics.models import ChurnModelRun, ChurnRunStatus, ChurnScore
from rapport.core import audit, outbox, registry
from rapport.core.jobs import job_create
from rapport.core.models import AuditAction, Job
from rapport.core.permissions import can

OBJECT_TYPE = "analytics.churn_model"

TRAIN_JOB_KIND = "analytics.churn_train"
WRITE_BATCH = 2000


def _require_admin(actor: Any, what: str) -> None:
    # Training and scoring read every customer's orders: roles granted "create" on the
    # churn model (administrators, the scheduler's system actor) only.
    if not can(actor, "create", OBJECT_TYPE):
        raise PermissionDenied(f"Your role does not allow you to {what}.")


def run_payload(run: ChurnModelRun) -> dict[str, Any]:
    return {
        "id": run.pk,
        "status": run.status,
        "message": run.message,
        "estimator": run.estimator,
        "train_size": run.train_size,
        "eval_size": run.eval_size,
        "roc_auc": run.metrics.get("roc_auc"),
        "scored_count": run.scored_count,
    }


def churn_model_train(
    *,
    actor: Any,
    now: dt.datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> ChurnModelRun:
    """Fit, evaluate on the later period and store a churn model run. Too little history
    gives a run with status "insufficient" and a message saying what is missing, never
    an exception."""
    _require_admin(actor, "train the churn model")
    now = now or timezone.now()
    window = dt.timedelta(days=churn_features.window_days())
    eval_cutoff, train_cutoff = now - window, now - 2 * window
    say = progress or (lambda _message: None)
    say("Computing features as of the training cut-off")
    train = churn_features.extract(train_cutoff, label_until=eval_cutoff)
    say("Computing features as of the evaluation cut-off")
    held_out = churn_features.extract(eval_cutoff, label_until=now)
    run = ChurnModelRun(
        window_days=window.days,
        active_days=churn_features.active_days(),
        train_cutoff=train_cutoff,
        eval_cutoff=eval_cutoff,
        observed_until=now,
        train_size=len(train),
        train_churned=int(np.sum(train.churned)) if train.churned is not None else 0,
        eval_size=len(held_out),
        eval_churned=int(np.sum(held_out.churned)) if held_out.churned is not None else 0,
        features=list(churn_features.FEATURE_NAMES),
    )
    assert train.churned is not None and held_out.churned is not None
    problems = [
        f"{period} period {why}"
        for period, table in (("training", train), ("evaluation", held_out))
        if (why := churn_model.insufficient(table.churned))  # type: ignore[arg-type]
    ]
    if problems:
        run.status = ChurnRunStatus.INSUFFICIENT
        run.message = ("Not enough history to train: " + "; ".join(problems) + ".")[:500]
    else:
        say("Fitting and evaluating the candidate models")
        best: tuple[float, churn_model.Fitted, dict[str, Any]] | None = None
        compared = {}
        for name in churn_model.candidates():
            fitted = churn_model.fit(name, train.X, train.churned, train.names)
            metrics = churn_model.evaluate(fitted, held_out.X, held_out.churned, importance=False)
            compared[name] = metrics["roc_auc"]
            if best is None or metrics["roc_auc"] > best[0]:
                best = (metrics["roc_auc"], fitted, metrics)
        assert best is not None
        _auc, chosen, _metrics = best
        metrics = churn_model.evaluate(chosen, held_out.X, held_out.churned)
        metrics["compared"] = compared
        say(f"Refitting {chosen.name} on the latest period")
        final = churn_model.fit(chosen.name, held_out.X, held_out.churned, held_out.names)
        final.explain_columns = churn_model.explain_columns(final.names, metrics["importance"])
        run.status = ChurnRunStatus.TRAINED
        run.estimator = chosen.name
        run.metrics = metrics
        run.model_blob = final.dumps()
        run.message = f"Held-out ROC AUC {metrics['roc_auc']:.3f} ({chosen.name})."
    with transaction.atomic():
        run.save(force_insert=True)
        audit.record(
            actor=actor,
            action=AuditAction.CREATE,
            obj=run,
            changes={"status": [None, run.status], "message": [None, run.message]},
        )
        outbox.emit("churn_model.trained", run_payload(run), aggregate=run)
    return run


def churn_scores_refresh(
    *,
    actor: Any,
    run: ChurnModelRun | None = None,
    now: dt.datetime | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Score every customer active now with the latest trained model (or `run`): risk and
    top reasons, upserted in bulk; scores of customers no longer active are removed.
    Returns how many were scored; 0 when no model is trained yet.

    Derived values, like the data-quality score: one audit row and one event for the
    whole refresh, not one per customer."""
    _require_admin(actor, "score every customer")
    run = run or churn_selectors.latest_trained_run()
    if run is None or run.model_blob is None:
        return 0
    fitted = churn_model.Fitted.loads(run.model_blob)
    now = now or timezone.now()
    scored = 0
    for seen, ids, X in churn_features.batches(now):
        for start in range(0, len(ids), WRITE_BATCH):
            part_ids, part_X = ids[start : start + WRITE_BATCH], X[start : start + WRITE_BATCH]
            risk, reasons = churn_model.explain(fitted, part_X)
            rows = [
                ChurnScore(
                    customer_id=int(cid),
                    run_id=run.pk,
                    probability=round(float(p), 4),
                    reasons=why,
                    scored_at=now,
                )
                for cid, p, why in zip(part_ids, risk, reasons, strict=True)
            ]
            with transaction.atomic():
                ChurnScore.objects.bulk_create(
                    rows,
                    update_conflicts=True,
                    unique_fields=["customer"],
                    update_fields=["run", "probability", "reasons", "scored_at"],
                )
            scored += len(rows)
        if on_batch is not None:
            on_batch(seen)
    with transaction.atomic():
        # Customers no longer active (or gone) keep no stale risk.
        ChurnScore.objects.exclude(run_id=run.pk, scored_at=now).delete()
        before = run.scored_count
        ChurnModelRun.objects.filter(pk=run.pk).update(scored_at=now, scored_count=scored)
        run.scored_at, run.scored_count = now, scored
        audit.record(
            actor=actor, action=AuditAction.UPDATE, obj=run, changes={"scored": [before, scored]}
        )
        outbox.emit("churn_scores.refreshed", run_payload(run), aggregate=run)
    return scored


def churn_train_start(*, actor: Any) -> Job:
    """Queue a training and a scoring of every customer as a job with progress (the admin
    page's button)."""
    _require_admin(actor, "train the churn model")
    with transaction.atomic():
        job = job_create(owner=actor, kind=TRAIN_JOB_KIND, title="Train the churn model and score")

        def enqueue() -> None:
            registry.enqueue("analytics.churn_train_job", job_id=str(job.pk))

        transaction.on_commit(enqueue)
    return job
