"""Demo data: the dashboards' standard reports, so `rapport demo` shows them filled in."""

from __future__ import annotations

from typing import Any

from rapport.core.permissions import system_actor
from rapport.reporting import services


def load(stdout: Any = None) -> str:
    created = services.dashboards_seed(actor=system_actor())
    return f"Reports: {created} dashboard report(s) added"
