"""`rapport demo`: load the demo data once (every loader is idempotent)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Load demo users and data; safe to run again (nothing is loaded twice)."

    def handle(self, *args: Any, **options: Any) -> None:
        from rapport.core import registry

        loaders = registry.demo_loaders()
        started = time.monotonic()
        for number, loader in enumerate(loaders, start=1):
            # A first load takes a minute or more: say what is happening as it happens.
            if options["verbosity"] > 0:
                self.stdout.write(f"Demo data [{number}/{len(loaders)}] {loader.key}…")
                self.stdout.flush()
            line = loader.load(stdout=self.stdout)
            if line:
                self.stdout.write(line)
            self.stdout.flush()
        if options["verbosity"] > 0:
            self.stdout.write(f"Demo data ready ({time.monotonic() - started:.1f} s).")
