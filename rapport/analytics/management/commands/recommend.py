"""`rapport recommend`: recompute every customer's next-best-offer list, or (--evaluate)
measure it offline on a time split against the popularity baseline."""

from __future__ import annotations

import datetime as dt
import json
from argparse import ArgumentParser, ArgumentTypeError
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ArgumentTypeError(f"invalid date {text!r}: use YYYY-MM-DD") from None


class Command(BaseCommand):
    help = (
        "Recompute every customer's next best offers (item-to-item co-occurrence), or with "
        "--evaluate print the hit rate at 5 on a time split beside the popularity baseline's."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--evaluate", action="store_true", help="measure instead of storing the lists"
        )
        parser.add_argument(
            "--cutoff",
            type=_date,
            help="evaluation: fit on orders before this day, test on the ones after "
            "(default: 90 days before the last order)",
        )
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        from django.utils import timezone

        from rapport.analytics import recommend

        if not options["evaluate"]:
            run = recommend.refresh_all()
            self._print(
                options,
                {"customers": run.customers, "recommendations": run.recommendations},
                f"{run.recommendations} recommendations for {run.customers} customers "
                f"over {run.products} products.",
            )
            return
        cutoff = None
        if options["cutoff"]:
            cutoff = timezone.make_aware(dt.datetime.combine(options["cutoff"], dt.time.min))
        try:
            result = recommend.evaluate(cutoff=cutoff)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        verdict = "beats" if result.beats_popularity else "does NOT beat"
        self._print(
            options,
            result.as_dict(),
            f"Time split at {result.cutoff:%Y-%m-%d}: {result.customers} customers bought a "
            f"new product after it.\n"
            f"  co-occurrence  hit rate at {result.k}: {result.hit_rate:.1%}\n"
            f"  popularity     hit rate at {result.k}: {result.popularity_hit_rate:.1%}\n"
            f"Co-occurrence {verdict} popularity.",
        )

    def _print(self, options: dict[str, Any], data: dict[str, Any], text: str) -> None:
        self.stdout.write(json.dumps(data) if options["json"] else text)
