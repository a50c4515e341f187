"""Reading import files: hostile files refused by the limits before they are parsed,
encodings (UTF-16, a clear error naming the byte and the --encoding to pass), wrong
headers, and spreadsheets read with calamine (XLSX, XLS, ODS)."""

from __future__ import annotations

import datetime as dt
import re
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from rapport.customers.models import Customer
from rapport.dataquality import sources, uploads
from rapport.dataquality.mapping import MappingError
from rapport.dataquality.models import ImportRun
from rapport.dataquality.services import run_import
from rapport.dataquality.sources import SourceError
from rapport.identity.tests.factories import UserFactory

from .conftest import HEADER, contact
from .test_cli import run_cli

pytestmark = pytest.mark.django_db

FILES = Path(__file__).parent / "files"


def upload_page(tmp_path: Path, name: str, content: bytes) -> tuple[Any, Client]:
    """POST `content` as `name` to the import wizard's upload page, as a browser does."""
    client = Client()
    client.force_login(UserFactory(is_superuser=True))
    response = client.post(
        reverse("dataquality:import_new"),
        {"object_type": "contacts", "file": SimpleUploadedFile(name, content)},
    )
    return response, client


def assert_refused(response: Any, *phrases: str) -> None:
    """The upload page is shown again with the error, and nothing was kept."""
    assert response.status_code == 200
    page = response.content.decode()
    for phrase in phrases:
        assert phrase in page, page[:2000]
    assert not ImportRun.objects.exists()
    assert not list((Path(settings.VAR_DIR) / "files" / "imports").glob("*/*"))


# --- limits -------------------------------------------------------------------------------


def test_a_csv_with_50000_header_columns_is_refused_before_the_mapping_page(
    tmp_path: Path,
) -> None:
    content = (",".join(f"c{i}" for i in range(50_000)) + "\n" + "x," * 10 + "\n").encode()
    response, _ = upload_page(tmp_path, "wide.csv", content)
    assert_refused(response, "50,000 columns", "IMPORT_MAX_COLUMNS", "wide.csv")


def test_a_csv_at_the_column_limit_is_read(tmp_path: Path, settings: Any) -> None:
    settings.IMPORT_MAX_COLUMNS = 20
    path = tmp_path / "c.csv"
    path.write_text(",".join(f"c{i}" for i in range(20)) + "\n" + "1," * 19 + "1\n")
    assert len(sources.read_headers(path)) == 20
    path.write_text(",".join(f"c{i}" for i in range(21)) + "\n")
    with pytest.raises(SourceError, match="21 columns"):
        sources.read_headers(path)


def test_a_line_of_a_million_columns_is_refused_without_reading_it_whole(
    tmp_path: Path,
) -> None:
    path = tmp_path / "million.csv"
    path.write_bytes(b"email," + b"x," * 1_000_000 + b"\n")
    with pytest.raises(SourceError, match=r"million\.csv, line 1: longer than 1,048,576"):
        sources.read_headers(path)


def test_an_overlong_data_line_is_refused_with_its_line_number(
    tmp_path: Path, settings: Any, write_csv: Callable[..., Path]
) -> None:
    settings.IMPORT_MAX_LINE_CHARS = 2000
    path = write_csv([contact(1), contact(2, address_line2="y" * 3000), contact(3)])
    with pytest.raises(SourceError, match=r"contacts\.csv, line 3: longer than 2,000"):
        run_import(actor=None, object_type="contacts", path=path, mapping=None)


@pytest.mark.parametrize("quoted_lines", [False, True])
def test_an_overlong_cell_is_refused(
    tmp_path: Path, write_csv: Callable[..., Path], quoted_lines: bool
) -> None:
    # One cell of 40,000 characters, on one line or spread over short quoted lines
    # (which the line limit does not see).
    long = ("word\n" * 8000) if quoted_lines else "w" * 40_000
    path = write_csv([contact(1), contact(2, address_line2=long)])
    with pytest.raises(SourceError, match="row 3: a cell is longer than 32,767"):
        run_import(actor=None, object_type="contacts", path=path, mapping=None)
    assert not Customer.objects.exists() or Customer.objects.count() <= 1


