"""Reading import files: CSV (delimiter and encoding detected) or a spreadsheet (XLSX,
XLSM, XLSB, XLS or ODS, read with calamine), within limits checked before parsing.

Rows are numbered as a spreadsheet shows them: the header is row 1, the first data row
is row 2. For CSV a quoted value spanning several lines still counts as one row.

Every reader (the CLI, the upload wizard, the import task) comes through `open_table`, so
the limits (settings IMPORT_MAX_*) hold for all of them: a file past one is refused with a
`SourceError` saying which limit, before it can tie up a process.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

SAMPLE_BYTES = 64 * 1024
# A compressed member smaller than this may have any ratio (it cannot hurt).
_RATIO_FREE_BYTES = 1024 * 1024
SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls (and other MS Office 97-2003 files)


class SourceError(Exception):
    """The file cannot be read as an import file (the message says why, for a user)."""


@dataclass
class TableSource:
    headers: list[str]
    rows: Iterator[tuple[int, list[str]]]  # (row number as in the file, cell values)


@dataclass(frozen=True)
class Limits:
    max_columns: int
    max_cell_chars: int
    max_line_chars: int
    max_uncompressed_bytes: int
    max_compression_ratio: int


def limits() -> Limits:
    return Limits(
        max_columns=settings.IMPORT_MAX_COLUMNS,
        max_cell_chars=settings.IMPORT_MAX_CELL_CHARS,
        max_line_chars=settings.IMPORT_MAX_LINE_CHARS,
        max_uncompressed_bytes=settings.IMPORT_MAX_UNCOMPRESSED_BYTES,
        max_compression_ratio=settings.IMPORT_MAX_COMPRESSION_RATIO,
    )


# --- encodings ---------------------------------------------------------------------------


def _utf16_without_bom(sample: bytes) -> str | None:
    """'utf-16-le'/'utf-16-be' when the sample looks like UTF-16 text written without a
    BOM (one NUL in every other byte, as Latin-script text is), else None."""
    pairs = len(sample) // 2
    if pairs < 2:
        return None
    even_nuls = sample[0 : pairs * 2 : 2].count(0)
    odd_nuls = sample[1 : pairs * 2 : 2].count(0)
    if odd_nuls >= pairs / 2 and even_nuls <= pairs / 20:
        return "utf-16-le"
    if even_nuls >= pairs / 2 and odd_nuls <= pairs / 20:
        return "utf-16-be"
    return None


def _first_bad_byte(path: Path, encoding: str) -> tuple[int, int] | None:
    """(offset, byte) of the first byte `encoding` cannot decode, or None: the whole file
    is decoded (in chunks), so a bad byte at the end is found before the import starts."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                # The decoder may hold a few bytes from the last chunk; `start` counts
                # from the start of those.
                held = len(exc.object) - len(chunk)
                return offset - held + exc.start, exc.object[exc.start]
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            return offset - len(exc.object) + exc.start, exc.object[exc.start]
    return None


def _undecodable(path: Path, shown: str, offset: int, byte: int, tried: str) -> SourceError:
    """The error for a file no tried encoding reads: which file, which byte (and line),
    and which --encoding to pass (charset-normalizer's best guess) or that it is not text."""
    from charset_normalizer import from_bytes

    with path.open("rb") as handle:
        head = handle.read(offset + 1)
        line = head.count(b"\n") + 1
        handle.seek(0)
        guess = from_bytes(handle.read(256 * 1024)).best()
    where = f"{shown}: byte 0x{byte:02x} at offset {offset} (line {line}) is not {tried} text"
    if guess is None or guess.encoding in ("utf_8", "cp1252", "ascii"):
        return SourceError(
            f"{where}, and the file does not look like text in any encoding. Is it a "
            "CSV file? Save it as CSV (UTF-8), or pass --encoding with its encoding."
        )
    return SourceError(
        f"{where}; it looks like {guess.encoding} ({', '.join(guess.languages) or 'text'}). "
        f"Pass --encoding {guess.encoding}, or save the file as CSV (UTF-8)."
    )


def detect_encoding(path: Path, *, shown: str | None = None) -> str:
    """The file's encoding: from its BOM (UTF-8, UTF-16); UTF-16 without a BOM (what
    some spreadsheets write); UTF-8 when the whole file decodes as UTF-8; else
    Windows-1252 (a superset of Latin-1 for printable text) when the whole file decodes as
    that. Otherwise a SourceError says which byte and which --encoding to pass."""
    with path.open("rb") as handle:
        head = handle.read(SAMPLE_BYTES)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    utf16 = _utf16_without_bom(head)
    if utf16 is not None and _first_bad_byte(path, utf16) is None:
        return utf16
    if _first_bad_byte(path, "utf-8") is None:
        return "utf-8"
    bad = _first_bad_byte(path, "cp1252")
    if bad is None:
        return "cp1252"
    raise _undecodable(path, shown or path.name, *bad, tried="UTF-8 or Windows-1252")


