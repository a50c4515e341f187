"""What reporting adds to the shell: the report sources of the apps below it."""

from __future__ import annotations


def register() -> None:
    from rapport.reporting import sources

    sources.register()
