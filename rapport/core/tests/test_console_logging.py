"""What the console shows: periodic housekeeping only at DEBUG, a 403 without a stack."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.test import Client

from rapport.core import tasks
from rapport.core.permissions import Scope
from rapport.identity.tests.factories import user_with

pytestmark = pytest.mark.django_db


def _task_lines(caplog: Any) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "django_tasks"]


def test_periodic_housekeeping_logs_at_debug_only(immediate_tasks: None, caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger="django_tasks")
    tasks.dispatch_outbox.enqueue()  # the outbox sweep the schedule runs every 30 s
    assert not [m for _, m in _task_lines(caplog) if "dispatch_outbox" in m]

    caplog.clear()
    caplog.set_level(logging.DEBUG, logger="django_tasks")
    tasks.dispatch_outbox.enqueue()
    lines = [(lvl, m) for lvl, m in _task_lines(caplog) if "dispatch_outbox" in m]
    assert lines and {lvl for lvl, _ in lines} == {logging.DEBUG}


def test_other_tasks_still_log_at_info(caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger="django_tasks")
    # The line django_tasks writes when a task a user started (an import) finishes.
    logging.getLogger("django_tasks").info(
        "Task id=%s path=%s state=%s", "42", "rapport.dataquality.tasks.import_file", "SUCCESSFUL"
    )
    assert _task_lines(caplog) == [
        (logging.INFO, "Task id=42 path=rapport.dataquality.tasks.import_file state=SUCCESSFUL")
    ]


def test_a_403_is_one_warning_line_without_a_traceback(caplog: Any) -> None:
    viewer = user_with(Scope.ALL, actions=("view",))  # no export permission
    client = Client()
    client.force_login(viewer)
    caplog.set_level(logging.WARNING, logger="django.request")
    response = client.get("/exports/new/")
    assert response.status_code == 403
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert record.levelno == logging.WARNING
    assert "Forbidden" in record.getMessage() and "/exports/new/" in record.getMessage()
    assert record.exc_info is None
    assert "Traceback" not in logging.Formatter().format(record)