def check_encoding(encoding: str) -> str:
    """The codec's name for an --encoding given by the user, or a SourceError."""
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise SourceError(
            f"--encoding {encoding}: not an encoding Python knows (e.g. utf-8, utf-16, "
            "cp1252, latin-1, cp1251, shift_jis)."
        ) from None


# --- helpers -----------------------------------------------------------------------------


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
    if isinstance(value, str):
        return value
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _clean_headers(raw: list[str], shown: str, bounds: Limits) -> list[str]:
    headers = [h.strip() for h in raw]
    while headers and not headers[-1]:
        headers.pop()
    if not any(headers):
        raise SourceError(f"{shown}: the first row is empty: it must hold the column names.")
    if len(headers) > bounds.max_columns:
        raise SourceError(
            f"{shown}: the header row has {len(headers):,} columns; an import takes at most "
            f"{bounds.max_columns:,} (setting IMPORT_MAX_COLUMNS). Remove the columns you "
            "do not import."
        )
    seen: set[str] = set()
    for h in headers:
        if h and h.lower() in seen:
            raise SourceError(f"{shown}: the column {h!r} appears twice in the header row.")
        seen.add(h.lower())
    return headers


def _check_cells(cells: list[str], shown: str, row: int, bounds: Limits) -> None:
    if cells and max(map(len, cells)) > bounds.max_cell_chars:
        raise SourceError(
            f"{shown}, row {row}: a cell is longer than {bounds.max_cell_chars:,} characters "
            "(setting IMPORT_MAX_CELL_CHARS)."
        )


# --- opening a file ----------------------------------------------------------------------


@contextmanager
def open_table(
    path: str | Path, *, original_name: str | None = None, encoding: str | None = None
) -> Iterator[TableSource]:
    """Open a CSV file or a spreadsheet's first sheet; `rows` streams the data rows.
    `encoding` (CSV only) overrides the detection."""
    path = Path(path)
    if not path.exists():
        raise SourceError(f"{path}: no such file.")
    if not path.is_file():
        raise SourceError(f"{path}: not a file.")
    shown = original_name or path.name
    name = shown.lower()
    bounds = limits()
    with path.open("rb") as probe:
        magic = probe.read(4)
    if name.endswith(SPREADSHEET_SUFFIXES) or magic in (b"PK\x03\x04", _OLE2_MAGIC):
        if magic == b"PK\x03\x04":
            _check_archive(path, shown, bounds)
        with _open_spreadsheet(path, shown, bounds) as source:
            yield source
        return
    with _open_csv(path, shown, bounds, encoding) as source:
        yield source


def _lines(handle: Any, shown: str, bounds: Limits) -> Iterator[str]:
    """The file's lines, each read at most to the limit: a line past it (a file of one
    endless line) is refused before it is held in memory whole."""
    limit = bounds.max_line_chars
    number = 0
    while line := handle.readline(limit + 1):
        number += 1
        if len(line) > limit and line[-1] not in "\r\n":
            raise SourceError(
                f"{shown}, line {number}: longer than {limit:,} characters (setting "
                "IMPORT_MAX_LINE_CHARS). Is it a CSV file?"
            )
        yield line


@contextmanager
def _open_csv(
    path: Path, shown: str, bounds: Limits, encoding: str | None
) -> Iterator[TableSource]:
    encoding = check_encoding(encoding) if encoding else detect_encoding(path, shown=shown)
    try:
        handle = path.open("r", encoding=encoding, newline="")
    except OSError as exc:
        raise SourceError(f"{path}: cannot be read ({exc.strerror}).") from exc
    if bounds.max_cell_chars > csv.field_size_limit():
        csv.field_size_limit(bounds.max_cell_chars)
    with handle:
        try:
            sample = handle.read(SAMPLE_BYTES)
        except UnicodeDecodeError as exc:
            raise _wrong_encoding(shown, encoding, exc) from None
        if "\x00" in sample:
            raise SourceError(f"{shown}: this is not a text (CSV) file.")
        handle.seek(0)
        reader = csv.reader(_lines(handle, shown, bounds), delimiter=detect_delimiter(sample))

        def failed(exc: Exception, row: int) -> SourceError:
            if isinstance(exc, UnicodeDecodeError):
                return _wrong_encoding(shown, encoding, exc)
            if "field larger than field limit" in str(exc):
                return SourceError(
                    f"{shown}, row {row}: a cell is longer than {bounds.max_cell_chars:,} "
                    "characters (setting IMPORT_MAX_CELL_CHARS)."
                )
            return SourceError(f"{shown}, row {row}: not a readable CSV row ({exc}).")

        try:
            first = next(reader)
        except StopIteration:
            raise SourceError(f"{shown}: the file is empty.") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise failed(exc, 1) from None
        _check_cells(first, shown, 1, bounds)
        headers = _clean_headers(first, shown, bounds)

        def rows() -> Iterator[tuple[int, list[str]]]:
            number = 1
            try:
                for record in reader:
                    number += 1
                    if not any(cell.strip() for cell in record):
                        continue
                    _check_cells(record, shown, number, bounds)
                    yield number, record
            except (csv.Error, UnicodeDecodeError) as exc:
                raise failed(exc, number + 1) from None

        yield TableSource(headers=headers, rows=rows())


