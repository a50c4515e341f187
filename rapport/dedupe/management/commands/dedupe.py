"""`rapport dedupe`: run duplicate detection in the foreground and print what it found."""

from __future__ import annotations

import json
import sys
import threading
import time
from argparse import ArgumentParser, ArgumentTypeError
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError

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
        from rapport.dedupe import engine, services
        from rapport.dedupe.models import RunStatus

        threshold: float = options["threshold"]
        progress, close = _progress_reporter()
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
            close()
        if run.status == RunStatus.UNTRAINED:
            raise CommandError(run.error)

        strong = pairs[pairs["probability"] >= threshold] if not pairs.empty else pairs
        ids = set(strong["id_a"]).union(strong["id_b"]) if not strong.empty else set()
        ids.update(member for group in groups for member in group)
        records = services.record_identities(int(i) for i in ids)
        rows = (
            list(
                zip(
                    strong["id_a"],
                    strong["id_b"],
                    strong["probability"],
                    strong["match_weight"],
                    strict=True,
                )
            )
            if not strong.empty
            else []
        )
        if options["json"]:
            payload = {
                "pairs": [
                    {
                        "a": records[int(a)],
                        "b": records[int(b)],
                        "probability": float(p),
                        "match_weight": float(w),
                    }
                    for a, b, p, w in rows
                ],
                "clusters": [[records[m] for m in group] for group in groups],
            }
            self.stdout.write(json.dumps(payload))
            return
        self.stdout.write(
            f"{run.records} records, {len(strong)} pairs at or above {threshold}, "
            f"{len(groups)} clusters ({run.pairs_found} pairs stored for review)."
        )
        for a, b, p, _w in rows[:20]:
            self.stdout.write(f"  {p:.3f}  {_label(records[int(a)])}  ~  {_label(records[int(b)])}")


def _label(record: dict[str, Any]) -> str:
    """Ada Lovelace (#12, crm-1): the display name, the Rapport id and the external id."""
    ext = f", {record['external_id']}" if record["external_id"] else ""
    return f"{record['name']} (#{record['id']}{ext})"


HEARTBEAT_SECONDS = 10.0


def _progress_reporter() -> tuple[Callable[[str, int], None], Callable[[], None]]:
    """Progress on stderr, never stdout (which may be JSON): a bar on a terminal, one line
    per step when stderr is piped or logged. Some steps are one long engine call (u from a
    million random pairs takes a minute on a busy machine), so a heartbeat repeats the
    current step with the elapsed time every HEARTBEAT_SECONDS: a run never looks stuck."""
    started = time.monotonic()
    state: dict[str, Any] = {"step": "starting", "pct": 0}
    done = threading.Event()
    bar = None
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=100, desc="dedupe", unit="%", file=sys.stderr)

    def show(note: str = "") -> None:
        elapsed = time.monotonic() - started
        if bar is not None:
            bar.set_postfix_str(f"{state['step']}{note}")
            bar.update(max(0, int(state["pct"]) - bar.n))
            return
        sys.stderr.write(f"dedupe: {state['pct']:3d}% {state['step']}{note} ({elapsed:.0f} s)\n")
        sys.stderr.flush()

    def report(step: str, pct: int) -> None:
        state["step"], state["pct"] = step, pct
        show()

    def heartbeat() -> None:
        while not done.wait(HEARTBEAT_SECONDS):
            show(", still working")

    beat = threading.Thread(target=heartbeat, name="dedupe-progress", daemon=True)
    beat.start()

    def close() -> None:
        done.set()
        beat.join()
        if bar is not None:
            bar.close()

    return report, close
