"""`rapport serve`: the web server (granian, WSGI, WhiteNoise for static files) and task
workers beside it, all stopped by one Ctrl-C.

Rapport's views are synchronous Django; under an ASGI server each request would hop to
Django's single sync thread per process, capping throughput and holding a database
connection per request. Granian's WSGI interface runs them on a pool of blocking threads
with persistent connections instead. See docs/decisions/0005-granian-wsgi-server.md.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from argparse import ArgumentTypeError
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser


def _port(text: str) -> int:
    # Checked while parsing, before Django sets up: a typo is reported at once.
    try:
        port = int(text)
    except ValueError:
        raise ArgumentTypeError(f"invalid port {text!r}: use a number") from None
    if not 1 <= port <= 65535:
        raise ArgumentTypeError(f"--port must be between 1 and 65535, not {port}")
    return port


class Command(BaseCommand):
    help = "Serve Rapport over HTTP with background task workers beside it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=_port, default=8000)
        parser.add_argument(
            "--workers", type=int, default=2, help="Web server processes (default 2)."
        )
        parser.add_argument(
            "--threads",
            type=int,
            default=2,
            # Two beat four on 2 cores (PostgreSQL list API 427 vs 390 req/s): fewer threads
            # contending for the GIL while a request waits on the database.
            help="Request threads per web process (default 2).",
        )
        parser.add_argument(
            "--task-workers", type=int, default=1, help="Task worker processes (0 for none)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from granian import Granian
        from granian.constants import Interfaces
        from granian.log import LogLevels

        if options["workers"] < 1 or options["threads"] < 1 or options["task_workers"] < 0:
            raise CommandError(
                "--workers and --threads must be at least 1 and --task-workers at least 0."
            )
        if settings.PRODUCTION:
            call_command("collectstatic", interactive=False, verbosity=0)

        task_workers = [
            subprocess.Popen([sys.executable, "-m", "rapport.config.cli", "worker"])
            for _ in range(options["task_workers"])
        ]

        def stop_task_workers(*_: Any) -> None:
            for proc in task_workers:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)

        self.stdout.write(
            f"Rapport is serving at http://{options['host']}:{options['port']} "
            f"with {len(task_workers)} task worker(s). Press Ctrl-C to stop."
        )
        self.stdout.flush()
        verbose = options["verbosity"] > 1
        try:
            Granian(
                "rapport.config.wsgi:application",
                address=options["host"],
                port=options["port"],
                interface=Interfaces.WSGI,
                workers=options["workers"],
                # The threads cap how many requests run in Python at once. Granian's
                # backpressure is left at its default (backlog / workers): it limits
                # *connections*, so setting it to the thread count made each worker
                # stop accepting once that many keep-alive connections were open, and a
                # browser's next page or asset waited for an idle one to time out.
                blocking_threads=options["threads"],
                log_level=LogLevels.info if verbose else LogLevels.warning,
                log_access=verbose,
                respawn_failed_workers=True,
            ).serve()
        finally:
            stop_task_workers()
            for proc in task_workers:
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
