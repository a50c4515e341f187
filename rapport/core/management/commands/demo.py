"""`rapport demo`: load the demo data once (every loader is idempotent)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from rapport.core import registry


class Command(BaseCommand):
    help = "Load demo users and data; safe to run again (nothing is loaded twice)."

    def handle(self, *args: Any, **options: Any) -> None:
        for loader in registry.demo_loaders():
            line = loader.load(stdout=self.stdout)
            if line:
                self.stdout.write(line)