def _wrong_encoding(shown: str, encoding: str, exc: UnicodeDecodeError) -> SourceError:
    return SourceError(
        f"{shown}: byte 0x{exc.object[exc.start]:02x} cannot be read as {encoding}; pass "
        "the file's real --encoding, or save the file as CSV (UTF-8)."
    )


def _check_archive(path: Path, shown: str, bounds: Limits) -> None:
    """Refuse a zip (XLSX, ODS) whose members would inflate past the limits, from its
    directory alone, before any member is decompressed (a zip bomb)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise SourceError(f"{shown}: not a readable spreadsheet ({exc}).") from exc
    total = sum(member.file_size for member in members)
    if total > bounds.max_uncompressed_bytes:
        raise SourceError(
            f"{shown}: the spreadsheet would unpack to {total / 1e6:,.0f} MB; the limit is "
            f"{bounds.max_uncompressed_bytes / 1e6:,.0f} MB (setting "
            "IMPORT_MAX_UNCOMPRESSED_BYTES). Split it, or save it as CSV."
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > _RATIO_FREE_BYTES and ratio > bounds.max_compression_ratio:
            raise SourceError(
                f"{shown}: {member.filename} is compressed {ratio:,.0f} to 1, past the "
                f"limit of {bounds.max_compression_ratio} to 1 (setting "
                "IMPORT_MAX_COMPRESSION_RATIO): this is not what a spreadsheet program "
                "writes. Save it as CSV."
            )


def _spreadsheet_rows(sheet: Any) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells) from the sheet's top-left cell A1: calamine's range starts at
    the first used cell, so leading empty rows and columns are put back."""
    first_row, first_column = sheet.start if sheet.start is not None else (0, 0)
    pad = [""] * first_column
    if first_row > 0:
        yield 1, []
    for offset, record in enumerate(sheet.iter_rows()):
        yield first_row + offset + 1, [*pad, *map(_cell, record)]


@contextmanager
def _open_spreadsheet(path: Path, shown: str, bounds: Limits) -> Iterator[TableSource]:
    from python_calamine import CalamineError, CalamineWorkbook

    # calamine raises its own errors, and (for a broken file) plain ones from Rust.
    broken = (CalamineError, OSError, ValueError, TypeError, RuntimeError)
    try:
        workbook = CalamineWorkbook.from_path(str(path))
    except broken as exc:
        raise SourceError(f"{shown}: not a readable spreadsheet ({exc}).") from exc
    try:
        try:
            if not workbook.sheet_names:
                raise SourceError(f"{shown}: the spreadsheet has no sheet.")
            sheet = workbook.get_sheet_by_index(0)
        except broken as exc:
            raise SourceError(f"{shown}: not a readable spreadsheet ({exc}).") from exc
        values = _spreadsheet_rows(sheet)
        try:
            _, first = next(values)
        except StopIteration:
            raise SourceError(f"{shown}: the first sheet is empty.") from None
        _check_cells(first, shown, 1, bounds)
        headers = _clean_headers(first, shown, bounds)

        def rows() -> Iterator[tuple[int, list[str]]]:
            for number, cells in values:
                if any(c.strip() for c in cells):
                    _check_cells(cells, shown, number, bounds)
                    yield number, cells

        yield TableSource(headers=headers, rows=rows())
    finally:
        workbook.close()


def count_rows(
    path: str | Path, *, original_name: str | None = None, encoding: str | None = None
) -> int:
    """Data rows in the file (a quick pass, for progress totals)."""
    with open_table(path, original_name=original_name, encoding=encoding) as source:
        return sum(1 for _ in source.rows)


def read_headers(
    path: str | Path, *, original_name: str | None = None, encoding: str | None = None
) -> list[str]:
    with open_table(path, original_name=original_name, encoding=encoding) as source:
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
