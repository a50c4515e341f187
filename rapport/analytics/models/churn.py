"""Defection (churn) prediction: each fitted model with its held-out metrics, and each
customer's latest risk with the reasons behind it."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class ChurnRunStatus(models.TextChoices):
    TRAINED = "trained", "Trained"
    # Too little history to fit (too few customers, or no churned/retained ones): the
    # run keeps the counts so the admin page can say what is missing.
    INSUFFICIENT = "insufficient", "Not enough data"
    FAILED = "failed", "Failed"


class ChurnModelRun(models.Model):
    """One training of the churn model on a time split: fitted on features as of
    `train_cutoff` with labels observed up to `eval_cutoff`, evaluated on features as of
    `eval_cutoff` with labels observed up to `observed_until`, then refitted on the later
    period for scoring (`model_blob`, joblib)."""

    created_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=16, choices=ChurnRunStatus.choices)
    message = models.CharField(max_length=500, blank=True)
    window_days = models.PositiveIntegerField()
    active_days = models.PositiveIntegerField()
    train_cutoff = models.DateTimeField()
    eval_cutoff = models.DateTimeField()
    observed_until = models.DateTimeField()
    train_size = models.PositiveIntegerField(default=0)
    train_churned = models.PositiveIntegerField(default=0)
    eval_size = models.PositiveIntegerField(default=0)
    eval_churned = models.PositiveIntegerField(default=0)
    estimator = models.CharField(max_length=100, blank=True)
    # roc_auc, average_precision, threshold, precision, recall, base_rate, pr_curve,
    # calibration bins, feature importance: what the admin page shows.
    metrics = models.JSONField(default=dict, blank=True)
    features = models.JSONField(default=list, blank=True)
    model_blob = models.BinaryField(null=True, blank=True, editable=False)
    scored_at = models.DateTimeField(null=True, blank=True)
    scored_count = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["status", "-created_at"], name="churn_run_latest")]

    def __str__(self) -> str:
        return f"Churn model {self.created_at:%Y-%m-%d %H:%M} ({self.status})"


class ChurnScore(models.Model):
    """A customer's churn risk from the latest scoring: the probability of placing no
    order in the next `window_days`, and the top reasons (feature, value, effect)."""

    customer = models.OneToOneField(
        "customers.Customer", on_delete=models.CASCADE, related_name="churn_score"
    )
    run = models.ForeignKey(ChurnModelRun, on_delete=models.CASCADE, related_name="+")
    probability = models.FloatField()
    reasons = models.JSONField(default=list, blank=True)
    scored_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["probability"], name="churn_score_probability")]

    def __str__(self) -> str:
        return f"Churn risk {self.probability:.0%} for customer #{self.customer_id}"
