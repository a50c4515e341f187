"""`rapport export contacts|orders|… --format csv|xlsx -o FILE [--filter k=v …]`: contacts,
or any registered import target that can export (orders: in the import's columns)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandParser
from django.utils.translation import ngettext

from rapport.core.cli import BadInput
from rapport.dataquality.choices import EXPORT_FORMATS as FORMATS
from rapport.dataquality.management.commands._cli import output_file, progress_bar

# The export machinery is imported in handle(): this module is loaded before Django sets
# up, to check the arguments at once (see rapport.config.cli).


class Command(BaseCommand):
    help = "Export contacts or orders to CSV or XLSX (streamed; formulas neutralised; audited)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "object_type", help="What to export: contacts, orders (what the installed apps offer)."
        )
        parser.add_argument("--format", choices=FORMATS, default=None)
        parser.add_argument(
            "-o", "--output", required=True, type=output_file, help="The file to write."
        )
        parser.add_argument(
            "--filter",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="Narrow the rows (repeatable)" + self._filter_names() + ".",
        )
        parser.add_argument("--json", action="store_true", help='Print {"rows": n, "file": …}.')

    @staticmethod
    def _filter_names() -> str:
        if not apps.ready:  # checking the arguments only: the help is not printed
            return ""
        from rapport.dataquality.exporting import FILTERS

        return "; contacts: " + ", ".join(FILTERS) + "; orders: the order list's filters"

    def handle(self, *args: Any, **options: Any) -> None:
        from rapport.dataquality.exporting import ExportError, export_records, export_targets

        output: Path = options["output"]
        file_format = options["format"] or (output.suffix.lstrip(".").lower() or "csv")
        if file_format not in FORMATS:
            raise BadInput(f"--format: choose csv or xlsx (got {file_format!r}).")
        filters: dict[str, str] = {}
        for item in options["filter"]:
            key, sep, value = item.partition("=")
            if not sep:
                raise BadInput(f"--filter {item!r}: write KEY=VALUE.")
            filters[key.strip()] = value.strip()
        object_type = options["object_type"]
        if object_type not in export_targets():
            raise BadInput(
                f"Nothing can be exported as {object_type!r}; use one of: "
                f"{', '.join(export_targets())}."
            )
        bar = progress_bar(None, "rows", not options["json"])
        try:
            count = export_records(
                actor=None,
                object_type=object_type,
                filters=filters,
                target=output,
                file_format=file_format,
                on_row=bar.update if bar is not None else None,
            )
        except ExportError as exc:
            raise BadInput(str(exc)) from None
        except OSError as exc:
            raise BadInput(f"{output}: cannot be written ({exc.strerror}).") from None
        finally:
            if bar is not None:
                bar.close()
        if options["json"]:
            self.stdout.write(json.dumps({"rows": count, "file": str(output)}))
        else:
            if object_type == "contacts":
                what = ngettext("%(n)d contact", "%(n)d contacts", count) % {"n": count}
            else:
                what = ngettext("%(n)d row", "%(n)d rows", count) % {"n": count}
            print(f"Exported {what} to {output}.", file=sys.stdout)
