"""The task worker: runs queued tasks, the periodic schedule, and recovers the tasks of
workers that died mid-task (so a killed import is picked up again and finished)."""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone
from django.utils.crypto import get_random_string

from rapport.core import scheduler
from rapport.core.models import WorkerHeartbeat

logger = logging.getLogger("rapport.worker")

HEARTBEAT_EVERY = dt.timedelta(seconds=5)
DEAD_AFTER = dt.timedelta(seconds=30)


def dead_after() -> dt.timedelta:
    """How long without a heartbeat before a worker counts as dead (WORKER_DEAD_AFTER_SECONDS;
    tests of crash recovery shorten it)."""
    seconds = getattr(settings, "WORKER_DEAD_AFTER_SECONDS", None)
    return dt.timedelta(seconds=seconds) if seconds else DEAD_AFTER


def heartbeat_every() -> dt.timedelta:
    # Beat well within the dead-after window so a live worker is never taken for dead.
    return min(HEARTBEAT_EVERY, dead_after() / 3)


def new_worker_id() -> str:
    return f"{socket.gethostname()[:30]}-{os.getpid()}-{get_random_string(6)}"


def beat(worker_id: str) -> None:
    WorkerHeartbeat.objects.update_or_create(
        worker_id=worker_id,
        defaults={
            "hostname": socket.gethostname()[:255],
            "pid": os.getpid(),
            "last_seen": timezone.now(),
        },
    )


def requeue_orphaned_tasks() -> int:
    """Put back to READY the running tasks whose worker has stopped beating."""
    if settings.TASK_BACKEND != "database":
        return 0
    from django_tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    alive = set(
        WorkerHeartbeat.objects.filter(last_seen__gte=timezone.now() - dead_after()).values_list(
            "worker_id", flat=True
        )
    )
    requeued = 0
    for result in DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING).only(
        "id", "worker_ids"
    ):
        last_worker = result.worker_ids[-1] if result.worker_ids else None
        if last_worker in alive:
            continue
        requeued += DBTaskResult.objects.filter(
            pk=result.pk, status=TaskResultStatus.RUNNING
        ).update(status=TaskResultStatus.READY, started_at=None)
        logger.warning("Re-queued task %s: its worker %s stopped", result.pk, last_worker)
    WorkerHeartbeat.objects.filter(last_seen__lt=timezone.now() - dead_after() * 10).delete()
    return requeued


class Housekeeper(threading.Thread):
    """Beside the task loop: heartbeat, periodic schedule, orphan recovery."""

    def __init__(self, worker_id: str) -> None:
        super().__init__(name="rapport-housekeeper", daemon=True)
        self.worker_id = worker_id
        self.stopping = threading.Event()

    def run(self) -> None:
        scheduler.sync()
        while not self.stopping.is_set():
            try:
                close_old_connections()
                beat(self.worker_id)
                requeue_orphaned_tasks()
                scheduler.run_due(self.worker_id)
            except Exception:
                logger.exception("Housekeeping failed; trying again shortly")
            self.stopping.wait(heartbeat_every().total_seconds())
        close_old_connections()