def test_the_cli_refuses_a_file_past_a_limit_before_writing_any_row(
    capsys: Any, settings: Any, write_csv: Callable[..., Path]
) -> None:
    settings.IMPORT_MAX_CELL_CHARS = 100
    # Rows read lazily, a batch at a time (the importer reads ahead up to this many).
    settings.IMPORT_PARALLEL_AFTER_ROWS = 10
    settings.IMPORT_VALIDATION_PROCESSES = 0
    path = write_csv([contact(i) for i in range(1, 50)] + [contact(50, address_line2="y" * 200)])
    code, _, err = run_cli(capsys, "import", "contacts", str(path), "--batch-size", "10")
    assert code != 0
    assert "row 51: a cell is longer than 100 characters" in err
    assert not Customer.objects.exists()


def write_zip_bomb(path: Path, inflated_mb: int) -> None:
    """A small XLSX whose shared strings inflate to `inflated_mb` MB, as a zip bomb does
    (written in chunks: the test never holds it whole)."""
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.append(["email", "first_name"])
    workbook.active.append(["a@example.com", "Ada"])
    workbook.save(path)
    with (
        zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as member,
    ):
        member.write(b'<?xml version="1.0"?><sst xmlns="x"><si><t>')
        chunk = b"A" * (1024 * 1024)
        for _ in range(inflated_mb):
            member.write(chunk)
        member.write(b"</t></si></sst>")


def test_a_zip_bomb_xlsx_is_refused_from_its_directory(tmp_path: Path) -> None:
    path = tmp_path / "bomb.xlsx"
    write_zip_bomb(path, 150)
    assert path.stat().st_size < 1024 * 1024
    response, _ = upload_page(tmp_path, "bomb.xlsx", path.read_bytes())
    assert_refused(response, "bomb.xlsx", "IMPORT_MAX_COMPRESSION_RATIO")


def test_a_zip_bomb_that_declares_a_small_size_is_refused(tmp_path: Path) -> None:
    # The sizes in the zip's headers are what the limits read: forge them to 1,000 bytes
    # and the reader must stop at that size instead of inflating 150 MB.
    path = tmp_path / "liar.xlsx"
    write_zip_bomb(path, 150)
    with zipfile.ZipFile(path) as archive:
        real = max(member.file_size for member in archive.infolist())
    content = path.read_bytes().replace(struct.pack("<I", real), struct.pack("<I", 1000))
    path.write_bytes(content)
    with zipfile.ZipFile(path) as archive:
        assert max(member.file_size for member in archive.infolist()) < 1024 * 1024
    with pytest.raises(SourceError, match=r"liar\.xlsx: not a readable spreadsheet"):
        sources.read_headers(path)


def test_a_spreadsheet_past_the_uncompressed_size_is_refused(tmp_path: Path, settings: Any) -> None:
    settings.IMPORT_MAX_UNCOMPRESSED_BYTES = 5 * 1024 * 1024
    settings.IMPORT_MAX_COMPRESSION_RATIO = 10_000
    path = tmp_path / "big.xlsx"
    write_zip_bomb(path, 8)
    with pytest.raises(SourceError, match="IMPORT_MAX_UNCOMPRESSED_BYTES"):
        sources.read_headers(path)


def test_an_upload_past_the_size_limit_is_refused(
    tmp_path: Path, settings: Any, write_csv: Callable[..., Path]
) -> None:
    settings.IMPORT_MAX_UPLOAD_BYTES = 1024
    path = write_csv([contact(i) for i in range(1, 40)])
    assert path.stat().st_size > 1024
    response, _ = upload_page(tmp_path, "people.csv", path.read_bytes())
    assert_refused(response, "larger than", "IMPORT_MAX_UPLOAD_BYTES")


