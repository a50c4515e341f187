"""`rapport export contacts|orders --format csv|xlsx -o FILE [--filter k=v …]`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from rapport.dataquality.exporting import FILTERS, FORMATS, ExportError, export_contacts
from rapport.dataquality.management.commands._cli import OneLineCommand, progress_bar


class Command(OneLineCommand):
    help = "Export contacts to CSV or XLSX (streamed; formulas neutralised; audited)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("object_type", choices=["contacts", "orders"])
        parser.add_argument("--format", choices=FORMATS, default=None)
        parser.add_argument("-o", "--output", required=True, help="The file to write.")
        parser.add_argument(
            "--filter",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help=f"Narrow the rows (repeatable): {', '.join(FILTERS)}.",
        )
        parser.add_argument("--json", action="store_true", help='Print {"rows": n, "file": …}.')

    def handle(self, *args: Any, **options: Any) -> None:
        output = Path(options["output"])
        file_format = options["format"] or (output.suffix.lstrip(".").lower() or "csv")
        if file_format not in FORMATS:
            raise CommandError(f"--format: choose csv or xlsx (got {file_format!r}).")
        if not output.parent.exists():
            raise CommandError(f"{output.parent}: no such folder.")
        filters: dict[str, str] = {}
        for item in options["filter"]:
            key, sep, value = item.partition("=")
            if not sep:
                raise CommandError(f"--filter {item!r}: write KEY=VALUE.")
            filters[key.strip()] = value.strip()
        if options["object_type"] == "orders":
            raise CommandError(
                "Exporting orders needs the commerce app, which is not installed yet."
            )
        bar = progress_bar(None, "rows", not options["json"])
        try:
            count = export_contacts(
                actor=None,
                filters=filters,
                target=output,
                file_format=file_format,
                on_row=bar.update if bar is not None else None,
            )
        except ExportError as exc:
            raise CommandError(str(exc)) from None
        except OSError as exc:
            raise CommandError(f"{output}: cannot be written ({exc.strerror}).") from None
        finally:
            if bar is not None:
                bar.close()
        if options["json"]:
            self.stdout.write(json.dumps({"rows": count, "file": str(output)}))
        else:
            print(f"Exported {count} contacts to {output}.", file=sys.stdout)
