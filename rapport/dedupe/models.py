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
    # The data gave the model nothing to learn from (`error` says why, in words); the
    # pairs of earlier runs stay as they were.
    UNTRAINED = "untrained", "Not trained"


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
    customer_a = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    customer_b = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="+", db_index=False
    )
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


class SurvivorshipRule(models.TextChoices):
    MOST_COMPLETE = "most_complete", "Most complete record wins"
    MOST_RECENT = "most_recent", "Most recently updated record wins"


class MergeStatus(models.TextChoices):
    MERGED = "merged", "Merged"
    UNDONE = "undone", "Undone"


class CustomerMerge(models.Model):
    """One merge of `loser` into `survivor`, with everything needed to undo it exactly.

    The merged-away record is never deleted: it stays as a tombstone (`merged_into`), so
    unmerge only has to move back what the merge moved and put back what it changed. What
    was moved is kept by id for big tables and as whole rows (Django's serializer) where a
    row's own values changed or it was deleted as a duplicate of the survivor's.
    """

    survivor = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    loser = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    pair = models.ForeignKey(
        DuplicatePair, null=True, blank=True, on_delete=models.SET_NULL, related_name="merges"
    )
    status = models.CharField(max_length=8, choices=MergeStatus.choices, default=MergeStatus.MERGED)
    rule = models.CharField(max_length=16, choices=SurvivorshipRule.choices)
    # The reviewer's per-field picks: {"first_name": "loser", "custom_fields.tier": "survivor"}.
    choices = models.JSONField(default=dict, blank=True)
    automatic = models.BooleanField(default=False)
    # {field: [survivor's value before, value after]} for the survivor's changed fields.
    survivor_changes = models.JSONField(default=dict, blank=True)
    # {field: [before, after]} on the merged-away record (merged_into, external_id).
    loser_changes = models.JSONField(default=dict, blank=True)
    # {"customers.interaction.customer": [ids], "commerce.order.customer": [ids]}: moved by
    # id (MOVE_ALL and CUSTOM rules).
    moved_ids = models.JSONField(default=dict, blank=True)
    # Rows moved one by one (MOVE_ROWS), serialized as they were before the merge; unmerge
    # saves them back. `rows_deleted` names those of them deleted as duplicates of the
    # survivor's own rows ({"model": ..., "pk": ...}).
    rows_before = models.JSONField(default=list, blank=True)
    rows_deleted = models.JSONField(default=list, blank=True)
    # What moved, for people: {"Timeline entries": 12, "Orders": 3, ...}.
    summary = models.JSONField(default=dict, blank=True)
    merged_at = models.DateTimeField(default=timezone.now)
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Set when either customer's personal data was erased: the saved rows are gone with it,
    # so the merge can no longer be undone.
    erased_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["survivor", "-merged_at"], name="merge_by_survivor"),
            models.Index(fields=["loser", "-merged_at"], name="merge_by_loser"),
            models.Index(fields=["-merged_at", "-id"], name="merge_latest"),
        ]
        ordering = ["-merged_at", "-id"]

    def __str__(self) -> str:
        return f"merge {self.pk}: {self.loser_id} into {self.survivor_id}"


class DedupeSettings(models.Model):
    """Admin settings of duplicate handling (one row)."""

    auto_merge_enabled = models.BooleanField(default=False)
    # Pairs at or above this match probability are merged without review after each run.
    auto_merge_threshold = models.FloatField(default=0.99)
    auto_merge_rule = models.CharField(
        max_length=16, choices=SurvivorshipRule.choices, default=SurvivorshipRule.MOST_COMPLETE
    )
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name_plural = "dedupe settings"

    def __str__(self) -> str:
        return "Duplicate settings"

    @classmethod
    def current(cls) -> DedupeSettings:
        found, _ = cls.objects.get_or_create(pk=1)
        return found