@pytest.mark.parametrize("size_mb", [2, 70])
def test_an_oversize_upload_is_dropped_as_it_arrives(
    tmp_path: Path, settings: Any, size_mb: int
) -> None:
    # 2 MB: refused by the bytes received; 70 MB: by the request's Content-Length, before
    # the file is read. Either way no byte of it is kept in memory or on disk.
    settings.IMPORT_MAX_UPLOAD_BYTES = 1024 * 1024
    content = b"email\n" + b"a@example.com\n" * (size_mb * 1024 * 1024 // 14)
    response, _ = upload_page(tmp_path, "big.csv", content)
    assert_refused(response, "larger than 1 MB", "IMPORT_MAX_UPLOAD_BYTES")
    assert uploads.refused_size(response.wsgi_request) is not None
    assert not response.wsgi_request.FILES


def test_the_upload_page_still_checks_csrf(tmp_path: Path) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory(is_superuser=True))
    response = client.post(
        reverse("dataquality:import_new"),
        {"object_type": "contacts", "file": SimpleUploadedFile("a.csv", b"email\na@b.co\n")},
    )
    assert response.status_code == 403
    assert not ImportRun.objects.exists()


def test_a_file_within_the_limits_goes_on_to_the_mapping_page(
    tmp_path: Path, write_csv: Callable[..., Path]
) -> None:
    path = write_csv([contact(1)])
    response, _ = upload_page(tmp_path, "people.csv", path.read_bytes())
    assert response.status_code == 302
    assert ImportRun.objects.get().headers == HEADER


# --- encodings ----------------------------------------------------------------------------

SERBIAN = [contact(i, first_name="Ђорђе", last_name="Џаковић", city="Београд") for i in (1, 2)]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_with_or_without_a_bom_is_detected(
    write_csv: Callable[..., Path], encoding: str
) -> None:
    path = write_csv(SERBIAN, delimiter="\t", encoding=encoding)
    result, _ = run_import(actor=None, object_type="contacts", path=path, mapping=None)
    assert result.created == 2
    assert Customer.objects.get(external_id="X00001").last_name == "Џаковић"


def test_an_undecodable_csv_names_the_file_the_byte_and_the_encoding_to_pass(
    capsys: Any, write_csv: Callable[..., Path]
) -> None:
    path = write_csv(SERBIAN * 5, name="serbian.csv", encoding="cp1251")
    code, _, err = run_cli(capsys, "import", "contacts", str(path))
    assert code != 0
    assert "charmap" not in err
    assert "serbian.csv" in err
    bad = next(b for b in path.read_bytes() if b in (0x81, 0x8D, 0x8F, 0x90, 0x9D))
    offset = path.read_bytes().index(bytes([bad]))
    assert f"byte 0x{bad:02x} at offset {offset}" in err
    suggested = re.search(r"--encoding (\S+?)[,.]? ", err)
    assert suggested is not None, err
    assert not Customer.objects.exists()

    code, _, err = run_cli(
        capsys, "import", "contacts", str(path), "--encoding", suggested.group(1), "--json"
    )
    assert code == 0, err
    assert Customer.objects.get(external_id="X00001").first_name == "Ђорђе"


def test_an_unknown_encoding_is_a_clear_error(capsys: Any, write_csv: Callable[..., Path]) -> None:
    path = write_csv([contact(1)])
    code, _, err = run_cli(capsys, "import", "contacts", str(path), "--encoding", "klingon")
    assert code != 0
    assert "--encoding klingon: not an encoding" in err


def test_a_wrong_encoding_given_by_hand_is_a_clear_error(
    capsys: Any, write_csv: Callable[..., Path]
) -> None:
    path = write_csv([contact(1, first_name="Zoë")], name="zoe.csv")
    code, _, err = run_cli(capsys, "import", "contacts", str(path), "--encoding", "ascii")
    assert code != 0
    assert "zoe.csv: byte 0xc3 cannot be read as ascii" in err
    assert not Customer.objects.exists()


