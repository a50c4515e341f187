"""Demo data for service: filled in below."""

from __future__ import annotations

from typing import Any


def load(*, stdout: Any = None) -> str:
    return "service: nothing"
