"""Shared kernel models: owned-record base, audit log, outbox, background jobs, schedules."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone


class TimestampedModel(models.Model):
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class OwnedModel(TimestampedModel):
    """A business record with an owner and a team: what record-level access is decided on.

    `version` grows by one on every update; it is the ETag and the optimistic-concurrency
    token, so a stale edit (UI or API) is refused instead of silently overwriting.
    """

    # No index of their own: each concrete model declares (owner, id) and (team, id) for
    # scoped reads in id order, beside the composites its lists sort by (a plain FK index
    # beside those would be covered: tests/test_schema_indexes.py refuses it).
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    team = models.ForeignKey(
        "identity.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        abstract = True


class AuditAction(models.TextChoices):
    CREATE = "create", "Created"
    UPDATE = "update", "Updated"
    DELETE = "delete", "Deleted"
    MERGE = "merge", "Merged"
    UNMERGE = "unmerge", "Unmerged"
    EXPORT = "export", "Exported"
    IMPORT = "import", "Imported"
    ERASE = "erase", "Erased"
    LOGIN = "login", "Logged in"
    SECURITY = "security", "Security change"


class AuditLogEntryQuerySet(models.QuerySet["AuditLogEntry"]):
    def update(self, **kwargs: Any) -> int:
        raise TypeError("The audit log is append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("The audit log is append-only.")


class AuditLogEntry(models.Model):
    """One append-only row per change: who, when, what object, which action, which fields.

    The actor is kept by id *and* label with no database constraint, so the history of a
    deleted user or API key still reads correctly.
    """

    id = models.BigAutoField(primary_key=True)
    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        db_index=False,
    )
    actor_label = models.CharField(max_length=255, blank=True)
    api_key_id = models.BigIntegerField(null=True, blank=True)
    api_key_label = models.CharField(max_length=255, blank=True)
    action = models.CharField(max_length=16, choices=AuditAction.choices)
    object_type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=255, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    objects = AuditLogEntryQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["object_type", "object_id", "-occurred_at"], name="audit_object"),
            models.Index(fields=["actor", "-occurred_at"], name="audit_actor"),
        ]
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return f"{self.actor_label} {self.action} {self.object_type}#{self.object_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise TypeError("The audit log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError("The audit log is append-only.")


class OutboxEvent(models.Model):
    """A domain event written in the same transaction as the change that caused it.

    The dispatcher hands it to every registered consumer at least once after commit;
    `pending_consumers` holds those that have not yet accepted it, so a failing consumer
    is retried with backoff without replaying the event to the others.
    """

    id = models.BigAutoField(primary_key=True)
    event_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    type = models.CharField(max_length=100, db_index=True)
    occurred_at = models.DateTimeField(default=timezone.now)
    data = models.JSONField(default=dict)
    aggregate_type = models.CharField(max_length=100, blank=True)
    aggregate_id = models.CharField(max_length=64, blank=True)
    pending_consumers = models.JSONField(default=list, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    locked_until = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["next_attempt_at", "id"],
                name="outbox_undispatched",
                condition=models.Q(dispatched_at__isnull=True),
            ),
            models.Index(fields=["aggregate_type", "aggregate_id"], name="outbox_aggregate"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"

    def as_envelope(self) -> dict[str, Any]:
        """The stable public schema of an event, as consumers and webhooks receive it."""
        return {
            "type": self.type,
            "id": str(self.event_id),
            "occurred_at": self.occurred_at.isoformat(),
            "data": self.data,
        }


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


# The counts a job's result may hold, in the order its page shows them.
RESULT_COUNTS = ("rows", "created", "updated", "unchanged", "failed")


class Job(models.Model):
    """A user-visible background job (import, export, dedupe…) with progress and result."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=50)
    title = models.CharField(max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
    )
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    done = models.PositiveBigIntegerField(default=0)
    total = models.PositiveBigIntegerField(null=True, blank=True)
    message = models.CharField(max_length=255, blank=True)
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    result_file = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["owner", "-created_at"], name="job_owner_recent")]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.title} ({self.status})"

    @property
    def percent(self) -> int | None:
        if not self.total:
            return 100 if self.status == JobStatus.SUCCEEDED else None
        return min(100, int(self.done * 100 / self.total))

    @property
    def is_finished(self) -> bool:
        return self.status in {JobStatus.SUCCEEDED, JobStatus.FAILED}

    @property
    def failed_items(self) -> int:
        """Items the job finished without (an import's failed rows): a job that ran to
        the end with some of them is not a plain success."""
        try:
            return int((self.result or {}).get("failed") or 0)
        except (TypeError, ValueError):
            return 0

    @property
    def outcome(self) -> str:
        """The state a page shows: queued, running, succeeded, warning or failed."""
        if self.status == JobStatus.SUCCEEDED and self.failed_items:
            return "warning"
        return str(self.status)

    @property
    def counts(self) -> list[tuple[str, int]]:
        """The result's counts in a fixed order, for the job's page."""
        result = self.result or {}
        return [(key, result[key]) for key in RESULT_COUNTS if isinstance(result.get(key), int)]

    @property
    def result_file_label(self) -> str:
        # A job names its file (an import's is the error report, not "the result").
        return str((self.result or {}).get("file_label") or "result")


class ScheduledJob(models.Model):
    """A periodic task the worker runs itself; `next_run_at` is claimed by compare-and-swap."""

    name = models.CharField(max_length=100, unique=True)
    task_path = models.CharField(max_length=255)
    interval_seconds = models.PositiveIntegerField()
    next_run_at = models.DateTimeField(default=timezone.now)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_claimed_by = models.CharField(max_length=64, blank=True)
    enabled = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name


class IdempotencyRecord(models.Model):
    """The first response to an API create sent with an `Idempotency-Key` header."""

    principal = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["principal", "key"], name="idempotency_unique_key")
        ]

    def __str__(self) -> str:
        return self.key


class WorkerHeartbeat(models.Model):
    """A worker process that is alive; a task claimed by a dead worker is run again."""

    worker_id = models.CharField(max_length=64, primary_key=True)
    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"{self.hostname}:{self.pid}"


class SavedView(models.Model):
    """A named set of list filters, sort and columns; private or shared with everyone."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    object_type = models.CharField(max_length=100)
    name = models.CharField(max_length=100)
    params = models.JSONField(default=dict)
    is_shared = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["object_type", "owner"], name="savedview_lookup")]

    def __str__(self) -> str:
        return self.name
