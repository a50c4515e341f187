"""`rapport import contacts|orders FILE`: import a CSV file or a spreadsheet in the
foreground."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils.translation import ngettext

from rapport.core.cli import EXIT_ROWS_FAILED, BadInput
from rapport.dataquality.choices import ImportObjectType, UpsertBy
from rapport.dataquality.management.commands._cli import positive_int, progress_bar

if TYPE_CHECKING:
    from rapport.dataquality.importing import ImportResult

# The import machinery is imported in handle(): this module is loaded before Django sets
# up, to check the arguments at once (see rapport.config.cli).


class Command(BaseCommand):
    help = (
        "Import contacts or orders from a CSV file or a spreadsheet (XLSX, XLS, ODS). "
        "Rows are numbered as in a spreadsheet (the header is row 1)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("object_type", choices=ImportObjectType.values)
        parser.add_argument(
            "file",
            help="A .csv (any delimiter; UTF-8, UTF-16 or Windows-1252 detected) or a "
            "spreadsheet (.xlsx, .xlsm, .xlsb, .xls, .ods; its first sheet).",
        )
        parser.add_argument(
            "--encoding",
            help="The CSV file's encoding when it is not one detected (e.g. cp1251, "
            "shift_jis); the error for an unreadable file suggests one.",
        )
        parser.add_argument("--mapping", help='A JSON file: {"file column": "field"}.')
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="COLUMN=FIELD",
            help="Map one column (repeatable); an empty FIELD ignores the column; "
            "cf:<key> imports into a custom field.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Check every row; write nothing."
        )
        parser.add_argument(
            "--upsert-by",
            choices=UpsertBy.values,
            default=UpsertBy.EXTERNAL_ID,
            help="Match existing contacts by external_id (default) or e-mail.",
        )
        parser.add_argument("--owner", metavar="EMAIL", help="Owner of the records created.")
        parser.add_argument(
            "--json", action="store_true", help="Print one JSON summary on stdout, no progress bar."
        )
        parser.add_argument(
            "--batch-size", type=positive_int, default=None, help="Rows per transaction."
        )

    def _mapping(
        self, options: dict[str, Any], headers: list[str], object_type: str
    ) -> dict[str, str]:
        from rapport.dataquality.mapping import suggest

        mapping: dict[str, str] = {}
        if options["mapping"]:
            path = Path(options["mapping"])
            try:
                loaded = json.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise BadInput(f"{path}: no such mapping file.") from None
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise BadInput(f"{path}: not a JSON mapping file ({exc}).") from None
            if not isinstance(loaded, dict) or not all(
                isinstance(k, str) and isinstance(v, str | None) for k, v in loaded.items()
            ):
                raise BadInput(f"{path}: the mapping must be an object of column → field.")
            mapping.update({k: v or "" for k, v in loaded.items()})
        for item in options["map"]:
            column, sep, field = item.partition("=")
            if not sep or not column.strip():
                raise BadInput(f"--map {item!r}: write COLUMN=FIELD.")
            mapping[column.strip()] = field.strip()
        if not options["mapping"]:
            # --map adjusts the suggested mapping; a mapping file is taken as complete.
            suggested = suggest(headers, object_type, fuzzy=False)
            explicit = {k.strip().lower() for k in mapping}
            for header, field in suggested.items():
                if header.strip().lower() not in explicit:
                    mapping[header] = field
        return mapping

    def handle(self, *args: Any, **options: Any) -> None:
        from django.contrib.auth import get_user_model

        from rapport.dataquality import services, sources
        from rapport.dataquality.mapping import MappingError
        from rapport.dataquality.orders import OrdersUnavailable

        object_type = options["object_type"]
        path = Path(options["file"])
        as_json = options["json"]
        encoding = options["encoding"]
        owner_id = None
        if options["owner"]:
            owner = get_user_model().objects.filter(email__iexact=options["owner"]).first()
            if owner is None:
                raise BadInput(f"--owner {options['owner']}: no user has this e-mail.")
            owner_id = owner.pk
        try:
            headers = sources.read_headers(path, encoding=encoding)
            mapping = self._mapping(options, headers, object_type)
            # Always a full pass first (about 1 s per 400,000 CSV rows): a row past the
            # limits (sources.py) is refused before any row is written.
            rows = sources.count_rows(path, encoding=encoding)
            total = rows if not as_json and sys.stderr.isatty() else None
        except sources.SourceError as exc:
            raise BadInput(str(exc)) from None
        bar = progress_bar(total, "rows", not as_json)
        try:
            result, resolved = services.import_foreground(
                actor=None,
                object_type=object_type,
                path=path,
                headers=headers,
                mapping=mapping,
                upsert_by=options["upsert_by"],
                owner_id=owner_id,
                dry_run=options["dry_run"],
                on_progress=bar.update if bar is not None else None,
                batch_size=options["batch_size"],
                encoding=encoding,
            )
        except (sources.SourceError, MappingError, OrdersUnavailable) as exc:
            raise BadInput(str(exc)) from None
        finally:
            if bar is not None:
                bar.close()
        if as_json:
            self.stdout.write(json.dumps(result.as_json(), ensure_ascii=False))
        else:
            if resolved.ignored:
                self.stderr.write(f"Ignored columns (not mapped): {', '.join(resolved.ignored)}")
            self._report(result, options["dry_run"])
        # Finished, but not every row went in: scripts see it in the exit code.
        self.exit_code = EXIT_ROWS_FAILED if result.failed else 0

    def _report(self, result: ImportResult, dry_run: bool) -> None:
        if dry_run:
            counts = (
                f"{result.created} would be created, {result.updated} would be updated, "
                f"{result.unchanged} unchanged"
            )
        else:
            counts = (
                f"{result.created} were created, {result.updated} were updated, "
                f"{result.unchanged} unchanged"
            )
        rows = ngettext("%(n)d row", "%(n)d rows", result.rows) % {"n": result.rows}
        self.stdout.write(f"{rows}: {counts}, {result.failed} failed.")
        for error in result.errors[:50]:
            field = f" {error.field}" if error.field else ""
            self.stdout.write(f"  row {error.row}{field}: {error.message}")
        if len(result.errors) > 50:
            self.stdout.write(f"  … and {len(result.errors) - 50} more (use --json for all).")
