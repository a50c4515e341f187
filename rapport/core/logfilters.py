"""Logging filters the settings install: a console that says what matters.

- The periodic housekeeping tasks (`scheduler.every`: the outbox sweep every 30 s, the
  prunes, the scores) start and finish at DEBUG, not INFO; a failure is still an error.
- A 403 is a warning line (who was refused what), not a traceback: PermissionDenied is
  how the access rules answer, not a fault in the code.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied


def _housekeeping_paths() -> set[str]:
    from rapport.core import scheduler

    return {schedule.task_path for schedule in scheduler.declared()}


class HousekeepingAtDebug(logging.Filter):
    """On django_tasks' logger: its "Task id=… path=… state=…" lines of periodic tasks
    become DEBUG (dropped unless the logger is set to DEBUG)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not isinstance(record.args, tuple):
            return True
        if len(record.args) < 2 or str(record.args[1]) not in _housekeeping_paths():
            return True
        if not logging.getLogger(record.name).isEnabledFor(logging.DEBUG):
            return False
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


class PermissionDeniedWithoutTraceback(logging.Filter):
    """On django.request's logger: "Forbidden (…): /path" keeps its line, loses the stack."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, PermissionDenied):
            record.exc_info = None
            record.exc_text = None
        return True
