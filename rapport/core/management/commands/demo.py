"""`rapport demo`: load the demo data once (every loader is idempotent)."""

from __future__ import annotations

import threading
import time
from typing import Any

from django.core.management.base import BaseCommand

# A step that takes longer than this says it is still at work, every so often.
STILL_WORKING_EVERY = 15.0


class Command(BaseCommand):
    help = "Load demo users and data; safe to run again (nothing is loaded twice)."

    def handle(self, *args: Any, **options: Any) -> None:
        from rapport.core import registry

        loaders = registry.demo_loaders()
        started = time.monotonic()
        talk = options["verbosity"] > 0
        for number, loader in enumerate(loaders, start=1):
            # A first load takes a minute or more: say what is happening as it happens.
            if talk:
                self.stdout.write(f"Demo data [{number}/{len(loaders)}] {loader.key}…")
                self.stdout.flush()
            done = threading.Event()
            ticker = threading.Thread(
                target=self._still_working, args=(loader.key, done), daemon=True
            )
            if talk:
                ticker.start()
            try:
                line = loader.load(stdout=self.stdout)
            finally:
                done.set()
                if talk:
                    ticker.join()
            if line:
                self.stdout.write(line)
            self.stdout.flush()
        if talk:
            self.stdout.write(f"Demo data ready ({time.monotonic() - started:.1f} s).")

    def _still_working(self, key: str, done: threading.Event) -> None:
        began = time.monotonic()
        while not done.wait(STILL_WORKING_EVERY):
            self.stdout.write(f"  … {key}: {time.monotonic() - began:.0f} s")
            self.stdout.flush()
