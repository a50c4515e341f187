"""`rapport worker`: run background tasks and the periodic schedule until stopped."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from rapport.core.worker import Housekeeper, beat, new_worker_id


class Command(BaseCommand):
    help = "Run background tasks (imports, exports, e-mail, webhooks) and periodic jobs."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=float, default=0.5, help="Seconds between polls.")
        parser.add_argument("--max-tasks", type=int, default=None, help="Exit after N tasks.")
        parser.add_argument(
            "--batch", action="store_true", help="Exit when no task is left (for scripts)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        worker_id = new_worker_id()
        # Beat before the first claim so the orphan sweep never mistakes us for dead.
        beat(worker_id)
        housekeeper = Housekeeper(worker_id)
        housekeeper.start()
        try:
            if settings.TASK_BACKEND == "rq":
                # django-tasks-rq's Job class knows how to run a Django Task. SimpleWorker
                # runs each job in this process: RQ's default forks a child per job, and a
                # child inheriting Django's open database connections hangs or corrupts them.
                call_command(
                    "rqworker",
                    "default",
                    job_class="django_tasks_rq.backend.Job",
                    worker_class="rq.worker.SimpleWorker",
                    burst=options["batch"],
                    verbosity=options["verbosity"],
                )
            else:
                worker_options: dict[str, Any] = {
                    "interval": options["interval"],
                    "worker_id": worker_id,
                    "queue_name": "*",
                    "verbosity": options["verbosity"],
                    "batch": options["batch"],
                }
                if options["max_tasks"]:
                    worker_options["max_tasks"] = options["max_tasks"]
                call_command("db_worker", **worker_options)
        finally:
            housekeeper.stopping.set()
            housekeeper.join(timeout=10)
