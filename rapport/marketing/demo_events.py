"""Demo data for the storefront side: loaded later in this branch."""

from __future__ import annotations

from typing import Any


def load(*, stdout: Any = None) -> str:
    return "marketing: no web events yet"
