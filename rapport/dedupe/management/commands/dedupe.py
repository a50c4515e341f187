"""`rapport dedupe`: run duplicate detection in the foreground and print what it found."""

from __future__ import annotations

import json
import sys
from argparse import ArgumentParser, ArgumentTypeError
from typing import Any

from django.core.management.base import BaseCommand

from rapport.core.cli import BadInput

# The engine (Splink, DuckDB, pandas) is imported in handle(): this module is loaded
# before Django sets up, to check the arguments at once (see rapport.config.cli).
DEFAULT_THRESHOLD = 0.9


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ArgumentTypeError(f"invalid probability {text!r}: use a number such as 0.9") from None
    if not 0.0 <= value <= 1.0:
        raise ArgumentTypeError(f"threshold must be between 0 and 1, got {text}")
    return value


class Command(BaseCommand):
    help = (
        "Find likely duplicate persons (Fellegi-Sunter model, Splink on DuckDB), store them "
        "for review and print the pairs at or above the threshold and their clusters."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--threshold",
            type=_probability,
            default=DEFAULT_THRESHOLD,
            help="Match probability at or above which a pair is a duplicate (0-1, default 0.9).",
        )
        parser.add_argument(
            "--json", action="store_true", help="Print {pairs, clusters} as JSON on stdout."
        )
        parser.add_argument(
            "--incremental",
            action="store_true",
            help="Only score records created or changed since the last run (saved model).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from tqdm import tqdm

        from rapport.dedupe import engine, services

        threshold: float = options["threshold"]
        bar = tqdm(
            total=100, desc="dedupe", unit="%", file=sys.stderr, disable=not sys.stderr.isatty()
        )

        def progress(step: str, pct: int) -> None:
            bar.set_postfix_str(step)
            bar.update(max(0, pct - bar.n))

        try:
            if options["incremental"]:
                run, pairs = services.run_incremental(threshold=threshold, progress=progress)
                groups = engine.cluster(pairs, threshold=threshold) if not pairs.empty else []
            else:
                run, detection = services.run_full(threshold=threshold, progress=progress)
                pairs, groups = detection.pairs, detection.clusters
        except ValueError as exc:
            raise BadInput(str(exc)) from exc
        finally:
            bar.close()

        strong = pairs[pairs["probability"] >= threshold] if not pairs.empty else pairs
        ids = set(strong["id_a"]).union(strong["id_b"]) if not strong.empty else set()
        ids.update(member for group in groups for member in group)
        names = services.external_ids(int(i) for i in ids)
        if options["json"]:
            payload = {
                "pairs": [
                    {"a": names[int(a)], "b": names[int(b)], "probability": float(p)}
                    for a, b, p in zip(
                        strong["id_a"], strong["id_b"], strong["probability"], strict=True
                    )
                ],
                "clusters": [[names[m] for m in group] for group in groups],
            }
            self.stdout.write(json.dumps(payload))
            return
        self.stdout.write(
            f"{run.records} records, {len(strong)} pairs at or above {threshold}, "
            f"{len(groups)} clusters ({run.pairs_found} pairs stored for review)."
        )
        for a, b, p in list(
            zip(strong["id_a"], strong["id_b"], strong["probability"], strict=True)
        )[:20]:
            self.stdout.write(f"  {p:.3f}  {names[int(a)]}  ~  {names[int(b)]}")
