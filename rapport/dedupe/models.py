"""Duplicate detection results: each run, the scored candidate pairs and their review status.

Pairs are stored once per unordered pair (customer_a < customer_b). A rerun replaces the
open pairs but never touches a decided one (dismissed or merged), so a reviewer's "not a
duplicate" survives every later run. The review/merge queue reads open pairs by
probability; `cluster_key` (the smallest customer id in the group) groups pairs that the
engine clustered together at the run's threshold.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class RunMode(models.TextChoices):
    FULL = "full", "Full"
    INCREMENTAL = "incremental", "Incremental"


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class DuplicateRun(models.Model):
    mode = models.CharField(max_length=12, choices=RunMode.choices)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    threshold = models.FloatField()
    # Engine version, review threshold, timings: what someone reading the run needs.
    parameters = models.JSONField(default=dict, blank=True)
    # Records considered: everyone for a full run, new and changed ones for incremental.
    records = models.PositiveIntegerField(default=0)
    pairs_found = models.PositiveIntegerField(default=0)
    clusters_found = models.PositiveIntegerField(default=0)
    # The trained Splink model (settings with m and u), reused by incremental runs and the
    # on-create check so they never train.
    model = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    job = models.ForeignKey(
        "core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(fields=["mode", "status", "-started_at"], name="dedupe_run_latest"),
        ]
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.mode} run {self.pk} ({self.status})"


class PairStatus(models.TextChoices):
    OPEN = "open", "Open"
    MERGED = "merged", "Merged"
    DISMISSED = "dismissed", "Not a duplicate"


class DuplicatePair(models.Model):
    customer_a = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    customer_b = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    probability = models.FloatField()
    match_weight = models.FloatField()
    # Comparison level per compared field, e.g. {"name": "names swapped", "birth_date":
    # "Exact match on birth_date", ...}: what the side-by-side view explains.
    details = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=PairStatus.choices, default=PairStatus.OPEN)
    cluster_key = models.BigIntegerField(null=True, blank=True)
    run = models.ForeignKey(
        DuplicateRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="pairs"
    )
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer_a", "customer_b"], name="dedupe_pair_once"),
            models.CheckConstraint(
                condition=models.Q(customer_a__lt=models.F("customer_b")),
                name="dedupe_pair_ordered",
            ),
        ]
        indexes = [
            # The review queue: open pairs, most likely first, keyset-paginated.
            models.Index(fields=["status", "-probability", "-id"], name="dedupe_pair_queue"),
            models.Index(fields=["customer_b", "status"], name="dedupe_pair_by_b"),
            models.Index(fields=["cluster_key"], name="dedupe_pair_cluster"),
        ]
        ordering = ["-probability", "-id"]

    def __str__(self) -> str:
        return f"{self.customer_a_id}~{self.customer_b_id} ({self.probability:.3f})"
