"""Validation of import rows in worker processes while the importing process writes.

Validating a contact row (phone numbers above all) is CPU work that reads no database and
does not depend on other rows, so a large file's rows go to a small process pool in
chunks and come back in file order: the importer sees exactly what validating in its own
process would have given it (tests/test_parallel_validation.py holds the two equal), and
its batching, transactions and checkpoints are unchanged. If a worker process dies, the
rows it had are validated in the importing process and the rest of the file too.

Workers are started with "spawn" (a fresh interpreter that sets Django up again), never
forked from a process holding database connections. A worker exits as soon as its
importing process is gone, however it went (SIGKILL included: nothing runs in a killed
parent to stop it, and the pool's queues never reach EOF because every worker holds their
pipes too); once the workers are gone, the multiprocessing resource tracker reads EOF and
exits as well. The CLI, the task worker and the web server all import through this pool.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from itertools import islice
from typing import Any, Protocol

logger = logging.getLogger(__name__)

Row = tuple[int, list[str]]


class RowValidator(Protocol):
    """What the pool runs in its workers: the importer's picklable row validator
    (`importing.RowValidator`). A protocol, so the pool does not import the importer that
    uses it."""

    def validate(self, number: int, cells: list[str]) -> Any: ...


_validator: RowValidator | None = None


# How often a worker checks that its importing process is still there.
PARENT_CHECK_SECONDS = 0.5


def _exit_with_parent(parent_pid: int) -> None:
    """Exit this process once `parent_pid` is no longer its parent (it died and this
    process was adopted): checked from a daemon thread, so a busy worker exits too."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)  # no cleanup to do: the parent that wanted the results is gone

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _start_worker(
    settings_module: str, overrides: dict[str, Any], state: bytes, parent_pid: int
) -> None:
    _exit_with_parent(parent_pid)
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    import django
    from django.conf import settings

    django.setup()
    for name, value in overrides.items():
        setattr(settings, name, value)
    global _validator
    _validator = pickle.loads(state)  # noqa: S301 (our own validator, from our parent)


def _validate_chunk(chunk: list[Row]) -> list[Any]:
    assert _validator is not None
    outcomes = []
    for number, cells in chunk:
        outcome = _validator.validate(number, cells)
        if not isinstance(outcome, list):
            outcome.raw = []  # the parent holds the cells; do not send them back
        outcomes.append(outcome)
    return outcomes


class ValidationPool:
    """`outcomes(rows)` validates rows in `processes` worker processes, in order."""

    def __init__(
        self,
        validator: RowValidator,
        *,
        processes: int,
        chunk_rows: int = 1000,
        overrides: dict[str, Any] | None = None,
    ) -> None:
        from django.conf import settings

        self.validator = validator
        self.chunk_rows = chunk_rows
        # Enough chunks in flight to keep every worker busy while the parent writes, few
        # enough to bound memory (a chunk is ~1 MB of cells at most).
        self.ahead = 2 * processes + 1
        self._broken = False
        self._executor = ProcessPoolExecutor(
            max_workers=processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(
                os.environ.get("DJANGO_SETTINGS_MODULE") or settings.SETTINGS_MODULE,
                overrides or {},
                pickle.dumps(validator),
                os.getpid(),
            ),
        )

    def outcomes(self, rows: Iterator[Row]) -> Iterator[tuple[int, list[str], Any]]:
        """The rows' outcomes, in order. The first chunks are sent (and the workers
        spawned) by this call, not when the first outcome is asked for: the caller can do
        other work while the workers start (~1 s: a fresh interpreter sets Django up)."""
        window: deque[tuple[list[Row], Future[list[Any]] | None]] = deque()
        for _ in range(self.ahead):
            if not self._submit(rows, window):
                break
        return self._in_order(rows, window)

    def _submit(
        self, rows: Iterator[Row], window: deque[tuple[list[Row], Future[list[Any]] | None]]
    ) -> bool:
        chunk = list(islice(rows, self.chunk_rows))
        if not chunk:
            return False
        future = None if self._broken else self._executor.submit(_validate_chunk, chunk)
        window.append((chunk, future))
        return True

    def _in_order(
        self, rows: Iterator[Row], window: deque[tuple[list[Row], Future[list[Any]] | None]]
    ) -> Iterator[tuple[int, list[str], Any]]:
        while window:
            chunk, future = window.popleft()
            outcomes: list[Any] | None = None
            if future is not None:
                try:
                    outcomes = future.result()
                except Exception:
                    # A dead worker (BrokenProcessPool) or one that could not start: this
                    # process validates the rest itself.
                    logger.exception("Import validation worker failed; validating in-process")
                    self._broken = True
                    self.close()
            if outcomes is None:
                outcomes = [self.validator.validate(number, cells) for number, cells in chunk]
            self._submit(rows, window)
            for (number, cells), outcome in zip(chunk, outcomes, strict=True):
                if not isinstance(outcome, list):
                    outcome.raw = cells
                yield number, cells, outcome

    def close(self, *, wait: bool = False) -> None:
        """Stop the workers; `wait` once every chunk is back (they exit at once)."""
        self._executor.shutdown(wait=wait, cancel_futures=True)


def default_processes() -> int:
    """One validation worker when there is a second CPU for it: the importing process is
    busy with the database writes, which cost about as much as the validation."""
    return 1 if (os.cpu_count() or 1) >= 2 else 0
