"""The CLV writes: fit the models on the orders and store every customer's value (the
worker's task calls it, on a schedule and when an admin asks), queue a fit, change the
horizon and discount rate."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from rapport.analytics.clv import fitting
from rapport.analytics.clv_features import EPOCH, Features, customer_features
from rapport.analytics.models.clv import ClvFit, ClvFitStatus, ClvSettings, CustomerClv
from rapport.core import audit, bulk, outbox, registry
from rapport.core.models import AuditAction, Job
from rapport.core.permissions import acting_user

WRITE_BATCH = 5_000
ProgressCallback = Callable[[str, int], None]


def _noop(step: str, pct: int) -> None:
    pass


@dataclass(frozen=True)
class ClvComputation:
    features: Features
    result: fitting.ClvResult
    calibration_end: dt.date
    horizon_weeks: int
    discount_rate: float
    currency: str


def validate_horizon_and_rate(horizon_weeks: int, discount_rate: float) -> None:
    errors = {}
    if not 1 <= horizon_weeks <= 520:
        errors["horizon_weeks"] = "The horizon must be between 1 and 520 weeks (ten years)."
    if not 0 <= discount_rate <= 1:
        errors["discount_rate"] = "The discount rate is a yearly rate between 0 and 1 (0.1 = 10 %)."
    if errors:
        raise ValidationError(errors)


def current_settings() -> ClvSettings:
    """The one settings row (created with the defaults on first use)."""
    row = ClvSettings.objects.order_by("pk").first()
    return row if row is not None else ClvSettings.objects.create()


def compute(
    *,
    calibration_end: dt.date,
    horizon_weeks: int,
    discount_rate: float,
    currency: str | None = None,
    progress: ProgressCallback = _noop,
) -> ClvComputation:
    """Aggregate the orders and fit both models; writes nothing (the CLI prints it).
    Raises ClvFitError with the reason when the orders cannot support a fit."""
    validate_horizon_and_rate(horizon_weeks, discount_rate)
    code = currency or settings.DEFAULT_CURRENCY
    progress("Reading orders", 5)
    features = customer_features(
        calibration_end=calibration_end,
        currency=code,
        progress=lambda done, total: progress("Reading orders", 5 + 40 * done // max(total, 1)),
    )
    progress("Fitting the models", 50)
    result = fitting.fit_and_predict(
        features.summary, horizon_weeks=horizon_weeks, annual_discount_rate=discount_rate
    )
    return ClvComputation(
        features=features,
        result=result,
        calibration_end=calibration_end,
        horizon_weeks=horizon_weeks,
        discount_rate=discount_rate,
        currency=code,
    )


def clv_fit_run(
    *,
    calibration_end: dt.date | None = None,
    job: Job | None = None,
    requested_by: Any = None,
    progress: ProgressCallback = _noop,
) -> ClvFit:
    """Fit on the orders up to `calibration_end` (default: yesterday) with the settings'
    horizon and rate, and store every customer's values under a new fit. When the orders
    cannot support a fit, the fit is stored as failed with the reason and earlier fits
    stay in use."""
    config = current_settings()
    end = calibration_end or (timezone.localdate() - dt.timedelta(days=1))
    fit = ClvFit.objects.create(
        calibration_end=end,
        horizon_weeks=config.horizon_weeks,
        discount_rate=config.discount_rate,
        currency=settings.DEFAULT_CURRENCY,
        job=job,
        requested_by=acting_user(requested_by) if requested_by is not None else None,
    )
    started = time.perf_counter()
    try:
        done = compute(
            calibration_end=end,
            horizon_weeks=config.horizon_weeks,
            discount_rate=config.discount_rate,
            currency=fit.currency,
            progress=progress,
        )
    except fitting.ClvFitError as exc:
        ClvFit.objects.filter(pk=fit.pk).update(
            status=ClvFitStatus.FAILED,
            error=str(exc),
            finished_at=timezone.now(),
            seconds=time.perf_counter() - started,
        )
        fit.refresh_from_db()
        return fit
    progress("Storing customer values", 70)
    _store(fit, done, started, progress)
    fit.refresh_from_db()
    return fit


@transaction.atomic
def _store(fit: ClvFit, done: ClvComputation, started: float, progress: ProgressCallback) -> None:
    f, res = done.features, done.result
    maker = bulk.RowMaker(
        CustomerClv(
            fit=fit,
            customer_id=0,
            frequency=0,
            recency=0.0,
            age=0.0,
            monetary=Decimal("0.00"),
            first_purchase=dt.date(1970, 1, 1),
            p_alive=0.0,
            expected_purchases=0.0,
            expected_spend=Decimal("0.00"),
            clv=Decimal("0.00"),
        ),
        (
            "customer_id",
            "frequency",
            "recency",
            "age",
            "monetary",
            "first_purchase",
            "p_alive",
            "expected_purchases",
            "expected_spend",
            "clv",
        ),
    )
    first_dates = (EPOCH + f.first_purchase.astype("timedelta64[D]")).astype(dt.date)
    columns = (
        f.customer_ids.tolist(),
        f.summary.frequency.astype(np.int64).tolist(),
        np.round(f.summary.recency, 4).tolist(),
        np.round(f.summary.T, 4).tolist(),
        _money(f.summary.monetary),
        first_dates.tolist(),
        np.round(res.p_alive, 6).tolist(),
        np.round(res.expected_purchases, 6).tolist(),
        _money(res.expected_spend),
        _money(res.clv),
    )
    n = len(f)
    # Keyset batches in customer-id order: bounded memory per INSERT/COPY.
    for start in range(0, n, WRITE_BATCH):
        stop = min(start + WRITE_BATCH, n)
        rows = zip(*(c[start:stop] for c in columns), strict=True)
        bulk.insert_rows(maker, [maker.row(*row) for row in rows])
        progress("Storing customer values", 70 + 28 * stop // max(n, 1))
    equity = Decimal(str(round(float(res.clv.sum()), 2)))
    ClvFit.objects.filter(pk=fit.pk).update(
        status=ClvFitStatus.SUCCEEDED,
        finished_at=timezone.now(),
        seconds=time.perf_counter() - started,
        customers=n,
        repeat_customers=int((f.summary.frequency > 0).sum()),
        r=res.bgnbd.r,
        alpha=res.bgnbd.alpha,
        a=res.bgnbd.a,
        b=res.bgnbd.b,
        log_likelihood=res.bgnbd.log_likelihood,
        p=res.gamma_gamma.p,
        q=res.gamma_gamma.q,
        gamma=res.gamma_gamma.gamma,
        equity=equity,
    )
    fit.refresh_from_db()
    outbox.emit(
        "clv.fitted",
        {
            "fit_id": fit.pk,
            "calibration_end": fit.calibration_end.isoformat(),
            "customers": n,
            "equity": str(equity),
            "currency": fit.currency,
        },
        aggregate=fit,
    )


def _money(values: np.ndarray[Any, Any]) -> list[Decimal]:
    # Two places, as the columns hold them; str() of a rounded float is exact to the cent.
    return [Decimal(f"{v:.2f}") for v in values.tolist()]


@transaction.atomic
def clv_fit_start(*, actor: Any) -> Job:
    """Queue a fit now (administrators), as a job the user can watch."""
    from rapport.core.jobs import job_create

    if not getattr(actor, "is_admin", False):
        raise PermissionDenied("Only an administrator may start a lifetime value fit.")
    job = job_create(owner=acting_user(actor), kind="analytics.clv_fit", title="Lifetime value fit")
    transaction.on_commit(lambda: registry.enqueue("analytics.clv_fit", job_id=str(job.pk)))
    return job


@transaction.atomic
def clv_settings_update(*, actor: Any, horizon_weeks: int, discount_rate: float) -> ClvSettings:
    """Change the horizon and discount rate the next fits use (administrators)."""
    if not getattr(actor, "is_admin", False):
        raise PermissionDenied("Only an administrator may change the lifetime value settings.")
    validate_horizon_and_rate(horizon_weeks, discount_rate)
    row = ClvSettings.objects.select_for_update().get(pk=current_settings().pk)
    before = audit.snapshot(row)
    row.horizon_weeks = horizon_weeks
    row.discount_rate = discount_rate
    if changes := audit.diff(before, audit.snapshot(row)):
        row.save()
        audit.record(actor=actor, action=AuditAction.UPDATE, obj=row, changes=changes)
    return row


def erase_customer_values(*, customer_id: int) -> int:
    """GDPR erasure: a person's predicted values go with them (inside customer_erase's
    transaction)."""
    deleted, _ = CustomerClv.objects.filter(customer_id=customer_id).delete()
    return deleted
