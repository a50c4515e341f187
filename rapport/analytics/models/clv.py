"""Customer lifetime value: each fit of the BG/NBD and Gamma-Gamma models (its parameters,
calibration date, horizon and discount rate) and every customer's predictions from it.

A fit's per-customer rows are a snapshot: the 360° page, the segment fields and the
equity page read the latest successful fit; older fits stay for the equity over time.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ClvSettings(models.Model):
    """One row: the horizon and discount rate the scheduled fit uses (admins edit them)."""

    horizon_weeks = models.PositiveIntegerField(default=52)
    # Annual rate: 0.10 discounts a purchase a year from now to 1/1.1 of its amount.
    discount_rate = models.FloatField(default=0.10)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "CLV settings"
        verbose_name_plural = "CLV settings"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(horizon_weeks__gte=1, horizon_weeks__lte=520),
                name="clv_settings_horizon_range",
            ),
            models.CheckConstraint(
                condition=models.Q(discount_rate__gte=0, discount_rate__lte=1),
                name="clv_settings_rate_range",
            ),
        ]

    def __str__(self) -> str:
        return f"CLV over {self.horizon_weeks} weeks at {self.discount_rate:.0%} a year"


class ClvFitStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    # The data cannot support a fit (`error` says why, in words): earlier fits stay.
    FAILED = "failed", "Failed"


class ClvFit(models.Model):
    status = models.CharField(
        max_length=10, choices=ClvFitStatus.choices, default=ClvFitStatus.RUNNING
    )
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    calibration_end = models.DateField()
    horizon_weeks = models.PositiveIntegerField()
    discount_rate = models.FloatField()
    currency = models.CharField(max_length=3)
    customers = models.PositiveIntegerField(default=0)
    repeat_customers = models.PositiveIntegerField(default=0)
    # BG/NBD (time in weeks) and Gamma-Gamma (money in `currency`).
    r = models.FloatField(null=True, blank=True)
    alpha = models.FloatField(null=True, blank=True)
    a = models.FloatField(null=True, blank=True)
    b = models.FloatField(null=True, blank=True)
    log_likelihood = models.FloatField(null=True, blank=True)
    p = models.FloatField(null=True, blank=True)
    q = models.FloatField(null=True, blank=True)
    gamma = models.FloatField(null=True, blank=True)
    # Customer equity: the sum of every customer's discounted CLV.
    equity = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    seconds = models.FloatField(default=0)
    error = models.TextField(blank=True)
    job = models.ForeignKey(
        "core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["status", "-started_at"], name="clv_fit_latest")]

    def __str__(self) -> str:
        return f"CLV fit {self.pk} to {self.calibration_end} ({self.status})"


class CustomerClv(models.Model):
    """One customer's summary and predictions in one fit."""

    fit = models.ForeignKey(ClvFit, on_delete=models.CASCADE, related_name="values", db_index=False)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    frequency = models.PositiveIntegerField()  # repeat purchase days
    recency = models.FloatField()  # weeks from the first to the last purchase day
    age = models.FloatField()  # T: weeks from the first purchase day to the calibration end
    monetary = models.DecimalField(max_digits=12, decimal_places=2)  # mean repeat-day spend
    first_purchase = models.DateField()  # the acquisition cohort
    p_alive = models.FloatField()
    expected_purchases = models.FloatField()  # in the fit's horizon
    expected_spend = models.DecimalField(max_digits=12, decimal_places=2)
    clv = models.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["fit", "customer"], name="clv_value_fit_customer"),
        ]
        indexes = [
            models.Index(fields=["customer", "fit"], name="clv_value_customer"),
            models.Index(fields=["fit", "clv"], name="clv_value_fit_clv"),
            models.Index(fields=["fit", "p_alive"], name="clv_value_fit_alive"),
        ]

    def __str__(self) -> str:
        return f"CLV of customer {self.customer_id} in fit {self.fit_id}"
