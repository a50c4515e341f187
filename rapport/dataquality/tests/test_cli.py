"""`rapport import` / `rapport export` as a user runs them: exit codes, one-line errors,
the --json summary."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rapport.config.cli import main
from rapport.customers.models import Customer

from .conftest import contact, read_csv

pytestmark = pytest.mark.django_db


def run_cli(capsys: Any, *args: str) -> tuple[int, str, str]:
    """Run the `rapport` entry point in-process (inside the test's transaction)."""
    from django.db import connections

    code = 0
    # Django closes every connection when a command run from argv ends; that would end
    # the test's transaction on PostgreSQL.
    close_all = connections.close_all
    connections.close_all = lambda: None  # type: ignore[method-assign]
    try:
        main(["rapport", *args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        connections.close_all = close_all  # type: ignore[method-assign]
    out, err = capsys.readouterr()
    return code, out, err


def test_json_summary_shape(capsys: Any, write_csv: Callable[..., Path]) -> None:
    path = write_csv([contact(1), contact(2, email="bad@"), contact(3)])
    code, out, _ = run_cli(capsys, "import", "contacts", str(path), "--json")
    assert code == 0
    summary = json.loads(out)
    assert set(summary) == {"created", "updated", "failed", "errors"}
    assert (summary["created"], summary["updated"], summary["failed"]) == (2, 0, 1)
    assert summary["errors"] == [
        {"row": 3, "field": "email", "message": summary["errors"][0]["message"]}
    ]
    assert "e-mail" in summary["errors"][0]["message"]
    _, out, _ = run_cli(capsys, "import", "contacts", str(path), "--json")
    assert json.loads(out)["updated"] == 2
    assert Customer.objects.count() == 2


def test_dry_run_from_the_command_line(capsys: Any, write_csv: Callable[..., Path]) -> None:
    path = write_csv([contact(1)])
    code, out, _ = run_cli(capsys, "import", "contacts", str(path), "--dry-run")
    assert code == 0 and "1 would be created" in out
    assert Customer.objects.count() == 0


def test_mapping_file_and_map_options(
    capsys: Any, tmp_path: Path, write_csv: Callable[..., Path]
) -> None:
    path = write_csv([{"Id": "Z1", "Nom": "Curie", "Courriel": "marie@example.com"}])
    mapping = tmp_path / "m.json"
    mapping.write_text(json.dumps({"Id": "external_id", "Nom": "last_name", "Courriel": "email"}))
    _, out, _ = run_cli(
        capsys, "import", "contacts", str(path), "--mapping", str(mapping), "--json"
    )
    assert json.loads(out)["created"] == 1
    _, out, _ = run_cli(
        capsys,
        "import",
        "contacts",
        str(path),
        "--map",
        "Nom=first_name",
        "--map",
        "Courriel=email",
        "--map",
        "Id=external_id",
        "--json",
    )
    assert json.loads(out)["updated"] == 1
    assert Customer.objects.get().first_name == "Curie"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["import", "contacts", "/no/such/file.csv"], "no such file"),
        (["import", "contacts", "{csv}", "--map", "Nope=email"], "'Nope'"),
        (["import", "contacts", "{csv}", "--map", "email=shoe"], "'shoe'"),
        (["import", "contacts", "{csv}", "--mapping", "/no/mapping.json"], "no such mapping"),
        (["import", "contacts", "{csv}", "--mapping", "{bad_json}"], "not a JSON mapping"),
        (["import", "contacts", "{csv}", "--upsert-by", "phone"], "invalid choice"),
        (["import", "contacts", "{csv}", "--owner", "ghost@example.com"], "no user"),
        (["import", "contacts", "{csv}", "--frobnicate"], "unrecognized arguments"),
        (["import", "people", "{csv}"], "invalid choice"),
        (["import", "contacts", "{binary}"], "not a text"),
        (["export", "contacts", "-o", "{out}", "--filter", "colour=red"], "Unknown filter"),
        (["export", "contacts", "-o", "{out}", "--format", "pdf"], "invalid choice"),
        (["export", "contacts", "-o", "/no/such/dir/x.csv"], "no such folder"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_non_zero(
    capsys: Any, tmp_path: Path, write_csv: Callable[..., Path], args: list[str], expected: str
) -> None:
    csv_path = write_csv([contact(1)])
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json")
    binary = tmp_path / "blob.csv"
    binary.write_bytes(b"\x00\x01\x02\x00" * 100)
    values = {
        "csv": str(csv_path),
        "bad_json": str(bad_json),
        "out": str(tmp_path / "o.csv"),
        "binary": str(binary),
    }
    code, _, err = run_cli(capsys, *[a.format(**values) for a in args])
    assert code != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert expected in lines[0]
    assert "Traceback" not in err
    assert Customer.objects.count() == 0


def test_export_command_writes_every_contact(
    capsys: Any, tmp_path: Path, write_csv: Callable[..., Path]
) -> None:
    run_cli(capsys, "import", "contacts", str(write_csv([contact(i) for i in range(5)])), "--json")
    target = tmp_path / "out.csv"
    code, out, _ = run_cli(capsys, "export", "contacts", "--format", "csv", "-o", str(target))
    assert code == 0
    rows = read_csv(target)
    assert sorted(r["external_id"] for r in rows) == [f"X{i:05d}" for i in range(5)]
    # A phone is a value, not a formula: no apostrophe (issue 17.3).
    assert rows[0]["phone"].startswith("+33") and rows[0]["phone"][3:].isdigit()
    code, out, _ = run_cli(
        capsys,
        "export",
        "contacts",
        "-o",
        str(tmp_path / "fr.xlsx"),
        "--filter",
        "country=fr",
        "--json",
    )
    assert json.loads(out)["rows"] == 5


def test_owner_option_assigns_created_records(capsys: Any, write_csv: Callable[..., Path]) -> None:
    from rapport.identity.tests.factories import UserFactory

    seller = UserFactory(email="seller@example.com")
    path = write_csv([contact(1, organization="Acme")])
    code, out, _ = run_cli(
        capsys, "import", "contacts", str(path), "--owner", "SELLER@example.com", "--json"
    )
    assert code == 0 and json.loads(out)["created"] == 1
    assert set(Customer.objects.values_list("owner_id", flat=True)) == {seller.pk}
