"""The one way Rapport writes CSV and XLSX: every cell, header names included, neutralised.

A spreadsheet runs a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return
as a formula (`=HYPERLINK(...)` sends the reader's data away). Such a cell gets a leading
`'`, which spreadsheets show as text. Files people download (exports, import error
reports, reports to come) may hold values another user typed, so the rule is applied here,
by the writers, and not by each caller: `csv_writer()` and `write_xlsx()`.

A sign followed only by digits and phone separators (`+44 20 7946 0958`, `-12.5`) is kept
as it is: with no letters it can name no function, cell or DDE command, so it is a value,
and an apostrophe would corrupt every international phone number.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_SIGNED_NUMBER = re.compile(r"[+-][0-9 ().\-/]*[0-9][0-9 ().\-/]*")


def neutralise(value: Any) -> Any:
    """`value` with a leading `'` when a spreadsheet would evaluate it; else unchanged."""
    if (
        isinstance(value, str)
        and value.startswith(FORMULA_PREFIXES)
        and not _SIGNED_NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


def safe_row(row: Iterable[Any]) -> list[Any]:
    return [neutralise(cell) for cell in row]


class _SafeWriter:
    """`csv.writer` whose rows (the header row too) are neutralised cell by cell."""

    def __init__(self, out: IO[str] | Any, **options: Any) -> None:
        self._writer = csv.writer(out, **options)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow(safe_row(row))

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(out: IO[str] | Any, **options: Any) -> _SafeWriter:
    """A CSV writer for a file (or anything with `write`) that neutralises every cell."""
    return _SafeWriter(out, **options)


def write_xlsx(target: Path, *, sheet: str, rows: Iterable[Iterable[Any]]) -> None:
    """Write `rows` (the header first) to a one-sheet XLSX, streamed (openpyxl write-only).

    Neutralised cells stay strings typed as text: openpyxl would store a string starting
    with `=` as a formula."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    worksheet = workbook.create_sheet(sheet)
    for row in rows:
        worksheet.append(safe_row(row))
    workbook.save(target)
