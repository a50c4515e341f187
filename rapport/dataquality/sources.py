"""Reading import files: CSV (delimiter and encoding detected) or XLSX (streamed).

Rows are numbered as a spreadsheet shows them: the header is row 1, the first data row
is row 2. For CSV a quoted value spanning several lines still counts as one row.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SAMPLE_BYTES = 64 * 1024


class SourceError(Exception):
    """The file cannot be read as an import file (the message says why, for a user)."""


@dataclass
class TableSource:
    headers: list[str]
    rows: Iterator[tuple[int, list[str]]]  # (row number as in the file, cell values)


def detect_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) when the whole file decodes as UTF-8, else Windows-1252
    (a superset of Latin-1 for printable text: what spreadsheet programs write)."""
    with path.open("rb") as handle:
        head = handle.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        handle.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := handle.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8"


def detect_delimiter(sample: str) -> str:
    lines = [line for line in sample.splitlines()[:20] if line.strip()]
    if not lines:
        return ","
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t|").delimiter
    except csv.Error:
        counts = {d: lines[0].count(d) for d in ",;\t|"}
        return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _clean_headers(raw: list[str]) -> list[str]:
    headers = [h.strip() for h in raw]
    while headers and not headers[-1]:
        headers.pop()
    if not any(headers):
        raise SourceError("The first row is empty: it must hold the column names.")
    seen: set[str] = set()
    for h in headers:
        if h and h.lower() in seen:
            raise SourceError(f"The column {h!r} appears twice in the header row.")
        seen.add(h.lower())
    return headers


@contextmanager
def open_table(path: str | Path, *, original_name: str | None = None) -> Iterator[TableSource]:
    """Open a CSV or XLSX file; `rows` streams the data rows (never the whole file)."""
    path = Path(path)
    if not path.exists():
        raise SourceError(f"{path}: no such file.")
    if not path.is_file():
        raise SourceError(f"{path}: not a file.")
    name = (original_name or path.name).lower()
    with path.open("rb") as probe:
        magic = probe.read(4)
    if name.endswith((".xlsx", ".xlsm")) or magic == b"PK\x03\x04":
        with _open_xlsx(path) as source:
            yield source
        return
    if name.endswith(".xls"):
        raise SourceError(f"{path.name}: old .xls files are not supported; save as .xlsx or CSV.")
    with _open_csv(path) as source:
        yield source


@contextmanager
def _open_csv(path: Path) -> Iterator[TableSource]:
    encoding = detect_encoding(path)
    try:
        handle = path.open("r", encoding=encoding, newline="")
    except OSError as exc:
        raise SourceError(f"{path}: cannot be read ({exc.strerror}).") from exc
    with handle:
        sample = handle.read(SAMPLE_BYTES)
        if "\x00" in sample:
            raise SourceError(f"{path.name}: this is not a text (CSV) file.")
        handle.seek(0)
        reader = csv.reader(handle, delimiter=detect_delimiter(sample))
        try:
            first = next(reader)
        except StopIteration:
            raise SourceError(f"{path.name}: the file is empty.") from None
        except csv.Error as exc:
            raise SourceError(f"{path.name}: not a readable CSV file ({exc}).") from exc
        headers = _clean_headers(first)

        def rows() -> Iterator[tuple[int, list[str]]]:
            number = 1
            try:
                for record in reader:
                    number += 1
                    if not any(cell.strip() for cell in record):
                        continue
                    yield number, record
            except csv.Error as exc:
                raise SourceError(f"{path.name}, row {number + 1}: {exc}.") from exc

        yield TableSource(headers=headers, rows=rows())


@contextmanager
def _open_xlsx(path: Path) -> Iterator[TableSource]:
    import zipfile

    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise SourceError(f"{path.name}: not a readable XLSX file ({exc}).") from exc
    try:
        sheet = workbook.worksheets[0]
        values = sheet.iter_rows(values_only=True)
        try:
            first = next(values)
        except StopIteration:
            raise SourceError(f"{path.name}: the first sheet is empty.") from None
        headers = _clean_headers([_cell(v) for v in first])

        def rows() -> Iterator[tuple[int, list[str]]]:
            for number, record in enumerate(values, start=2):
                cells = [_cell(v) for v in record]
                if any(c.strip() for c in cells):
                    yield number, cells

        yield TableSource(headers=headers, rows=rows())
    finally:
        workbook.close()


def count_rows(path: str | Path, *, original_name: str | None = None) -> int:
    """Data rows in the file (a quick pass, for progress totals)."""
    with open_table(path, original_name=original_name) as source:
        return sum(1 for _ in source.rows)


def read_headers(path: str | Path, *, original_name: str | None = None) -> list[str]:
    with open_table(path, original_name=original_name) as source:
        return source.headers


def sample_rows(
    path: str | Path, n: int = 5, *, original_name: str | None = None
) -> list[list[str]]:
    with open_table(path, original_name=original_name) as source:
        out = []
        for _, row in source.rows:
            out.append(row)
            if len(out) >= n:
                break
        return out
