"""Imports and their history: the uploaded file, the mapping used, the checkpoint that
makes a restarted import safe, and the rows that failed."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from rapport.dataquality.choices import ImportObjectType, UpsertBy

__all__ = [
    "ImportMapping",
    "ImportObjectType",
    "ImportRowError",
    "ImportRun",
    "ImportStatus",
    "UpsertBy",
]


class ImportMapping(models.Model):
    """A saved column mapping ({file column: field}) someone can reuse for the next file."""

    name = models.CharField(max_length=100)
    object_type = models.CharField(max_length=16, choices=ImportObjectType.choices)
    mapping = models.JSONField(default=dict)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="import_mappings",
        db_index=False,
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "object_type", "name"], name="import_mapping_name_unique"
            )
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", "Uploaded"
    CHECKING = "checking", "Dry run running"
    CHECKED = "checked", "Dry run done"
    RUNNING = "running", "Importing"
    DONE = "done", "Imported"
    FAILED = "failed", "Failed"


class ImportRun(models.Model):
    """One import of one file: its settings, checkpoint and outcome."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="import_runs",
        db_index=False,
    )
    object_type = models.CharField(max_length=16, choices=ImportObjectType.choices)
    original_name = models.CharField(max_length=255)
    # Relative to VAR_DIR/files (never web-served; deleted after the retention period).
    stored_file = models.CharField(max_length=255, blank=True)
    headers = models.JSONField(default=list, blank=True)
    mapping = models.JSONField(default=dict, blank=True)
    upsert_by = models.CharField(
        max_length=16, choices=UpsertBy.choices, default=UpsertBy.EXTERNAL_ID
    )
    assign_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Owner of the records the import creates.",
    )
    status = models.CharField(
        max_length=16, choices=ImportStatus.choices, default=ImportStatus.UPLOADED
    )
    dry_run_job = models.ForeignKey(
        "core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    job = models.ForeignKey(
        "core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    dry_run_report = models.JSONField(default=dict, blank=True)
    # The checkpoint: data rows whose outcome is committed, and the counts so far. Written
    # in the same transaction as each batch, so a restart resumes exactly after it.
    rows_committed = models.PositiveBigIntegerField(default=0)
    created = models.PositiveBigIntegerField(default=0)
    updated = models.PositiveBigIntegerField(default=0)
    # Matched rows whose record already held every value: nothing written.
    unchanged = models.PositiveBigIntegerField(default=0)
    failed = models.PositiveBigIntegerField(default=0)
    total_rows = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    file_deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"], name="importrun_by_owner")]

    def __str__(self) -> str:
        return f"{self.get_object_type_display()} from {self.original_name}"


class ImportRowError(models.Model):
    """A failed row: where, why, and the row as it was (for the error file)."""

    run = models.ForeignKey(
        ImportRun, on_delete=models.CASCADE, related_name="row_errors", db_index=False
    )
    row = models.PositiveBigIntegerField()
    field = models.CharField(max_length=100, blank=True)
    message = models.TextField()
    values = models.JSONField(default=list)

    class Meta:
        ordering = ["row", "id"]
        indexes = [models.Index(fields=["run", "row"], name="importrowerror_by_run")]

    def __str__(self) -> str:
        return f"row {self.row} {self.field}: {self.message}"
