"""`rapport rescore [--json]`: recompute every customer's data-quality score now."""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils.translation import ngettext

from rapport.customers import quality
from rapport.customers.models import Customer
from rapport.dataquality.management.commands._cli import progress_bar


class Command(BaseCommand):
    help = (
        "Recompute the data-quality score of every customer (after an upgrade, or after "
        "writing records around the services). Batched; writes only the scores that change."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--json", action="store_true", help='Print {"scored": n, "changed": m}.'
        )

    def handle(self, *args: Any, **options: Any) -> None:
        bar = progress_bar(Customer.objects.count(), "records", not options["json"])
        scored, changed = quality.rescore(
            on_batch=(lambda seen, _changed: bar.update(seen)) if bar is not None else None
        )
        if bar is not None:
            bar.close()
        if options["json"]:
            sys.stdout.write(json.dumps({"scored": scored, "changed": changed}) + "\n")
        else:
            records = ngettext("%s record scored", "%s records scored", scored)
            scores = ngettext("%s score changed", "%s scores changed", changed)
            sys.stdout.write(f"{records % f'{scored:,}'}, {scores % f'{changed:,}'}.\n")