def test_wrong_headers_name_the_file_its_columns_the_fields_and_the_map_syntax(
    capsys: Any, write_csv: Callable[..., Path]
) -> None:
    path = write_csv([{"Nom": "Curie", "Courriel": "marie@example.com"}], name="fr.csv")
    code, _, err = run_cli(capsys, "import", "contacts", str(path))
    assert code != 0
    for phrase in ("fr.csv", "'Nom'", "'Courriel'", "first_name", "email", "--map COLUMN=FIELD"):
        assert phrase in err
    with pytest.raises(MappingError, match=r"fr\.csv: No column"):
        run_import(actor=None, object_type="contacts", path=path, mapping=None)


# --- spreadsheets -------------------------------------------------------------------------


def test_legacy_xls_is_imported() -> None:
    # contacts.xls was written once with xlwt (Excel 97-2003 format), kept as a fixture.
    result, _ = run_import(
        actor=None, object_type="contacts", path=FILES / "contacts.xls", mapping=None
    )
    assert (result.created, result.failed) == (2, 0)
    person = Customer.objects.get(external_id="XLS1")
    assert (person.first_name, str(person.birth_date)) == ("Zoë", "1985-05-17")


def test_ods_is_imported(tmp_path: Path) -> None:
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    document = OpenDocumentSpreadsheet()
    table = Table(name="Contacts")
    rows: list[list[Any]] = [
        ["external_id", "first_name", "email", "birth_date"],
        ["ODS1", "Zoë", "zoe@example.com", dt.date(1985, 5, 17)],
        ["ODS2", "Ada", "ada@example.com", dt.date(1990, 1, 2)],
    ]
    for values in rows:
        row = TableRow()
        for value in values:
            if isinstance(value, dt.date):
                cell = TableCell(valuetype="date", datevalue=value.isoformat())
            else:
                cell = TableCell(valuetype="string")
            cell.addElement(P(text=str(value)))
            row.addElement(cell)
        table.addElement(row)
    document.spreadsheet.addElement(table)
    path = tmp_path / "contacts.ods"
    document.save(str(path))
    result, _ = run_import(actor=None, object_type="contacts", path=path, mapping=None)
    assert (result.created, result.failed) == (2, 0)
    assert str(Customer.objects.get(external_id="ODS1").birth_date) == "1985-05-17"


def test_a_sheet_that_starts_past_a1_keeps_its_row_numbers_and_columns(tmp_path: Path) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet["B1"], sheet["C1"] = "external_id", "email"
    sheet["B2"], sheet["C2"] = "S1", "one@example.com"
    sheet["B4"], sheet["C4"] = "S2", "not an e-mail"
    path = tmp_path / "offset.xlsx"
    workbook.save(path)
    assert sources.read_headers(path) == ["", "external_id", "email"]
    result, _ = run_import(actor=None, object_type="contacts", path=path, mapping=None)
    assert result.created == 1
    assert [(e.row, e.field) for e in result.errors] == [(4, "email")]


def test_a_broken_spreadsheet_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(SourceError, match=r"broken\.xlsx: not a readable spreadsheet"):
        sources.read_headers(path)
    xls = tmp_path / "broken.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 100)
    with pytest.raises(SourceError, match=r"broken\.xls: not a readable spreadsheet"):
        sources.read_headers(xls)


def test_the_wizard_accepts_an_xls_upload(tmp_path: Path) -> None:
    response, _ = upload_page(tmp_path, "contacts.xls", (FILES / "contacts.xls").read_bytes())
    assert response.status_code == 302
    run = ImportRun.objects.get()
    assert run.stored_file.endswith("upload.xls")
    assert run.headers[:3] == ["external_id", "first_name", "last_name"]
