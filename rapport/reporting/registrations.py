"""What reporting adds to the shell: the report sources of the apps below it, its event
types, its navigation entry and the dashboards' demo reports."""

from __future__ import annotations


def register() -> None:
    from rapport.reporting import events, sources  # noqa: F401  (events registers types)

    sources.register()
