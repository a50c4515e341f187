"""Errors that services raise and every interface (UI, API, CLI) turns into a clear message."""

from __future__ import annotations


class Conflict(Exception):
    """The record changed since the caller read it (stale version / ETag)."""

    def __init__(
        self,
        message: str = "This record was changed by someone else since you "
        "opened it. Reload it and apply your change again.",
    ) -> None:
        super().__init__(message)
        self.message = message


class RateLimited(Exception):
    def __init__(self, message: str = "Too many requests. Wait a moment and try again.") -> None:
        super().__init__(message)
        self.message = message
