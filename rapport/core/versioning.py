"""Optimistic concurrency for versioned records (`OwnedModel.version`, the ETag)."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import models
from django.db.models import F

from rapport.core.errors import Conflict

M = TypeVar("M", bound=models.Model)


def lock_for_change(obj: M, *, expected_version: int | None) -> M:
    """Re-read `obj` under a row lock (call inside the write's transaction) and refuse the
    change with Conflict when the caller saw an older version than the stored one."""
    locked = type(obj)._default_manager.select_for_update().get(pk=obj.pk)
    if expected_version is not None and getattr(locked, "version") != expected_version:  # noqa: B009
        raise Conflict()
    return locked


def bump_version(obj: Any) -> None:
    """Make the next save increment the version in SQL (no lost increments)."""
    obj.version = F("version") + 1
